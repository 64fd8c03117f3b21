"""Interval arithmetic on sorted lists of half-open integer intervals ``[a, b)``.

Start sets (the feasible start times of a booking) are represented the same way: a list of
disjoint sorted ``[lo, hi)`` pairs meaning ``lo <= start < hi``.
"""

from __future__ import annotations

import math
from functools import reduce

Interval = tuple[int, int]


def merge(intervals) -> list[Interval]:
    """Sorted union; overlapping or touching intervals are merged, empty ones dropped."""
    out: list[list[int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in intervals if b > a):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1][1] = b
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def subtract(base, holes) -> list[Interval]:
    """``base`` minus ``holes``; both may be unsorted/overlapping; result sorted disjoint."""
    return subtract_from_set(merge(base), merge(holes))


def subtract_from_set(base: list[Interval], holes: list[Interval]) -> list[Interval]:
    """``base`` minus ``holes`` where ``base`` is already sorted and disjoint (a start set) and
    the holes are non-empty and may overlap: the same result as :func:`subtract`, without
    merging either (the hot path of :meth:`solver.schedule.Schedule.free_starts`)."""
    holes = sorted(holes)
    out: list[Interval] = []
    j, n = 0, len(holes)
    for a, b in base:
        while j < n and holes[j][1] <= a:
            j += 1
        cur = a
        k = j
        while k < n and holes[k][0] < b:
            ha, hb = holes[k]
            if ha > cur:
                out.append((cur, ha))
            if hb > cur:
                cur = hb
            if cur >= b:
                break
            k += 1
        if cur < b:
            out.append((cur, b))
    return out


def intersect(x, y) -> list[Interval]:
    """Intersection of two unions of intervals."""
    x = merge(x)
    y = merge(y)
    out: list[Interval] = []
    i = j = 0
    while i < len(x) and j < len(y):
        a = max(x[i][0], y[j][0])
        b = min(x[i][1], y[j][1])
        if a < b:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def window_pieces(windows, busy) -> list[Interval]:
    """Free pieces of each window (windows are kept separate: a booking must fit in *one*).
    Pieces of different windows may touch or overlap; they are not merged."""
    busy = merge(busy)
    pieces: list[Interval] = []
    for w in windows:
        pieces.extend(subtract([w], busy))
    return pieces


def start_set(pieces, duration: int, release: int, deadline: int,
              before: int = 0, after: int = 0) -> list[Interval]:
    """Starts ``s`` with ``[s - before, s + duration + after)`` inside one piece,
    ``s >= release`` and ``s + duration <= deadline``."""
    ranges = []
    for a, b in pieces:
        lo = max(a + before, release)
        hi = min(b - duration - after, deadline - duration) + 1
        if lo < hi:
            ranges.append((lo, hi))
    return merge(ranges)


def forbidden_by(occupied, duration: int, before: int = 0, after: int = 0) -> list[Interval]:
    """Starts whose blocked interval ``[s - before, s + duration + after)`` meets one of the
    ``occupied`` intervals."""
    return [(a - duration - after + 1, b + before) for a, b in occupied]


def to_grid(ranges, grid: int) -> list[Interval]:
    """Start set in minutes -> start set in grid units (``start = grid * t``)."""
    out = []
    for lo, hi in ranges:
        tlo = -((-lo) // grid)
        thi = (hi - 1) // grid + 1
        if tlo < thi:
            out.append((tlo, thi))
    return out


def first_on_grid(ranges, grid: int) -> int | None:
    for lo, hi in ranges:
        s = -((-lo) // grid) * grid
        if s < hi:
            return s
    return None


def nearest_on_grid(lo: int, hi: int, target: int, grid: int) -> int | None:
    """Grid point in ``[lo, hi)`` nearest to ``target`` (ties: earlier), or None."""
    first = -((-lo) // grid) * grid
    last = ((hi - 1) // grid) * grid
    if first > last:
        return None
    if target <= first:
        return first
    if target >= last:
        return last
    down = (target // grid) * grid
    up = down if down == target else down + grid
    return down if target - down <= up - target else up


def total_length(intervals) -> int:
    return sum(b - a for a, b in intervals)


def gcd_all(values) -> int:
    return reduce(math.gcd, (abs(int(v)) for v in values), 0)


def full_periods(intervals, capacity: int) -> list[Interval]:
    """Periods where at least ``capacity`` of the given intervals overlap (sorted, disjoint,
    touching periods joined)."""
    if len(intervals) < capacity:
        return []
    # at one instant ends (-1) sort before starts (+1): touching intervals do not overlap
    events = sorted([(a, 1) for a, b in intervals if b > a] + [(b, -1) for a, b in intervals if b > a])
    out: list[Interval] = []
    level = 0
    start = None
    for t, delta in events:
        level += delta
        if level >= capacity and start is None:
            start = t
        elif level < capacity and start is not None:
            if t > start:
                if out and out[-1][1] >= start:  # touching the previous period: one period
                    out[-1] = (out[-1][0], t)
                else:
                    out.append((start, t))
            start = None
    return out
