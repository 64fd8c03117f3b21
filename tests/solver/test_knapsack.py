"""The window-assignment relaxation (solver.knapsack): its bound never undercuts a brute-force
optimum, and decoded assignments always pass the independent checker."""

import itertools
import random
from types import SimpleNamespace

import pytest
from helpers import Enterprise, Fraction, Instrument, Operator, Problem, Request, brute_force, check
from hypothesis import given
from hypothesis import strategies as st_
from test_bruteforce import random_tiny

from solver.bound import lp_bound
from solver.decompose import budget_keys, decompose
from solver.knapsack import (
    KnapsackModel,
    _cardinality_rows,
    _energetic_rows,
    _rounded_rows,
    coupled_bound,
    decode,
    decode_best,
    decode_exact,
    piece_vars,
)
from solver.static import Static


def _components(pr):
    st = Static(pr)
    comps, _ = decompose(pr, st, {})
    return st, comps


def packed_tiny(seed: int) -> Problem:
    """Many requests competing for short windows (where the relaxation is tightest)."""
    rng = random.Random(seed)
    insts = [Instrument("I0", [(480, 690), (810, 1050)], busy=[(900, 930)] if rng.random() < 0.5 else []),
             Instrument("I1", [(480, 690)], setup=30 if rng.random() < 0.5 else 0)]
    reqs = [Request(f"R{k}", "E0", 30 * rng.randint(1, 5), rng.choice([["I0"], ["I1"], ["I0", "I1"]]),
                    release=rng.choice([0, 540]), weight=rng.randint(1, 9)) for k in range(6)]
    return Problem(horizon_minutes=1440, slot_minutes=30, instruments=insts, requests=reqs)


@pytest.mark.parametrize("make,seed", [(random_tiny, s) for s in range(8)] + [(packed_tiny, s) for s in range(6)])
@pytest.mark.parametrize("method", ["cpsat", "scip"])
def test_bound_is_valid_and_decode_feasible(make, seed, method):
    pr = make(seed)
    best = brute_force(pr)
    st, comps = _components(pr)
    total, decoded = 0, {}
    for c in comps:
        km = KnapsackModel(pr, st, c.requests, c.lp_caps, max_divisor=8 if method == "scip" else 0)
        res = km.solve(5.0, workers=1, seed=0, deterministic_time=2.0) if method == "cpsat" else km.solve_mip(5.0)
        assert res["status"] == "OPTIMAL"
        total += res["bound"]
        decoded.update(decode(pr, st, res["chosen"], caps=c.lp_caps, fill=c.requests))
    assert total >= best
    assert check(pr, list(decoded.values())) == []
    assert sum(pr.request_by_id[k].weight for k in decoded) <= best


def test_energetic_rows_keep_only_tight_intervals():
    items = [("a", 0, 60, 60), ("b", 0, 60, 60), ("c", 30, 90, 30)]
    rows = list(_energetic_rows(items, 1, 1440))
    # [0, 60): a + b = 120 > 60; [0, 90): 150 > 90; [30, 90): only c, implied
    assert sorted((sorted(vs), rhs) for vs, _, rhs in rows) == [(["a", "b"], 60), (["a", "b", "c"], 90)]


def test_rounded_rows_are_valid_roundings():
    es, rhs = [120, 120, 60], 210
    for cs, r in _rounded_rows(es, rhs, 30, 8):
        # every 0-1 point of the original row satisfies the rounding
        for mask in range(8):
            z = [(mask >> k) & 1 for k in range(3)]
            if sum(e * x for e, x in zip(es, z, strict=True)) <= rhs:
                assert sum(c * x for c, x in zip(cs, z, strict=True)) <= r


