"""Ruin and recreate (:class:`solver.recreate.RuinRecreate`) and best-fit starts
(:meth:`solver.schedule.Schedule.best_fit`): the schedule stays feasible for every constraint
(checked by the independent :func:`solver.check`) after every step, the weight never drops,
``objective`` is what is actually placed, and the obvious improvements over first-come-first-
served are found on hand-built traps."""

import pytest
from helpers import Enterprise, Instrument, Placement, Problem, Request, brute_force, check
from hypothesis import HealthCheck, given, settings
from test_invariants import problems as invariant_problems
from test_lns import TRAPS, fcfs_start, weight

from solver import fcfs, value_greedy
from solver.baselines import greedy_fill, value_order
from solver.recreate import RuinRecreate
from solver.schedule import Schedule
from solver.static import Static


def make(pr: Problem, placements, seed: int = 0) -> RuinRecreate:
    return RuinRecreate(pr, Static(pr), {p.request: p for p in placements}, seed=seed)


def test_slack_lets_a_step_give_up_weight_but_run_returns_the_best():
    """Slack 3 on the long-first trap from its optimum: a step that drops one short request
    (weight 5 of 10) is refused, and the schedule ``run`` leaves is the optimum."""
    pr = TRAPS[0][0]()
    best = [Placement("S1", "I0", 480), Placement("S2", "I0", 600)]
    rr = RuinRecreate(pr, Static(pr), {p.request: p for p in best}, seed=1, slack=3)
    for _ in range(100):
        rr.step()
        assert rr.objective >= 7 and rr.best_objective == 10
    rr.run(max_steps=50)
    assert rr.objective == 10 and set(rr.sched.placed) == {"S1", "S2"}


def assert_valid(pr: Problem, rr: RuinRecreate) -> None:
    placed = list(rr.sched.placed.values())
    assert check(pr, placed, rr.objective) == []


@pytest.mark.parametrize("build,fcfs_value,optimum", TRAPS, ids=[t[0].__name__ for t in TRAPS])
@pytest.mark.parametrize("slack", [0.0, None])
def test_run_from_fcfs_reaches_obvious_optimum(build, fcfs_value, optimum, slack):
    pr = build()
    start = fcfs_start(pr)
    assert weight(pr, start) == fcfs_value
    rr = RuinRecreate(pr, Static(pr), {p.request: p for p in start}, seed=0, slack=slack)
    rr.run(max_steps=300, upper_bound=optimum)
    assert_valid(pr, rr)
    assert rr.objective == optimum == brute_force(pr)
    assert rr.gained == optimum - fcfs_value and rr.improved >= 1


def test_stops_at_the_upper_bound_and_after_max_steps():
    pr = TRAPS[0][0]()
    rr = make(pr, fcfs_start(pr))
    rr.run(max_steps=1000, upper_bound=10)
    assert rr.objective == 10 and rr.steps < 1000
    rr2 = make(pr, fcfs_start(pr))
    rr2.run(max_steps=7)
    assert rr2.steps == 7


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invariant_problems())
def test_every_step_feasible_and_never_loses_weight(pr):
    rr = make(pr, fcfs(pr, explain=False).placements, seed=3)
    before = rr.best_objective
    for _ in range(40):
        rr.step()
        assert rr.best_objective >= before
        assert rr.objective >= rr.best_objective - rr.slack
        before = rr.best_objective
        assert_valid(pr, rr)
        assert check(pr, list(rr.best.values()), rr.best_objective) == []
    rr.run(max_steps=0)   # ends on the best schedule seen
    assert rr.objective == rr.best_objective == before
    assert_valid(pr, rr)


def test_budget_is_never_overspent_while_swapping():
    """E0 can pay for one of its two voucher-funded requests only; the better one (weight 5)
    must win, the other stays out, whatever the steps do."""
    from fractions import Fraction
    pr = Problem(horizon_minutes=1440, slot_minutes=30,
                 instruments=[Instrument("I0", [(480, 720)])],
                 enterprises=[Enterprise("E0", voucher_budget=40000)],
                 requests=[Request("A", "E0", 60, ["I0"], weight=1, price_per_hour={"I0": 80000},
                                   voucher_share=Fraction(1, 2)),
                           Request("B", "E0", 60, ["I0"], weight=5, price_per_hour={"I0": 80000},
                                   voucher_share=Fraction(1, 2))])
    rr = make(pr, [Placement("A", "I0", 480)])
    rr.run(max_steps=200)
    assert_valid(pr, rr)
    assert set(rr.sched.placed) == {"B"} and rr.objective == 5


