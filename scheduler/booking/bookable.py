"""Bookable time: the slots one actor could book now, and why the rest of the time is closed.

Free time (``free_time``) is opening hours net of bookings; it ignores notice periods, operators,
lab capacity, limits and qualification, so most of it is refused when booked. Bookable time runs
the booking rules themselves (``rules.RULES``, the chain ``booking_actions.book`` runs) over every
candidate start on the instrument's slot grid, reading the database facts once
(``rule_facts.InstrumentFacts``) instead of once per candidate: an offered slot is one ``book``
accepts, and a refused candidate is labelled with the code of the rule that refused it.

- Rules ``about_the_actor`` (the instrument is shared, the mode offered, the enterprise not
  suspended, the length allowed, the future-booking limit not reached) do not depend on the
  slot: they are evaluated once, and a failure comes back in ``blocked`` with no slots. So does
  a qualification or a duration off the slot grid that refuses every candidate.
- Candidates are the grid starts whose [start, start + duration) lies in one opening interval
  (the rule ``WithinOpeningHours``); the rest of the window is closed, labelled ``blackout``
  (a maintenance exception, with its reason), ``holiday`` (with its name) or
  ``outside_opening_hours``.
- Open time where no slot may start is labelled by the rule that refused its candidate
  (``lead_time``, ``too_far_ahead``, ``no_operator``, ``lab_full``, ``not_qualified``,
  ``in_past``; a collision is ``booked``), or ``too_short`` where the opening interval ends
  before a booking of this length could.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from instruments.actor import Actor
from instruments.availability import ExceptionKind, zone
from instruments.catalogue import get_instrument
from instruments.db import utcnow
from instruments.errors import InvalidInput, Violation
from instruments.intervals import clip, merge, subtract
from instruments.inventory import Instrument
from instruments.policy import minutes_for_samples, policy_of
from instruments.workdays import DayKind
from scheduler.booking.bookings import Booking
from scheduler.booking.enterprises import booking_for
from scheduler.booking.rule_facts import InstrumentFacts
from scheduler.booking.rules import RULES, Attempt, evaluate

DEFAULT_DAYS = 28
MAX_CANDIDATES = 10_000
"""Most grid starts one answer evaluates (bounded work per request: a 1-minute grid open round
the clock would otherwise mean 132,480 candidates over 92 days)."""

ACTOR_RULES = tuple(r for r in RULES if r.about_the_actor)
SLOT_RULES = tuple(r for r in RULES if not r.about_the_actor)
EVERY_SLOT_CODES = ("not_qualified", "slot_grid")
"""Slot rules that, refusing every candidate, say something about the actor or the request."""


PER_DAY = ("holiday", "outside_opening_hours")
BOOKED = "Booked: a booking, or its set-up and clean-up time, holds this time."
"""Whose booking is not said here: bookings of other enterprises stay anonymous."""


@dataclass
class ClosedTime:
    start: datetime
    end: datetime
    reason: str
    message: str
    detail: str = ""
    """The holiday's name or the maintenance's title (for pages that word the reason themselves)."""
    note: str | None = None
    """A blackout with a title: its reason ('' when it says no more than the title); None when
    the blackout has no title (then ``detail`` is its reason)."""


@dataclass
class BookableTime:
    instrument: Instrument
    timezone: str
    service_mode: str
    duration_minutes: int
    start: datetime
    end: datetime
    slots: list[tuple[datetime, datetime]]
    closed: list[ClosedTime]
    blocked: list[Violation]
    warnings: list[str] = field(default_factory=list)


def _fmt_day(d: date) -> str:
    return f"{d:%Y-%m-%d}"


def _grid_starts(span: tuple[datetime, datetime], step: int, minutes: int, tz: ZoneInfo) -> list[datetime]:
    """Starts on the local slot grid (minutes since local midnight divisible by ``step``) with
    [start, start + minutes) inside ``span``."""
    out: list[datetime] = []
    s, e = span
    length = timedelta(minutes=minutes)
    t = s.astimezone(tz)
    while t + length <= e:
        m = t.hour * 60 + t.minute
        if t.second or t.microsecond or m % step:
            nxt = (m // step + 1) * step
            if nxt >= 1440:
                t = datetime.combine(t.date() + timedelta(days=1), time(0), tz)
            else:
                t = datetime.combine(t.date(), time(nxt // 60, nxt % 60), tz)
            continue
        out.append(t)
        nxt = m + step
        if nxt >= 1440:
            t = datetime.combine(t.date() + timedelta(days=1), time(0), tz)
        else:
            t = datetime.combine(t.date(), time(nxt // 60, nxt % 60), tz)
    return out


def _by_day(spans: list[tuple[datetime, datetime]], tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Split spans at local midnights."""
    out = []
    for s, e in spans:
        s, e = s.astimezone(tz), e.astimezone(tz)
        while s < e:
            midnight = datetime.combine(s.date() + timedelta(days=1), time(0), tz)
            out.append((s, min(e, midnight)))
            s = midnight
    return out