def test_cardinality_cut_makes_equal_spends_exact():
    # two requests, each spending 60 % of the budget: the LP funded 1 + 2/3 of them (8), the
    # cut "at most one funded" gives the optimum
    insts = [Instrument("I0", [(480, 600)]), Instrument("I1", [(480, 600)])]
    reqs = [Request(f"R{k}", "E0", 60, [f"I{k}"], weight=5, price_per_hour={f"I{k}": 60000},
                    voucher_share=Fraction(1, 2)) for k in range(2)]
    pr = Problem(horizon_minutes=1440, slot_minutes=30, instruments=insts, requests=reqs,
                 enterprises=[Enterprise("E0", voucher_budget=50000)])
    km = KnapsackModel(pr, Static(pr), pr.requests, {"enterprise:E0": 50000})
    assert km.lp_bound() == 5 == brute_force(pr)
    # the time-indexed LP (solver.bound) carries the same cut
    b, info = lp_bound(pr, Static(pr), pr.requests, {"enterprise:E0": 50000})
    assert b == 5 and info["rows"] > 0


@pytest.mark.parametrize("make,seed", [(random_tiny, s) for s in range(8)] + [(packed_tiny, s) for s in range(6)])
def test_time_indexed_lp_bound_is_valid(make, seed):
    pr = make(seed)
    st, comps = _components(pr)
    total = 0
    for c in comps:
        b, _ = lp_bound(pr, st, c.requests, c.lp_caps)
        total += b
    assert total >= brute_force(pr)


@given(st_.lists(st_.lists(st_.integers(1, 50), min_size=1, max_size=3), min_size=1, max_size=6),
       st_.integers(0, 120))
def test_cardinality_cut_is_valid(spends_per_request, cap):
    """Every choice of at most one alternative per request within the budget satisfies the cut."""
    variables, idx, spends = [], [], []
    for r, alts in enumerate(spends_per_request):
        for sp in alts:
            idx.append(len(variables))
            spends.append(sp)
            variables.append((SimpleNamespace(alt=SimpleNamespace(request=SimpleNamespace(id=f"R{r}"))), None))
    rows = _cardinality_rows(variables, (idx, spends), cap)
    by_request = [[j for j in idx if variables[j][0].alt.request.id == f"R{r}"] for r in range(len(spends_per_request))]
    for pick in itertools.product(*[[None] + js for js in by_request]):
        chosen = [j for j in pick if j is not None]
        if sum(spends[j] for j in chosen) <= cap:
            for vs, cs, rhs in rows:
                assert sum(c for v, c in zip(vs, cs, strict=True) if v in chosen) <= rhs
    if rows:  # and it cuts: the cheapest k+1 do not fit
        k = rows[0][2]
        cheapest = sorted(min(a) for a in spends_per_request)
        assert sum(cheapest[:k]) <= cap < sum(cheapest[:k + 1])


@pytest.mark.parametrize("seed", range(8))
def test_coupled_bound_is_valid(seed):
    """Two instruments in separate components sharing one binding enterprise budget."""
    rng = random.Random(seed)
    insts = [Instrument("I0", [(480, 690)]), Instrument("I1", [(480, 690)])]
    reqs = [Request(f"R{k}", "E0", 30 * rng.randint(1, 4), [rng.choice(["I0", "I1"])],
                    weight=rng.randint(1, 9), price_per_hour={"I0": 20000, "I1": 20000},
                    voucher_share=Fraction(1, 2)) for k in range(6)]
    pr = Problem(horizon_minutes=1440, slot_minutes=30, instruments=insts, requests=reqs,
                 enterprises=[Enterprise("E0", voucher_budget=rng.choice([10000, 25000, 40000]))])
    best = brute_force(pr)
    st = Static(pr)
    comps, _ = decompose(pr, st, {}, merge_limit=0)  # keep the budget split
    parts = []
    for c in comps:
        km = KnapsackModel(pr, st, c.requests, c.lp_caps)
        res = km.solve(5.0, workers=1, seed=0, deterministic_time=2.0)
        parts.append((km.relaxation_data(), res["bound"]))
    budgets = {k: v for c in comps for k, v in c.lp_caps.items()}
    b = coupled_bound(parts, budgets)
    assert best <= b <= sum(u for _, u in parts)


