"""The database facts the booking rules read, loaded once for one instrument over a window.

A single booking attempt asks the database as it goes (``rules.Attempt``). Offering bookable
time means asking the same questions for hundreds of candidate slots, so ``InstrumentFacts``
loads them once — opening intervals, live bookings and their blocked ranges, the operators who
may run the instrument with their shifts and their bookings on any instrument, the lab's live
bookings, the user's qualifications, the enterprise's future bookings — and answers each
question in memory with the same predicate the query uses. An ``Attempt`` given ``facts`` reads
them instead of the database; the rules themselves do not change, so the bulk answer and a real
booking agree.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from instruments.availability import AvailabilityException, load_opening, opening_intervals, zone
from instruments.inventory import Instrument
from instruments.staff import Operator, Qualification
from instruments.units import Lab
from instruments.workdays import WorkCalendar
from scheduler.booking.bookings import LIVE, Booking
from scheduler.booking.operators import operators_for, working_rules


class Timeline:
    """Intervals sorted by start, answering "which meet [lo, hi)?" by bisection.

    Times are kept in UTC, so comparisons need no zone arithmetic; an interval meeting [lo, hi)
    starts before ``hi`` and after ``lo`` minus the longest interval."""

    def __init__(self, spans: list[tuple[datetime, datetime]]) -> None:
        pairs = sorted((s.astimezone(UTC), e.astimezone(UTC), i) for i, (s, e) in enumerate(spans))
        self.starts = [p[0] for p in pairs]
        self.ends = [p[1] for p in pairs]
        self.index = [p[2] for p in pairs]
        self.longest = max((e - s for s, e, _ in pairs), default=timedelta(0))

    def meeting(self, lo: datetime, hi: datetime) -> list[int]:
        """Positions (in the order given) of the intervals that meet [lo, hi)."""
        lo, hi = lo.astimezone(UTC), hi.astimezone(UTC)
        first = bisect_right(self.starts, lo - self.longest)
        last = bisect_left(self.starts, hi)
        return [self.index[k] for k in range(first, last) if self.ends[k] > lo]

    def covering(self, lo: datetime, hi: datetime) -> bool:
        """Whether one interval contains [lo, hi) (``intervals.contains``)."""
        lo, hi = lo.astimezone(UTC), hi.astimezone(UTC)
        first = bisect_right(self.starts, lo - self.longest)
        last = bisect_right(self.starts, lo)
        return any(self.ends[k] >= hi for k in range(first, last))


@dataclass
class OperatorFacts:
    operator: Operator
    shifts: list[tuple[datetime, datetime]]
    bookings: list[Booking]  # live bookings this operator runs, on any instrument

    def __post_init__(self) -> None:
        self._shifts = Timeline(self.shifts)
        self._busy = Timeline([(b.start, b.end) for b in self.bookings])

    def free(self, start: datetime, end: datetime) -> bool:
        return self._shifts.covering(start, end) and not self._busy.meeting(start, end)


@dataclass
class InstrumentFacts:
    """What the booking rules read about one instrument, one user and one enterprise over
    [lo, hi) (attempts whose blocked range, opening day and shift lie inside it)."""

    instrument: Instrument
    tz: ZoneInfo
    lo: datetime
    hi: datetime
    calendar: WorkCalendar
    opening: list[tuple[datetime, datetime]]
    exceptions: list[AvailabilityException]
    bookings: list[Booking]  # live bookings of the instrument
    operators: list[OperatorFacts]
    lab: Lab | None
    lab_bookings: list[Booking]  # live bookings of every instrument in the lab
    qualifications: list[Qualification]
    future_bookings: int  # live bookings of the instrument by the enterprise ending after ``now``
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._blocked = Timeline([(b.blocked_start, b.blocked_end) for b in self.bookings])
        self._lab = Timeline([(b.start, b.end) for b in self.lab_bookings])
        self._opening = Timeline(self.opening)

    @classmethod
    def load(
        cls,
        session: Session,
        instrument: Instrument,
        lo: datetime,
        hi: datetime,
        user_id: str | None,
        enterprise_id: str | None,
        now: datetime,
    ) -> InstrumentFacts:
        tz = zone(instrument.timezone)
        # the rules look a day either side of an attempt (opening) and ±8 days (calendar)
        wide_lo, wide_hi = lo - timedelta(days=1), hi + timedelta(days=1)
        opening, warnings = load_opening(session, instrument.id, tz, wide_lo, wide_hi)
        calendar = WorkCalendar.load(
            session, lo.astimezone(tz).date() - timedelta(days=8), hi.astimezone(tz).date() + timedelta(days=8)
        )
        exceptions = list(
            session.exec(
                select(AvailabilityException).where(
                    AvailabilityException.instrument_id == instrument.id,
                    AvailabilityException.start < wide_hi,
                    AvailabilityException.end > wide_lo,
                )
            ).all()
        )
        bookings = list(
            session.exec(
                select(Booking)
                .where(
                    Booking.instrument_id == instrument.id,
                    col(Booking.status).in_(LIVE),
                    Booking.blocked_start < wide_hi,
                    Booking.blocked_end > wide_lo,
                )
                .order_by(Booking.blocked_start)
            ).all()
        )
        ops = operators_for(session, instrument.id)
        op_bookings: dict[str, list[Booking]] = {o.id: [] for o in ops}
        if ops:
            for b in session.exec(
                select(Booking)
                .where(
                    col(Booking.operator_id).in_(list(op_bookings)),
                    col(Booking.status).in_(LIVE),
                    Booking.start < wide_hi,
                    Booking.end > wide_lo,
                )
                .order_by(Booking.start)
            ).all():
                op_bookings[b.operator_id or ""].append(b)
        operators = [
            OperatorFacts(o, opening_intervals(working_rules(o), [], calendar, tz, wide_lo, wide_hi), op_bookings[o.id])
            for o in ops
        ]
        lab = session.get(Lab, instrument.lab_id) if instrument.lab_id else None
        lab_bookings: list[Booking] = []
        if lab is not None:
            lab_bookings = list(
                session.exec(
                    select(Booking)
                    .join(Instrument, Instrument.id == Booking.instrument_id)
                    .where(
                        Instrument.lab_id == lab.id,
                        col(Booking.status).in_(LIVE),
                        Booking.start < wide_hi,
                        Booking.end > wide_lo,
                    )
                    .order_by(Booking.start)
                ).all()
            )
        quals = list(
            session.exec(
                select(Qualification).where(
                    Qualification.user_id == (user_id or ""), Qualification.instrument_id == instrument.id
                )
            ).all()
        )
        future = 0
        if enterprise_id:
            future = len(
                session.exec(
                    select(Booking.id).where(
                        Booking.instrument_id == instrument.id,
                        Booking.enterprise_id == enterprise_id,
                        col(Booking.status).in_(LIVE),
                        Booking.end > now,
                    )
                ).all()
            )
        return cls(
            instrument, tz, lo, hi, calendar, opening, exceptions, bookings, operators, lab, lab_bookings, quals,
            future, list(dict.fromkeys(warnings + calendar.warnings)),
        )  # fmt: skip

    # --- the questions ``rules.Attempt`` asks, answered in memory ------------------------------

    def collisions(self, lo: datetime, hi: datetime) -> list[Booking]:
        """Live bookings whose blocked range meets [lo, hi) (``bookings.live_bookings``)."""
        return [self.bookings[i] for i in self._blocked.meeting(lo, hi)]

    def free_operators(self, start: datetime, end: datetime) -> list[Operator]:
        """Operators at work and not busy over [start, end) (``operators.free_operators``)."""
        return [o.operator for o in self.operators if o.free(start, end)]

    def lab_load(self, start: datetime, end: datetime) -> int:
        """Live bookings in the lab meeting [start, end) (the ``LabCapacity`` count)."""
        return len(self._lab.meeting(start, end))

    def within_opening(self, start: datetime, end: datetime) -> bool:
        """Whether one opening interval contains [start, end)."""
        return self._opening.covering(start, end)