def test_best_fit_fills_the_tight_gap():
    """I0 is free 8:00-9:00 and 10:00-12:00 (busy 9:00-10:00).  A 1 h request fits both gaps;
    earliest start and best fit both take 8:00 (the tight gap).  After a 1 h booking at 10:00,
    the 11:00-12:00 gap is as tight as 8:00-9:00 and earliest wins the tie."""
    pr = Problem(horizon_minutes=1440, slot_minutes=30,
                 instruments=[Instrument("I0", [(480, 720)], busy=[(540, 600)]), Instrument("I1", [(420, 720)])],
                 enterprises=[Enterprise("E0")],
                 requests=[Request("R", "E0", 60, ["I1", "I0"], weight=1)])
    sched = Schedule(pr, Static(pr))
    assert sched.earliest(pr.requests[0]) == Placement("R", "I1", 420)   # 7:00 on the wide I1
    assert sched.best_fit(pr.requests[0]) == Placement("R", "I0", 480)   # the 1 h gap on I0


def test_best_fit_greedy_beats_earliest_on_a_fragmentation_trap():
    """Windows 8:00-10:00 (2 h) and 13:00-14:00 (1 h).  A (1 h, weight 3) goes first by weight per
    hour; at the earliest start it takes 8:00 and B (2 h, the only request that needs the long
    window) is left out; best fit puts A in the 1 h window and both fit."""
    pr = Problem(horizon_minutes=1440, slot_minutes=30,
                 instruments=[Instrument("I0", [(480, 600), (780, 840)])], enterprises=[Enterprise("E0")],
                 requests=[Request("A", "E0", 60, ["I0"], weight=3), Request("B", "E0", 120, ["I0"], weight=4)])
    order = value_order(pr)
    assert [r.id for r in order] == ["A", "B"]
    early, fit = Schedule(pr, Static(pr)), Schedule(pr, Static(pr))
    greedy_fill(pr, order, early)
    greedy_fill(pr, order, fit, best_fit=True)
    assert set(early.placed) == {"A"}
    assert set(fit.placed) == {"A", "B"} and fit.placed["A"].start == 780
    assert check(pr, list(fit.placed.values())) == []
    assert value_greedy(pr).objective == 3 and brute_force(pr) == 7


def test_budget_step_moves_the_money_to_the_better_request_elsewhere():
    """E0's budget pays for one request.  A (weight 1) holds it on I0; B (weight 5) could only
    run on I1, so no step over one instrument can swap them, a budget step does; and
    C (no voucher, I0 only) takes the time A leaves."""
    from fractions import Fraction
    half = Fraction(1, 2)
    pr = Problem(horizon_minutes=1440, slot_minutes=30,
                 instruments=[Instrument("I0", [(480, 600)]), Instrument("I1", [(780, 900)])],
                 enterprises=[Enterprise("E0", voucher_budget=50000), Enterprise("E1")],
                 requests=[Request("A", "E0", 120, ["I0"], weight=1, price_per_hour={"I0": 40000}, voucher_share=half),
                           Request("B", "E0", 120, ["I1"], weight=5, price_per_hour={"I1": 40000}, voucher_share=half),
                           Request("C", "E1", 120, ["I0"], weight=2)])
    rr = make(pr, [Placement("A", "I0", 480)])
    assert list(rr.holders) == ["enterprise:E0"]
    rr.refresh()
    assert rr.short == ["enterprise:E0"]
    assert rr.settle(*rr.budget_step("enterprise:E0")) == 6
    assert_valid(pr, rr)
    assert rr.sched.placed == {"B": Placement("B", "I1", 780), "C": Placement("C", "I0", 480)}
    assert rr.best_objective == 7


def test_same_seed_same_schedule_in_every_process():
    """A seeded run is reproducible across processes (string hashing differs between them)."""
    import json
    import os
    import subprocess
    import sys

    code = ("import json; from bench.instances import generate; from solver.baselines import value_greedy; "
            "from solver.recreate import RuinRecreate; from solver.static import Static; "
            "p = generate('small', True, 0); st = Static(p); "
            "rr = RuinRecreate(p, st, {q.request: q for q in value_greedy(p, explain=False).placements}, seed=5); "
            "rr.run(max_steps=400); "
            "print(json.dumps(sorted((q.request, q.instrument, q.start) for q in rr.sched.placed.values())))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    outs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=root)
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root, check=True)
        outs.append(json.loads(res.stdout))
    assert outs[0] == outs[1] and len(outs[0]) > 0


def _two_clusters_one_budget():
    """I0 and I1 share no request; E0's budget pays for one more request (40000 fen of
    slack, each spends 40000), wanted on both (A on I0, B on I1); the time is free."""
    from fractions import Fraction
    half = Fraction(1, 2)
    return Problem(horizon_minutes=1440, slot_minutes=30,
                   instruments=[Instrument("I0", [(480, 720)]), Instrument("I1", [(480, 720)])],
                   enterprises=[Enterprise("E0", voucher_budget=80000), Enterprise("E1")],
                   requests=[Request("H", "E0", 120, ["I0"], weight=1, price_per_hour={"I0": 40000}, voucher_share=half),
                             Request("A", "E0", 120, ["I0"], weight=4, price_per_hour={"I0": 40000}, voucher_share=half),
                             Request("B", "E0", 120, ["I1"], weight=5, price_per_hour={"I1": 40000}, voucher_share=half),
                             Request("C", "E1", 120, ["I1"], weight=2)])


