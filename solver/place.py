"""Instant booking suggestions: where could one new request go in a fixed schedule?

Pure interval arithmetic against the fixed placements (no CP-SAT): for each alternative
(instrument, operator) the free starts are the static start set minus the starts forbidden by
bookings already on the instrument (with buffers), on the operator, and by full periods of the
lab; the request's voucher spend must fit what is left of the budgets.  Suggestions are on the
solver grid, ranked by distance to ``preferred_start`` (ties: earlier), else earliest first.
"""

from __future__ import annotations

from collections.abc import Iterable

from .problem import Allocation, Placement, Problem, Request
from .schedule import Schedule
from .static import Static


def _grid_points(lo: int, hi: int, g: int, target: int, k: int) -> list[int]:
    first = -((-lo) // g) * g
    last = ((hi - 1) // g) * g
    if first > last:
        return []
    if target <= first:
        return list(range(first, min(last, first + (k - 1) * g) + 1, g))
    if target >= last:
        return list(range(last, max(first, last - (k - 1) * g) - 1, -g))
    down = (target // g) * g
    pts = []
    a, b = down, down + g
    while len(pts) < k and (a >= first or b <= last):
        if a >= first and (b > last or target - a <= b - target):
            pts.append(a)
            a -= g
        elif b <= last:
            pts.append(b)
            b += g
        else:
            break
    return pts


def place(problem: Problem, fixed: Iterable[Placement] | Allocation, request: Request, k: int = 5,
          static: Static | None = None) -> list[Placement]:
    """Up to ``k`` feasible placements of ``request`` given the ``fixed`` placements, best first.

    ``fixed`` placements must refer to requests of ``problem``; ``request`` need not.
    """
    if isinstance(fixed, Allocation):
        fixed = fixed.placements
    sched = Schedule(problem, static)
    for p in fixed:
        if p.request != request.id:
            sched.add(p)
    g = sched.static.grid
    target = request.preferred_start
    key_target = target if target is not None else -10**18
    cands: list[tuple[int, int, int, Placement]] = []
    for n, alt in enumerate(sched.static.alternatives(request)):
        if sched.budget_blocker(request, alt.spend):
            continue
        for lo, hi in sched.free_starts(alt):
            for s in _grid_points(lo, hi, g, key_target, k):
                score = abs(s - target) if target is not None else 0
                cands.append((score, s, n, Placement(request.id, alt.instrument, s, alt.operator)))
    cands.sort(key=lambda c: (c[0], c[1], c[2]))
    out: list[Placement] = []
    seen = set()
    for _, s, _, p in cands:
        if (p.instrument, s) in seen:
            continue
        seen.add((p.instrument, s))
        out.append(p)
        if len(out) >= k:
            break
    return out
