"""Import an iCalendar file (an instrument's Outlook calendar, a maintenance plan) as blackouts.

Every VEVENT series (all components sharing a UID: the master with RRULE/RDATE/EXDATE and its
overridden instances with RECURRENCE-ID) is expanded with ``recurring-ical-events`` inside a
bounded horizon; each occurrence becomes an ``AvailabilityException`` of kind ``closed`` with
``source="ics"``, written through ``instruments.catalogue.add_exception`` (scope check, overlap
validation, audit row).

Policy: **partial import**. Every valid occurrence is imported; every invalid one (or every
occurrence of an invalid series) is reported with its UID, summary, start and the reason, and
skipped. An occurrence identical to an existing ``ics`` blackout (same start and end) is skipped
as already imported, so importing the same file twice creates nothing new. Occurrences marked
free (``TRANSP:TRANSPARENT``), cancelled, or entirely in the past are skipped with a reason.
With ``dry_run`` the same report is produced and nothing is written.

Times without a zone (floating) and all-day dates are read in the instrument's zone.

Bounded work: a rule finer than hourly (``SECONDLY``, ``MINUTELY``) or yielding more than 24
occurrences a day is refused per event; each series is expanded once over the horizon only, its
DTSTART first moved forward by whole periods to just before the horizon (the same occurrences,
without iterating from a DTSTART in 1900); the whole file may expand at most
``ics_max_occurrences`` occurrences (settings; per event, reported) and spend at most
``ics_import_time_limit`` seconds expanding (else the import is refused with a 422 naming it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import recurring_ical_events
from icalendar import Calendar
from sqlmodel import Session, select

from instruments.actor import Actor
from instruments.audit import record
from instruments.availability import AvailabilityException, ExceptionKind, zone
from instruments.catalogue import add_exception, get_instrument
from instruments.db import utcnow
from instruments.errors import InvalidInput, PayloadTooLarge
from instruments.inventory import Instrument
from instruments.settings import get_settings
from instruments.time_budget import time_budget
from scheduler.booking.bookings import Booking, live_bookings

MAX_BYTES = 2_000_000
FINE_FREQS = ("SECONDLY", "MINUTELY")
MAX_PER_DAY = 24
DEFAULT_HORIZON_DAYS = 365
MAX_HORIZON_DAYS = 731
POLICY = "partial: every valid occurrence is imported; invalid ones are reported and skipped"


@dataclass
class Item:
    uid: str
    summary: str
    start: datetime | None = None
    end: datetime | None = None
    recurrence_id: str | None = None
    reason: str = ""
    exception_id: str | None = None
    conflicting_bookings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"uid": self.uid, "summary": self.summary}
        for k in ("start", "end"):
            v = getattr(self, k)
            d[k] = v.isoformat() if v else None
        if self.recurrence_id:
            d["recurrence_id"] = self.recurrence_id
        if self.reason:
            d["reason"] = self.reason
        if self.exception_id:
            d["exception_id"] = self.exception_id
        if self.conflicting_bookings:
            d["conflicting_bookings"] = self.conflicting_bookings
        return d


@dataclass
class ImportReport:
    instrument_id: str
    dry_run: bool
    horizon_start: datetime
    horizon_end: datetime
    created: list[Item] = field(default_factory=list)
    skipped: list[Item] = field(default_factory=list)
    errors: list[Item] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "instrument_id": self.instrument_id,
            "dry_run": self.dry_run,
            "policy": POLICY,
            "horizon_start": self.horizon_start.isoformat(),
            "horizon_end": self.horizon_end.isoformat(),
            "created": [i.as_dict() for i in self.created],
            "skipped": [i.as_dict() for i in self.skipped],
            "errors": [i.as_dict() for i in self.errors],
        }


def _text(component: Any, name: str) -> str:
    v = component.get(name)
    return str(v) if v is not None else ""


def _aware(value: Any, tz: Any) -> datetime:
    """A DTSTART/DTEND value as an aware datetime: dates start at midnight, floating times are local."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value
    if isinstance(value, date):
        return datetime.combine(value, time(0), tz)
    raise ValueError(f"not a date or date-time: {value!r}")


