"""Component by component: each component's pattern LP (bound and start) and ruin and recreate,
two processes; the components' duals joined into one bound with every shared budget counted once."""

import time

from helpers import Enterprise, Fraction, Group, Instrument, Problem, Request, brute_force, check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_coupled import shared_budget_problem

from bench.instances import generate
from solver import solve
from solver.baselines import value_greedy
from solver.component_search import halves, search_components, search_in_two
from solver.decompose import budget_keys, decompose
from solver.patterns import PatternLP, joined_bound
from solver.problem import voucher_spend
from solver.static import Static


def _comp_lps(pr: Problem):
    static = Static(pr)
    comps, _ = decompose(pr, static, {}, merge_limit=0)
    lps = []
    for c in comps:
        pl = PatternLP(pr, static, c.requests, binding=c.split)
        pl.solve(time.perf_counter() + 10)
        lps.append(pl)
    return comps, lps


def test_the_joined_bound_counts_a_shared_budget_once():
    pr = shared_budget_problem()  # one budget pays for two of four requests, two per component
    comps, lps = _comp_lps(pr)
    assert len(comps) == 2 and all(c.split == {"enterprise:E0"} for c in comps)
    # alone, each component spends the whole budget on both of its requests
    assert sum(pl.bound for pl in lps) == 3 + 4 + 5 + 6
    budgets = {k: b for c in comps for k, b in c.lp_caps.items()}
    parts = [pl.joint_parts() for pl in lps]
    at = [joined_bound([p[n] for p in parts], budgets) for n in range(len(parts[0]))]
    assert at[0] == 18          # at the LP's own duals the links are free: nothing to join
    assert min(at) == brute_force(pr) == 6 + 5


def test_a_shared_budget_is_a_unit_in_a_component_that_alone_cannot_exceed_it():
    pr = shared_budget_problem()
    static = Static(pr)
    comps, _ = decompose(pr, static, {}, merge_limit=0)
    c = comps[0]
    assert not PatternLP(pr, static, c.requests).units   # 40,000 fen of 40,000: not binding alone
    pl = PatternLP(pr, static, c.requests, binding=c.split)
    assert [u.keys for u in pl.units] == [["enterprise:E0"]]


@st.composite
def shared_budget_problems(draw):
    """Requests on one instrument each (every instrument its own component), enterprises whose
    budgets and a controller group's budget several instruments spend from."""
    n_inst = draw(st.integers(2, 3))
    insts = [Instrument(f"I{i}", [(480, 480 + 30 * draw(st.integers(2, 8)))]) for i in range(n_inst)]
    ents = [Enterprise(f"E{e}", voucher_budget=draw(st.sampled_from([None, 0, 20000, 50000])),
                       group="G" if e < 2 else None) for e in range(3)]
    groups = [Group("G", voucher_budget=draw(st.sampled_from([None, 30000])))]
    reqs = []
    for k in range(draw(st.integers(2, 8))):
        i = f"I{draw(st.integers(0, n_inst - 1))}"
        reqs.append(Request(f"R{k}", f"E{draw(st.integers(0, 2))}", 30 * draw(st.integers(1, 4)), [i],
                            weight=draw(st.integers(1, 10)),
                            price_per_hour={i: draw(st.sampled_from([0, 10000, 40000]))},
                            voucher_share=draw(st.sampled_from([Fraction(1, 2), Fraction(1)]))))
    return Problem(horizon_minutes=1440, slot_minutes=30, instruments=insts, requests=reqs,
                   enterprises=ents, groups=groups)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shared_budget_problems())
def test_the_joined_bound_is_valid_and_no_looser_than_the_sum(pr):
    comps, lps = _comp_lps(pr)
    budgets = {k: b for c in comps for k, b in c.lp_caps.items()}
    # a component whose LP never ran (nothing placeable) adds nothing
    parts = [p for pl in lps if (p := pl.joint_parts())]
    if not parts:
        return
    at = [joined_bound([p[n] for p in parts], budgets) for n in range(len(parts[0]))]
    assert brute_force(pr) <= min(at) and at[0] <= sum(pl.best_lb for pl in lps if pl.best_lb is not None) + 1e-6


def test_each_component_searched_keeps_its_caps_and_the_union_is_feasible():
    pr = generate("small", True, 1)
    static = Static(pr)
    comps, _ = decompose(pr, static, {}, merge_limit=0)
    assert len(comps) == 3 and any(c.split for c in comps)
    got = search_in_two(pr, static, comps, {}, time.perf_counter() + 3.0, seed=1)
    assert sorted(got) == [0, 1, 2]
    union = []
    for n, c in enumerate(comps):
        res = got[n]
        ids = {r.id for r in c.requests}
        assert {p.request for p in res["placements"]} <= ids
        assert res["bound"] >= res["objective"] == sum(pr.request_by_id[p.request].weight for p in res["placements"])
        assert res["objective"] >= max(res["start"], res["warm"])
        for k in c.split:  # within its share of every budget it shares
            spent = sum(voucher_spend(pr.request_by_id[p.request], p.instrument) for p in res["placements"]
                        if k in dict(budget_keys(pr, pr.request_by_id[p.request])))
            assert spent <= c.caps[k]
        union += res["placements"]
    assert check(pr, union) == []
    # the budgets are whole again afterwards (the searches lowered them to the caps)
    assert [e.voucher_budget for e in pr.enterprises] == [e.voucher_budget for e in generate("small", True, 1).enterprises]
    # in this process, one after the other: the same kind of result
    here = search_components(pr, static, comps, {}, time.perf_counter() + 2.0, seed=1)
    assert check(pr, [p for res in here for p in res["placements"]]) == []


def test_halves_balance_the_requests():
    pr = generate("medium", True, 0)
    comps, _ = decompose(pr, Static(pr), {}, merge_limit=400)
    a, b = halves(comps)
    assert sorted(map(id, a + b)) == sorted(map(id, comps))
    sa, sb = (sum(len(c.requests) for c in h) for h in (a, b))
    assert abs(sa - sb) <= max(len(c.requests) for c in comps)


def test_solve_goes_component_by_component_above_pattern_max_requests():
    pr = generate("small", True, 0)
    ref = solve(pr, time_limit=8.0, workers=2, seed=0)
    a = solve(pr, time_limit=4.0, workers=2, seed=0, pattern_max_requests=10)
    info = a.stats["coupled_bound"]
    assert info["components"]["searched"] == info["components"]["of"] > 0
    assert "patterns_background" not in info                   # no whole-problem pattern child
    assert check(pr, a.placements, a.objective) == [] and not a.stats["checker_fallback"]
    assert a.upper_bound <= info["bound"] or a.upper_bound == sum(d["upper_bound"] for d in a.stats["component_detail"])
    assert ref.objective <= a.upper_bound and a.objective <= ref.upper_bound
    assert a.objective >= value_greedy(pr, explain=False).objective  # never below its own greedy start
