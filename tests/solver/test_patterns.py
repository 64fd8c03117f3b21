"""The pattern relaxation (solver.patterns): exact pricing, exact budget side, a bound that
never undercuts a brute-force optimum (converged or stopped after one iteration), decoded
patterns that pass the checker, and a bound strictly tighter than the window-assignment LP
where piece packing or a budget is what binds."""

import itertools
import time

import pytest
from helpers import Enterprise, Fraction, Instrument, Problem, Request, brute_force, check
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bruteforce import random_tiny
from test_knapsack import packed_tiny

from bench.instances import generate
from solver import solve
from solver.bound import trivial_bound
from solver.knapsack import KnapsackModel, decode_best, decode_exact
from solver.patterns import PatternLP, best_choice, best_pattern
from solver.static import Static


def _fits(L, items) -> bool:
    """Brute force: some order, each item started as early as its release allows, meets
    every limit (class 1: end <= lim; class 2: start >= L - lim; all inside [0, L))."""
    for order in itertools.permutations(items):
        t, ok = 0, True
        for _, e, c, lim, _ in order:
            s = max(t, L - lim) if c == 2 else t
            end = s + e
            if end > L or (c == 1 and end > lim):
                ok = False
                break
            t = end
        if ok:
            return True
    return not items


item = st.tuples(st.integers(1, 9), st.integers(1, 4), st.integers(0, 2), st.integers(1, 8))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 8), st.lists(item, max_size=6))
def test_best_pattern_is_the_exact_optimum(L, raw):
    items = [(float(p), e, c, lim if c else L, k) for k, (p, e, c, lim) in enumerate(raw)]
    value, keys = best_pattern(L, items)
    by_key = {it[4]: it for it in items}
    chosen = [by_key[k] for k in keys]
    assert len(set(keys)) == len(keys)
    assert _fits(L, chosen)
    assert value == pytest.approx(sum(it[0] for it in chosen))
    brute = max(sum(it[0] for it in sub) for n in range(len(items) + 1)
                for sub in itertools.combinations(items, n) if _fits(L, sub))
    assert value == pytest.approx(brute)


option = st.tuples(st.integers(1, 9), st.tuples(st.integers(0, 5), st.integers(0, 5)))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(option, min_size=1, max_size=3), max_size=6), st.tuples(st.integers(0, 8), st.integers(0, 8)))
def test_best_choice_is_the_exact_optimum(raw, caps):
    options = [[(float(v), sp, (j, k)) for k, (v, sp) in enumerate(opts)] for j, opts in enumerate(raw)]
    upper, value, keys = best_choice(options, list(caps))
    assert upper == pytest.approx(value)
    assert len({j for j, _ in keys}) == len(keys)  # at most one option per request
    chosen = [options[j][k] for j, k in keys]
    assert all(sum(o[1][n] for o in chosen) <= caps[n] for n in range(2))
    assert value == pytest.approx(sum(o[0] for o in chosen))
    brute = 0.0
    for pick in itertools.product(*[[None] + opts for opts in options]):
        sel = [o for o in pick if o is not None]
        if all(sum(o[1][n] for o in sel) <= caps[n] for n in range(2)):
            brute = max(brute, sum(o[0] for o in sel))
    assert value == pytest.approx(brute)


def test_node_limit_hands_over_to_scip_which_finds_the_optimum():
    options = [[(1.0 + k / 10, (1,), k)] for k in range(12)]
    upper, value, keys = best_choice(options, [6], node_limit=5)
    assert sorted(keys) == list(range(6, 12))  # the six most valuable
    assert value == pytest.approx(6 + 0.6 + 0.7 + 0.8 + 0.9 + 1.0 + 1.1) and upper == pytest.approx(value)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(option, min_size=1, max_size=3), max_size=6), st.tuples(st.integers(0, 8), st.integers(0, 8)))
