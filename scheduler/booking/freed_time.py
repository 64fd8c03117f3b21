"""The freed-time queue: a span of an instrument that a cancellation, a move or a no-show gave back.

The booking action writes the row in its own transaction, so the freed span is never lost: it
commits with the cancellation or not at all. A job (``scheduler.time_offers.run_offers``, every
minute) then looks for the waiting requests the span fits and marks the row handled; if the
process dies in between, the next run finds the row still unhandled and does it then.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, Session, SQLModel

from instruments.db import utc_field, utcnow
from instruments.ids import new_id


class FreedCause(StrEnum):
    cancelled = "cancelled"
    moved = "moved"
    no_show = "no_show"
    remainder = "remainder"  # what an accepted offer left of its span


class FreedTime(SQLModel, table=True):
    __tablename__ = "freed_time"

    id: str = Field(default_factory=lambda: new_id("frd"), primary_key=True)
    instrument_id: str = Field(foreign_key="instrument.id", index=True)
    booking_id: str | None = Field(default=None, foreign_key="booking.id", index=True)
    start: datetime = utc_field()
    end: datetime = utc_field()
    cause: str = Field(default=FreedCause.cancelled, description="cancelled, moved, no_show or remainder")
    created_at: datetime = utc_field(default_factory=utcnow)
    handled_at: datetime | None = utc_field(nullable=True, default=None, index=True)


def note_freed(
    session: Session, instrument_id: str, booking_id: str | None, start: datetime, end: datetime, cause: FreedCause,
    now: datetime,
) -> FreedTime | None:
    """Queue ``[start, end)`` of the instrument as freed (nothing when it is already past)."""
    start = max(start, now)
    if end <= start:
        return None
    row = FreedTime(instrument_id=instrument_id, booking_id=booking_id, start=start, end=end, cause=cause, created_at=now)
    session.add(row)
    return row
