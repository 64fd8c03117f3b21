"""Bookings: an instrument held for an enterprise over [start, end), plus buffers.

``blocked_start``/``blocked_end`` add the instrument's set-up and clean-up buffers; the database
refuses two *live* bookings of one instrument whose blocked ranges overlap (PostgreSQL: an
exclusion constraint over ``tstzrange``; SQLite: a trigger on a serialised write path). See the
initial migration.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Index, and_, bindparam, false
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Field, Session, SQLModel, col, select

from instruments.actor import Actor, Role
from instruments.availability import zone
from instruments.db import Rows, fen_field, utc_field, utcnow, write_together
from instruments.errors import Conflict, NotFound
from instruments.ids import new_id
from instruments.inventory import Instrument
from instruments.references import refuse_unknown


class BookingStatus(StrEnum):
    tentative = "tentative"
    confirmed = "confirmed"
    checked_in = "checked_in"
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"


LIVE = (
    BookingStatus.tentative,
    BookingStatus.confirmed,
    BookingStatus.checked_in,
    BookingStatus.completed,
)
"""Statuses that hold the instrument's time (the no-overlap constraint covers exactly these)."""
LIVE_SQL = "('tentative','confirmed','checked_in','completed')"


class Booking(SQLModel, table=True):
    __tablename__ = "booking"
    __table_args__ = (Index("ix_booking_instrument_blocked", "instrument_id", "blocked_start", "blocked_end"),)

    id: str = Field(default_factory=lambda: new_id("bkg"), primary_key=True)
    instrument_id: str = Field(foreign_key="instrument.id", index=True)
    enterprise_id: str | None = Field(default=None, foreign_key="enterprise.id", index=True)
    user_id: str | None = Field(default=None, foreign_key="app_user.id", index=True)
    request_id: str | None = Field(default=None, foreign_key="booking_request.id", index=True)
    operator_id: str | None = Field(default=None, foreign_key="operator.id", index=True)
    service_mode: str
    start: datetime = utc_field(index=True)
    end: datetime = utc_field()
    blocked_start: datetime = utc_field()
    blocked_end: datetime = utc_field()
    status: BookingStatus = Field(default=BookingStatus.tentative, index=True)
    price_fen: int = fen_field()
    sample_count: int = Field(default=0, ge=0)
    notes: str = ""
    source: str = Field(default="instant", description="instant | round | manager")
    sequence: int = Field(default=0, description="Bumped on every move (iCalendar SEQUENCE)")
    created_at: datetime = utc_field(default_factory=utcnow)
    updated_at: datetime = utc_field(default_factory=utcnow)
    checked_in_at: datetime | None = utc_field(nullable=True, default=None)
    checked_out_at: datetime | None = utc_field(nullable=True, default=None)
    cancelled_at: datetime | None = utc_field(nullable=True, default=None)
    cancel_reason: str = ""

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def can_see(actor: Actor, booking: Booking, instrument: Instrument) -> bool:
    """Whether ``actor`` may read this booking in full (others see anonymous busy time)."""
    if actor.role == Role.programme_admin:
        return True
    if actor.role == Role.lab_manager:
        return actor.owner_unit_id == instrument.owner_unit_id
    if actor.role == Role.operator:
        return booking.operator_id is not None and booking.operator_id == actor.operator_id
    if actor.role == Role.enterprise_member:
        return booking.enterprise_id is not None and booking.enterprise_id == actor.enterprise_id
    return False


def collision_entry(actor: Actor | None, booking: Booking, instrument: Instrument, tz: ZoneInfo) -> dict[str, Any]:
    """What a refused attempt may show of one booking it collided with.

    The rule: everyone sees the taken time range (in the instrument's zone, so they can pick
    another slot) and whether it is theirs; the booking's id only when the actor may read that
    booking in full (``can_see``: its own enterprise, the operator running it, staff of the unit
    that owns the instrument, programme admins). Another enterprise's booking id or name is never
    shown, like anonymous busy time in availability. ``actor=None`` (no audience) shows no id."""
    entry: dict[str, Any] = {}
    if actor is not None and can_see(actor, booking, instrument):
        entry["booking"] = booking.id
    entry["start"] = booking.start.astimezone(tz).isoformat()
    entry["end"] = booking.end.astimezone(tz).isoformat()
    entry["yours"] = (
        actor is not None
        and actor.role == Role.enterprise_member
        and booking.enterprise_id is not None
        and booking.enterprise_id == actor.enterprise_id
    )
    return entry


def collision_text(actor: Actor | None, booking: Booking, instrument: Instrument, tz: ZoneInfo) -> str:
    """``booking bkg_… (2026-12-01 09:00–11:00)`` for those who may see it, else ``another
    booking (2026-12-01 09:00–11:00)``: the same rule as ``collision_entry``."""
    named = actor is not None and can_see(actor, booking, instrument)
    who = f"booking {booking.id}" if named else "another booking"
    return f"{who} ({booking.start.astimezone(tz):%Y-%m-%d %H:%M}–{booking.end.astimezone(tz):%H:%M})"


def get_visible(session: Session, actor: Actor, booking_id: str, lock: bool = False) -> tuple[Booking, Instrument]:
    """The booking, or NotFound when it does not exist *or* the actor may not see it.

    ``lock`` takes the booking row FOR UPDATE, freshly read: a state change (confirm, cancel, a
    voucher applied) then decides on the state no concurrent change can alter before it commits."""
    booking = (
        session.get(Booking, booking_id, with_for_update=True, populate_existing=True)
        if lock
        else session.get(Booking, booking_id)
    )
    if booking is not None:
        instrument = session.get(Instrument, booking.instrument_id)
        if instrument is not None and can_see(actor, booking, instrument):
            return booking, instrument
    raise NotFound(f"No booking {booking_id!r} that you can see.")


