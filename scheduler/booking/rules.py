"""Booking rules: one small class per rule, composed into one chain (as LibreBooking's
``Reservation/Validation`` and NEMO's ``policy.py``). A booking attempt runs every rule and
reports every failure at once, each with a stable ``code`` and a message a person can act on.

Rules read the database through the ``Attempt`` (its cached properties), never directly: given
``facts`` (``rule_facts.InstrumentFacts``, loaded once for a window) an attempt answers from
memory, so offering bookable time (``bookable``) runs this very chain over many candidate slots.
Rules marked ``about_the_actor`` do not depend on the slot's time (who books, what, how long).

Rules marked ``staff_exempt`` bind enterprises only: lab managers of the unit may book or move
outside lead times, limits and the advance window (they still cannot double-book or leave
opening hours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, cached_property
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, literal, null
from sqlmodel import Session, col, func, select

from instruments.actor import Actor
from instruments.availability import load_opening, zone
from instruments.errors import Violation
from instruments.intervals import contains
from instruments.inventory import BOOKABLE_STATUSES, OPERATOR_MODES, Instrument, ServiceMode, SharingMode
from instruments.policy import BookingPolicy, lead_minutes_for
from instruments.staff import Operator, Qualification
from instruments.units import Lab
from instruments.workdays import WorkCalendar
from scheduler.booking.bookings import LIVE, Booking, collision_text, live_bookings, meeting
from scheduler.booking.enterprises import Enterprise
from scheduler.booking.operators import free_operators
from scheduler.booking.rule_facts import InstrumentFacts


def _fmt(dt: datetime, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _span(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} day(s)"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


@dataclass
class Attempt:
    """Everything a rule may look at; database facts are loaded once, when first needed."""

    session: Session
    actor: Actor
    instrument: Instrument
    policy: BookingPolicy
    start: datetime
    end: datetime
    service_mode: str
    enterprise: Enterprise | None
    user_id: str | None
    now: datetime
    moving: Booking | None = None
    warnings: list[str] = field(default_factory=list)
    facts: InstrumentFacts | None = None  # preloaded facts (bulk evaluation); None: ask the database

    @cached_property
    def tz(self) -> ZoneInfo:
        return zone(self.instrument.timezone)

    @property
    def by_staff(self) -> bool:
        return self.actor.manages_unit(self.instrument.owner_unit_id)

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def blocked(self) -> tuple[datetime, datetime]:
        return (
            self.start - timedelta(minutes=self.policy.setup_minutes),
            self.end + timedelta(minutes=self.policy.cleanup_minutes),
        )

    @cached_property
    def calendar(self) -> WorkCalendar:
        if self.facts is not None:
            return self.facts.calendar
        local = self.start.astimezone(self.tz).date()
        return WorkCalendar.load(self.session, local - timedelta(days=8), local + timedelta(days=8))

    @cached_property
    def opening(self) -> list[tuple[datetime, datetime]]:
        if self.facts is not None:
            return self.facts.opening
        spans, warnings = load_opening(
            self.session,
            self.instrument.id,
            self.tz,
            self.start - timedelta(days=1),
            self.end + timedelta(days=1),
        )
        self.warnings.extend(warnings)
        return spans

    def within_opening(self) -> bool:
        """Whether [start, end) lies within one opening interval."""
        if self.facts is not None:
            return self.facts.within_opening(self.start, self.end)
        return any(contains(span, (self.start, self.end)) for span in self.opening)

    @cached_property
    def collisions(self) -> list[Booking]:
        lo, hi = self.blocked
        # another booking's blocked range must not meet ours
        if self.facts is not None and self.moving is None:
            return self.facts.collisions(lo, hi)
        if self._read_together:
            return self._new_booking_facts.collisions
        return live_bookings(self.session, self.instrument.id, lo, hi, exclude=self.moving.id if self.moving else None)

    @cached_property
    def operators(self) -> list[Operator]:
        if self.facts is not None and self.moving is None:
            return self.facts.free_operators(self.start, self.end)
        return free_operators(
            self.session,
            self.instrument,
            self.start,
            self.end,
            self.calendar,
            exclude_booking=self.moving.id if self.moving else None,
        )


    @cached_property
    def lab(self) -> Lab | None:
        if self.facts is not None:
            return self.facts.lab
        return self.session.get(Lab, self.instrument.lab_id) if self.instrument.lab_id else None

    @cached_property
    def lab_load(self) -> int:
        """Live bookings in the instrument's lab meeting [start, end) (other than the one moving)."""
        lab = self.lab
        if lab is None:
            return 0
        if self.facts is not None and self.moving is None:
            return self.facts.lab_load(self.start, self.end)
        if self._read_together:
            return self._new_booking_facts.lab_load
        q = self._lab_load_query(lab)
        if self.moving is not None:
            q = q.where(Booking.id != self.moving.id)
        return int(self.session.exec(q).one())

    def _lab_load_query(self, lab: Lab):  # noqa: ANN202 - a select
        return lab_load_query(lab.id, self.start, self.end)

    def _future_query(self, enterprise: Enterprise):  # noqa: ANN202 - a select
        return future_query(self.instrument.id, enterprise.id, self.now)

    @cached_property
    def _new_booking_facts(self) -> NewBookingFacts:
        """What the rules of a new booking by an enterprise read from the bookings, in one
        statement (``_new_booking_statements``): the lab's load, the enterprise's future bookings,
        the collisions, and for a self-operated booking (the only one whose rules read them) the
        user's qualifications."""
        assert self.enterprise is not None
        lo, hi = self.blocked
        # no lab: its count is of no instrument (lab_id = NULL matches none), 0 as ``lab_load`` says
        params = {"lab_id": self.instrument.lab_id, "start": self.start, "end": self.end, "instrument_id": self.instrument.id,
                  "enterprise_id": self.enterprise.id, "now": self.now, "blocked_start": lo, "blocked_end": hi,
                  "user_id": self.user_id or ""}  # fmt: skip
        self_operated = self.service_mode == ServiceMode.self_operated
        rows = self.session.exec(_new_booking_statements()[self_operated], params=params).all()
        collisions = {b.id: b for *_, b in rows if b is not None}
        return NewBookingFacts(
            int(rows[0][0]),
            int(rows[0][1]),
            list({q.id: q for _, _, q, _ in rows if q is not None}.values()) if self_operated else None,
            sorted(collisions.values(), key=lambda b: (b.blocked_start, b.id)),
        )

    @cached_property
    def qualifications(self) -> list[Qualification]:
        """The booking user's qualifications for this instrument."""
        if self.facts is not None:
            return self.facts.qualifications
        if self._read_together and self._new_booking_facts.qualifications is not None:
            return self._new_booking_facts.qualifications
        return list(
            self.session.exec(
                select(Qualification).where(
                    Qualification.user_id == (self.user_id or ""), Qualification.instrument_id == self.instrument.id
                )
            ).all()
        )

    @property
    def _read_together(self) -> bool:
        """Whether this attempt's counts, collisions (and qualifications) come from one statement
        (``_new_booking_facts``): a new booking by an enterprise."""
        return self.moving is None and self.enterprise is not None

    @cached_property
    def future_bookings(self) -> int:
        """Live bookings of this instrument by the enterprise that end after ``now``."""
        if self.enterprise is None:
            return 0
        if self.facts is not None:
            return self.facts.future_bookings
        if self._read_together:
            return self._new_booking_facts.future_bookings
        return int(self.session.exec(self._future_query(self.enterprise)).one())


