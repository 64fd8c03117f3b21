"""The solver's interval arithmetic (:mod:`solver.windows`) against a minute-by-minute model."""

from hypothesis import given
from hypothesis import strategies as st

from solver.windows import merge, subtract, subtract_from_set

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
