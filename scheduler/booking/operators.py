"""Operators as a second resource: who may run an instrument, and who is free when."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlmodel import Session, col, select

from instruments.availability import OpeningRule, opening_intervals, zone
from instruments.intervals import contains
from instruments.inventory import Instrument
from instruments.staff import Operator, OperatorInstrument
from instruments.workdays import WorkCalendar
from scheduler.booking.bookings import LIVE, Booking


def working_rules(operator: Operator) -> list[OpeningRule]:
    return [
        OpeningRule(
            instrument_id="",
            rrule=w["rrule"],
            start_time=time.fromisoformat(w["start"]),
            end_time=time.fromisoformat(w["end"]),
            valid_from=date(2000, 1, 1),
        )
        for w in operator.working_hours
    ]


def operators_for(session: Session, instrument_id: str) -> list[Operator]:
    q = (
        select(Operator)
        .join(OperatorInstrument, OperatorInstrument.operator_id == Operator.id)
        .where(OperatorInstrument.instrument_id == instrument_id)
        .order_by(Operator.id)
    )
    return list(session.exec(q).all())


def free_operators(
    session: Session,
    instrument: Instrument,
    start: datetime,
    end: datetime,
    calendar: WorkCalendar,
    exclude_booking: str | None = None,
) -> list[Operator]:
    """Operators who may run ``instrument``, are at work over [start, end) and are not busy."""
    tz = zone(instrument.timezone)
    out = []
    for op in operators_for(session, instrument.id):
        shifts = opening_intervals(working_rules(op), [], calendar, tz, start, end)
        if not any(contains(s, (start, end)) for s in shifts):
            continue
        q = select(Booking.id).where(
            Booking.operator_id == op.id,
            col(Booking.status).in_(LIVE),
            Booking.start < end,
            Booking.end > start,
        )
        if exclude_booking:
            q = q.where(Booking.id != exclude_booking)
        if session.exec(q).first() is None:
            out.append(op)
    return out