def lab_load_query(lab_id: object, start: object, end: object):  # noqa: ANN201 - a select
    """Live bookings of the lab's instruments meeting [start, end): values or bind parameters."""
    return (
        select(func.count())
        .select_from(Booking)
        .join(Instrument, Instrument.id == Booking.instrument_id)
        .where(Instrument.lab_id == lab_id, col(Booking.status).in_(LIVE), Booking.start < end, Booking.end > start)
    )


def future_query(instrument_id: object, enterprise_id: object, now: object):  # noqa: ANN201 - a select
    """Live bookings of the instrument by the enterprise ending after ``now``: values or bind
    parameters."""
    return (
        select(func.count())
        .select_from(Booking)
        .where(
            Booking.instrument_id == instrument_id,
            Booking.enterprise_id == enterprise_id,
            col(Booking.status).in_(LIVE),
            Booking.end > now,
        )
    )


class NewBookingFacts(NamedTuple):
    lab_load: int
    future_bookings: int
    qualifications: list[Qualification] | None  # None: not read (a mode that needs none)
    collisions: list[Booking]


@cache
def _new_booking_statements() -> tuple[Any, Any]:
    """What a new booking's rules read from the bookings, in one statement: the two counts as
    scalar subqueries, and the collisions (live bookings of the instrument whose blocked range
    meets ours) as an outer join on a one-row table, so that no collision is still one row; the
    second form also joins the user's qualifications for the instrument (rows: qualifications ×
    collisions, each a handful at most). Built once with bind parameters: every booking runs one,
    and building a statement and its cache key anew each time costs more than running it."""
    lab_q = lab_load_query(bindparam("lab_id"), bindparam("start"), bindparam("end")).scalar_subquery()
    future_q = future_query(bindparam("instrument_id"), bindparam("enterprise_id"), bindparam("now")).scalar_subquery()
    one = select(literal(1).label("one")).subquery("one")
    meets = meeting(bindparam("instrument_id"), bindparam("blocked_start"), bindparam("blocked_end"))
    mine = (col(Qualification.user_id) == bindparam("user_id")) & (col(Qualification.instrument_id) == bindparam("instrument_id"))
    without = select(lab_q, future_q, null(), Booking).select_from(one).outerjoin(Booking, meets)
    with_qualifications = (
        select(lab_q, future_q, Qualification, Booking)
        .select_from(one)
        .outerjoin(Qualification, mine)
        .outerjoin(Booking, meets)
    )
    return without, with_qualifications


