"""Plain data of an allocation problem and of its answer.

All times are integer minutes from the horizon start (t = 0); there are no datetimes here.
Money is in integer fen.  Intervals are half-open ``(start, end)`` pairs: ``[start, end)``.

The scheduler builds these objects from database rows; the JSON format in :mod:`solver.io`
mirrors them one to one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

Interval = tuple[int, int]


@dataclass
class Instrument:
    """A bookable instrument.

    windows: availability windows ``[start, end)``; a booking (with its set-up and clean-up
        buffers) must lie wholly inside one window.
    busy: fixed busy intervals (maintenance, confirmed bookings); may overlap each other.
    lab: id of the lab the instrument stands in (see :class:`Lab`), or None.
    setup / cleanup: minutes the instrument is blocked before / after each booking: a booking
        starting at ``s`` with duration ``d`` blocks ``[s - setup, s + d + cleanup)``.
    """

    id: str
    windows: list[Interval]
    busy: list[Interval] = field(default_factory=list)
    lab: str | None = None
    setup: int = 0
    cleanup: int = 0


@dataclass
class Operator:
    """Staff who run operator-run (委托共享) requests: one request at a time, inside one of the
    working windows, only on the listed instruments."""

    id: str
    windows: list[Interval]
    instruments: list[str]


@dataclass
class Enterprise:
    """voucher_budget: remaining voucher money in fen (None = unlimited).
    group: id of the actual-controller group sharing a cap (see :class:`Group`), or None."""

    id: str
    voucher_budget: int | None = None
    group: str | None = None


@dataclass
class Group:
    """Enterprises with the same actual controller share this cap (fen, None = unlimited)."""

    id: str
    voucher_budget: int | None = None


@dataclass
class Lab:
    """At most ``capacity`` bookings may run at the same time on the lab's instruments
    (counting the bookings themselves, not the set-up/clean-up buffers)."""

    id: str
    capacity: int


@dataclass
class Request:
    """A booking request.

    duration: minutes on the instrument (buffers come on top, from the instrument).
    release / deadline: the booking must satisfy ``start >= release`` and
        ``start + duration <= deadline`` (deadline None = horizon end).
    eligible: instruments that can serve it.
    weight: integer value of accepting it (see :func:`weight_of`).
    price_per_hour: fen per hour for each eligible instrument (missing = 0).
    voucher_share: share of the fee paid by vouchers (exact Fraction).
    needs_operator: operator-run (sample submission): also needs a free, qualified operator.
    preferred_start: the time the enterprise asked for, or None.
    submitted: arrival order for first-come-first-served (None = list order).
    funding: ``"cash"`` (no voucher) or ``"voucher"`` (one of the :class:`Voucher` s whose
        ``pays`` name it funds it, see :mod:`solver.funding`).
    cash_fallback: with ``"voucher"``, the request may still be placed unfunded (paid in cash)
        when no voucher can fund it; without it such a request stays unplaced.
    """

    id: str
    enterprise: str
    duration: int
    eligible: list[str]
    release: int = 0
    deadline: int | None = None
    weight: int = 1
    price_per_hour: dict[str, int] = field(default_factory=dict)
    voucher_share: Fraction = Fraction(0)
    needs_operator: bool = False
    preferred_start: int | None = None
    submitted: int | None = None
    funding: str = "cash"
    cash_fallback: bool = False


@dataclass
class Voucher:
    """A voucher the allocation may spend (see :mod:`solver.funding`): it funds at most one
    placed request of its holder.

    pays: request id -> instrument id -> fen it pays for that request on that instrument (its
        programme's share, capped by face value and per-order cap); a request or instrument
        missing (or 0) cannot be funded by it (exclusions, related party, nothing to pay).
    expires: the funded booking must start before this minute (None = valid all horizon).
    """

    id: str
    enterprise: str
    pays: dict[str, dict[str, int]] = field(default_factory=dict)
    expires: int | None = None


@dataclass
class Cap:
    """The vouchers listed may pay at most ``limit`` fen together (what is still open of a
    programme's per-enterprise or per-controller-group yearly cap)."""

    id: str
    limit: int
    vouchers: list[str] = field(default_factory=list)


def voucher_spend(request: Request, instrument_id: str) -> int:
    """ceil(price_per_hour * duration / 60 * voucher_share), computed exactly."""
    price = request.price_per_hour.get(instrument_id, 0)
    share = Fraction(request.voucher_share)
    return math.ceil(Fraction(price) * request.duration / 60 * share)


@dataclass
class Problem:
    horizon_minutes: int
    instruments: list[Instrument]
    requests: list[Request]
    enterprises: list[Enterprise] = field(default_factory=list)
    operators: list[Operator] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    labs: list[Lab] = field(default_factory=list)
    slot_minutes: int = 30
    vouchers: list[Voucher] = field(default_factory=list)
    caps: list[Cap] = field(default_factory=list)
    max_share_bp: int | None = None
    """Fairness option: no enterprise gets more than this share (basis points) of the placed
    minutes on contested instruments (see :mod:`solver.fair_share`); None = no limit."""

    # Lookups (built on first use; do not mutate the lists afterwards).
    @cached_property
    def instrument_by_id(self) -> dict[str, Instrument]:
        return {i.id: i for i in self.instruments}

    @cached_property
    def request_by_id(self) -> dict[str, Request]:
        return {r.id: r for r in self.requests}

    @cached_property
    def enterprise_by_id(self) -> dict[str, Enterprise]:
        return {e.id: e for e in self.enterprises}

    @cached_property
    def operator_by_id(self) -> dict[str, Operator]:
        return {o.id: o for o in self.operators}

    @cached_property
    def group_by_id(self) -> dict[str, Group]:
        return {g.id: g for g in self.groups}

    @cached_property
    def lab_by_id(self) -> dict[str, Lab]:
        return {lab.id: lab for lab in self.labs}

    @cached_property
    def voucher_by_id(self) -> dict[str, Voucher]:
        return {v.id: v for v in self.vouchers}

    @cached_property
    def vouchers_of_request(self) -> dict[str, list[Voucher]]:
        """Request id -> the vouchers that can pay for it on some instrument (list order)."""
        out: dict[str, list[Voucher]] = {}
        for v in self.vouchers:
            for rid, by_inst in v.pays.items():
                if any(a > 0 for a in by_inst.values()):
                    out.setdefault(rid, []).append(v)
        return out

    @cached_property
    def caps_of_voucher(self) -> dict[str, list[Cap]]:
        out: dict[str, list[Cap]] = {}
        for c in self.caps:
            for vid in c.vouchers:
                out.setdefault(vid, []).append(c)
        return out

    @cached_property
    def operators_of_instrument(self) -> dict[str, list[Operator]]:
        out: dict[str, list[Operator]] = {}
        for o in self.operators:
            for i in o.instruments:
                out.setdefault(i, []).append(o)
        return out

    def deadline_of(self, r: Request) -> int:
        return self.horizon_minutes if r.deadline is None else r.deadline

    def enterprise_budget(self, enterprise_id: str) -> int | None:
        e = self.enterprise_by_id.get(enterprise_id)
        return None if e is None else e.voucher_budget

    def group_of(self, enterprise_id: str) -> str | None:
        e = self.enterprise_by_id.get(enterprise_id)
        return None if e is None else e.group

    def group_budget(self, group_id: str | None) -> int | None:
        if group_id is None:
            return None
        g = self.group_by_id.get(group_id)
        return None if g is None else g.voucher_budget

    def submitted_order(self) -> list[Request]:
        """Requests in first-come-first-served order (``submitted``, then list order)."""
        idx = {id(r): k for k, r in enumerate(self.requests)}
        return sorted(self.requests, key=lambda r: (r.submitted if r.submitted is not None else idx[id(r)], idx[id(r)]))


@dataclass
class Placement:
    request: str
    instrument: str
    start: int
    operator: str | None = None
    voucher: str | None = None


@dataclass
class Unplaced:
    """Why a request was not placed.

    code: one of ``no_window``, ``operator_unavailable``, ``voucher_budget``,
        ``capacity_taken``, ``not_selected``, and for voucher-funded requests (see
        :mod:`solver.funding`) ``no_voucher``, ``voucher_taken``, ``voucher_expires``,
        ``voucher_cap``; with a share limit (:mod:`solver.fair_share`) ``fair_share``.
    holders: ids of placed requests holding the time it could have used (capacity_taken,
        operator_unavailable).
    budget_holder: ``enterprise:<id>`` or ``group:<id>`` for voucher_budget, ``cap:<id>`` for
        voucher_cap, ``voucher:<id>`` for voucher_taken and voucher_expires.
    """

    request: str
    code: str
    message: str
    holders: list[str] = field(default_factory=list)
    budget_holder: str | None = None


@dataclass
class Allocation:
    placements: list[Placement]
    objective: int
    upper_bound: int | None = None
    status: str = "FEASIBLE"
    unplaced: list[Unplaced] = field(default_factory=list)
    method: str = "cpsat"
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        """Relative gap (upper_bound - objective) / upper_bound, or None without a bound."""
        if self.upper_bound is None:
            return None
        if self.upper_bound <= 0:
            return 0.0
        return (self.upper_bound - self.objective) / self.upper_bound


@dataclass
class WeightConfig:
    """Coefficients of :func:`weight_of` (policy data: configure per programme)."""

    base: float = 1.0
    per_priority: float = 2.0          # priority 0 (low) .. 3 (urgent)
    per_innovation_point: float = 0.05  # 创新积分: 100 base + up to 30 bonus
    per_waiting_day: float = 0.2
    waiting_cap_days: float = 30.0
    voucher_bonus: float = 1.0
    scale: int = 1                      # multiply then round to an integer weight


def weight_of(priority: float, innovation_points: float, waiting_days: float,
              voucher_funded: bool, config: WeightConfig | None = None) -> int:
    """Integer weight of a request for the objective (>= 1)."""
    c = config or WeightConfig()
    w = (c.base + c.per_priority * priority + c.per_innovation_point * innovation_points
         + c.per_waiting_day * min(waiting_days, c.waiting_cap_days)
         + (c.voucher_bonus if voucher_funded else 0.0))
    return max(1, round(w * c.scale))