def test_cut_short_search_still_gives_a_valid_bound_and_a_feasible_choice(raw, caps):
    options = [[(float(v), sp, (j, k)) for k, (v, sp) in enumerate(opts)] for j, opts in enumerate(raw)]
    upper, value, keys = best_choice(options, list(caps), node_limit=1)
    exact, _, _ = best_choice(options, list(caps))
    chosen = [options[j][k] for j, k in keys]
    assert len({j for j, _ in keys}) == len(keys)
    assert all(sum(o[1][n] for o in chosen) <= caps[n] for n in range(2))
    assert value == pytest.approx(sum(o[0] for o in chosen)) and value <= exact + 1e-9 <= upper + 2e-9


@pytest.mark.parametrize("make,seed", [(random_tiny, s) for s in range(10)] + [(packed_tiny, s) for s in range(6)])
@pytest.mark.parametrize("iterations", ["one", "converged"])
def test_bound_is_valid_and_patterns_decode_feasibly(make, seed, iterations):
    pr = make(seed)
    best = brute_force(pr)
    stc = Static(pr)
    pl = PatternLP(pr, stc)
    pl.solve(time.perf_counter() if iterations == "one" else time.perf_counter() + 10)
    assert pl.bound is not None and best <= pl.bound <= pl.trivial
    res = pl.solve_integer(5.0, workers=1)
    assert res["status"] in ("OPTIMAL", "FEASIBLE")
    placed = decode_best(pr, stc, res["chosen"], caps=pl.budget_of, fill=pr.requests)
    assert check(pr, list(placed.values())) == []
    assert sum(pr.request_by_id[k].weight for k in placed) <= best


def test_packing_inside_a_window_is_convexified():
    # a 4-slot window, three 3-slot requests: only one fits; the assignment LP takes 4/3 of them
    pr = Problem(horizon_minutes=1440, slot_minutes=30, instruments=[Instrument("I0", [(480, 600)])],
                 requests=[Request(f"R{k}", "E0", 90, ["I0"], weight=10) for k in range(3)],
                 enterprises=[Enterprise("E0")])
    stc = Static(pr)
    km = KnapsackModel(pr, stc, pr.requests, {})
    assert km.lp_bound() == 13
    pl = PatternLP(pr, stc)
    pl.solve(time.perf_counter() + 10)
    assert pl.bound == 10 == brute_force(pr)


def budget_case() -> Problem:
    """Three requests on three instruments: R0 (weight 10) spends 70 % of the enterprise's
    budget (35000 of 50000), R1 and R2 (weight 5) 40 % each: {R0} or {R1, R2}, optimum 10."""
    insts = [Instrument(f"I{k}", [(480, 600)]) for k in range(3)]
    reqs = [Request(f"R{k}", "E0", 60, [f"I{k}"], weight=10 if k == 0 else 5,
                    price_per_hour={f"I{k}": 70000 if k == 0 else 40000}, voucher_share=Fraction(1, 2))
            for k in range(3)]
    pr = Problem(horizon_minutes=1440, slot_minutes=30, instruments=insts, requests=reqs,
                 enterprises=[Enterprise("E0", voucher_budget=50000)])
    return pr


def test_a_binding_budget_is_convexified():
    # the window LP funds R0 and 3/4 of R1 (13; its cardinality cut, at most 2 funded, does
    # not bite)
    pr = budget_case()
    stc = Static(pr)
    km = KnapsackModel(pr, stc, pr.requests, {"enterprise:E0": 50000})
    assert km.lp_bound() == 13  # 10 + 5 * 15000 / 20000
    pl = PatternLP(pr, stc)
    pl.solve(time.perf_counter() + 10)
    assert len(pl.units) == 1
    assert pl.bound == 10 == brute_force(pr)


@pytest.mark.parametrize("make,seed,whole", [(random_tiny, 0, True), (random_tiny, 3, False),
                                             (packed_tiny, 0, True), (packed_tiny, 3, False), (packed_tiny, 4, True)])
