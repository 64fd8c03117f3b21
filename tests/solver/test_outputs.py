"""Every solver/baseline output on generated small instances passes the independent checker."""

import pytest
from helpers import FAST, check

from bench.instances import generate
from solver import fcfs, solve, value_greedy
from solver.static import Static


@pytest.mark.parametrize("over", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_all_methods_valid_on_small(over, seed):
    problem = generate("small", over, seed)
    g = Static(problem).grid
    for alloc in (fcfs(problem), value_greedy(problem), solve(problem, **FAST)):
        assert check(problem, alloc.placements, alloc.objective) == [], alloc.method
        assert all(p.start % g == 0 for p in alloc.placements)
        placed = {p.request for p in alloc.placements}
        unplaced = {u.request for u in alloc.unplaced}
        assert placed.isdisjoint(unplaced)
        assert placed | unplaced == {r.id for r in problem.requests}
        assert all(u.code in {"no_window", "voucher_budget", "capacity_taken", "operator_unavailable"}
                   for u in alloc.unplaced)
    sol = solve(problem, **FAST)
    assert sol.upper_bound >= sol.objective
    assert sol.objective >= max(fcfs(problem).objective, value_greedy(problem).objective)


def test_fcfs_follows_submission_order():
    from helpers import Enterprise, Instrument, Problem, Request
    pr = Problem(horizon_minutes=1440, instruments=[Instrument("I0", [(480, 600)])],
                 enterprises=[Enterprise("E0")],
                 requests=[Request("A", "E0", 120, ["I0"], weight=10, submitted=2),
                           Request("B", "E0", 60, ["I0"], weight=1, submitted=1)])
    a = fcfs(pr)
    assert [p.request for p in a.placements] == ["B"]
    g = value_greedy(pr)
    assert [p.request for p in g.placements] == ["A"]
