"""An instrument's free time over any range: opening hours net of live bookings and buffers.

A new booking [s, e) blocks [s − setup, e + cleanup) and may not meet another booking b's blocked
range [bs, be): it needs e ≤ bs − cleanup or s ≥ be + setup. Free intervals are therefore
``open − ⋃ [bs − cleanup, be + setup)``: any [s, e) inside one of them can be booked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from instruments.actor import Actor
from instruments.availability import load_opening, zone
from instruments.catalogue import get_instrument
from instruments.errors import InvalidInput
from instruments.intervals import clip, subtract
from instruments.inventory import Instrument
from instruments.policy import lead_minutes_for, policy_of
from scheduler.booking.bookings import Booking, can_see, live_bookings


@dataclass
class FreeTime:
    instrument: Instrument
    timezone: str
    start: datetime
    end: datetime
    open: list[tuple[datetime, datetime]]
    free: list[tuple[datetime, datetime]]
    busy: list[tuple[Booking, bool]]  # (booking, visible to the asker in full)
    warnings: list[str] = field(default_factory=list)


def free_time(
    session: Session, instrument_id: str, start: datetime, end: datetime, actor: Actor | None, max_days: int = 92
) -> FreeTime:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end need a UTC offset, e.g. 2026-12-01T00:00:00+08:00.", field="start")
    if end <= start:
        raise InvalidInput("end must be after start.", field="end")
    if end - start > timedelta(days=max_days):
        raise InvalidInput(f"Ask for at most {max_days} days at a time.", field="end")
    inst = get_instrument(session, instrument_id)
    tz = zone(inst.timezone)
    policy = policy_of(session, inst.id)
    opening, warnings = load_opening(session, inst.id, tz, start, end)
    bookings = live_bookings(session, inst.id, start - timedelta(days=1), end + timedelta(days=1))
    setup, cleanup = timedelta(minutes=policy.setup_minutes), timedelta(minutes=policy.cleanup_minutes)
    taken = [(b.blocked_start - cleanup, b.blocked_end + setup) for b in bookings]
    free = clip(subtract(opening, taken), start.astimezone(tz), end.astimezone(tz))
    free = [(s.astimezone(tz), e.astimezone(tz)) for s, e in free]
    busy = [(b, actor is not None and can_see(actor, b, inst)) for b in bookings if b.start < end and b.end > start]
    return FreeTime(inst, inst.timezone, start.astimezone(tz), end.astimezone(tz), opening, free, busy, warnings)


MAX_BOOKABLE_WITHIN_DAYS = 14
"""Longest look-ahead of the search's "bookable within" filter (it reads each candidate's hours)."""


def free_within(
    session: Session, instruments: list[Instrument], now: datetime, days: int, service_mode: str | None = None
) -> list[Instrument]:
    """The instruments (order kept) with free time of at least their shortest booking between their
    notice period from ``now`` and ``now + days``: opening hours, holidays, blackouts, bookings and
    buffers only — an approximation for a search filter. Operators, lab capacity, qualification
    and limits are not checked here; the bookable-time endpoint gives the truthful slots."""
    if not 1 <= days <= MAX_BOOKABLE_WITHIN_DAYS:
        raise InvalidInput(
            f"bookable_within_days must be 1 to {MAX_BOOKABLE_WITHIN_DAYS}.", field="bookable_within_days"
        )
    end = now + timedelta(days=days)
    out = []
    for inst in instruments:
        policy = policy_of(session, inst.id)
        modes = [service_mode] if service_mode else list(inst.service_modes)
        lead = min((lead_minutes_for(policy, m) for m in modes), default=0)
        start = now + timedelta(minutes=lead)
        if start >= end:
            continue
        need = timedelta(minutes=policy.min_minutes)
        ft = free_time(session, inst.id, start, end, None)
        if any(e - s >= need for s, e in ft.free):
            out.append(inst)
    return out