def test_solve_with_the_pattern_stage_keeps_optimum_and_a_valid_bound(make, seed, whole):
    pr = make(seed)
    best = brute_force(pr)
    # no other bound stage, so the pattern stage is what bounds the problem
    a = solve(pr, time_limit=5.0, workers=1, seed=1, deterministic_time=2.0, use_lp=False, use_knapsack=False,
              pattern_share=0.5, pattern_max_requests=10**6 if whole else 0)
    assert "patterns" in a.stats["coupled_bound"]
    assert check(pr, a.placements, a.objective) == []
    assert a.objective == best <= a.upper_bound
    # the stage's own bound is valid and cuts the trivial bound (every instance here has a gap)
    assert best <= a.stats["coupled_bound"]["patterns"]["bound"] < trivial_bound(pr.requests, Static(pr))


def test_the_background_pattern_bound_is_valid_and_used():
    pr = packed_tiny(0)
    best = brute_force(pr)
    # no other bound stage, and no proof by CP-SAT (which would make the child's answer moot):
    # the child process's pattern bound is what bounds the problem
    kw = dict(time_limit=3.0, workers=1, seed=1, use_lp=False, use_knapsack=False, prove_max_requests=0,
              mip_max_requests=0)  # the child runs only beside components above this size
    a = solve(pr, **kw)
    pb = a.stats["coupled_bound"]["patterns_background"]["bound"]
    assert best <= pb < trivial_bound(pr.requests, Static(pr))
    assert 0 < a.stats["coupled_bound"]["patterns_background"]["lp_seconds"] < a.timings["total"]
    assert a.objective == best and a.upper_bound <= pb
    off = solve(pr, **kw, pattern_background=False)
    assert "patterns_background" not in off.stats["coupled_bound"]


@pytest.mark.parametrize("make,seed", [(random_tiny, s) for s in range(6)] + [(packed_tiny, s) for s in range(6)])
def test_rounded_lp_puts_each_covered_request_on_one_piece_and_decodes_feasibly(make, seed):
    pr = make(seed)
    stc = Static(pr)
    pl = PatternLP(pr, stc)
    pl.solve(time.perf_counter() + 10)
    covered = {pl.pvs[vi].alt.request.id for (_, vs), v in zip(pl.columns, pl.column_values, strict=False)
               if v > 1e-9 for vi in vs}
    rounded = pl.rounded()
    ids = [pv.alt.request.id for pv in rounded]
    assert len(ids) == len(set(ids)) and set(ids) == covered
    placed = decode_best(pr, stc, rounded, caps=pl.budget_of, fill=pr.requests)
    assert check(pr, list(placed.values())) == []
    assert sum(pr.request_by_id[k].weight for k in placed) <= brute_force(pr)


def test_rounded_lp_keeps_the_piece_that_covers_a_request_most():
    """R0 fits only the first window, R1 either: the LP puts R1 wholly in the second one."""
    pr = Problem(horizon_minutes=1440, slot_minutes=30, instruments=[Instrument("I0", [(480, 600), (780, 900)])],
                 requests=[Request("R0", "E0", 120, ["I0"], deadline=600, weight=10),
                           Request("R1", "E0", 120, ["I0"], weight=10)],
                 enterprises=[Enterprise("E0")])
    pl = PatternLP(pr, Static(pr))
    pl.solve(time.perf_counter() + 10)
    assert pl.bound == 20
    assert sorted((pv.alt.request.id, pv.piece) for pv in pl.rounded()) == [("R0", (480, 600)), ("R1", (780, 900))]


@pytest.mark.parametrize("seed", range(4))
def test_the_pattern_child_searches_from_its_rounded_lp(seed):
    from solver.pipeline import _pattern_search
    pr = packed_tiny(seed)
    best = brute_force(pr)
    res = _pattern_search(pr, Static(pr), pr.requests, {}, time.perf_counter() + 10, time.perf_counter() + 2.5)
    assert check(pr, res["placements"], res["objective"]) == []
    assert res["start"] <= res["objective"] <= best <= res["bound"]
    assert res["dive"]["seconds"] >= 0