class Rule:
    code: str = ""
    staff_exempt: bool = False
    about_the_actor: bool = False  # the outcome does not depend on the slot's time

    def check(self, a: Attempt) -> Violation | None:  # pragma: no cover - interface
        raise NotImplementedError

    def fail(self, message: str, field: str | None = None, **params: object) -> Violation:
        """A failure of this rule; ``params`` are the message's data, for pages that translate it."""
        return Violation(self.code, message, field, params)


class InstrumentOpenForSharing(Rule):
    code = "instrument_unavailable"
    about_the_actor = True

    def check(self, a: Attempt) -> Violation | None:
        if a.instrument.status not in BOOKABLE_STATUSES:
            return self.fail(
                f"{a.instrument.name} is {str(a.instrument.status).replace('_', ' ')} and cannot be booked now.",
                instrument=a.instrument.name,
                status=str(a.instrument.status),
            )
        if a.enterprise is not None and a.instrument.sharing_mode != SharingMode.external:
            return self.fail(
                f"{a.instrument.name} is not open to external users (sharing mode {str(a.instrument.sharing_mode)}).",
                instrument=a.instrument.name,
                sharing_mode=str(a.instrument.sharing_mode),
            )
        return None


class ServiceModeOffered(Rule):
    code = "service_mode"
    about_the_actor = True

    def check(self, a: Attempt) -> Violation | None:
        if a.service_mode not in a.instrument.service_modes:
            offered = ", ".join(a.instrument.service_modes) or "none"
            return self.fail(
                f"{a.instrument.name} does not offer {a.service_mode}; it offers: {offered}.",
                "service_mode",
                instrument=a.instrument.name,
                mode=a.service_mode,
                offered=list(a.instrument.service_modes),
            )
        return None


class EnterpriseInGoodStanding(Rule):
    code = "enterprise_suspended"
    about_the_actor = True

    def check(self, a: Attempt) -> Violation | None:
        e = a.enterprise
        if e is not None and e.suspended_at(a.now):
            return self.fail(
                f"{e.name} may not book until {_fmt(e.booking_suspended_until, a.tz)} (credit suspension).",
                enterprise=e.name,
                until=_fmt(e.booking_suspended_until, a.tz),
            )
        return None


class StartsInFuture(Rule):
    code = "in_past"

    def check(self, a: Attempt) -> Violation | None:
        if a.start < a.now:
            return self.fail(f"The booking would start in the past ({_fmt(a.start, a.tz)}).", "start", start=_fmt(a.start, a.tz))
        return None


