"""The schedule's grid bit masks answer as its interval arithmetic does: the same free starts
for every alternative, the same earliest and best-fit placements, after any sequence of additions and
removals (buffers, operators, labs at capacity, a grid finer than the slot)."""

from dataclasses import replace

from helpers import Enterprise, Instrument, Lab, Placement, Problem, Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_invariants import problems as invariant_problems

from bench.instances import generate
from solver.baselines import greedy_fill, value_order
from solver.recreate import RuinRecreate
from solver.schedule import Schedule
from solver.static import Static


@st.composite
def problems(draw):
    """The invariant tests' problems (buffers, busy time, an operator, budgets, a 15-minute
    grid), with some of the instruments in one lab of capacity 1 or 2."""
    pr = draw(invariant_problems())
    insts = [replace(i, lab="L" if draw(st.booleans()) else None) for i in pr.instruments]
    return replace(pr, instruments=insts, labs=[Lab("L", capacity=draw(st.sampled_from([1, 2])))])


def grid_starts(ranges, g):
    return [s for a, b in ranges for s in range(-(-a // g) * g, b, g)]


def bit_starts(bits, static):
    base, mask, _ = bits
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


def test_ranges_that_touch_on_the_grid_stay_apart():
    """Windows 00:00-01:30 and 01:30-02:30 give a 15-minute request the start ranges [0, 75] and
    [90, 135]: two ranges, though no grid start lies between them; best fit takes the tighter."""
    pr = Problem(horizon_minutes=1440, slot_minutes=30, instruments=[Instrument("I0", [(0, 90), (90, 150)])],
                 requests=[Request("R0", "E0", 15, ["I0"])], enterprises=[Enterprise("E0")])
    sched = Schedule(pr)
    assert sched.best_fit(pr.requests[0]) == Placement("R0", "I0", 90)
    assert_bits_agree(pr, sched)


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
