"""Voucher-funded allocation (solver.funding): optimum equals a brute force over every
assignment of times and vouchers on tiny cases; no allocation ever overspends a voucher or cap."""

from __future__ import annotations

import random

import pytest
from helpers import FAST, Enterprise, Instrument, Placement, Problem, Request, check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import Cap, Voucher, solve
from solver.funding import is_funded
from solver.static import Static


def brute_force_funded(problem: Problem) -> int:
    """Exact optimum: every request unplaced or at every grid start of every alternative, with
    every voucher (or none); feasibility judged by the independent checker alone."""
    stc = Static(problem)
    g = stc.grid
    options = []
    for r in problem.requests:
        opts: list[Placement | None] = [None]
        for alt in stc.alternatives(r):
            for lo, hi in alt.starts:
                s = -((-lo) // g) * g
                while s < hi:
                    for v in [None, *(x.id for x in problem.vouchers)]:
                        opts.append(Placement(r.id, alt.instrument, s, alt.operator, v))
                    s += g
        options.append(opts)
    best = 0

    def dfs(n: int, chosen: list[Placement], value: int) -> None:
        nonlocal best
        if value + sum(r.weight for r in problem.requests[n:]) <= best:
            return
        if n == len(problem.requests):
            best = max(best, value)
            return
        for p in options[n]:
            if p is None:
                dfs(n + 1, chosen, value)
            elif not check(problem, [*chosen, p]):
                dfs(n + 1, [*chosen, p], value + problem.requests[n].weight)

    dfs(0, [], 0)
    return best


def random_funded(seed: int, n_requests: int = 3) -> Problem:
    rng = random.Random(seed)
    insts = [Instrument("I0", [(480, 600)]), Instrument("I1", [(480, 570)])]
    ents = [Enterprise("E0"), Enterprise("E1")]
    reqs = []
    for k in range(n_requests):
        el = rng.choice([["I0"], ["I1"], ["I0", "I1"]])
        funding = rng.choice(["cash", "voucher", "voucher"])
        reqs.append(Request(f"R{k}", rng.choice(["E0", "E1"]), 30 * rng.randint(1, 3), el,
                            weight=rng.randint(1, 9), funding=funding,
                            cash_fallback=funding == "voucher" and rng.random() < 0.3))
    vouchers = []
    for n in range(rng.randint(0, 3)):
        ent = rng.choice(["E0", "E1"])
        pays = {}
        for r in reqs:
            if r.enterprise == ent and r.funding == "voucher":
                pays[r.id] = {i: rng.choice([0, 100, 200, 300]) for i in r.eligible}
        vouchers.append(Voucher(f"V{n}", ent, pays, expires=rng.choice([None, 510, 540, 600])))
    caps = []
    if vouchers and rng.random() < 0.6:
        caps.append(Cap("C0", rng.choice([0, 200, 300, 400]), [v.id for v in vouchers if rng.random() < 0.8]))
    return Problem(horizon_minutes=720, slot_minutes=30, instruments=insts, requests=reqs,
                   enterprises=ents, vouchers=vouchers, caps=caps)


@pytest.mark.parametrize("seed", range(14))
def test_funded_optimum_matches_brute_force(seed):
    pr = random_funded(seed)
    best = brute_force_funded(pr)
    a = solve(pr, **FAST)
    assert check(pr, a.placements, a.objective) == []
    assert a.objective == best
    if a.upper_bound is not None:
        assert a.upper_bound >= best


def test_one_voucher_funds_one_request_and_the_other_waits():
    """Two voucher-only requests, one voucher: one is placed with it, the other is explained."""
    pr = Problem(horizon_minutes=720, slot_minutes=30, instruments=[Instrument("I0", [(480, 720)])],
                 enterprises=[Enterprise("E0")],
                 requests=[Request("A", "E0", 60, ["I0"], weight=3, funding="voucher"),
                           Request("B", "E0", 60, ["I0"], weight=5, funding="voucher")],
                 vouchers=[Voucher("V", "E0", {"A": {"I0": 100}, "B": {"I0": 100}})])
    a = solve(pr, **FAST)
    assert [(p.request, p.voucher) for p in a.placements] == [("B", "V")]
    (u,) = a.unplaced
    assert (u.request, u.code, u.holders, u.budget_holder) == ("A", "voucher_taken", ["B"], "voucher:V")


def test_cash_fallback_places_unfunded_and_cash_never_takes_a_voucher():
    pr = Problem(horizon_minutes=720, slot_minutes=30, instruments=[Instrument("I0", [(480, 720)])],
                 enterprises=[Enterprise("E0")],
                 requests=[Request("A", "E0", 60, ["I0"], weight=3, funding="voucher", cash_fallback=True),
                           Request("B", "E0", 60, ["I0"], weight=5, funding="voucher"),
                           Request("C", "E0", 60, ["I0"], weight=1, funding="cash")],
                 vouchers=[Voucher("V", "E0", {"A": {"I0": 100}, "B": {"I0": 100}})])
    a = solve(pr, **FAST)
    got = {p.request: p.voucher for p in a.placements}
    assert got == {"A": None, "B": "V", "C": None}
    assert check(pr, a.placements, a.objective) == []


def test_expiry_and_cap_are_explained():
    pr = Problem(horizon_minutes=720, slot_minutes=30, instruments=[Instrument("I0", [(480, 720)])],
                 enterprises=[Enterprise("E0")],
                 requests=[Request("A", "E0", 60, ["I0"], release=600, weight=3, funding="voucher"),
                           Request("B", "E0", 60, ["I0"], weight=5, funding="voucher"),
                           Request("C", "E0", 60, ["I0"], weight=4, funding="voucher"),
                           Request("D", "E1", 60, ["I0"], weight=4, funding="voucher")],
                 vouchers=[Voucher("Vold", "E0", {"A": {"I0": 100}}, expires=540),
                           Voucher("V1", "E0", {"B": {"I0": 300}, "C": {"I0": 300}}),
                           Voucher("V2", "E0", {"B": {"I0": 300}, "C": {"I0": 300}})],
                 caps=[Cap("enterprise:E0", 400, ["V1", "V2", "Vold"])])
    a = solve(pr, **FAST)
    why = {u.request: (u.code, u.budget_holder) for u in a.unplaced}
    assert why == {"A": ("voucher_expires", "voucher:Vold"), "C": ("voucher_cap", "cap:enterprise:E0"),
                   "D": ("no_voucher", None)}
    assert check(pr, a.placements, a.objective) == []


def test_the_checker_refuses_every_kind_of_overspend():
    pr = Problem(horizon_minutes=720, slot_minutes=30, instruments=[Instrument("I0", [(480, 720)])],
                 enterprises=[Enterprise("E0"), Enterprise("E1")],
                 requests=[Request("A", "E0", 60, ["I0"], funding="voucher"),
                           Request("B", "E0", 60, ["I0"], funding="voucher"),
                           Request("C", "E0", 60, ["I0"], funding="cash"),
                           Request("D", "E1", 60, ["I0"], funding="voucher")],
                 vouchers=[Voucher("V", "E0", {"A": {"I0": 300}, "B": {"I0": 300}, "D": {"I0": 300}},
                                   expires=540)],
                 caps=[Cap("K", 200, ["V"])])
    def v(*ps):
        return " | ".join(check(pr, [Placement(*p) for p in ps]))
    assert "funds more than one" in v(("A", "I0", 480, None, "V"), ("B", "I0", 540, None, "V"))
    assert "not before voucher V expires" in v(("A", "I0", 540, None, "V"))
    assert "cap K" in v(("A", "I0", 480, None, "V"))
    assert "placed with no voucher" in v(("A", "I0", 480, None, None))
    assert "paid in cash" in v(("C", "I0", 480, None, "V"))
    assert "belongs to E0" in v(("D", "I0", 480, None, "V"))


def test_plain_problems_keep_the_pipeline():
    pr = Problem(horizon_minutes=720, instruments=[Instrument("I0", [(480, 720)])],
                 requests=[Request("A", "E0", 60, ["I0"])])
    assert not is_funded(pr)


@st.composite
def funded_problems(draw):
    n_ent = draw(st.integers(1, 3))
    ents = [f"E{k}" for k in range(n_ent)]
    insts = [Instrument(f"I{k}", [(0, draw(st.integers(4, 16)) * 30)]) for k in range(draw(st.integers(1, 2)))]
    reqs = []
    for k in range(draw(st.integers(1, 8))):
        el = draw(st.lists(st.sampled_from([i.id for i in insts]), min_size=1, unique=True))
        funding = draw(st.sampled_from(["cash", "voucher"]))
        reqs.append(Request(f"R{k}", draw(st.sampled_from(ents)), 30 * draw(st.integers(1, 4)), el,
                            weight=draw(st.integers(1, 9)), funding=funding,
                            cash_fallback=draw(st.booleans()) if funding == "voucher" else False))
    vouchers = []
    for n in range(draw(st.integers(0, 6))):
        ent = draw(st.sampled_from(ents))
        pays = {r.id: {i: draw(st.integers(0, 500)) for i in r.eligible}
                for r in reqs if r.enterprise == ent and r.funding == "voucher"}
        vouchers.append(Voucher(f"V{n}", ent, pays, expires=draw(st.one_of(st.none(), st.integers(0, 480)))))
    caps = []
    for n in range(draw(st.integers(0, 2))):
        members = draw(st.lists(st.sampled_from([v.id for v in vouchers]), unique=True)) if vouchers else []
        caps.append(Cap(f"K{n}", draw(st.integers(0, 1000)), members))
    return Problem(horizon_minutes=480, slot_minutes=30, instruments=insts, requests=reqs,
                   enterprises=[Enterprise(e) for e in ents], vouchers=vouchers, caps=caps)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(funded_problems())
def test_a_round_never_overspends_a_voucher_or_a_cap(pr):
    a = solve(pr, time_limit=2.0, workers=1, seed=0, deterministic_time=0.5)
    assert check(pr, a.placements, a.objective) == []
    # counted again here, from the placements alone
    used = [p.voucher for p in a.placements if p.voucher is not None]
    assert len(used) == len(set(used))
    paid = {p.voucher: pr.voucher_by_id[p.voucher].pays[p.request][p.instrument] for p in a.placements if p.voucher}
    assert all(amount > 0 for amount in paid.values())
    for c in pr.caps:
        assert sum(paid.get(v, 0) for v in c.vouchers) <= c.limit
    for p in a.placements:
        r = pr.request_by_id[p.request]
        assert (p.voucher is None) == (r.funding == "cash" or (p.voucher is None and r.cash_fallback))
    assert {u.request for u in a.unplaced} == {r.id for r in pr.requests} - {p.request for p in a.placements}


def test_json_round_trip_keeps_vouchers_caps_and_funding():
    from solver import allocation_to_json, problem_from_json, problem_to_json

    pr = random_funded(8)
    again = problem_from_json(problem_to_json(pr))
    assert problem_to_json(again) == problem_to_json(pr)
    assert [(r.funding, r.cash_fallback) for r in again.requests] == [(r.funding, r.cash_fallback) for r in pr.requests]
    a = solve(again, **FAST)
    out = allocation_to_json(a)
    assert check(pr, out["assignments"], a.objective) == []
    assert any("voucher" in x for x in out["assignments"])


def test_interchangeable_vouchers_are_counted_and_handed_out_once_each():
    pays = {r: {"I0": 100} for r in ("A", "B", "C")}
    pr = Problem(horizon_minutes=720, slot_minutes=30, instruments=[Instrument("I0", [(480, 720)])],
                 enterprises=[Enterprise("E0")],
                 requests=[Request(r, "E0", 60, ["I0"], weight=w, funding="voucher") for r, w in (("A", 1), ("B", 2), ("C", 3))],
                 vouchers=[Voucher("V1", "E0", dict(pays)), Voucher("V2", "E0", dict(pays))],
                 caps=[Cap("K", 1000, ["V1", "V2"])])
    from solver.funding import voucher_classes

    assert [[v.id for v in c] for c in voucher_classes(pr)] == [["V1", "V2"]]
    a = solve(pr, **FAST)
    assert sorted((p.request, p.voucher) for p in a.placements) in (
        [("B", "V1"), ("C", "V2")], [("B", "V2"), ("C", "V1")])
    assert check(pr, a.placements, a.objective) == [] and a.status == "OPTIMAL"


@pytest.mark.parametrize("seed", range(3))
def test_the_pipeline_schedule_funded_afterwards_is_a_checked_candidate(seed):
    """With ``pipeline_min_requests`` reached, the decomposed pipeline solves the problem without
    the matching and its schedule is funded: never below the greedy, always checked."""
    from solver import value_greedy
    from solver.funding import fund_schedule, relaxed, solve_funded

    pr = random_funded(seed, n_requests=8)
    free = solve(relaxed(pr), **FAST)
    funded = fund_schedule(pr, free.placements, 2.0, 1, 0, 1.0)
    assert funded is not None and check(pr, funded) == []
    a = solve_funded(pr, time_limit=5.0, workers=1, seed=1, deterministic_time=2.0, pipeline_min_requests=1)
    assert check(pr, a.placements, a.objective) == []
    assert a.objective >= value_greedy(pr).objective


@pytest.mark.parametrize("seed", range(6))
def test_the_funded_solver_reports_fcfs_with_the_same_vouchers(seed):
    """``stats["fcfs_objective"]``: the FCFS candidate the funded solver builds anyway, equal to
    ``solver.fcfs`` on the problem (an allocation round compares with it without a second run);
    the greedy gives the same schedule whether each request's free starts are computed once for
    all its vouchers or once per voucher."""
    from solver import fcfs
    from solver.funding import Ledger, _earliest, greedy_funded
    from solver.schedule import Schedule

    pr = random_funded(seed, n_requests=8)
    a = solve(pr, **FAST)
    assert a.stats["fcfs_objective"] == fcfs(pr).objective
    sched, _ = greedy_funded(pr, pr.submitted_order())
    plain, book = Schedule(pr, Static(pr)), Ledger(pr)
    for r in pr.submitted_order():  # the greedy without the shared free starts, voucher by voucher
        tried = [p for v in pr.vouchers_of_request.get(r.id, []) if v.id not in book.used
                 if (p := _earliest(plain, r, v, book)) is not None]
        best = min(tried, key=lambda p: (p.start, pr.voucher_by_id[p.voucher].expires or 10**18), default=None)
        if best is None and (r.funding != "voucher" or r.cash_fallback):
            best = _earliest(plain, r, None, book)
        if best is not None:
            plain.add(best)
            if best.voucher:
                book.take(pr.voucher_by_id[best.voucher], r, best.instrument)
    assert {k: (p.instrument, p.start) for k, p in plain.placed.items()} == {
        k: (p.instrument, p.start) for k, p in sched.placed.items()
    }
