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
"""

from __future__ import annotations

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
from instruments.errors import InvalidInput
from instruments.inventory import Instrument

from .bookings import Booking, live_bookings

MAX_BYTES = 2_000_000
MAX_OCCURRENCES = 2_000
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
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"The file is larger than {MAX_BYTES // 1_000_000} MB.", field="body")
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
    total = 0
    for uid, comps in series.items():
        master = next((c for c in comps if "RECURRENCE-ID" not in c), comps[0])
        summary = _text(master, "SUMMARY")
        bad = [(c, r) for c in comps if (r := _check_component(c))]
        if bad:
            c, reason = bad[0]
            rid = _text(c, "RECURRENCE-ID") or None
            where = f" (instance {c.decoded('RECURRENCE-ID')})" if rid and not c.errors else ""
            report.errors.append(Item(uid, summary, reason=reason + where))
            continue
        mini = Calendar()
        for t in timezones:
            mini.add_component(t)
        for c in comps:
            mini.add_component(c)
        occurrences = recurring_ical_events.of(mini).after(lo.astimezone(tz))  # lazy, in start order
        while True:
            try:
                occ = next(occurrences, None)
            except Exception as exc:  # noqa: BLE001 - a broken RRULE/RDATE is this event's fault
                report.errors.append(Item(uid, summary, reason=f"cannot expand the recurrence: {exc}"))
                break
            if occ is None:
                break
            try:
                if _aware(occ.decoded("DTSTART"), tz) >= hi:
                    break
            except Exception:  # noqa: BLE001, S112 - reported below with the occurrence
                pass
            total += 1
            if total > MAX_OCCURRENCES:
                report.errors.append(
                    Item(uid, summary, reason=f"more than {MAX_OCCURRENCES} occurrences; shorten the horizon")
                )
                break
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
            item.start, item.end = start.astimezone(tz), end.astimezone(tz)
            _place(
                session,
                actor,
                inst,
                occ,
                item,
                start.astimezone(UTC),
                end.astimezone(UTC),
                now,
                existing,
                bookings,
                accepted,
                report,
            )

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
                kind=ExceptionKind.closed, start=start, end=end, reason=item.summary[:200] or "ics import", source="ics"
            ),
        )
        item.exception_id = exc.id
    accepted.append((start, end, item))
    report.created.append(item)
