"""The facts the booking rules read for an allocation round's placements, loaded in bulk once.

A round writes hundreds of tentative bookings in one transaction. Asking the database every rule's
question for each placement (its collisions, free operators, lab load, opening hours, the user's
qualifications, the enterprise's future bookings) cost about twenty statements a placement. The
round locks every row those rules read first (``resource_locks.lock_for_booking``: the labs, the
instruments, their operators), so nothing they read can change under it before it commits except
through the round itself. ``RoundFacts`` therefore loads the facts once, *after* the locks, in a
handful of statements over the whole horizon, hands each placement's ``rules.Attempt`` an
``InstrumentFacts`` view (the same in-memory answers ``bookable`` uses, so the rules do not change),
and adds every booking the round writes (``add``) so the next placement sees it: its instrument's
collisions, its lab's load, its operator's time and its enterprise's count of future bookings.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from instruments.availability import AvailabilityException, OpeningRule, opening_intervals, zone
from instruments.inventory import Instrument
from instruments.staff import Operator, OperatorInstrument, Qualification
from instruments.units import Lab
from instruments.workdays import WorkCalendar
from scheduler.booking.bookings import LIVE, Booking
from scheduler.booking.operators import working_rules
from scheduler.booking.rule_facts import InstrumentFacts, OperatorFacts


class RoundFacts:
    """What the rules read about the round's instruments over [lo, hi) (every placement's
    blocked range lies inside), for any user and enterprise of the round."""

    def __init__(
        self,
        instruments: dict[str, Instrument],
        lo: datetime,
        hi: datetime,
        now: datetime,
        calendar: WorkCalendar,
        opening: dict[str, list[tuple[datetime, datetime]]],
        exceptions: dict[str, list[AvailabilityException]],
        bookings: dict[str, list[Booking]],
        operators_of: dict[str, list[Operator]],
        operator_bookings: dict[str, list[Booking]],
        labs: dict[str, Lab],
        lab_bookings: dict[str, list[Booking]],
        qualifications: dict[tuple[str, str], list[Qualification]],
        future: dict[tuple[str, str], int],
        warnings: list[str],
    ) -> None:
        self.instruments, self.lo, self.hi, self.now, self.calendar = instruments, lo, hi, now, calendar
        self.opening, self.exceptions, self.bookings = opening, exceptions, bookings
        self.operators_of, self.operator_bookings = operators_of, operator_bookings
        self.labs, self.lab_bookings = labs, lab_bookings
        self.qualifications, self.future, self.warnings = qualifications, future, warnings
        self._shifts: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
        self._op_facts: dict[tuple[str, str], OperatorFacts] = {}

    @classmethod
    def load(
        cls,
        session: Session,
        instruments: dict[str, Instrument],
        lo: datetime,
        hi: datetime,
        now: datetime,
        users: set[str],
    ) -> RoundFacts:
        """About ten statements whatever the number of placements. Call it after the round has
        locked ``instruments`` with their labs and operators."""
        ids = sorted(instruments)
        # the rules look a day either side of an attempt (opening) and ±8 days (calendar)
        wide_lo, wide_hi = lo - timedelta(days=1), hi + timedelta(days=1)
        zones = {i.id: zone(i.timezone) for i in instruments.values()}
        days = [d for t in (wide_lo, wide_hi) for d in (t.astimezone(z).date() for z in zones.values())] or [
            wide_lo.date(),
            wide_hi.date(),
        ]
        calendar = WorkCalendar.load(session, min(days) - timedelta(days=8), max(days) + timedelta(days=8))
        rules: dict[str, list[OpeningRule]] = defaultdict(list)
        exceptions: dict[str, list[AvailabilityException]] = defaultdict(list)
        bookings: dict[str, list[Booking]] = {i: [] for i in ids}
        operators_of: dict[str, list[Operator]] = {i: [] for i in ids}
        if ids:
            for rule in session.exec(select(OpeningRule).where(col(OpeningRule.instrument_id).in_(ids))).all():
                rules[rule.instrument_id].append(rule)
            for exc in session.exec(
                select(AvailabilityException).where(
                    col(AvailabilityException.instrument_id).in_(ids),
                    AvailabilityException.start < wide_hi,
                    AvailabilityException.end > wide_lo,
                )
            ).all():
                exceptions[exc.instrument_id].append(exc)
            for b in session.exec(
                select(Booking)
                .where(
                    col(Booking.instrument_id).in_(ids),
                    col(Booking.status).in_(LIVE),
                    Booking.blocked_start < wide_hi,
                    Booking.blocked_end > wide_lo,
                )
                .order_by(Booking.blocked_start, Booking.id)
            ).all():
                bookings[b.instrument_id].append(b)
            for op, iid in session.exec(
                select(Operator, OperatorInstrument.instrument_id)
                .join(OperatorInstrument, OperatorInstrument.operator_id == Operator.id)
                .where(col(OperatorInstrument.instrument_id).in_(ids))
                .order_by(Operator.id)
            ).all():
                operators_of[iid].append(op)
        opening = {
            i: opening_intervals(rules[i], exceptions[i], calendar, zones[i], wide_lo, wide_hi) for i in ids
        }
        op_ids = sorted({o.id for ops in operators_of.values() for o in ops})
        operator_bookings: dict[str, list[Booking]] = {o: [] for o in op_ids}
        if op_ids:
            for b in session.exec(
                select(Booking).where(
                    col(Booking.operator_id).in_(op_ids),
                    col(Booking.status).in_(LIVE),
                    Booking.start < wide_hi,
                    Booking.end > wide_lo,
                )
            ).all():
                operator_bookings[b.operator_id or ""].append(b)
        lab_ids = sorted({i.lab_id for i in instruments.values() if i.lab_id})
        labs = {lab.id: lab for lab in (session.get(Lab, x) for x in lab_ids) if lab is not None}
        lab_bookings: dict[str, list[Booking]] = {x: [] for x in labs}
        if labs:
            for b, lab_id in session.exec(
                select(Booking, Instrument.lab_id)
                .join(Instrument, Instrument.id == Booking.instrument_id)
                .where(
                    col(Instrument.lab_id).in_(list(labs)),
                    col(Booking.status).in_(LIVE),
                    Booking.start < wide_hi,
                    Booking.end > wide_lo,
                )
            ).all():
                lab_bookings[lab_id or ""].append(b)
        qualifications: dict[tuple[str, str], list[Qualification]] = defaultdict(list)
        if ids and users:
            for q in session.exec(
                select(Qualification).where(
                    col(Qualification.user_id).in_(sorted(users)), col(Qualification.instrument_id).in_(ids)
                )
            ).all():
                qualifications[(q.user_id, q.instrument_id)].append(q)
        future: dict[tuple[str, str], int] = defaultdict(int)
        if ids:
            for iid, eid in session.exec(
                select(Booking.instrument_id, Booking.enterprise_id).where(
                    col(Booking.instrument_id).in_(ids),
                    col(Booking.enterprise_id).is_not(None),
                    col(Booking.status).in_(LIVE),
                    Booking.end > now,
                )
            ).all():
                future[(iid, eid or "")] += 1
        return cls(
            instruments, lo, hi, now, calendar, opening, exceptions, bookings, operators_of, operator_bookings, labs,
            lab_bookings, qualifications, future, list(calendar.warnings),
        )  # fmt: skip

    def _operator(self, op: Operator, tz: ZoneInfo) -> OperatorFacts:
        key = (op.id, str(tz))
        got = self._op_facts.get(key)
        if got is None:
            shifts = self._shifts.get(key)
            if shifts is None:
                wide_lo, wide_hi = self.lo - timedelta(days=1), self.hi + timedelta(days=1)
                shifts = self._shifts[key] = opening_intervals(working_rules(op), [], self.calendar, tz, wide_lo, wide_hi)
            got = self._op_facts[key] = OperatorFacts(op, shifts, list(self.operator_bookings.get(op.id, [])))
        return got

    def for_attempt(self, instrument_id: str, user_id: str | None, enterprise_id: str | None) -> InstrumentFacts:
        """The facts one placement's rules read (``rules.Attempt(facts=...)``)."""
        inst = self.instruments[instrument_id]
        tz = zone(inst.timezone)
        lab = self.labs.get(inst.lab_id or "")
        return InstrumentFacts(
            inst,
            tz,
            self.lo,
            self.hi,
            self.calendar,
            self.opening[inst.id],
            self.exceptions.get(inst.id, []),
            self.bookings[inst.id],
            [self._operator(o, tz) for o in self.operators_of[inst.id]],
            lab,
            self.lab_bookings[lab.id] if lab is not None else [],
            self.qualifications.get((user_id or "", inst.id), []),
            self.future.get((inst.id, enterprise_id), 0) if enterprise_id else 0,
            list(self.warnings),
        )

    def add(self, booking: Booking) -> None:
        """A booking the round just wrote: later placements' rules see it."""
        self.bookings.setdefault(booking.instrument_id, []).append(booking)
        inst = self.instruments.get(booking.instrument_id)
        if inst is not None and inst.lab_id in self.lab_bookings:
            self.lab_bookings[inst.lab_id].append(booking)
        if booking.operator_id:
            self.operator_bookings.setdefault(booking.operator_id, []).append(booking)
            for key in [k for k in self._op_facts if k[0] == booking.operator_id]:
                del self._op_facts[key]
        if booking.enterprise_id and booking.end > self.now:
            self.future[(booking.instrument_id, booking.enterprise_id)] += 1
