"""Hypothesis invariants: no double booking, budgets never exceeded, bound >= objective."""

from helpers import FAST, Enterprise, Fraction, Group, Instrument, Operator, Problem, Request, check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import fcfs, place, solve, value_greedy


@st.composite
def problems(draw):
    n_inst = draw(st.integers(1, 3))
    insts = []
    for i in range(n_inst):
        wins = draw(st.lists(st.tuples(st.integers(0, 20), st.integers(2, 10)), min_size=1, max_size=3))
        busy = draw(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 4)), max_size=3))
        insts.append(Instrument(f"I{i}", [(30 * a, 30 * (a + b)) for a, b in wins],
                                busy=[(30 * a, 30 * (a + b)) for a, b in busy],
                                setup=draw(st.sampled_from([0, 0, 30])), cleanup=draw(st.sampled_from([0, 15]))))
    ents = [Enterprise(f"E{e}", voucher_budget=draw(st.sampled_from([None, 0, 20000, 50000])),
                       group="G" if e < 2 else None) for e in range(3)]
    groups = [Group("G", voucher_budget=draw(st.sampled_from([None, 40000])))]
    ops = [Operator("O0", [(0, 600)], [f"I{i}" for i in range(n_inst)])]
    reqs = []
    for k in range(draw(st.integers(1, 8))):
        el = draw(st.lists(st.sampled_from([x.id for x in insts]), min_size=1, max_size=n_inst, unique=True))
        rel = 30 * draw(st.integers(0, 10))
        reqs.append(Request(f"R{k}", f"E{draw(st.integers(0, 2))}", 15 * draw(st.integers(1, 8)), el,
                            release=rel, deadline=draw(st.sampled_from([None, rel + 300])),
                            weight=draw(st.integers(1, 10)),
                            price_per_hour={i: draw(st.sampled_from([0, 10000, 33333])) for i in el},
                            voucher_share=draw(st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(2, 5)])),
                            needs_operator=draw(st.booleans()),
                            preferred_start=draw(st.sampled_from([None, 120, 300]))))
    return Problem(horizon_minutes=1440, slot_minutes=30, instruments=insts, requests=reqs,
                   enterprises=ents, operators=ops, groups=groups)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_outputs_always_feasible(pr):
    objs = []
    for alloc in (fcfs(pr), value_greedy(pr), solve(pr, **FAST)):
        assert check(pr, alloc.placements, alloc.objective) == []
        objs.append(alloc.objective)
        assert len(alloc.placements) + len(alloc.unplaced) == len(pr.requests)
    assert alloc.upper_bound >= alloc.objective
    assert objs[2] >= max(objs[:2])


@settings(max_examples=30, deadline=None)
@given(problems())
def test_place_only_feasible(pr):
    alloc = value_greedy(pr)
    for r in pr.requests:
        if any(p.request == r.id for p in alloc.placements):
            continue
        others = alloc.placements
        for p in place(pr, others, r, k=3):
            assert check(pr, others + [p]) == []
