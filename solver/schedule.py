"""Incremental occupancy of instruments, operators, labs and voucher budgets.

Used by the baselines, by :func:`solver.place.place`, by the explanations and by the final
insertion pass.  Pure interval arithmetic, no CP-SAT; the occupancy is also kept as grid bit
masks (Python integers, one bit per grid slot), from which :meth:`Schedule.earliest` and
:meth:`Schedule.best_fit` read the same answers as from the intervals, faster (ruin and recreate
takes the same steps, several times as many per second: ``bench/RESULTS.md``).
"""

from __future__ import annotations

import bisect

from .problem import Placement, Problem, Request
from .static import Alternative, Static
from .windows import Interval, first_on_grid, forbidden_by, full_periods, subtract_from_set


class _Timeline:
    """Intervals sorted by start, each tagged with the request holding it."""

    def __init__(self):
        self.starts: list[int] = []
        self.items: list[tuple[int, int, str]] = []
        self.maxlen = 0

    def add(self, a: int, b: int, rid: str):
        k = bisect.bisect_right(self.starts, a)
        self.starts.insert(k, a)
        self.items.insert(k, (a, b, rid))
        self.maxlen = max(self.maxlen, b - a)

    def remove(self, rid: str):
        for k, it in enumerate(self.items):
            if it[2] == rid:
                del self.items[k]
                del self.starts[k]
                return

    def meeting(self, lo: int, hi: int) -> list[tuple[int, int, str]]:
        """Intervals that intersect ``[lo, hi)``."""
        k0 = bisect.bisect_left(self.starts, lo - self.maxlen)
        k1 = bisect.bisect_left(self.starts, hi)
        return [it for it in self.items[k0:k1] if it[1] > lo]


def _spread(x: int, n: int) -> int:
    """Bit ``i`` set when one of the bits ``i .. i + n - 1`` of ``x`` is (n >= 1): by doubling."""
    r, w = x, 1
    while 2 * w <= n:
        r |= r >> w
        w *= 2
    return r | (r >> (n - w)) if w < n else r