@pytest.mark.parametrize("seed", range(6))
def test_lp_bound_and_lp_rounding(seed):
    pr = random_tiny(seed) if seed % 2 else packed_tiny(seed)
    best = brute_force(pr)
    st, comps = _components(pr)
    total, rounded = 0, {}
    for c in comps:
        km = KnapsackModel(pr, st, c.requests, c.lp_caps, max_divisor=4)
        total += km.lp_bound()
        rounded.update(decode(pr, st, km.lp_order(), caps=c.lp_caps, fill=c.requests, keep_order=True))
    assert total >= best
    assert check(pr, list(rounded.values())) == []


def test_zero_spend_requests_do_not_couple_components_through_a_budget():
    """E0's budget binds on I0; its request on I1 is not voucher-funded, so the two instruments
    stay independent components and the budget is neither merged across nor split."""
    insts = [Instrument("I0", [(480, 690)]), Instrument("I1", [(480, 690)])]
    reqs = [Request(f"R{k}", "E0", 60, ["I0"], weight=3, price_per_hour={"I0": 20000},
                    voucher_share=Fraction(1, 2)) for k in range(3)]
    reqs.append(Request("R3", "E0", 60, ["I1"], weight=2, price_per_hour={"I1": 20000}, voucher_share=0))
    pr = Problem(horizon_minutes=1440, slot_minutes=30, instruments=insts, requests=reqs,
                 enterprises=[Enterprise("E0", voucher_budget=25000)])
    st = Static(pr)
    for limit in (0, 400):
        comps, _ = decompose(pr, st, {}, merge_limit=limit)
        by_first = {c.requests[0].eligible[0]: c for c in comps}
        assert sorted(by_first) == ["I0", "I1"]
        assert by_first["I0"].caps == by_first["I0"].lp_caps == {"enterprise:E0": 25000}
        assert not by_first["I0"].split and not by_first["I1"].split and not by_first["I1"].caps


def test_exact_decoding_sequences_a_piece_the_greedy_starts_cannot():
    """R1 (30 min, start by 150) and R2 (120 min, from 90) share I0's window: R2 first at its
    earliest start leaves R1 no room (the greedy orders, latest start first), R1 at 90 and R2
    at 120 fit both; CP-SAT finds that."""
    pr = Problem(horizon_minutes=240, slot_minutes=30,
                 instruments=[Instrument("I0", [(0, 240)]), Instrument("I1", [(0, 240)])],
                 requests=[Request("R0", "E", 150, ["I1"], release=30, deadline=240, weight=5, needs_operator=True),
                           Request("R1", "E", 30, ["I0"], release=90, deadline=180, weight=2),
                           Request("R2", "E", 120, ["I0"], release=90, deadline=240, weight=2)],
                 enterprises=[Enterprise("E")], operators=[Operator("O", [(0, 240)], ["I0", "I1"])])
    stc = Static(pr)
    chosen = [piece_vars(pr, stc, r)[0] for r in pr.requests]
    greedy = decode_best(pr, stc, chosen, caps={}, fill=[])
    assert len(greedy) == 2
    exact = decode_exact(pr, stc, chosen, {}, [], time_limit=5.0)
    assert check(pr, list(exact.values())) == []
    assert sorted(exact) == ["R0", "R1", "R2"] and exact["R1"].start < exact["R2"].start


@pytest.mark.parametrize("seed", range(4))
def test_exact_decoding_is_feasible_and_never_below_the_greedy(seed):
    pr = random_tiny(seed)
    stc = Static(pr)
    rng = random.Random(seed)
    chosen = [rng.choice(pvs) for r in pr.requests if (pvs := piece_vars(pr, stc, r))]
    caps = {k: b for r in pr.requests for k, b in budget_keys(pr, r)}
    exact = decode_exact(pr, stc, chosen, caps, pr.requests, time_limit=2.0)
    greedy = decode_best(pr, stc, chosen, caps=caps, fill=pr.requests)
    w = pr.request_by_id
    assert check(pr, list(exact.values())) == []
    assert sum(w[k].weight for k in greedy) <= sum(w[k].weight for k in exact) <= brute_force(pr)