def _check_component(ev: Any) -> str | None:
    """Why this VEVENT cannot be used, or None."""
    if ev.errors:
        return "unparseable: " + "; ".join(f"{name}: {msg}" for name, msg in ev.errors)
    if "DTSTART" not in ev:
        return "no DTSTART"
    try:
        start = ev.decoded("DTSTART")
        end = ev.decoded("DTEND") if "DTEND" in ev else None
        duration = ev.decoded("DURATION") if "DURATION" in ev else None
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's fault
        return f"unparseable date: {exc}"
    if not isinstance(start, date):
        return f"unparseable DTSTART {start!r}"
    if end is not None:
        if type(end) is not type(start) and not (isinstance(end, datetime) and isinstance(start, datetime)):
            return "DTSTART and DTEND mix a date and a date-time"
        try:
            if end < start:
                return "end before start"
            if end == start:
                return "zero length (DTEND equals DTSTART)"
        except TypeError:
            return "DTSTART and DTEND mix floating and zoned times"
    elif duration is not None:
        if duration <= timedelta(0):
            return "DURATION is not positive"
    elif isinstance(start, datetime):
        return "no end (neither DTEND nor DURATION)"
    return None


def check_size(size: int) -> None:
    """Refuse (413) an .ics larger than ``MAX_BYTES``, before it is read whole or parsed."""
    if size > MAX_BYTES:
        raise PayloadTooLarge(
            f"The file is larger than {MAX_BYTES // 1_000_000} MB; split it.", limit="ics_max_bytes", field="body"
        )


def _rules(ev: Any) -> list[Any]:
    rr = ev.get("RRULE")
    return [] if rr is None else rr if isinstance(rr, list) else [rr]


def _check_rules(ev: Any) -> str | None:
    """Why this VEVENT's RRULE would cost more than a blackout calendar can need, or None."""
    for rule in _rules(ev):
        freq = str((rule.get("FREQ") or [""])[0]).upper()
        if freq in FINE_FREQS:
            return f"RRULE FREQ={freq} is finer than blackouts need; use HOURLY or coarser (or list the times with RDATE)"
        interval = max(1, int((rule.get("INTERVAL") or [1])[0] or 1))
        minutes, seconds = (len(rule.get(part) or []) or 1 for part in ("BYMINUTE", "BYSECOND"))
        hours = 24 / interval if freq == "HOURLY" else len(rule.get("BYHOUR") or []) or 1
        per_day = hours * minutes * seconds
        if per_day > MAX_PER_DAY:
            return (
                f"the RRULE yields up to {per_day:g} occurrences a day (BYHOUR × BYMINUTE × BYSECOND); "
                f"a blackout calendar needs at most {MAX_PER_DAY}"
            )
    return None


def _period(rule: Any) -> tuple[str, int] | None:
    """(unit, length) of one repetition period when DTSTART may move by whole periods, else None.
    Moving it keeps every later occurrence: BY-parts filter or expand inside a period, and a
    Gregorian 400-year cycle has the same weekdays and leap days."""
    if "COUNT" in rule:  # COUNT counts from DTSTART: it cannot move
        return None
    freq = str((rule.get("FREQ") or [""])[0]).upper()
    interval = max(1, int((rule.get("INTERVAL") or [1])[0] or 1))
    if freq == "HOURLY":
        return "hours", interval
    if freq == "DAILY":
        return "days", interval
    if freq == "WEEKLY":
        return "days", 7 * interval
    if freq == "MONTHLY":
        return "years", math.lcm(400 * 12, interval) // 12
    if freq == "YEARLY":
        return "years", math.lcm(400, interval)
    return None


def _rebase(master: Any, lo: datetime, tz: Any) -> None:
    """Move the series' DTSTART (and DTEND) forward by whole periods to before ``lo`` minus one
    period and the event's length, so expansion starts near the horizon instead of at DTSTART."""
    rules = _rules(master)
    if len(rules) != 1 or (period := _period(rules[0])) is None or "DTSTART" not in master:
        return
    unit, size = period
    start_prop = master["DTSTART"]
    start = start_prop.dt
    if unit == "hours" and not isinstance(start, datetime):
        return
    try:
        start_at = _aware(start, tz)
        end_at = _aware(master.decoded("DTEND"), tz) if "DTEND" in master else None
        length = end_at - start_at if end_at else master.decoded("DURATION") if "DURATION" in master else timedelta(1)
        one_period = timedelta(days=366 * size) if unit == "years" else timedelta(**{unit: size}) + timedelta(days=1)
        ref = (lo - max(length, timedelta(0)) - one_period).astimezone(start_at.tzinfo)
    except (OverflowError, ValueError, TypeError):
        return  # an odd length or an enormous period: expand from DTSTART, under the time limit
    if unit == "years":
        whole = (ref.year - start_at.year) // size
        if whole <= 0:
            return
        shift: Any = lambda d: d.replace(year=d.year + whole * size)  # noqa: E731
    else:
        step = timedelta(**{unit: size})
        whole = (ref.replace(tzinfo=None) - start_at.replace(tzinfo=None)) // step
        if whole <= 0:
            return
        shift = lambda d: d + whole * step  # noqa: E731 - wall-clock arithmetic, as dateutil iterates
    start_prop.dt = shift(start)
    if "DTEND" in master:
        master["DTEND"].dt = shift(master["DTEND"].dt)