class Schedule:
    def __init__(self, problem: Problem, static: Static | None = None):
        self.problem = problem
        self.static = static or Static(problem)
        self.inst: dict[str, _Timeline] = {}
        self.oper: dict[str, _Timeline] = {}
        self.lab: dict[str, _Timeline] = {}
        self.spent_e: dict[str, int] = {}
        self.spent_g: dict[str, int] = {}
        self.placed: dict[str, Placement] = {}
        # the same occupancy as grid bit masks (:meth:`_free_bits`): instrument time blocked
        # with buffers, operator time, lab slots at capacity (with each lab slot's count);
        # ``bits`` turns False if a placement is off the grid or before the masks begin
        self.bits = True
        self.occ_i: dict[str, int] = {}
        self.occ_o: dict[str, int] = {}
        self.lab_full: dict[str, int] = {}
        self.lab_count: dict[str, dict[int, int]] = {}

    # -- occupancy -------------------------------------------------------------------------
    def add(self, p: Placement):
        pr = self.problem
        r = pr.request_by_id[p.request]
        ins = pr.instrument_by_id[p.instrument]
        end = p.start + r.duration
        self.inst.setdefault(ins.id, _Timeline()).add(p.start - ins.setup, end + ins.cleanup, r.id)
        if p.operator is not None:
            self.oper.setdefault(p.operator, _Timeline()).add(p.start, end, r.id)
        if ins.lab is not None and ins.lab in pr.lab_by_id:
            self.lab.setdefault(ins.lab, _Timeline()).add(p.start, end, r.id)
        if self.bits:
            self._mark(p, r, ins, True)
        spend = self.static.spend(r, ins.id)
        self.spent_e[r.enterprise] = self.spent_e.get(r.enterprise, 0) + spend
        g = pr.group_of(r.enterprise)
        if g is not None:
            self.spent_g[g] = self.spent_g.get(g, 0) + spend
        self.placed[r.id] = p

    def remove(self, request_id: str):
        p = self.placed.pop(request_id)
        pr = self.problem
        r = pr.request_by_id[request_id]
        ins = pr.instrument_by_id[p.instrument]
        self.inst[ins.id].remove(r.id)
        if p.operator is not None:
            self.oper[p.operator].remove(r.id)
        if ins.lab is not None and ins.lab in self.lab:
            self.lab[ins.lab].remove(r.id)
        if self.bits:
            self._mark(p, r, ins, False)
        spend = self.static.spend(r, ins.id)
        self.spent_e[r.enterprise] -= spend
        g = pr.group_of(r.enterprise)
        if g is not None:
            self.spent_g[g] -= spend

    def _mark(self, p: Placement, r: Request, ins, on: bool) -> None:
        """Set (``on``) or clear a placement's bits.  Bookings on one instrument (with their
        buffers) or of one operator never overlap, so clearing leaves the others' bits."""
        g, off = self.static.grid, self.static.bit_offset
        a, b, end = p.start - ins.setup, p.start + r.duration + ins.cleanup, p.start + r.duration
        # the grid divides every set-up, clean-up and duration: one start on it puts all four on it
        if p.start % g or a // g + off < 0:
            self.bits = False  # off the grid: earliest and best_fit fall back to interval arithmetic
            return
        spans = [(self.occ_i, ins.id, a // g + off, b // g + off)]
        if p.operator is not None:
            spans.append((self.occ_o, p.operator, p.start // g + off, end // g + off))
        for masks, key, lo, hi in spans:
            m = ((1 << (hi - lo)) - 1) << lo
            masks[key] = masks.get(key, 0) | m if on else masks.get(key, 0) & ~m
        if ins.lab is not None and ins.lab in self.problem.lab_by_id:
            cap = self.problem.lab_by_id[ins.lab].capacity
            count = self.lab_count.setdefault(ins.lab, {})
            full = self.lab_full.get(ins.lab, 0)
            for k in range(p.start // g + off, end // g + off):
                c = count.get(k, 0) + (1 if on else -1)
                count[k] = c
                full = full | (1 << k) if c >= cap else full & ~(1 << k)
            self.lab_full[ins.lab] = full

    # -- budgets ---------------------------------------------------------------------------
    def spent(self, key: str) -> int:
        """What the placements spend from the budget ``enterprise:<id>`` / ``group:<id>``."""
        kind, name = key.split(":", 1)
        return (self.spent_e if kind == "enterprise" else self.spent_g).get(name, 0)

    def budget_blocker(self, r: Request, spend: int) -> str | None:
        """``enterprise:<id>`` / ``group:<id>`` whose remaining budget is below ``spend``."""
        if spend <= 0:
            return None
        pr = self.problem
        b = pr.enterprise_budget(r.enterprise)
        if b is not None and self.spent_e.get(r.enterprise, 0) + spend > b:
            return f"enterprise:{r.enterprise}"
        g = pr.group_of(r.enterprise)
        gb = pr.group_budget(g)
        if gb is not None and self.spent_g.get(g, 0) + spend > gb:
            return f"group:{g}"
        return None

    # -- free starts -----------------------------------------------------------------------
    def _span(self, alt: Alternative) -> Interval:
        ins = self.problem.instrument_by_id[alt.instrument]
        return (alt.starts[0][0] - ins.setup, alt.starts[-1][1] + alt.request.duration + ins.cleanup)

    def instrument_holders(self, alt: Alternative) -> list[tuple[int, int, str]]:
        tl = self.inst.get(alt.instrument)
        if tl is None or not alt.starts:
            return []
        lo, hi = self._span(alt)
        return tl.meeting(lo, hi)

    def free_starts(self, alt: Alternative, use_instrument=True, use_operator=True,
                    use_lab=True) -> list[Interval]:
        """Starts (minutes) where the alternative fits the current schedule."""
        r = alt.request
        d = r.duration
        ins = self.problem.instrument_by_id[alt.instrument]
        holes: list[Interval] = []
        if use_instrument:
            holes += forbidden_by([(a, b) for a, b, _ in self.instrument_holders(alt)],
                                  d, ins.setup, ins.cleanup)
        if use_operator and alt.operator is not None and alt.operator in self.oper:
            lo, hi = alt.starts[0][0], alt.starts[-1][1] + d
            holes += forbidden_by([(a, b) for a, b, _ in self.oper[alt.operator].meeting(lo, hi)], d)
        if use_lab and ins.lab is not None and ins.lab in self.lab:
            lab = self.problem.lab_by_id[ins.lab]
            lo, hi = alt.starts[0][0], alt.starts[-1][1] + d
            busy = [(a, b) for a, b, _ in self.lab[ins.lab].meeting(lo, hi)]
            holes += forbidden_by(full_periods(busy, lab.capacity), d)
        if not holes:
            return alt.starts
        return subtract_from_set(alt.starts, holes)

    def _free_bits(self, alt: Alternative) -> tuple[int, int, int] | None:
        """:meth:`free_starts` on the grid as bit masks ``(base, free, ends)`` (bit ``j`` for the
        slot ``base + j``; ``ends`` the last start of each range, as
        :meth:`solver.static.Static.start_bits`), or None where the masks cannot say.  A start slot :math:`s` is taken when an occupied slot lies in
        :math:`[s - S, s + d + C)` (slots of set-up, duration, clean-up): the occupancy from
        :math:`base - S` on, spread over that window (:func:`_spread`)."""
        bits = self.static.start_bits(alt)
        if bits is None:
            return None
        base, free, ends = bits
        width = free.bit_length()
        g = self.static.grid
        ins = self.problem.instrument_by_id[alt.instrument]
        d = alt.request.duration // g
        before = ins.setup // g
        window = before + d + ins.cleanup // g
        occ = self.occ_i.get(alt.instrument, 0)
        if occ:
            o = (occ >> (base - before) if base >= before else occ << (before - base)) & ((1 << (width + window)) - 1)
            if o:
                free &= ~_spread(o, window)
        for occ in (self.occ_o.get(alt.operator, 0) if alt.operator is not None else 0,
                    self.lab_full.get(ins.lab, 0) if ins.lab is not None else 0):
            o = (occ >> base) & ((1 << (width + d)) - 1) if occ else 0
            if o:
                free &= ~_spread(o, d)
        return base, free, ends

    def earliest(self, r: Request, check_budget=True) -> Placement | None:
        """Earliest feasible grid start over the request's alternatives (ties: eligible order)."""
        best = None
        g = self.static.grid
        for alt in self.static.alternatives(r):
            if check_budget and self.budget_blocker(r, alt.spend):
                continue
            bits = self._free_bits(alt) if self.bits else None
            if bits is not None:  # the lowest bit is the earliest start
                base, free, _ = bits
                s = (base + (free & -free).bit_length() - 1 - self.static.bit_offset) * g if free else None
            else:
                s = first_on_grid(self.free_starts(alt), g)
            if s is not None and (best is None or s < best.start):
                best = Placement(r.id, alt.instrument, s, alt.operator)
        return best

    def best_fit(self, r: Request, check_budget=True, cheapest=False) -> Placement | None:
        """The feasible grid start that fits tightest: over the request's alternatives and the
        maximal ranges of their free starts, the range with the fewest spare grid starts (the
        booking then fills its gap best, as best-fit does in bin packing), at its first
        start; ties: earliest start, then eligible order.  With ``cheapest``, the alternatives
        with the least voucher spend come first (saving a binding budget)."""
        best, key = None, None
        g = self.static.grid
        for alt in self.static.alternatives(r):
            if check_budget and self.budget_blocker(r, alt.spend):
                continue
            bits = self._free_bits(alt) if self.bits else None
            if bits is not None:  # the same ranges, read off the bit mask
                base, free, ends = bits
                off = self.static.bit_offset - base
                while free:
                    lo = (free & -free).bit_length() - 1
                    y = free >> lo
                    e = ends >> lo  # the range of starts also ends at its last start
                    run = (~y & (y + 1)).bit_length() - 1  # the ones from ``lo`` on
                    if e:
                        run = min(run, (e & -e).bit_length())
                    free &= ~(((1 << run) - 1) << lo)
                    k = (alt.spend if cheapest else 0, run - 1, (lo - off) * g)
                    if key is None or k < key:
                        best, key = Placement(r.id, alt.instrument, (lo - off) * g, alt.operator), k
                continue
            for a, b in self.free_starts(alt):
                s = first_on_grid([(a, b)], g)
                if s is None:
                    continue
                k = (alt.spend if cheapest else 0, (b - 1 - s) // g, s)
                if key is None or k < key:
                    best, key = Placement(r.id, alt.instrument, s, alt.operator), k
        return best
