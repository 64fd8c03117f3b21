"""The solver's interval arithmetic (:mod:`solver.windows`) against a minute-by-minute model."""

from hypothesis import given
from hypothesis import strategies as st

from solver.windows import full_periods, merge, subtract, subtract_from_set

spans = st.lists(st.tuples(st.integers(-20, 200), st.integers(-20, 200)).map(lambda t: (min(t), max(t))), max_size=12)


def minutes(intervals) -> set[int]:
    return {m for s, e in intervals for m in range(s, e)}


@given(spans, spans)
def test_subtract_from_a_start_set_is_set_difference(a, holes):
    base = merge(a)  # a start set: sorted, disjoint
    holes = [h for h in holes if h[1] > h[0]]
    out = subtract_from_set(base, holes)
    assert minutes(out) == minutes(base) - minutes(holes)
    assert out == subtract(base, holes)  # same intervals, not only the same minutes


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(-3, 12)), max_size=8), st.integers(1, 4))
def test_full_periods_are_the_minutes_with_capacity_taken(raw, capacity):
    """Against a minute-by-minute count: the periods cover exactly the minutes where at least
    ``capacity`` intervals overlap, sorted, disjoint and not touching."""
    intervals = [(a, a + n) for a, n in raw]
    full = {t for t in range(-5, 60) if sum(a <= t < b for a, b in intervals) >= capacity}
    out = full_periods(intervals, capacity)
    assert {t for a, b in out for t in range(a, b)} == full
    assert all(a < b for a, b in out) and all(b1 < a2 for (_, b1), (a2, _) in zip(out, out[1:], strict=False))