def _closed_outside(facts: InstrumentFacts, lo: datetime, hi: datetime) -> list[ClosedTime]:
    """The window's time outside opening hours, by reason: blackout > holiday > outside hours."""
    tz, name = facts.tz, facts.instrument.name
    shut = subtract([(lo, hi)], facts.opening)
    out: list[ClosedTime] = []
    rest = shut
    for exc in sorted(facts.exceptions, key=lambda x: x.start):
        if exc.kind != ExceptionKind.closed:
            continue
        title = exc.title or exc.reason
        note = (exc.reason if exc.reason != exc.title else "") if exc.title else None
        for s, e in clip(shut, exc.start.astimezone(tz), exc.end.astimezone(tz)):
            why = title + (f" ({note})" if note else "") if title else "closure"
            out.append(ClosedTime(s, e, "blackout", f"{name} is closed: {why}.", title, note))
        rest = subtract(rest, [(exc.start.astimezone(tz), exc.end.astimezone(tz))])
    cal = facts.calendar
    for s, e in _by_day(rest, tz):
        day = s.date()
        if cal.kind(day) == DayKind.holiday:
            holiday = cal.holiday_name(day) or "public holiday"
            out.append(
                ClosedTime(
                    s, e, "holiday", f"{name} is closed on {_fmt_day(day)}: {holiday}.", cal.holiday_name(day) or ""
                )
            )
            continue
        hours = [f"{a:%H:%M}–{b:%H:%M}" for a, b in facts.opening if a.astimezone(tz).date() == day]
        said = f"open {', '.join(hours)}" if hours else "closed all day"
        out.append(
            ClosedTime(
                s, e, "outside_opening_hours", f"Outside the opening hours of {name} (on {_fmt_day(day)}: {said})."
            )
        )
    return out


def _merge_closed(items: list[ClosedTime]) -> list[ClosedTime]:
    """Sorted; touching pieces with the same reason joined (the first piece's message kept),
    except the per-day pieces whose message names their day."""
    out: list[ClosedTime] = []
    for c in sorted(items, key=lambda c: c.start):
        if out and out[-1].reason == c.reason and out[-1].end >= c.start and c.reason not in PER_DAY:
            out[-1].end = max(out[-1].end, c.end)
        else:
            out.append(ClosedTime(c.start, c.end, c.reason, c.message, c.detail, c.note))
    return out


@dataclass
class OpeningTime:
    """An instrument's published time over a window, for anyone (no booking rules applied)."""

    instrument: Instrument
    timezone: str
    start: datetime
    end: datetime
    open: list[tuple[datetime, datetime]]
    closed: list[ClosedTime]
    warnings: list[str]