class OnSlotGrid(Rule):
    code = "slot_grid"

    def check(self, a: Attempt) -> Violation | None:
        step = a.policy.slot_minutes
        for name, t in (("start", a.start), ("end", a.end)):
            local = t.astimezone(a.tz)
            if local.second or local.microsecond or (local.hour * 60 + local.minute) % step:
                return self.fail(
                    f"{name} {local:%H:%M:%S} is not on the {step}-minute grid of {a.instrument.name}.",
                    name,
                    which=name,
                    time=f"{local:%H:%M:%S}",
                    step=step,
                    instrument=a.instrument.name,
                )
        return None


class LengthWithinLimits(Rule):
    code = "length"
    about_the_actor = True
    staff_exempt = True

    def check(self, a: Attempt) -> Violation | None:
        p = a.policy
        if a.minutes < p.min_minutes:
            return self.fail(
                f"Bookings of {a.instrument.name} last at least {_span(p.min_minutes)}; this one lasts {_span(a.minutes)}.",
                "end",
                instrument=a.instrument.name,
                bound="min",
                limit_minutes=p.min_minutes,
                minutes=a.minutes,
            )
        if a.minutes > p.max_minutes:
            return self.fail(
                f"Bookings of {a.instrument.name} last at most {_span(p.max_minutes)}; this one lasts {_span(a.minutes)}.",
                "end",
                instrument=a.instrument.name,
                bound="max",
                limit_minutes=p.max_minutes,
                minutes=a.minutes,
            )
        return None


class LeadTime(Rule):
    code = "lead_time"
    staff_exempt = True

    def check(self, a: Attempt) -> Violation | None:
        lead = lead_minutes_for(a.policy, a.service_mode)
        earliest = a.now + timedelta(minutes=lead)
        if lead and a.start < earliest:
            return self.fail(
                f"{a.service_mode} bookings of {a.instrument.name} must be made {_span(lead)} ahead; "
                f"the earliest start now is {_fmt(earliest, a.tz)}.",
                "start",
                mode=a.service_mode,
                instrument=a.instrument.name,
                lead_minutes=lead,
                earliest=_fmt(earliest, a.tz),
            )
        return None


class AdvanceWindow(Rule):
    code = "too_far_ahead"
    staff_exempt = True

    def check(self, a: Attempt) -> Violation | None:
        latest = a.now + timedelta(days=a.policy.max_advance_days)
        if a.start > latest:
            return self.fail(
                f"{a.instrument.name} can be booked at most {a.policy.max_advance_days} days ahead (until {_fmt(latest, a.tz)}).",
                "start",
                instrument=a.instrument.name,
                days=a.policy.max_advance_days,
                latest=_fmt(latest, a.tz),
            )
        return None


class WithinOpeningHours(Rule):
    code = "outside_opening_hours"

    def check(self, a: Attempt) -> Violation | None:
        if a.within_opening():
            return None
        day = a.start.astimezone(a.tz).date()
        same_day = [f"{s:%H:%M}–{e:%H:%M}" for s, e in a.opening if s.date() == day]
        hours = ", ".join(same_day) if same_day else "closed all day"
        name = a.calendar.holiday_name(day)
        note = f" ({name})" if name else ""
        return self.fail(
            f"{_fmt(a.start, a.tz)}–{a.end.astimezone(a.tz):%H:%M} is not within one opening period of "
            f"{a.instrument.name}; on {day}{note} it is open: {hours}.",
            "start",
            start=_fmt(a.start, a.tz),
            end=f"{a.end.astimezone(a.tz):%H:%M}",
            instrument=a.instrument.name,
            day=str(day),
            holiday=name or "",
            hours=same_day,
        )


class QualifiedForSelfOperation(Rule):
    code = "not_qualified"

    def check(self, a: Attempt) -> Violation | None:
        staff_for_themselves = a.by_staff and a.user_id == a.actor.user_id
        if a.service_mode != ServiceMode.self_operated or staff_for_themselves:
            return None
        day = a.start.astimezone(a.tz).date()
        quals = a.qualifications
        if any(q.valid_on(day) for q in quals):
            return None
        expired = [q for q in quals if q.expires_on is not None and q.expires_on < day]
        why = (
            f"your qualification expired on {expired[0].expires_on}" if expired else "you hold no qualification for it"
        )
        return self.fail(
            f"Self-operated use of {a.instrument.name} needs training: {why}. Book operator_run (sample submission) instead, or ask the lab for training.",
            "service_mode",
            instrument=a.instrument.name,
            expired_on=str(expired[0].expires_on) if expired else "",
        )