def import_blackouts(
    session: Session,
    actor: Actor,
    instrument_id: str,
    data: bytes,
    *,
    dry_run: bool = False,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    now: datetime | None = None,
) -> ImportReport:
    """Expand and import the events of ``data`` as closed exceptions of the instrument."""
    inst = get_instrument(session, instrument_id)
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    check_size(len(data))
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise InvalidInput(f"horizon_days must be between 1 and {MAX_HORIZON_DAYS}.", field="horizon_days")
    try:
        cal = Calendar.from_ical(data)
    except Exception as exc:  # noqa: BLE001 - anything the parser refuses is a bad upload
        raise InvalidInput(f"The file is not an iCalendar (RFC 5545) calendar: {exc}", field="body") from exc
    if not isinstance(cal, Calendar) or cal.name != "VCALENDAR":
        raise InvalidInput("The file must contain one VCALENDAR.", field="body")

    tz = zone(inst.timezone)
    now = now or utcnow()
    lo = now
    hi = now + timedelta(days=horizon_days)
    report = ImportReport(inst.id, dry_run, lo, hi)

    series: dict[str, list[Any]] = {}
    for n, ev in enumerate(cal.walk("VEVENT")):
        uid = _text(ev, "UID") or f"(no UID, event #{n + 1})"
        series.setdefault(uid, []).append(ev)
    timezones = cal.walk("VTIMEZONE")

    settings = get_settings()
    expanded = _expand_all(series, timezones, tz, lo, hi, settings.ics_max_occurrences, report, settings)

    existing = list(
        session.exec(
            select(AvailabilityException).where(
                AvailabilityException.instrument_id == inst.id,
                AvailabilityException.start < hi + timedelta(days=1),
                AvailabilityException.end > lo - timedelta(days=1),
            )
        ).all()
    )
    bookings = live_bookings(session, inst.id, lo, hi)
    accepted: list[tuple[datetime, datetime, Item]] = []
    for occ, item, start, end in expanded:
        _place(session, actor, inst, occ, item, start, end, now, existing, bookings, accepted, report)

    if not dry_run and report.created:
        record(
            session,
            actor,
            "exception.import_ics",
            "instrument",
            inst.id,
            after={"created": len(report.created), "skipped": len(report.skipped), "errors": len(report.errors)},
        )
    report.created.sort(key=lambda i: i.start or now)
    return report