def test_restricted_to_instruments_never_touches_the_others():
    pr = _two_clusters_one_budget()
    rr = RuinRecreate(pr, Static(pr), {"H": Placement("H", "I0", 480)}, seed=0, instruments={"I1"})
    assert rr.instruments == ["I1"] and list(rr.holders) == ["enterprise:E0"]
    assert [r.id for r in rr.holders["enterprise:E0"]] == ["B"]
    rr.run(max_steps=200)
    assert_valid(pr, rr)
    assert rr.sched.placed["H"] == Placement("H", "I0", 480) and "A" not in rr.sched.placed
    assert set(rr.sched.placed) == {"H", "B", "C"}


def test_halves_split_a_shared_budget_so_the_joined_schedule_keeps_it():
    """Each half alone would spend E0's last 40000 fen (A beside H on I0, B on I1); with half
    of the slack each, neither may, so the joined schedule keeps the budget: the I0 half swaps
    H for the heavier A (same spend), the I1 half places only the unfunded C."""
    import time

    from solver.pipeline import _recreate_in_halves
    pr = _two_clusters_one_budget()
    st = Static(pr)
    sched = Schedule(pr, st)
    sched.add(Placement("H", "I0", 480))
    said = []
    out = _recreate_in_halves(pr, st, sched, 0, time.perf_counter() + 0.3, None,
                              progress=lambda stage, info: said.append((stage, info["halves"])))
    assert out is not None
    assert said and all(stage == "recreate" and halves == [2, 2] for stage, halves in said)  # heartbeats
    joined, stats = out
    assert check(pr, list(joined.placed.values())) == []
    assert set(joined.placed) == {"A", "C"} and stats["halves"] == [2, 2]
    assert pr.enterprise_budget("E0") == 80000  # the children lowered their own copies only


def test_targeted_step_ejects_what_blocks_a_left_out_request():
    """Four weeks on two instruments; B (weight 10) can only use I0 on day 5, where A sits,
    and A could as well use I1.  One step aimed at the left-out B takes A out, puts B in
    first and A on I1 (a step at a random time would hit day 5 about once in 20)."""
    day = 1440
    windows = [(d * day + 480, d * day + 720) for d in range(28)]
    pr = Problem(horizon_minutes=28 * day, slot_minutes=30,
                 instruments=[Instrument("I0", windows), Instrument("I1", windows)],
                 enterprises=[Enterprise("E0")],
                 requests=[Request("A", "E0", 240, ["I0", "I1"], release=5 * day, deadline=6 * day, weight=1),
                           Request("B", "E0", 240, ["I0"], release=5 * day, deadline=6 * day, weight=10)])
    rr = RuinRecreate(pr, Static(pr), {"A": Placement("A", "I0", 5 * day + 480)}, seed=0, target_rate=1.0)
    rr.step()
    assert_valid(pr, rr)
    assert rr.sched.placed == {"B": Placement("B", "I0", 5 * day + 480), "A": Placement("A", "I1", 5 * day + 480)}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invariant_problems())
def test_a_targeted_neighbourhood_holds_a_start_of_its_left_out_request(pr):
    """Every neighbourhood aimed at a request: the request is left out, and one of the chosen
    instruments has a start of it with the whole booking inside the range."""
    rr = RuinRecreate(pr, Static(pr), {p.request: p for p in fcfs(pr, explain=False).placements},
                      seed=2, target_rate=1.0)
    rr.refresh()
    for _ in range(20):
        chosen, lo, hi, target = rr.neighbourhood()
        if not rr.left_out:
            assert target is None
            continue
        assert target is not None and target.id not in rr.sched.placed
        assert any(max(a, lo) < min(b, hi - target.duration + 1)
                   for alt in rr.static.alternatives(target) if alt.instrument in chosen for a, b in alt.starts)


def test_no_placeable_request_gives_an_empty_neighbourhood():
    """Found by the property above: with no request placeable anywhere there is no instrument
    to ruin; the neighbourhood is empty instead of an error."""
    pr = Problem(horizon_minutes=1440, slot_minutes=30, instruments=[Instrument("I0", [(480, 540)])],
                 enterprises=[Enterprise("E0")], requests=[Request("A", "E0", 120, ["I0"], weight=3)])
    rr = RuinRecreate(pr, Static(pr), {}, seed=0, target_rate=1.0)
    rr.refresh()
    assert rr.neighbourhood() == (set(), 0, 0, None)
    assert rr.step() == 0 and rr.sched.placed == {}
