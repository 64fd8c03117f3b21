"""The coupled bound (one LP over all components, each shared budget counted once) and the
child process that computes it beside the searches when it is too big to wait for."""

import time
from fractions import Fraction

from helpers import FAST, Enterprise, Instrument, Problem, Request, brute_force, check

from bench.instances import generate
from solver import solve
from solver.child import Child
from solver.decompose import decompose
from solver.knapsack import KnapsackModel
from solver.pipeline import _order_of, _relax_big, _residual_caps
from solver.problem import Placement
from solver.static import Static


def shared_budget_problem() -> Problem:
    """Two instruments no request shares (two components), one enterprise whose budget pays for
    two of its four 1 h requests (each spends 20,000 fen of 40,000), two on each instrument."""
    insts = [Instrument("I0", [(480, 720)]), Instrument("I1", [(480, 720)])]
    reqs = [Request(f"R{k}", "E0", 60, [f"I{k % 2}"], weight=3 + k, price_per_hour={f"I{k % 2}": 40000},
                    voucher_share=Fraction(1, 2)) for k in range(4)]
    return Problem(horizon_minutes=1440, slot_minutes=30, instruments=insts, requests=reqs,
                   enterprises=[Enterprise("E0", voucher_budget=40000)])


def test_each_component_alone_counts_the_whole_budget_but_the_coupled_bound_does_not():
    pr = shared_budget_problem()
    best = brute_force(pr)
    assert best == 6 + 5  # R3 and R2: the budget pays for two
    # merge_limit=0 keeps the two components apart; each one's bound assumes the whole budget
    kw = dict(FAST, merge_limit=0, lns_share=0.0, recreate_share=0.0, pattern_background=False)  # no whole-problem bound
    alone = solve(pr, **kw, coupled_max_vars=0, coupled_background_vars=0)
    assert alone.stats["split_budgets"] == ["enterprise:E0"]
    assert alone.upper_bound == sum(d["upper_bound"] for d in alone.stats["component_detail"]) == 3 + 4 + 5 + 6
    for sync, background in ((10**6, 0), (0, 10**6)):   # waited for, or in a child process
        a = solve(pr, **kw, coupled_max_vars=sync, coupled_background_vars=background)
        assert check(pr, a.placements, a.objective) == []
        assert a.objective == best
        assert a.stats["coupled_bound"]["bound"] == best == a.upper_bound
        assert a.status == "OPTIMAL"


def test_residual_caps_follow_the_other_components_current_solutions():
    pr = shared_budget_problem()
    static = Static(pr)
    comps, _ = decompose(pr, static, {}, merge_limit=0)
    info = [{"comp": c, "sol": []} for c in comps]
    by_inst = {c.requests[0].eligible[0]: d for c, d in zip(comps, info, strict=True)}
    a, b = by_inst["I0"], by_inst["I1"]
    assert a["comp"].split == {"enterprise:E0"} and a["comp"].lp_caps["enterprise:E0"] == 40000
    _residual_caps(pr, info, a)
    assert a["comp"].caps["enterprise:E0"] == 40000          # nothing spent elsewhere yet
    b["sol"] = [Placement("R1", "I1", 480)]                   # 20,000 fen on I1's side
    _residual_caps(pr, info, a)
    assert a["comp"].caps["enterprise:E0"] == 20000
    b["sol"] = [Placement("R1", "I1", 480), Placement("R3", "I1", 540)]   # replaced, not edited
    _residual_caps(pr, info, a)
    assert a["comp"].caps["enterprise:E0"] == 0
    _residual_caps(pr, info, b)                               # its own spend does not count
    assert b["comp"].caps["enterprise:E0"] == 40000


def _slow(x):
    time.sleep(x)
    return x


def test_child_returns_the_result_or_none_after_the_timeout():
    assert Child(_slow, 0.0).result(timeout=10) == 0.0
    t = time.perf_counter()
    assert Child(_slow, 30.0).result(timeout=0.3) is None   # killed, not waited for
    assert time.perf_counter() - t < 5
    assert Child(lambda: 1 / 0).result(timeout=10) is None  # an error in the child: no result


def test_the_relaxation_child_gives_what_the_parent_would_compute():
    """_relax_big's LP bound, order and coupled-LP data per component, the order rebuilt in
    the parent by _order_of, equal what the parent computes itself."""
    pr = generate("small", True, 1)
    static = Static(pr)
    comps, _ = decompose(pr, static, {}, merge_limit=0)
    assert len(comps) == 3
    got = _relax_big(pr, static, comps, time.perf_counter() + 5, time.perf_counter() + 30)
    assert len(got) == len(comps)
    for c, g in zip(comps, got, strict=True):
        km = KnapsackModel(pr, static, c.requests, c.caps, max_divisor=4, bound_caps=c.lp_caps)
        assert g["lp_bound"] == km.lp_bound(time_limit=5) is not None
        mine = km.lp_order()
        assert mine and _order_of(pr, static, g["order"]) == mine
        assert g["relax"] == km.relaxation_data()


def test_components_from_the_relaxation_child_keep_the_shared_budget():
    """Both components are "too big to prove" (prove_max_requests=0), so a child process takes
    one of them in the knapsack stage; its LP-guided order, alone with the whole budget, would spend it all
    (R3 with R1 on I1), so the parent must decode it with what the other component left."""
    pr = shared_budget_problem()
    a = solve(pr, time_limit=4.0, workers=2, seed=1, merge_limit=0, prove_max_requests=0,
              pattern_background=False, coupled_max_vars=10**6)
    detail = a.stats["component_detail"]
    assert [d["knapsack"].get("child", False) for d in detail].count(True) == 1
    assert not a.stats["checker_fallback"] and check(pr, a.placements, a.objective) == []
    assert a.objective == brute_force(pr) == a.upper_bound