@pytest.mark.parametrize("make,seed", [(packed_tiny, 6), (random_tiny, 3)])
def test_the_pipeline_takes_the_pattern_childs_schedule_when_it_is_better(make, seed, monkeypatch):
    """The main process cannot improve its warm start here (no bound stages, no proof, no ruin
    and recreate, the LNS switched off): the optimum comes from the child."""
    from solver.lns import LNS
    monkeypatch.setattr(LNS, "run", lambda self, *a, **k: None)
    pr = make(seed)
    best = brute_force(pr)
    kw = dict(time_limit=3.0, workers=1, seed=1, use_lp=False, use_knapsack=False, prove_max_requests=0,
              mip_max_requests=0, recreate_share=0.0)
    a = solve(pr, **kw)
    child = a.stats["coupled_bound"]["patterns_background"]
    assert check(pr, a.placements, a.objective) == []
    assert a.objective == child["objective"] == best > a.stats["warm_objective"] and child["taken"]
    assert solve(pr, **kw, pattern_background=False).objective == a.stats["warm_objective"]


@pytest.mark.parametrize("over,seed", [(True, 0), (True, 2), (True, 3), (False, 1), (False, 2)])
def test_diving_ends_integral_keeps_the_bound_and_decodes_feasibly(over, seed):
    """Benchmark instances whose pattern LP is fractional: the dive fixes columns until it is
    integral; the bound and its dual point are the undived LP's; the exact decoding of the dive
    is feasible, at least the greedy one, at most the bound."""
    pr = generate("small", over, seed)
    stc = Static(pr)
    pl = PatternLP(pr, stc)
    pl.solve(time.perf_counter() + 10)
    assert any(1e-6 < v < 1 - 1e-6 for v in pl.column_values)
    bound, lb, point, lp0 = pl.bound, pl.best_lb, pl.best_point, pl.lp_value
    chosen = pl.dive(time.perf_counter() + 10)
    assert all(min(v, 1 - v) < 1e-6 for v in pl.column_values)
    assert pl.bound == bound and pl.best_lb == lb and pl.best_point is point
    ids = [pv.alt.request.id for pv in chosen]
    assert len(ids) == len(set(ids))
    # the integral LP is the weight of its patterns
    assert sum(pv.alt.request.weight for pv in chosen) == pytest.approx(pl.lp_value)
    exact = decode_exact(pr, stc, chosen, pl.budget_of, pr.requests, time_limit=2.0)
    greedy = decode_best(pr, stc, chosen, caps=pl.budget_of, fill=pr.requests)
    w = pr.request_by_id
    assert check(pr, list(exact.values())) == []
    assert sum(w[k].weight for k in greedy) <= sum(w[k].weight for k in exact) <= bound
    # the master is kept between solves: solving again frees what the dive fixed or banned
    assert len(pl._master.xs) == len(pl.columns)
    pl.solve(time.perf_counter() + 10)
    assert pl.lp_value >= lp0 - 1e-6 and pl.bound <= bound


def test_diving_respects_a_binding_budget_and_a_lower_share_of_it():
    """The budget case (R0 spends 35000 of 50000, R1 and R2 20000 each): the dive takes R0 or
    R1 and R2, never all three; with a share of 30000 only one of R1 and R2 (a component's
    share of a budget it shares); the full budget is back afterwards."""
    pr = budget_case()
    stc = Static(pr)
    pl = PatternLP(pr, stc)
    pl.solve(time.perf_counter() + 10)
    chosen = pl.dive(time.perf_counter() + 10)
    assert sorted(pv.alt.request.id for pv in chosen) in (["R0"], ["R1", "R2"])
    assert decode_exact(pr, stc, chosen, pl.budget_of, pr.requests).keys() == {pv.alt.request.id for pv in chosen}
    shared = PatternLP(pr, stc, binding={"enterprise:E0"})
    shared.solve(time.perf_counter() + 10)
    chosen = shared.dive(time.perf_counter() + 10, caps={"enterprise:E0": 30000})
    assert [pv.alt.request.id for pv in chosen] in (["R1"], ["R2"])
    assert shared.units[0].caps == [50000] and shared.bound == 10
