"""The per-round fairness option: no enterprise gets more than ``max_share_bp`` of the placed
minutes on contested instruments. The solver's answer is checked by the checker and, on tiny
cases, against a brute force over every assignment."""

from __future__ import annotations

import itertools
import random

import pytest

import solver
from solver.fair_share import contested, share_violations, trim
from solver.problem import Enterprise, Instrument, Placement, Problem, Request

SOLVE = {"time_limit": 5, "workers": 1, "deterministic_time": 2.0}


def _tight() -> Problem:
    """One instrument open 0–180; enterprise A's three 60-minute requests weigh 10 each, B's one 1."""
    reqs = [Request(f"a{k}", "A", 60, ["x"], weight=10) for k in range(3)] + [Request("b0", "B", 60, ["x"], weight=1)]
    return Problem(180, [Instrument("x", [(0, 180)])], reqs, [Enterprise("A"), Enterprise("B")])


def brute_force(problem: Problem) -> int:
    """The heaviest assignment the checker accepts: every request out, or at any grid start on any
    eligible instrument."""
    g = problem.slot_minutes
    choices = []
    for r in problem.requests:
        opts = [None] + [(i, s) for i in r.eligible for s in range(0, problem.horizon_minutes - r.duration + 1, g)]
        choices.append(opts)
    best = 0
    for combo in itertools.product(*choices):
        ps = [Placement(r.id, c[0], c[1]) for r, c in zip(problem.requests, combo, strict=True) if c is not None]
        w = sum(problem.request_by_id[p.request].weight for p in ps)
        if w > best and not solver.check(problem, ps):
            best = w
    return best


def test_without_the_option_one_enterprise_takes_all_and_with_it_the_other_gets_a_share():
    p = _tight()
    free = solver.solve(p, **SOLVE)
    assert free.objective == 30 and {x.request for x in free.placements} == {"a0", "a1", "a2"}
    p.max_share_bp = 6667  # two thirds
    fair = solver.solve(p, **SOLVE)
    assert not solver.check(p, fair.placements)
    assert fair.objective == 21 == brute_force(p)
    assert sorted(x.request for x in fair.placements)[-1] == "b0"
    assert [u.code for u in fair.unplaced] == ["capacity_taken"]  # b0 holds the time it wanted


def test_a_request_that_fits_but_would_pass_the_share_is_explained_as_such():
    p = _tight()
    p.horizon_minutes = 240
    p.instruments[0].windows = [(0, 240)]
    p.max_share_bp = 6667  # all four fit, but A would hold 75 %
    fair = solver.solve(p, **SOLVE)
    assert fair.objective == 21 == brute_force(p)
    assert [u.code for u in fair.unplaced] == ["fair_share"]


def test_the_checker_refuses_a_share_above_the_limit():
    p = _tight()
    p.max_share_bp = 6667
    three = [Placement(f"a{k}", "x", 60 * k) for k in range(3)]
    assert share_violations(p, three) and any("contested minutes" in v for v in solver.check(p, three))
    kept, dropped = trim(p, three)
    assert len(dropped) == 3 and kept == []  # A alone: any placement of it is 100 %
    assert not solver.check(p, [*three[:2], Placement("b0", "x", 120)])


def test_an_instrument_only_one_enterprise_asks_for_is_not_contested():
    p = _tight()
    p.instruments.append(Instrument("y", [(0, 180)]))
    p.requests.append(Request("a9", "A", 120, ["y"], weight=5))
    p.max_share_bp = 5000
    assert contested(p) == {"x"}
    fair = solver.solve(p, **SOLVE)
    assert not solver.check(p, fair.placements)
    assert "a9" in {x.request for x in fair.placements}  # its own instrument counts for nobody's share
    assert fair.objective == brute_force(p)


@pytest.mark.parametrize("seed", range(3))
def test_tiny_random_cases_match_the_brute_force(seed):
    rng = random.Random(seed)
    insts = [Instrument("x", [(0, 150)]), Instrument("y", [(30, 150)])]
    reqs = [
        Request(f"r{k}", rng.choice("ABC"), rng.choice((30, 60, 90)), rng.sample(["x", "y"], rng.randint(1, 2)),
                weight=rng.randint(1, 9))
        for k in range(4)
    ]
    p = Problem(150, insts, reqs, [Enterprise(e) for e in "ABC"], max_share_bp=rng.choice((4000, 5000, 7500)))
    got = solver.solve(p, **SOLVE)
    assert not solver.check(p, got.placements)
    assert got.objective == brute_force(p)


def test_the_option_travels_in_the_json_format():
    p = _tight()
    p.max_share_bp = 5000
    assert solver.problem_from_json(solver.problem_to_json(p)).max_share_bp == 5000
    assert "max_share_bp" not in solver.problem_to_json(_tight())
