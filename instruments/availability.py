"""Published availability: opening rules (RFC 5545 RRULE + daily hours), exceptions and
blackouts, and the national calendar, turned into open intervals in the instrument's zone.

    open(range) = ( ⋃ rule occurrences on the days the calendar allows  ∪  'open' exceptions )
                  − 'closed' exceptions (maintenance, closures)

A rule that ``follows_holidays`` is closed on public holidays and opens on 调休 make-up workdays
when it is a weekday rule (it occurs on some Monday–Friday). Bookings are not known here: the
scheduler subtracts them (``scheduler.free_time``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Field, Session, SQLModel, select

from . import fact_cache
from .db import utc_field
from .errors import InvalidInput
from .ids import new_id
from .intervals import clip, merge, overlaps, subtract
from .recurrence import ALLOWED_FREQ, ever_occurs, parse_rrule, require_a_day
from .settings import get_settings
from .time_budget import time_budget
from .workdays import DayKind, WorkCalendar


class OpeningRule(SQLModel, table=True):
    """The instrument is open ``start_time``–``end_time`` (local) on every day the RRULE yields."""

    __tablename__ = "opening_rule"

    id: str = Field(default_factory=lambda: new_id("rule"), primary_key=True)
    instrument_id: str = Field(foreign_key="instrument.id", index=True)
    rrule: str = Field(description="RFC 5545 RRULE value, e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
    start_time: time
    end_time: time
    valid_from: date
    valid_until: date | None = None
    follows_holidays: bool = True
    label: str = ""


class ExceptionKind(StrEnum):
    closed = "closed"  # maintenance blackout, closure
    open = "open"  # extra opening outside the rules


class AvailabilityException(SQLModel, table=True):
    __tablename__ = "availability_exception"

    id: str = Field(default_factory=lambda: new_id("exc"), primary_key=True)
    instrument_id: str = Field(foreign_key="instrument.id", index=True)
    kind: ExceptionKind = ExceptionKind.closed
    start: datetime = utc_field(index=True)
    end: datetime = utc_field(index=True)
    title: str = Field(default="", description="What the public sees, e.g. maintenance ('' = the reason)")
    reason: str = Field(default="", description="e.g. maintenance, training, closure")
    source: str = Field(default="manual", description="manual | ics import")


# --- validation ------------------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"Unknown time zone {name!r}; use an IANA name such as Asia/Shanghai.", field="timezone"
        ) from exc


def validate_rule(rule: OpeningRule) -> OpeningRule:
    parse_rrule(rule.rrule, datetime.combine(rule.valid_from, time(0)))
    if rule.end_time <= rule.start_time:
        raise InvalidInput(
            f"end_time {rule.end_time:%H:%M} must be after start_time {rule.start_time:%H:%M} (rules cannot cross midnight; add two rules).",
            field="end_time",
        )
    if rule.valid_until is not None and rule.valid_until < rule.valid_from:
        raise InvalidInput("valid_until must not be before valid_from.", field="valid_until")
    rule.rrule = rule.rrule.strip().removeprefix("RRULE:").upper()
    require_a_day(rule.rrule, rule.valid_from, rule.valid_until)
    return rule


def validate_exception(session: Session, exc: AvailabilityException) -> AvailabilityException:
    if exc.start.tzinfo is None or exc.end.tzinfo is None:
        raise InvalidInput("start and end need a UTC offset, e.g. 2026-12-01T08:30:00+08:00.", field="start")
    if exc.end <= exc.start:
        raise InvalidInput("end must be after start.", field="end")
    others = session.exec(
        select(AvailabilityException).where(
            AvailabilityException.instrument_id == exc.instrument_id,
            AvailabilityException.id != exc.id,
            AvailabilityException.start < exc.end,
            AvailabilityException.end > exc.start,
        )
    ).all()
    if others:
        o = others[0]
        raise InvalidInput(
            f"This exception overlaps exception {o.id} ({str(o.kind)}, {o.start.isoformat()} – {o.end.isoformat()}); "
            "change or delete that one, or merge the two.",
            field="start",
        )
    return exc


# --- computation ------------------------------------------------------------------------------


_BLOCK_DAYS = 64
_EPOCH = date(2000, 1, 1)


def _rule_days(rule: OpeningRule | RuleFacts, first: date, last: date) -> set[date]:
    """Days in [first, last] the rule yields. Expanded in fixed 64-day blocks (aligned to a fixed
    day, each cached): every booking attempt asks about its own few days, and a block serves all
    attempts inside it, so the expansion and its traced time budget run once per block and worker
    instead of once per distinct window."""
    lo = max(first, rule.valid_from)
    hi = last if rule.valid_until is None else min(last, rule.valid_until)
    if lo > hi:
        return set()
    days: set[date] = set()
    for block in range((lo - _EPOCH).days // _BLOCK_DAYS, (hi - _EPOCH).days // _BLOCK_DAYS + 1):
        start = _EPOCH + timedelta(days=block * _BLOCK_DAYS)
        days.update(_occurrences(rule.rrule, rule.valid_from, start, start + timedelta(days=_BLOCK_DAYS - 1)))
    return {d for d in days if lo <= d <= hi}


_PERIOD_DAYS = {"DAILY": 1, "WEEKLY": 7}


@lru_cache(maxsize=4096)
def _occurrences(text: str, valid_from: date, lo: date, hi: date) -> tuple[date, ...]:
    """Dates in [lo, hi] the rule yields. Daily and weekly rules without COUNT repeat every
    INTERVAL periods, so iteration may start at the last whole period before ``lo`` (same set,
    far fewer steps than iterating from ``valid_from``). A rule that never yields a day (stored
    before such rules were refused) yields nothing without a scan to the year 9999; the rest is
    bounded by ``rrule_time_limit`` (a 422 naming it, rather than a query that runs on)."""
    if not ever_occurs(text, valid_from):  # bounded by itself (one calendar cycle), and cached
        return ()
    with time_budget(
        get_settings().rrule_time_limit,
        f"expanding the opening rule {text!r}",
        "rrule_time_limit",
        "simplify the rule or ask for a shorter range",
    ):
        return _between(text, valid_from, lo, hi)


def _between(text: str, valid_from: date, lo: date, hi: date) -> tuple[date, ...]:
    parts = dict(p.split("=", 1) for p in text.upper().removeprefix("RRULE:").split(";") if "=" in p)
    start = valid_from
    period = _PERIOD_DAYS.get(parts.get("FREQ", ""))
    if period and "COUNT" not in parts:
        step = period * int(parts.get("INTERVAL", "1") or 1)
        whole = max(0, (lo - valid_from).days // step - 1)
        start = valid_from + timedelta(days=whole * step)
    rr = parse_rrule(text, datetime.combine(start, time(0)))
    return tuple(d.date() for d in rr.between(datetime.combine(lo, time(0)), datetime.combine(hi, time(0)), inc=True))


def opening_intervals(
    rules: Sequence[OpeningRule | RuleFacts],
    exceptions: Sequence[AvailabilityException | ExceptionFacts],
    calendar: WorkCalendar,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, datetime]]:
    """Open intervals within [start, end), as aware datetimes in ``tz``."""
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    spans: list[tuple[datetime, datetime]] = []
    for rule in rules:
        days = _rule_days(rule, first - timedelta(days=7), last + timedelta(days=7))
        weekday_rule = any(d.weekday() < 5 for d in days)
        day = first
        while day <= last:
            if rule.valid_from <= day and (rule.valid_until is None or day <= rule.valid_until):
                occurs = day in days
                if rule.follows_holidays:
                    kind = calendar.kind(day)
                    if kind == DayKind.holiday:
                        occurs = False
                    elif kind == DayKind.makeup_workday:
                        occurs = weekday_rule
                if occurs:
                    spans.append((datetime.combine(day, rule.start_time, tz), datetime.combine(day, rule.end_time, tz)))
            day += timedelta(days=1)
    opened = [(e.start.astimezone(tz), e.end.astimezone(tz)) for e in exceptions if e.kind == ExceptionKind.open]
    closed = [(e.start.astimezone(tz), e.end.astimezone(tz)) for e in exceptions if e.kind == ExceptionKind.closed]
    result = subtract(merge(spans + opened), closed)
    return clip(result, start.astimezone(tz), end.astimezone(tz))


class RuleFacts(NamedTuple):
    """What ``opening_intervals`` reads of an ``OpeningRule`` (kept in the per-worker cache)."""

    rrule: str
    start_time: time
    end_time: time
    valid_from: date
    valid_until: date | None
    follows_holidays: bool


class ExceptionFacts(NamedTuple):
    """What ``opening_intervals`` reads of an ``AvailabilityException`` (kept in the cache)."""

    kind: ExceptionKind
    start: datetime
    end: datetime


def instrument_facts(session: Session, instrument_id: str) -> tuple[tuple[RuleFacts, ...], tuple[ExceptionFacts, ...]] | None:
    """All opening rules and exceptions of the instrument from the per-worker cache
    (``fact_cache``), or None when this transaction has not read the instrument's version."""

    def load() -> tuple[tuple[RuleFacts, ...], tuple[ExceptionFacts, ...]]:
        r, e = OpeningRule, AvailabilityException
        rules = session.exec(
            select(r.rrule, r.start_time, r.end_time, r.valid_from, r.valid_until, r.follows_holidays)
            .where(r.instrument_id == instrument_id)
            .order_by(r.id)
        ).all()
        excs = session.exec(select(e.kind, e.start, e.end).where(e.instrument_id == instrument_id).order_by(e.start)).all()
        return tuple(RuleFacts(*row) for row in rules), tuple(ExceptionFacts(ExceptionKind(k), s, x) for k, s, x in excs)

    return fact_cache.cached(session, fact_cache.INSTRUMENT, instrument_id, load)