def _expand_all(
    series: dict[str, list[Any]],
    timezones: list[Any],
    tz: Any,
    lo: datetime,
    hi: datetime,
    max_occurrences: int,
    report: ImportReport,
    settings: Any,
) -> list[tuple[Any, Item, datetime, datetime]]:
    """Every series' occurrences overlapping [lo, hi) as (occurrence, item, start UTC, end UTC), in
    file order; series that cannot be used go to ``report.errors``. No database access: the whole
    phase runs under the import's time limit."""
    out: list[tuple[Any, Item, datetime, datetime]] = []
    total = 0
    with time_budget(
        settings.ics_import_time_limit,
        "expanding the calendar's recurrences",
        "ics_import_time_limit",
        "simplify the recurrence rules, shorten horizon_days or split the file",
    ):
        for uid, comps in series.items():
            master = next((c for c in comps if "RECURRENCE-ID" not in c), comps[0])
            summary = _text(master, "SUMMARY")
            bad = [(c, r) for c in comps if (r := _check_component(c) or _check_rules(c))]
            if bad:
                c, reason = bad[0]
                rid = _text(c, "RECURRENCE-ID") or None
                where = f" (instance {c.decoded('RECURRENCE-ID')})" if rid and not c.errors else ""
                report.errors.append(Item(uid, summary, reason=reason + where))
                continue
            _rebase(master, lo, tz)
            mini = Calendar()
            for t in timezones:
                mini.add_component(t)
            for c in comps:
                mini.add_component(c)
            try:
                occurrences = recurring_ical_events.of(mini).between(lo.astimezone(tz), hi.astimezone(tz))
            except Exception as exc:  # noqa: BLE001 - a broken RRULE/RDATE is this event's fault
                report.errors.append(Item(uid, summary, reason=f"cannot expand the recurrence: {exc}"))
                continue
            if total + len(occurrences) > max_occurrences:
                report.errors.append(
                    Item(
                        uid,
                        summary,
                        reason=f"more than {max_occurrences} occurrences in the file within the horizon "
                        "(limit ics_max_occurrences); shorten horizon_days or split the file",
                    )
                )
                total = max_occurrences + 1
                continue
            total += len(occurrences)
            first = len(out)
            for occ in occurrences:
                item = Item(uid, _text(occ, "SUMMARY") or summary)
                if "RECURRENCE-ID" in occ:
                    item.recurrence_id = occ["RECURRENCE-ID"].to_ical().decode()
                try:
                    start = _aware(occ.decoded("DTSTART"), tz)
                    if "DTEND" in occ:
                        end = _aware(occ.decoded("DTEND"), tz)
                    elif "DURATION" in occ:
                        end = start + occ.decoded("DURATION")
                    else:  # a date without an end lasts the day (RFC 5545 §3.6.1)
                        end = start + timedelta(days=1)
                except Exception as exc:  # noqa: BLE001
                    item.reason = f"unparseable occurrence: {exc}"
                    report.errors.append(item)
                    continue
                if start >= hi:
                    continue
                item.start, item.end = start.astimezone(tz), end.astimezone(tz)
                out.append((occ, item, start.astimezone(UTC), end.astimezone(UTC)))
            out[first:] = sorted(out[first:], key=lambda o: (o[2], o[3]))  # a series in start order
    return out


def _place(
    session: Session,
    actor: Actor,
    inst: Instrument,
    occ: Any,
    item: Item,
    start: datetime,
    end: datetime,
    now: datetime,
    existing: list[AvailabilityException],
    bookings: list[Booking],
    accepted: list[tuple[datetime, datetime, Item]],
    report: ImportReport,
) -> None:
    if end <= start:
        item.reason = "end before start"
        report.errors.append(item)
        return
    if _text(occ, "STATUS").upper() == "CANCELLED":
        item.reason = "cancelled (STATUS:CANCELLED)"
        report.skipped.append(item)
        return
    if _text(occ, "TRANSP").upper() == "TRANSPARENT":
        item.reason = "marked free (TRANSP:TRANSPARENT)"
        report.skipped.append(item)
        return
    if end <= now:
        item.reason = "in the past"
        report.skipped.append(item)
        return
    for e in existing:
        if e.start < end and e.end > start:
            if e.start == start and e.end == end and e.kind == ExceptionKind.closed and e.source == "ics":
                item.reason = f"already imported as {e.id}"
                item.exception_id = e.id
                report.skipped.append(item)
            else:
                tz = zone(inst.timezone)
                item.reason = (
                    f"overlaps existing exception {e.id} ({e.kind}, {e.start.astimezone(tz):%Y-%m-%d %H:%M}"
                    f" – {e.end.astimezone(tz):%Y-%m-%d %H:%M})"
                )
                report.errors.append(item)
            return
    for a_start, a_end, other in accepted:
        if a_start < end and a_end > start:
            item.reason = f"overlaps event {other.uid!r} ({other.summary}) of this file"
            report.errors.append(item)
            return
    item.conflicting_bookings = [b.id for b in bookings if b.blocked_start < end and b.blocked_end > start]
    if not report.dry_run:
        exc = add_exception(
            session,
            actor,
            inst,
            AvailabilityException(
                kind=ExceptionKind.closed,
                start=start,
                end=end,
                title=item.summary[:200],
                reason=item.summary[:200] or "ics import",
                source="ics",
            ),
        )
        item.exception_id = exc.id
    accepted.append((start, end, item))
    report.created.append(item)
