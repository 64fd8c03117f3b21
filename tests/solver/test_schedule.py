"""The schedule's grid bit masks answer as its interval arithmetic does: the same free starts
for every alternative, the same earliest and best-fit placements, after any sequence of additions and
removals (buffers, operators, labs at capacity, a grid finer than the slot)."""

from helpers import Enterprise, Instrument, Lab, Operator, Placement, Problem, Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.instances import generate
from solver.baselines import greedy_fill, value_order
from solver.recreate import RuinRecreate
from solver.schedule import Schedule
from solver.static import Static


@st.composite
def problems(draw):
    n_inst = draw(st.integers(1, 3))
    insts = []
    for i in range(n_inst):
        wins = draw(st.lists(st.tuples(st.integers(0, 20), st.integers(2, 10)), min_size=1, max_size=3))
        busy = draw(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 4)), max_size=2))
        insts.append(Instrument(f"I{i}", [(30 * a, 30 * (a + b)) for a, b in wins],
                                busy=[(30 * a, 30 * (a + b)) for a, b in busy],
                                setup=draw(st.sampled_from([0, 0, 30])), cleanup=draw(st.sampled_from([0, 15])),
                                lab="L" if draw(st.booleans()) else None))
    reqs = [Request(f"R{k}", "E0", 15 * draw(st.integers(1, 8)),
                    draw(st.lists(st.sampled_from([x.id for x in insts]), min_size=1, max_size=n_inst, unique=True)),
                    release=30 * draw(st.integers(0, 10)), weight=draw(st.integers(1, 10)),
                    needs_operator=draw(st.booleans()))
            for k in range(draw(st.integers(1, 12)))]
    return Problem(horizon_minutes=1440, slot_minutes=30, instruments=insts, requests=reqs,
                   enterprises=[Enterprise("E0")], labs=[Lab("L", capacity=draw(st.sampled_from([1, 2])))],
                   operators=[Operator("O0", [(0, 600)], [f"I{i}" for i in range(n_inst)])])


def grid_starts(ranges, g):
    return [s for a, b in ranges for s in range(-(-a // g) * g, b, g)]


def bit_starts(bits, static):
    base, mask = bits
    return [(base + k - static.bit_offset) * static.grid for k in range(mask.bit_length()) if mask >> k & 1]


def assert_bits_agree(pr, sched):
    static = sched.static
    for r in pr.requests:
        for alt in static.alternatives(r):
            assert bit_starts(sched._free_bits(alt), static) == grid_starts(sched.free_starts(alt), static.grid)
        if r.id in sched.placed:
            continue
        for find in (sched.earliest, sched.best_fit, lambda r: sched.best_fit(r, cheapest=True)):
            fast = find(r)
            sched.bits = False   # the interval arithmetic
            slow = find(r)
            sched.bits = True
            assert fast == slow


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.randoms(use_true_random=False))
def test_bit_masks_agree_with_intervals_after_any_adds_and_removes(pr, rnd):
    static = Static(pr)
    sched = Schedule(pr, static)
    for _ in range(3):
        order = list(pr.requests)
        rnd.shuffle(order)
        for r in order:
            if r.id not in sched.placed and (p := sched.best_fit(r)) is not None:
                sched.add(p)
        assert sched.bits
        assert_bits_agree(pr, sched)
        for rid in [rid for rid in sched.placed if rnd.random() < 0.5]:
            sched.remove(rid)
        assert_bits_agree(pr, sched)
    for rid in list(sched.placed):
        sched.remove(rid)
    assert not any(sched.occ_i.values()) and not any(sched.occ_o.values()) and not any(sched.lab_full.values())


def test_a_placement_off_the_grid_turns_the_masks_off():
    pr = Problem(horizon_minutes=1440, slot_minutes=30, instruments=[Instrument("I0", [(480, 720)])],
                 requests=[Request(f"R{k}", "E0", 60, ["I0"]) for k in range(2)], enterprises=[Enterprise("E0")])
    sched = Schedule(pr)
    sched.add(Placement("R0", "I0", 490))   # a fixed booking at 08:10: not on the 30-minute grid
    assert not sched.bits
    assert sched.best_fit(pr.requests[1]) == Placement("R1", "I0", 570)   # by intervals: after 09:10


def test_ruin_and_recreate_takes_the_same_steps_either_way(monkeypatch):
    pr = generate("small", True, 1)
    static = Static(pr)
    start = Schedule(pr, static)
    greedy_fill(pr, value_order(pr), start)
    fast = RuinRecreate(pr, static, start.placed, seed=3)
    fast.run(max_steps=400)
    monkeypatch.setattr(Schedule, "_free_bits", lambda self, alt: None)
    slow = RuinRecreate(pr, static, start.placed, seed=3)
    slow.run(max_steps=400)
    assert fast.improved > 0
    assert fast.best == slow.best and fast.best_objective == slow.best_objective