def live_bookings(
    session: Session, instrument_id: str, start: datetime, end: datetime, exclude: str | None = None
) -> list[Booking]:
    """Live bookings whose blocked range meets [start, end)."""
    params = {"instrument_id": instrument_id, "start": start, "end": end}
    q = _meeting()
    if exclude:
        q, params["exclude"] = q.where(Booking.id != bindparam("exclude")), exclude
    return list(session.exec(q, params=params).all())


@cache
def _meeting():  # noqa: ANN202 - a select
    """The live bookings of an instrument meeting a range, built once with bind parameters:
    every booking asks it, and building a statement and its cache key anew each time costs more
    than running it."""
    return select(Booking).where(meeting(bindparam("instrument_id"), bindparam("start"), bindparam("end"))).order_by(
        Booking.blocked_start
    )


def meeting(instrument_id: object, start: object, end: object) -> ColumnElement[bool]:
    """A live booking of the instrument whose blocked range meets [start, end) (values or bind
    parameters): what collides with a booking of that range."""
    return and_(
        Booking.instrument_id == instrument_id,
        col(Booking.status).in_(LIVE),
        Booking.blocked_start < end,
        Booking.blocked_end > start,
    )


def visible_query(actor: Actor):  # noqa: ANN201 - a select
    q = select(Booking).join(Instrument, Instrument.id == Booking.instrument_id)
    if actor.role == Role.programme_admin:
        return q
    if actor.role == Role.lab_manager:
        return q.where(Instrument.owner_unit_id == actor.owner_unit_id)
    if actor.role == Role.operator and actor.operator_id:
        return q.where(Booking.operator_id == actor.operator_id)
    if actor.role == Role.enterprise_member and actor.enterprise_id:
        return q.where(Booking.enterprise_id == actor.enterprise_id)
    return q.where(false())


def flush_or_conflict(
    session: Session, booking: Booking, changes: dict[str, Any] | None = None, actor: Actor | None = None
) -> None:
    """Write a new booking, or ``changes`` to an existing one, inside a SAVEPOINT; an overlap the
    database refuses becomes a Conflict showing the other booking's time, and its id only if
    ``actor`` may see it (``bookings.collision_entry``).

    The write happens inside the savepoint (``begin_nested`` flushes what is pending *before* the
    savepoint, where a refusal would doom the whole transaction), so after a refusal the session
    stays usable: a round goes on with its other placements, an API request answers 409."""
    changes = changes or {}
    key = (
        booking.instrument_id,
        changes.get("blocked_start", booking.blocked_start),
        changes.get("blocked_end", booking.blocked_end),
        booking.id,
    )
    with _refereed(session, actor, key, savepoint=True):
        for k, v in changes.items():
            setattr(booking, k, v)
        session.add(booking)
        session.flush()


def write_new(
    session: Session, booking: Booking, alongside: list[Rows], actor: Actor | None = None, *, savepoint: bool = True
) -> None:
    """Write a new booking and the rows that go with it (its audit row, note and mails) in one
    round trip on PostgreSQL (``instruments.db.write_together``), then hold it in the session as
    a loaded row, as a flush would have left it. As :func:`flush_or_conflict` writes a new
    booking, an unknown id is refused naming its field first (``instruments.references``) and an
    overlap the database refuses becomes a Conflict.

    ``savepoint=False`` saves the SAVEPOINT and RELEASE round trips for a caller whose transaction
    ends with the refusal anyway (``POST /bookings``: its rules already found no collision under
    the instrument's lock, so the database refuses only a writer that bypassed that lock): a
    refusal then rolls the whole transaction back before the other booking is read for the
    answer."""
    refuse_unknown(session, booking)
    key = (booking.instrument_id, booking.blocked_start, booking.blocked_end, booking.id)
    row = {c.name: getattr(booking, c.name) for c in Booking.__table__.columns}
    with _refereed(session, actor, key, savepoint):
        write_together(session, [Rows(Booking.__table__, [row]), *alongside])
    make_transient_to_detached(booking)
    session.add(booking)


@contextmanager
def _refereed(session: Session, actor: Actor | None, key: tuple, savepoint: bool) -> Iterator[None]:
    """Run a booking write, in a SAVEPOINT unless ``savepoint`` is False (what is pending is then
    flushed first, as ``begin_nested`` does, so that a refusal is the write's own); the database
    refusing it becomes the Conflict of :func:`_refused`."""
    if not savepoint:
        session.flush()
    try:
        with session.begin_nested() if savepoint else nullcontext():
            yield
    except IntegrityError as exc:
        raise _refused(session, actor, key, savepoint) from exc


def _refused(session: Session, actor: Actor | None, key: tuple, savepoint: bool) -> Conflict:
    """The Conflict for a booking write the database refused, naming the bookings now in the way
    (``key``: instrument, blocked start and end, the booking's own id)."""
    if not savepoint:
        session.rollback()  # PostgreSQL doomed the transaction; the answer reads in a new one
    others = live_bookings(session, key[0], key[1], key[2], exclude=key[3])
    inst = session.get(Instrument, key[0])
    tz = zone(inst.timezone)
    names = ", ".join(collision_text(actor, b, inst, tz) for b in others)
    return Conflict(
        f"Another booking took this time just now{': ' + names if names else ''}. Pick another slot.",
        conflicts=[collision_entry(actor, b, inst, tz) for b in others],
    )
