"""Interval arithmetic: properties checked against a minute-by-minute model."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from instruments.intervals import merge, subtract

spans = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)).map(lambda t: (min(t), max(t))), max_size=12)


def minutes(intervals) -> set[int]:
    return {m for s, e in intervals for m in range(s, e)}


@given(spans)
def test_merge_covers_the_same_minutes_and_is_disjoint(xs):
    out = merge(xs)
    assert minutes(out) == minutes(xs)
    assert all(a[1] < b[0] for a, b in zip(out, out[1:], strict=False))


@given(spans, spans)
def test_subtract_is_set_difference(a, b):
    out = subtract(a, b)
    assert minutes(out) == minutes(a) - minutes(b)
    assert all(s < e for s, e in out)
