"""Static alternatives: where each request could go if nothing else were placed.

An alternative is (request, instrument, operator or None) with its start set: the starts that
keep the booking and its buffers inside one free piece of one instrument window (windows minus
merged busy time), between release and deadline, and, for operator-run requests, inside one
working window of that operator.

The solver grid: every start the solver (and the baselines) produce is a multiple of
``grid = gcd(slot_minutes, every time in the data)``.  When all data are multiples of
``slot_minutes`` the grid is ``slot_minutes``, and restricting starts to it loses no optimality
(shift every booking left to the grid: order, windows, release, deadlines and capacities are
preserved), so bounds stay valid for the problem without the grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .problem import Problem, Request, voucher_spend
from .windows import Interval, gcd_all, intersect, start_set, window_pieces


@dataclass
class Alternative:
    request: Request
    instrument: str
    operator: str | None
    starts: list[Interval]  # minutes, half-open
    spend: int


def solver_grid(problem: Problem) -> int:
    vals = [problem.slot_minutes or 1, problem.horizon_minutes]
    for i in problem.instruments:
        vals += [i.setup, i.cleanup]
        for a, b in list(i.windows) + list(i.busy):
            vals += [a, b]
    for o in problem.operators:
        for a, b in o.windows:
            vals += [a, b]
    for r in problem.requests:
        vals += [r.duration, r.release, problem.deadline_of(r)]
    g = gcd_all(vals)
    return max(1, g)


class Static:
    """Caches of the static (schedule-independent) data of a problem."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self._pieces: dict[str, list[Interval]] = {}
        self._alts: dict[str, list[Alternative]] = {}
        self._spend: dict[tuple[str, str], int] = {}
        self._start_bits: dict[tuple[str, str, str | None], tuple[int, int, int] | None] = {}

    @cached_property
    def grid(self) -> int:
        return solver_grid(self.problem)

    @cached_property
    def bit_offset(self) -> int:
        """Grid slots before time 0 in the occupancy bit masks of :class:`solver.schedule.Schedule`
        (bit ``t // grid + bit_offset`` is the slot ``[t, t + grid)``), so that a set-up
        before a start at time 0 still has a bit."""
        return 1 + max((i.setup for i in self.problem.instruments), default=0) // self.grid

    def start_bits(self, alt: Alternative) -> tuple[int, int, int] | None:
        """The alternative's grid starts as a bit mask: ``(base, starts, ends)``, bit ``j`` of
        ``starts`` for the slot ``base + j`` (slots as in :attr:`bit_offset`; relative to the
        first start, so the masks stay as short as the alternative's time window), ``ends``
        marking the last start of each of its ranges (ranges that touch on the grid, as two
        touching windows give, stay apart); None if a start lies too far before time 0."""
        key = (alt.request.id, alt.instrument, alt.operator)
        if key in self._start_bits:
            return self._start_bits[key]
        g, off = self.grid, self.bit_offset
        base, m, ends = None, 0, 0
        for lo, hi in alt.starts:
            a, b = -((-lo) // g) + off, -((-hi) // g) + off  # slots of the grid starts in [lo, hi)
            if b > a:
                if a < 0:
                    self._start_bits[key] = None
                    return None
                base = a if base is None else base
                m |= ((1 << (b - a)) - 1) << (a - base)
                ends |= 1 << (b - 1 - base)
        self._start_bits[key] = out = (base or 0, m, ends)
        return out

    def pieces(self, instrument_id: str) -> list[Interval]:
        p = self._pieces.get(instrument_id)
        if p is None:
            ins = self.problem.instrument_by_id[instrument_id]
            p = window_pieces(ins.windows, ins.busy)
            self._pieces[instrument_id] = p
        return p

    def instrument_starts(self, r: Request, instrument_id: str) -> list[Interval]:
        ins = self.problem.instrument_by_id.get(instrument_id)
        if ins is None:
            return []
        return start_set(self.pieces(instrument_id), r.duration, r.release,
                         self.problem.deadline_of(r), ins.setup, ins.cleanup)

    def operator_starts(self, r: Request, operator_id: str) -> list[Interval]:
        o = self.problem.operator_by_id[operator_id]
        return start_set(o.windows, r.duration, r.release, self.problem.deadline_of(r))

    def spend(self, r: Request, instrument_id: str) -> int:
        """:func:`solver.problem.voucher_spend`, cached (it computes with fractions)."""
        key = (r.id, instrument_id)
        v = self._spend.get(key)
        if v is None:
            v = self._spend[key] = voucher_spend(r, instrument_id)
        return v

    def alternatives(self, r: Request) -> list[Alternative]:
        """Non-empty alternatives of a request (on the grid), in eligible order."""
        alts = self._alts.get(r.id)
        if alts is not None:
            return alts
        alts = []
        g = self.grid
        for iid in dict.fromkeys(r.eligible):
            base = self.instrument_starts(r, iid)
            if not _has_grid_point(base, g):
                continue
            spend = voucher_spend(r, iid)
            if r.needs_operator:
                for o in self.problem.operators_of_instrument.get(iid, []):
                    st = intersect(base, self.operator_starts(r, o.id))
                    if _has_grid_point(st, g):
                        alts.append(Alternative(r, iid, o.id, st, spend))
            else:
                alts.append(Alternative(r, iid, None, base, spend))
        self._alts[r.id] = alts
        return alts


def _has_grid_point(ranges, g) -> bool:
    for lo, hi in ranges:
        if -((-lo) // g) * g < hi:
            return True
    return False