def opening_time(session: Session, instrument_id: str, start: datetime, end: datetime) -> OpeningTime:
    """The opening intervals in [start, end) and the rest labelled like ``bookable_time`` labels
    it (maintenance, holiday, outside opening hours): what a signed-out visitor may see."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end need a UTC offset, e.g. 2026-12-01T00:00:00+08:00.", field="start")
    inst = get_instrument(session, instrument_id)
    tz = zone(inst.timezone)
    lo, hi = start.astimezone(tz), end.astimezone(tz)
    facts = InstrumentFacts.load(session, inst, lo, hi, None, None, utcnow())
    return OpeningTime(
        inst,
        inst.timezone,
        lo,
        hi,
        clip(merge(facts.opening), lo, hi),
        _merge_closed(_closed_outside(facts, lo, hi)),
        facts.warnings,
    )


def bookable_time(
    session: Session,
    actor: Actor,
    instrument_id: str,
    service_mode: str,
    *,
    duration_minutes: int | None = None,
    sample_count: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    enterprise_id: str | None = None,
    now: datetime | None = None,
    max_days: int = 92,
    moving: Booking | None = None,
) -> BookableTime:
    """The slots of ``duration_minutes`` (or the time ``sample_count`` samples take) that
    ``actor`` could book now on the instrument over [start, end) (default: from now, four
    weeks), with the closed time labelled and any refusal that applies to every slot.

    ``moving``: the slots offered to move this booking to; the rules about the actor then see a
    move (its enterprise's limit of future bookings does not count it twice). Its own time is
    still held by it: a new time overlapping the old one is not offered."""
    now = now or utcnow()
    if (duration_minutes is None) == (sample_count is None):
        raise InvalidInput("Give either duration_minutes or sample_count.", field="duration_minutes")
    for name, value in (("duration_minutes", duration_minutes), ("sample_count", sample_count)):
        if value is not None and value < 1:
            raise InvalidInput(f"{name} must be at least 1.", field=name)
    if (start is not None and start.tzinfo is None) or (end is not None and end.tzinfo is None):
        raise InvalidInput("start and end need a UTC offset, e.g. 2026-12-01T00:00:00+08:00.", field="start")
    inst = get_instrument(session, instrument_id)
    tz = zone(inst.timezone)
    enterprise = booking_for(session, actor, inst, enterprise_id)
    policy = policy_of(session, inst.id)
    minutes = duration_minutes if duration_minutes is not None else minutes_for_samples(policy, sample_count or 0)
    lo = (start or now).astimezone(tz)
    hi = (end or lo + timedelta(days=DEFAULT_DAYS)).astimezone(tz)
    if hi <= lo:
        raise InvalidInput("end must be after start.", field="end")
    if hi - lo > timedelta(days=max_days):
        raise InvalidInput(f"Ask for at most {max_days} days at a time.", field="end")
    if minutes > max_days * 1440:
        raise InvalidInput(f"A booking lasts at most {max_days} days.", field="duration_minutes")

    length = timedelta(minutes=minutes)
    reach_lo = lo - timedelta(minutes=policy.setup_minutes)
    reach_hi = hi + length + timedelta(minutes=policy.cleanup_minutes)
    facts = InstrumentFacts.load(
        session, inst, reach_lo, reach_hi, actor.user_id, enterprise.id if enterprise else None, now
    )

    def attempt(s: datetime) -> Attempt:
        return Attempt(
            session, actor, inst, policy, s, s + length, service_mode, enterprise, actor.user_id, now, facts=facts
        )

    closed = _closed_outside(facts, lo, hi)
    result = BookableTime(inst, inst.timezone, service_mode, minutes, lo, hi, [], [], [], facts.warnings)
    first = attempt(lo)
    first.moving = moving
    blocked = evaluate(first, ACTOR_RULES)
    if blocked:
        result.blocked, result.closed = blocked, _merge_closed(closed)
        return result

    step = policy.slot_minutes
    refused_codes: list[set[str]] = []
    first_refusal: dict[str, Violation] = {}
    spans = [
        (span, [t for t in _grid_starts(span, step, minutes, tz) if t < hi])
        for span in clip(merge(facts.opening), lo, hi + length)
    ]
    count = sum(len(starts) for _, starts in spans)
    if count > MAX_CANDIDATES:
        raise InvalidInput(
            f"This window holds {count} possible starts on the {step}-minute grid of {inst.name}; "
            f"ask for a shorter window (at most {MAX_CANDIDATES} starts).",
            field="end",
        )
    for span, starts in spans:
        covered_until = span[0]
        for t in starts:
            violations = evaluate(attempt(t), SLOT_RULES)
            cell_end = min(t + timedelta(minutes=step), span[1], hi)
            if not violations:
                result.slots.append((t, t + length))
            else:
                v = violations[0]
                reason = "booked" if v.code == "overlap" else v.code
                message = BOOKED if v.code == "overlap" else v.message
                closed.append(ClosedTime(t, cell_end, reason, message))
                refused_codes.append({x.code for x in violations})
                for x in violations:
                    first_refusal.setdefault(x.code, x)
            covered_until = cell_end
        tail_lo, tail_hi = max(covered_until, span[0], lo), min(span[1], hi)
        if tail_lo < tail_hi:
            closed.append(
                ClosedTime(
                    tail_lo,
                    tail_hi,
                    "too_short",
                    f"{inst.name} closes before a booking of {minutes} min starting here could end.",
                )
            )
    if not result.slots and refused_codes:
        result.blocked = [first_refusal[c] for c in EVERY_SLOT_CODES if all(c in codes for codes in refused_codes)]
    result.closed = _merge_closed([c for c in closed if c.start < hi and c.end > lo])
    for c in result.closed:
        c.start, c.end = max(c.start, lo), min(c.end, hi)
    return result