def load_opening(
    session: Session, instrument_id: str, tz: ZoneInfo, start: datetime, end: datetime
) -> tuple[list[tuple[datetime, datetime]], list[str]]:
    """Open intervals of one instrument from the database (or the per-worker cache, when the
    transaction read the instrument's version), with calendar warnings."""
    facts = instrument_facts(session, instrument_id)
    if facts is not None:
        rules: Sequence[OpeningRule | RuleFacts] = facts[0]
        exceptions: Sequence[AvailabilityException | ExceptionFacts] = [
            e for e in facts[1] if e.start < end and e.end > start
        ]
    else:
        rules = session.exec(select(OpeningRule).where(OpeningRule.instrument_id == instrument_id)).all()
        exceptions = session.exec(
            select(AvailabilityException).where(
                AvailabilityException.instrument_id == instrument_id,
                AvailabilityException.start < end,
                AvailabilityException.end > start,
            )
        ).all()
    calendar = WorkCalendar.load(
        session, start.astimezone(tz).date() - timedelta(days=8), end.astimezone(tz).date() + timedelta(days=8)
    )
    spans = opening_intervals(rules, exceptions, calendar, tz, start, end)
    return spans, calendar.warnings


__all__ = [
    "ALLOWED_FREQ",
    "AvailabilityException",
    "ExceptionKind",
    "OpeningRule",
    "load_opening",
    "opening_intervals",
    "overlaps",
    "parse_rrule",
    "validate_exception",
    "validate_rule",
    "zone",
]