class OperatorAvailable(Rule):
    code = "no_operator"

    def check(self, a: Attempt) -> Violation | None:
        if a.service_mode not in OPERATOR_MODES or a.collisions:
            return None  # a collision is reported on its own (409); it is also why staff look busy
        if a.moving is not None and a.moving.operator_id and any(o.id == a.moving.operator_id for o in a.operators):
            return None
        if a.operators:
            return None
        return self.fail(
            f"No operator of {a.instrument.name} is at work and free {_fmt(a.start, a.tz)}–{a.end.astimezone(a.tz):%H:%M}; choose another time.",
            "start",
            instrument=a.instrument.name,
            start=_fmt(a.start, a.tz),
            end=f"{a.end.astimezone(a.tz):%H:%M}",
        )


class LabCapacity(Rule):
    """A lab hosts at most ``capacity`` bookings at once (its benches, seats, safety limits)."""

    code = "lab_full"

    def check(self, a: Attempt) -> Violation | None:
        lab = a.lab
        if lab is None:
            return None
        if a.lab_load >= lab.capacity:
            return self.fail(
                f"{lab.name} hosts at most {lab.capacity} booking(s) at a time and is full "
                f"{_fmt(a.start, a.tz)}–{a.end.astimezone(a.tz):%H:%M}; choose another time.",
                lab=lab.name,
                capacity=lab.capacity,
                start=_fmt(a.start, a.tz),
                end=f"{a.end.astimezone(a.tz):%H:%M}",
            )
        return None


class FutureBookingLimit(Rule):
    code = "too_many_bookings"
    about_the_actor = True
    staff_exempt = True

    def check(self, a: Attempt) -> Violation | None:
        if a.enterprise is None or a.moving is not None:
            return None
        count = a.future_bookings
        if count >= a.policy.max_future_bookings:
            return self.fail(
                f"{a.enterprise.name} already holds {count} future bookings of {a.instrument.name}; "
                f"the limit is {a.policy.max_future_bookings}. Cancel one or wait until one is done.",
                enterprise=a.enterprise.name,
                count=count,
                instrument=a.instrument.name,
                limit=a.policy.max_future_bookings,
            )
        return None


class NoOverlap(Rule):
    code = "overlap"

    def check(self, a: Attempt) -> Violation | None:
        if not a.collisions:
            return None
        seen = collision_text(a.actor, a.collisions[0], a.instrument, a.tz)  # another enterprise's id stays hidden
        return self.fail(
            f"The time collides with {seen}"
            f"{', with set-up/clean-up buffers' if a.policy.setup_minutes or a.policy.cleanup_minutes else ''}.",
            "start",
            booking_id=a.collisions[0].id if seen.startswith("booking ") else "",
            start=_fmt(a.collisions[0].start, a.tz),
            end=f"{a.collisions[0].end.astimezone(a.tz):%H:%M}",
            buffers=bool(a.policy.setup_minutes or a.policy.cleanup_minutes),
        )


RULES: tuple[Rule, ...] = (
    InstrumentOpenForSharing(),
    ServiceModeOffered(),
    EnterpriseInGoodStanding(),
    StartsInFuture(),
    OnSlotGrid(),
    LengthWithinLimits(),
    LeadTime(),
    AdvanceWindow(),
    WithinOpeningHours(),
    QualifiedForSelfOperation(),
    OperatorAvailable(),
    LabCapacity(),
    FutureBookingLimit(),
    NoOverlap(),
)


def evaluate(a: Attempt, rules: tuple[Rule, ...] = RULES) -> list[Violation]:
    """Run every applicable rule; return all failures (empty: the booking may go ahead)."""
    staff = a.by_staff
    return [v for r in rules if not (staff and r.staff_exempt) and (v := r.check(a)) is not None]
