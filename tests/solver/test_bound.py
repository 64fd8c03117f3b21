"""The time-indexed 0-1 program (solver.bound.lp_bound with integer=True) and its starting
solution, and the local-optimality benchmark built on it."""

from helpers import check

from bench.instances import generate
from bench.local_optimality import main as local_optimality
from solver.baselines import greedy_fill, value_order
from solver.bound import lp_bound
from solver.decompose import budget_keys
from solver.schedule import Schedule
from solver.static import Static


def test_hint_is_the_starting_solution():
    """Every hinted placement is one of the program's variables, and SCIP starts from the
    hint: what it returns is valid and at least the hinted weight."""
    pr = generate("small", True, 0)
    st = Static(pr)
    reqs = [r for r in pr.requests if st.alternatives(r)]
    caps = {k: b for r in reqs for k, b in budget_keys(pr, r)}
    sched = Schedule(pr, st)
    greedy_fill(pr, value_order(pr), sched)
    greedy = sum(pr.request_by_id[k].weight for k in sched.placed)
    _, info = lp_bound(pr, st, reqs, caps, time_limit=0.5, integer=True, hint=sched.placed)
    assert info["hinted"] == len(sched.placed) > 0
    found = info["placements"]
    assert not check(pr, found)
    assert sum(pr.request_by_id[p.request].weight for p in found) >= greedy


def test_local_optimality_on_small(capsys):
    """small/normal is solved to optimality, so no neighbourhood can gain and every cluster is
    proven; the final schedule passes the checker."""
    assert local_optimality(["--size", "small", "--time-limit", "5", "--mip-time", "5"]) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert "(+0)" in last and last.endswith("valid")
    rows = [line.split() for line in out.splitlines()[2:-1]]
    assert rows and all(row[2] == row[3] for row in rows)  # the schedule's weight is SCIP's
