"""Calendar subscriptions and iCalendar (RFC 5545) feeds of bookings. No HTTP here.

A *subscription* belongs to one user and names a scope (an instrument, a lab, an owner unit, an
operator or an enterprise). Its secret token is random (``secrets.token_urlsafe``), shown once,
stored as a SHA-256 hash; it can be rotated (the old URL stops working) or revoked.

What a feed shows depends on who owns the token, never on who fetches it: a booking the owner may
read in full (``scheduler.booking.bookings.can_see``) appears with instrument, enterprise, operator and
notes; any other booking in the scope appears only as anonymous busy time (``SUMMARY:Busy`` over
the blocked range, with an opaque UID that does not reveal the booking id).

Correctness for calendar clients:
- UIDs are stable (``<booking id>@labshare``); SEQUENCE is the booking's ``sequence`` (bumped on
  every move) plus one once cancelled; LAST-MODIFIED and DTSTAMP are the booking's ``updated_at``,
  so the body is a pure function of the data and the window (ETag = hash of the body).
- cancelled bookings stay ``STATUS:CANCELLED`` for ``CANCELLED_KEEP_DAYS`` after cancellation so
  clients that saw them remove them.
- events carry the instrument's zone (``DTSTART;TZID=Asia/Shanghai``) and a VTIMEZONE for it.
- the window is anchored at the start of the current UTC day, so a feed changes only when data
  changes or the day rolls over (``Last-Modified`` = max(updated_at, day anchor)).

Speed: icalendar serialises about 3-4k events per second, too slow to rebuild a year of
bookings on every poll. The feeds' VEVENTs are therefore written by a small RFC 5545 writer below
(~50k events per second, byte for byte icalendar's output, pinned by tests); icalendar still builds
the VCALENDAR header, the VTIMEZONEs (once per zone) and the iTIP invitation. Each VEVENT is
written once per distinct input (booking row + names it shows) and kept in a bounded LRU; the events of a *view* (scope, what the
owner may see, parameters, window, data version) are kept for ``BODY_TTL_SECONDS`` and shared by
every subscription with that view, where the data version is one aggregate query. The ETag is a
hash of the calendar header and the events' digest, so it changes exactly when the body does. Both caches are per process and only ever skip work whose inputs are
unchanged (renames of an instrument or enterprise show up within ``BODY_TTL_SECONDS``).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time as _time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress
from sqlalchemy import and_, func, or_
from sqlmodel import Field, Session, SQLModel, col, select

from instruments.actor import Actor, Role
from instruments.audit import record
from instruments.availability import AvailabilityException, ExceptionKind, OpeningRule, load_opening, zone
from instruments.db import utc_field, utcnow
from instruments.errors import Forbidden, InvalidState, NotFound
from instruments.ids import new_id
from instruments.inventory import Instrument, SharingMode
from instruments.staff import Operator, OperatorInstrument
from instruments.units import Lab, OwnerUnit
from scheduler.booking.bookings import LIVE, Booking, BookingStatus, can_see
from scheduler.booking.enterprises import Enterprise

FEED_TOKEN_PREFIX = "lcal_"
UID_DOMAIN = "labshare"
PRODID = "-//labshare//Calendar feeds 1.0//EN"
CANCELLED_KEEP_DAYS = 30
DEFAULT_PAST_DAYS = 30
DEFAULT_FUTURE_DAYS = 180
MAX_PAST_DAYS = 366
MAX_FUTURE_DAYS = 731
REFRESH = timedelta(minutes=15)
BODY_TTL_SECONDS = 60.0


class ScopeKind(StrEnum):
    instrument = "instrument"
    lab = "lab"
    unit = "unit"
    operator = "operator"
    enterprise = "enterprise"


class CalendarSubscription(SQLModel, table=True):
    """One user's secret feed URL over one scope. Only the token's hash is stored."""

    __tablename__ = "calendar_subscription"

    id: str = Field(default_factory=lambda: new_id("csub"), primary_key=True)
    user_id: str = Field(foreign_key="app_user.id", index=True)
    scope_kind: ScopeKind
    scope_id: str = Field(index=True)
    label: str = ""
    token_hash: str = Field(unique=True, index=True)
    token_hint: str = Field(default="", description="First characters of the token, to tell tokens apart")
    created_at: datetime = utc_field(default_factory=utcnow)
    rotated_at: datetime | None = utc_field(nullable=True, default=None)
    revoked_at: datetime | None = utc_field(nullable=True, default=None)


def hash_feed_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def _new_token() -> str:
    return FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)


# --- scope checks ------------------------------------------------------------------------------


def check_scope(session: Session, actor: Actor, kind: ScopeKind, scope_id: str) -> str:
    """Raise unless ``actor`` may subscribe to this scope; return a human name of the scope.

    Admins: anything. Lab managers: their unit, its labs, instruments and operators. Operators:
    themselves, and instruments they are assigned to (others' bookings as busy time). Enterprise
    members: their enterprise, and any externally shared instrument (others as busy time).
    Objects one may not know about (another enterprise, another operator) answer NotFound.
    """
    if kind == ScopeKind.instrument:
        inst = session.get(Instrument, scope_id)
        if inst is None:
            raise NotFound(f"No instrument {scope_id!r}.")
        if actor.manages_unit(inst.owner_unit_id):
            return inst.name
        if actor.role == Role.operator and actor.operator_id:
            if session.get(OperatorInstrument, (actor.operator_id, inst.id)) is not None:
                return inst.name
        if actor.role == Role.enterprise_member and inst.sharing_mode == SharingMode.external:
            return inst.name
        raise Forbidden(f"You may not subscribe to the calendar of {inst.name}.")
    if kind == ScopeKind.lab:
        lab = session.get(Lab, scope_id)
        if lab is None:
            raise NotFound(f"No lab {scope_id!r}.")
        actor.require_unit_manager(lab.owner_unit_id, f"the unit that runs {lab.name}")
        return lab.name
    if kind == ScopeKind.unit:
        unit = session.get(OwnerUnit, scope_id)
        if unit is None:
            raise NotFound(f"No owner unit {scope_id!r}.")
        actor.require_unit_manager(unit.id, unit.name)
        return unit.name
    if kind == ScopeKind.operator:
        op = session.get(Operator, scope_id)
        if op is not None and (actor.manages_unit(op.owner_unit_id) or actor.operator_id == op.id):
            return op.name
        raise NotFound(f"No operator {scope_id!r} whose calendar you may see.")
    if kind == ScopeKind.enterprise:
        ent = session.get(Enterprise, scope_id)
        if ent is not None and (actor.is_admin or actor.enterprise_id == ent.id):
            return ent.name
        raise NotFound(f"No enterprise {scope_id!r} whose calendar you may see.")
    raise NotFound(f"Unknown scope kind {kind!r}.")  # pragma: no cover - enum


# --- subscription life -------------------------------------------------------------------------


def create_subscription(
    session: Session, actor: Actor, kind: ScopeKind, scope_id: str, label: str = ""
) -> tuple[CalendarSubscription, str]:
    """A new subscription of ``actor``; returns it and the plain token (shown once)."""
    if actor.user_id is None:
        raise Forbidden("Calendar subscriptions belong to a user account.")
    kind = ScopeKind(kind)
    name = check_scope(session, actor, kind, scope_id)
    plain = _new_token()
    sub = CalendarSubscription(
        user_id=actor.user_id,
        scope_kind=kind,
        scope_id=scope_id,
        label=label or name,
        token_hash=hash_feed_token(plain),
        token_hint=plain[: len(FEED_TOKEN_PREFIX) + 4],
    )
    session.add(sub)
    session.flush()
    record(session, actor, "calendar_subscription.create", "calendar_subscription", sub.id, after=_audit_view(sub))
    return sub, plain


def _audit_view(sub: CalendarSubscription) -> dict[str, Any]:
    return sub.model_dump(mode="json", exclude={"token_hash"})


def own_subscription(session: Session, actor: Actor, sub_id: str) -> CalendarSubscription:
    sub = session.get(CalendarSubscription, sub_id)
    if sub is None or (sub.user_id != actor.user_id and not actor.is_admin):
        raise NotFound(f"No calendar subscription {sub_id!r} of yours.")
    return sub


def list_subscriptions(session: Session, actor: Actor, include_revoked: bool = False) -> list[CalendarSubscription]:
    q = select(CalendarSubscription).where(CalendarSubscription.user_id == actor.user_id)
    if not include_revoked:
        q = q.where(col(CalendarSubscription.revoked_at).is_(None))
    return list(session.exec(q.order_by(col(CalendarSubscription.created_at), col(CalendarSubscription.id))).all())


def rotate(session: Session, actor: Actor, sub_id: str) -> tuple[CalendarSubscription, str]:
    """A new secret for the same subscription; the old URL answers 404 from now on."""
    sub = own_subscription(session, actor, sub_id)
    if sub.revoked_at is not None:
        raise InvalidState(f"Subscription {sub.id} is revoked; create a new one.")
    before = _audit_view(sub)
    plain = _new_token()
    sub.token_hash = hash_feed_token(plain)
    sub.token_hint = plain[: len(FEED_TOKEN_PREFIX) + 4]
    sub.rotated_at = utcnow()
    session.add(sub)
    session.flush()
    record(
        session,
        actor,
        "calendar_subscription.rotate",
        "calendar_subscription",
        sub.id,
        before=before,
        after=_audit_view(sub),
    )
    return sub, plain


def revoke(session: Session, actor: Actor, sub_id: str) -> CalendarSubscription:
    sub = own_subscription(session, actor, sub_id)
    if sub.revoked_at is None:
        sub.revoked_at = utcnow()
        session.add(sub)
        session.flush()
        record(session, actor, "calendar_subscription.revoke", "calendar_subscription", sub.id)
    return sub


def find_by_token(session: Session, plain: str) -> CalendarSubscription:
    """The live subscription behind a feed token; unknown, rotated-away and revoked all answer the
    same NotFound (a 403 would confirm the token once existed)."""
    sub = session.exec(
        select(CalendarSubscription).where(CalendarSubscription.token_hash == hash_feed_token(plain))
    ).first()
    if sub is None or sub.revoked_at is not None:
        raise NotFound("No such calendar feed.")
    return sub


# --- feed window and data ----------------------------------------------------------------------


@dataclass(frozen=True)
class FeedParams:
    past_days: int = DEFAULT_PAST_DAYS
    future_days: int = DEFAULT_FUTURE_DAYS
    availability: bool = False

    def clamped(self) -> FeedParams:
        return FeedParams(
            max(0, min(self.past_days, MAX_PAST_DAYS)),
            max(1, min(self.future_days, MAX_FUTURE_DAYS)),
            self.availability,
        )


@dataclass(frozen=True)
class Window:
    anchor: datetime  # start of the current UTC day
    start: datetime
    end: datetime
    cancelled_since: datetime


def window(params: FeedParams, now: datetime) -> Window:
    anchor = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)
    return Window(
        anchor,
        anchor - timedelta(days=params.past_days),
        anchor + timedelta(days=params.future_days + 1),
        anchor - timedelta(days=CANCELLED_KEEP_DAYS),
    )


def _scope_filter(kind: ScopeKind, scope_id: str) -> Any:
    return {
        ScopeKind.instrument: Booking.instrument_id == scope_id,
        ScopeKind.lab: Instrument.lab_id == scope_id,
        ScopeKind.unit: Instrument.owner_unit_id == scope_id,
        ScopeKind.operator: Booking.operator_id == scope_id,
        ScopeKind.enterprise: Booking.enterprise_id == scope_id,
    }[kind]


def _in_window(w: Window) -> Any:
    shown = or_(
        col(Booking.status).in_([*LIVE, BookingStatus.no_show]),
        and_(Booking.status == BookingStatus.cancelled, Booking.cancelled_at >= w.cancelled_since),
    )
    return and_(Booking.end > w.start, Booking.start < w.end, shown)


_COLUMNS = (
    Booking.id,
    Booking.instrument_id,
    Booking.enterprise_id,
    Booking.operator_id,
    Booking.service_mode,
    Booking.start,
    Booking.end,
    Booking.blocked_start,
    Booking.blocked_end,
    Booking.status,
    Booking.sample_count,
    Booking.notes,
    Booking.sequence,
    Booking.created_at,
    Booking.updated_at,
    Booking.cancel_reason,
    Instrument.owner_unit_id,
)


def _instruments_in_scope(session: Session, kind: ScopeKind, scope_id: str) -> list[Instrument]:
    if kind == ScopeKind.instrument:
        inst = session.get(Instrument, scope_id)
        return [inst] if inst else []
    if kind == ScopeKind.lab:
        return list(session.exec(select(Instrument).where(Instrument.lab_id == scope_id)).all())
    if kind == ScopeKind.unit:
        return list(session.exec(select(Instrument).where(Instrument.owner_unit_id == scope_id)).all())
    return []


# --- rendering ---------------------------------------------------------------------------------


class _LRU:
    """A small thread-safe LRU (a cache only: it never decides anything)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
            return v

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()


_EVENTS = _LRU(50_000)
_BODIES = _LRU(1_024)


def clear_caches() -> None:
    _EVENTS.clear()
    _BODIES.clear()


def _memo(key: tuple, build: Callable[[], bytes]) -> bytes:
    hit = _EVENTS.get(key)
    if hit is None:
        hit = build()
        _EVENTS.put(key, hit)
    return hit


@lru_cache(maxsize=64)
def vtimezone(tzid: str) -> bytes:
    """The VTIMEZONE of an IANA zone, generated by icalendar from the zoneinfo rules."""
    return Timezone.from_tzid(tzid, first_date=date(2015, 1, 1), last_date=date(2038, 1, 1)).to_ical()


def ical_sequence(status: str, sequence: int) -> int:
    """SEQUENCE: the booking's move counter, plus one once it is cancelled (a cancellation is a
    significant change for RFC 5546 clients)."""
    return sequence + (1 if status == BookingStatus.cancelled else 0)


def ical_status(status: str) -> str:
    if status == BookingStatus.cancelled:
        return "CANCELLED"
    if status == BookingStatus.tentative:
        return "TENTATIVE"
    return "CONFIRMED"


def busy_uid(booking_id: str) -> str:
    return f"busy-{hashlib.sha256(('busy:' + booking_id).encode()).hexdigest()[:24]}@{UID_DOMAIN}"


@dataclass(frozen=True)
class Names:
    instrument: str
    location: str
    tzid: str
    enterprise: str
    operator: str


# --- a small RFC 5545 VEVENT writer ------------------------------------------------------------
#
# icalendar builds and serialises a VEVENT in ~250 µs (a third of it folding lines char by char);
# the feeds write their VEVENTs with the few helpers below instead, byte for byte what icalendar
# 7 writes for the same properties (same canonical property order, escaping, date forms and
# folding; tests/calendar/test_ics_writer.py pins the equality). The VCALENDAR header and the
# VTIMEZONEs are still icalendar's (built once and cached); so is the iTIP invitation.

_CRLF = b"\r\n"
_FOLD = b"\r\n "
_LINE_OCTETS = 74  # icalendar folds before a line would reach 75 octets (continuations: 1 + 74)


def _fold(line: str) -> bytes:
    """One content line, UTF-8, folded as icalendar folds it: at most 74 octets of content per
    physical line (a continuation adds its leading space), never inside a multi-byte character,
    and never right after a ``\\`` or ``^`` (the escape moves to the next line whole)."""
    b = line.encode()
    n = len(b)
    if n <= _LINE_OCTETS:
        return b + _CRLF
    parts = []
    i = 0
    while n - i > _LINE_OCTETS:
        j = i + _LINE_OCTETS
        while b[j] & 0xC0 == 0x80:  # a UTF-8 continuation byte: back off to the character start
            j -= 1
        if b[j - 1] in b"\\^":
            j -= 1
        parts.append(b[i:j])
        i = j
    parts.append(b[i:])
    return _FOLD.join(parts) + _CRLF


def ical_text(value: str) -> str:
    """A TEXT value escaped per RFC 5545 §3.3.11: ``\\`` ``;`` ``,`` and newlines (CRLF, LF or a
    lone CR all become ``\\n``). Unlike icalendar, a literal ``\\N`` in the input stays literal."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _text(name: str, value: str) -> bytes:
    return _fold(f"{name}:{ical_text(value)}")


def _utc(name: str, dt: datetime) -> bytes:
    """DTSTAMP / CREATED / LAST-MODIFIED: always UTC (a naive value is taken as UTC)."""
    d = dt.astimezone(UTC) if dt.tzinfo is not None else dt
    return f"{name}:{d.year:04}{d.month:02}{d.day:02}T{d.hour:02}{d.minute:02}{d.second:02}Z\r\n".encode()


@lru_cache(maxsize=256)
def _tzid_param(key: str) -> str | None:
    """How icalendar writes a date-time in the IANA zone ``key``: ``;TZID=<key>`` (as icalendar
    spells and quotes it), or None when it writes UTC (``Z``: UTC and its aliases)."""
    ev = Event()
    ev.add("dtstart", datetime(2020, 1, 1, 12, tzinfo=zone(key)))
    line = ev.to_ical().split(b"\r\n")[1].decode()
    if line.endswith("Z"):
        return None
    param = line[len("DTSTART") : line.rindex(":")]
    assert param.startswith(";TZID="), line
    return param


def _local(name: str, dt: datetime) -> bytes:
    """DTSTART / DTEND in the value's own zone: ``NAME;TZID=Zone:YYYYMMDDTHHMMSS``."""
    tz = dt.tzinfo
    if isinstance(tz, ZoneInfo):
        param = _tzid_param(tz.key)
    elif tz is UTC:
        param = None
    else:  # another tzinfo (never produced here): let icalendar say how it writes it
        ev = Event()
        ev.add(name, dt)
        return ev.to_ical().split(b"\r\n", 1)[1].removesuffix(b"END:VEVENT\r\n")
    stamp = f"{dt.year:04}{dt.month:02}{dt.day:02}T{dt.hour:02}{dt.minute:02}{dt.second:02}"
    if param is None:
        return _fold(f"{name}:{stamp}Z")
    return _fold(f"{name}{param}:{stamp}")


def _vevent(*lines: bytes) -> bytes:
    return b"BEGIN:VEVENT\r\n" + b"".join(lines) + b"END:VEVENT\r\n"


def _full_texts(b: Any, n: Names) -> tuple[str, str]:
    """SUMMARY and DESCRIPTION of a booking shown in full."""
    who = n.enterprise or "internal use"
    summary = f"{'Cancelled: ' if b.status == BookingStatus.cancelled else ''}{n.instrument} · {who}"
    lines = [f"Booking {b.id} ({b.status}), {b.service_mode}"]
    if b.sample_count:
        lines.append(f"Samples: {b.sample_count}")
    if n.operator:
        lines.append(f"Operator: {n.operator}")
    if b.notes:
        lines.append(f"Notes: {b.notes}")
    if b.status == BookingStatus.cancelled and b.cancel_reason:
        lines.append(f"Cancelled: {b.cancel_reason}")
    return summary, "\n".join(lines)


def _transp(status: str) -> str:
    return "TRANSPARENT" if status == BookingStatus.cancelled else "OPAQUE"


def full_vevent(b: Any, n: Names) -> bytes:
    """A booking shown in full, as VEVENT text (what ``_full_event(b, n).to_ical()`` writes)."""
    tz = zone(n.tzid)
    summary, description = _full_texts(b, n)
    return _vevent(
        _text("SUMMARY", summary),
        _local("DTSTART", b.start.astimezone(tz)),
        _local("DTEND", b.end.astimezone(tz)),
        _utc("DTSTAMP", b.updated_at),
        _text("UID", f"{b.id}@{UID_DOMAIN}"),
        b"SEQUENCE:%d\r\n" % ical_sequence(b.status, b.sequence),
        _utc("CREATED", b.created_at),
        _text("DESCRIPTION", description),
        _utc("LAST-MODIFIED", b.updated_at),
        _text("LOCATION", n.location) if n.location else b"",
        _text("STATUS", ical_status(b.status)),
        _text("TRANSP", _transp(b.status)),
    )


def busy_vevent(b: Any, tzid: str) -> bytes:
    """Another's booking as anonymous busy time (what ``_busy_event(b, tzid).to_ical()`` writes)."""
    tz = zone(tzid)
    return _vevent(
        b"SUMMARY:Busy\r\n",
        _local("DTSTART", b.blocked_start.astimezone(tz)),
        _local("DTEND", b.blocked_end.astimezone(tz)),
        _utc("DTSTAMP", b.updated_at),
        _text("UID", busy_uid(b.id)),
        b"SEQUENCE:%d\r\n" % ical_sequence(b.status, b.sequence),
        _utc("LAST-MODIFIED", b.updated_at),
        b"STATUS:CANCELLED\r\n" if b.status == BookingStatus.cancelled else b"STATUS:CONFIRMED\r\n",
        _text("TRANSP", _transp(b.status)),
    )


def _open_uid(inst: Instrument, lo: datetime) -> str:
    return f"open-{inst.id}-{lo.astimezone(UTC):%Y%m%dT%H%M%SZ}@{UID_DOMAIN}"


def open_vevent(inst: Instrument, lo: datetime, hi: datetime, stamp: datetime) -> bytes:
    return _vevent(
        _text("SUMMARY", f"Open · {inst.name}"),
        _local("DTSTART", lo),
        _local("DTEND", hi),
        _utc("DTSTAMP", stamp),
        _text("UID", _open_uid(inst, lo)),
        b"TRANSP:TRANSPARENT\r\n",
    )


def _closed_summary(inst: Instrument, exc: AvailabilityException) -> str:
    """"Closed · <instrument>: <title>" (the public title, else the reason, as the web page says it)."""
    what = exc.title or exc.reason
    return f"Closed · {inst.name}{': ' + what if what else ''}"


def closed_vevent(inst: Instrument, exc: AvailabilityException, stamp: datetime) -> bytes:
    tz = zone(inst.timezone)
    return _vevent(
        _text("SUMMARY", _closed_summary(inst, exc)),
        _local("DTSTART", exc.start.astimezone(tz)),
        _local("DTEND", exc.end.astimezone(tz)),
        _utc("DTSTAMP", stamp),
        _text("UID", f"{exc.id}@{UID_DOMAIN}"),
        b"TRANSP:TRANSPARENT\r\n",
    )


# The same events built with icalendar: the invitation (which adds ORGANIZER/ATTENDEE) starts from
# ``_full_event``; the tests hold the writers above to these byte for byte.


def _full_event(b: Any, n: Names) -> Event:
    tz = zone(n.tzid)
    summary, description = _full_texts(b, n)
    ev = Event()
    ev.add("uid", f"{b.id}@{UID_DOMAIN}")
    ev.add("dtstamp", b.updated_at)
    ev.add("created", b.created_at)
    ev.add("last-modified", b.updated_at)
    ev.add("sequence", ical_sequence(b.status, b.sequence))
    ev.add("dtstart", b.start.astimezone(tz))
    ev.add("dtend", b.end.astimezone(tz))
    ev.add("summary", summary)
    ev.add("status", ical_status(b.status))
    ev.add("transp", _transp(b.status))
    if n.location:
        ev.add("location", n.location)
    ev.add("description", description)
    return ev


def _busy_event(b: Any, tzid: str) -> Event:
    tz = zone(tzid)
    ev = Event()
    ev.add("uid", busy_uid(b.id))
    ev.add("dtstamp", b.updated_at)
    ev.add("last-modified", b.updated_at)
    ev.add("sequence", ical_sequence(b.status, b.sequence))
    ev.add("dtstart", b.blocked_start.astimezone(tz))
    ev.add("dtend", b.blocked_end.astimezone(tz))
    ev.add("summary", "Busy")
    ev.add("status", "CANCELLED" if b.status == BookingStatus.cancelled else "CONFIRMED")
    ev.add("transp", _transp(b.status))
    return ev


def _open_event(inst: Instrument, lo: datetime, hi: datetime, stamp: datetime) -> Event:
    ev = Event()
    ev.add("uid", _open_uid(inst, lo))
    ev.add("dtstamp", stamp)
    ev.add("dtstart", lo)
    ev.add("dtend", hi)
    ev.add("summary", f"Open · {inst.name}")
    ev.add("transp", "TRANSPARENT")
    return ev


def _closed_event(inst: Instrument, exc: AvailabilityException, stamp: datetime) -> Event:
    tz = zone(inst.timezone)
    ev = Event()
    ev.add("uid", f"{exc.id}@{UID_DOMAIN}")
    ev.add("dtstamp", stamp)
    ev.add("dtstart", exc.start.astimezone(tz))
    ev.add("dtend", exc.end.astimezone(tz))
    ev.add("summary", _closed_summary(inst, exc))
    ev.add("transp", "TRANSPARENT")
    return ev


def _calendar_head(name: str, tzids: Iterable[str], method: str | None = None) -> tuple[bytes, bytes]:
    """Header (with VTIMEZONEs) and footer of a VCALENDAR, built by icalendar."""
    return _head(name, tuple(sorted(set(tzids))), method)


@lru_cache(maxsize=4096)
def _head(name: str, tzids: tuple[str, ...], method: str | None) -> tuple[bytes, bytes]:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT15M")
    if tzids:
        cal.add("x-wr-timezone", tzids[0])
    text = cal.to_ical()
    footer = b"END:VCALENDAR\r\n"
    assert text.endswith(footer)
    return text[: -len(footer)] + b"".join(vtimezone(t) for t in tzids), footer


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    etag: str
    last_modified: datetime
    events: int


def _view_key(actor: Actor) -> tuple:
    """What decides which bookings an owner sees in full (``can_see``): role and scope, not the user."""
    return (str(actor.role), actor.owner_unit_id, actor.enterprise_id, actor.operator_id)


def data_version(session: Session, sub: CalendarSubscription, params: FeedParams, w: Window) -> tuple:
    """A cheap fingerprint of everything the feed's bookings depend on (one aggregate query),
    plus availability rows when they are shown. Equal fingerprints → equal booking data."""
    q = (
        select(func.count(), func.max(Booking.updated_at))
        .select_from(Booking)
        .join(Instrument, Instrument.id == Booking.instrument_id)
        .where(_scope_filter(sub.scope_kind, sub.scope_id), _in_window(w))
    )
    count, latest = session.exec(q).one()  # type: ignore[call-overload]
    version: tuple = (count, str(latest))
    if params.availability:
        ids = [i.id for i in _instruments_in_scope(session, sub.scope_kind, sub.scope_id)]
        excs = session.exec(
            select(AvailabilityException.id, AvailabilityException.start, AvailabilityException.end)
            .where(col(AvailabilityException.instrument_id).in_(ids))
            .where(AvailabilityException.end > w.start, AvailabilityException.start < w.end)
        ).all()
        rules = session.exec(
            select(OpeningRule.id, OpeningRule.rrule, OpeningRule.start_time, OpeningRule.end_time)
            .where(col(OpeningRule.instrument_id).in_(ids))
            .order_by(col(OpeningRule.id))
        ).all()
        digest = hashlib.sha256(repr((sorted(map(tuple, excs)), list(map(tuple, rules)))).encode()).hexdigest()
        version += (digest,)
    return version


@dataclass(frozen=True)
class _Events:
    """The VEVENTs of one view (scope × what the owner may see × window), shared by every
    subscription with that view; the calendar header (name) is per subscription."""

    blob: bytes
    digest: str
    latest: datetime
    tzids: tuple[str, ...]
    count: int


def _assemble(sub: CalendarSubscription, ev: _Events) -> RenderedFeed:
    head, foot = _calendar_head(sub.label or f"labshare {sub.scope_kind}", ev.tzids)
    etag = '"' + hashlib.sha256(head + ev.digest.encode()).hexdigest()[:32] + '"'
    return RenderedFeed(head + ev.blob + foot, etag, ev.latest, ev.count)


def render_feed(
    session: Session, sub: CalendarSubscription, actor: Actor, params: FeedParams, now: datetime | None = None
) -> RenderedFeed:
    """The feed body for ``sub`` as seen by its owner ``actor`` (no body cache; events cached)."""
    params = params.clamped()
    return _assemble(sub, _render_events(session, sub, actor, params, window(params, now or utcnow())))


def _render_events(session: Session, sub: CalendarSubscription, actor: Actor, params: FeedParams, w: Window) -> _Events:
    rows = session.exec(
        select(*_COLUMNS)  # type: ignore[call-overload]
        .join(Instrument, Instrument.id == Booking.instrument_id)
        .where(_scope_filter(sub.scope_kind, sub.scope_id), _in_window(w))
        .order_by(col(Booking.start), col(Booking.id))
    ).all()
    inst_ids = {r.instrument_id for r in rows}
    scope_insts = _instruments_in_scope(session, sub.scope_kind, sub.scope_id) if params.availability else []
    inst_ids |= {i.id for i in scope_insts}
    insts = {i.id: i for i in session.exec(select(Instrument).where(col(Instrument.id).in_(inst_ids))).all()}
    lab_ids = {i.lab_id for i in insts.values() if i.lab_id}
    labs = {lab.id: lab for lab in session.exec(select(Lab).where(col(Lab.id).in_(lab_ids))).all()} if lab_ids else {}
    full_rows = [r for r in rows if can_see(actor, r, r)]
    ent_ids = {r.enterprise_id for r in full_rows if r.enterprise_id}
    ents = (
        dict(session.exec(select(Enterprise.id, Enterprise.name).where(col(Enterprise.id).in_(ent_ids))).all())
        if ent_ids
        else {}
    )
    op_ids = {r.operator_id for r in full_rows if r.operator_id}
    ops = (
        dict(session.exec(select(Operator.id, Operator.name).where(col(Operator.id).in_(op_ids))).all())
        if op_ids
        else {}
    )

    def location(inst: Instrument) -> str:
        lab = labs.get(inst.lab_id or "")
        parts = [inst.location] if inst.location else []
        if lab is not None and not inst.location:
            parts = [p for p in (lab.name, lab.building, lab.room) if p]
        return ", ".join(parts)

    chunks: list[bytes] = []
    latest = w.anchor
    for r in rows:
        inst = insts[r.instrument_id]
        latest = max(latest, r.updated_at)
        if can_see(actor, r, r):
            names = Names(
                inst.name, location(inst), inst.timezone, ents.get(r.enterprise_id, ""), ops.get(r.operator_id, "")
            )
            key = ("full", tuple(r), names)
            chunks.append(_memo(key, lambda r=r, names=names: full_vevent(r, names)))
        else:
            key = ("busy", r.id, r.blocked_start, r.blocked_end, r.status, r.sequence, r.updated_at, inst.timezone)
            chunks.append(_memo(key, lambda r=r, tzid=inst.timezone: busy_vevent(r, tzid)))
    for inst in scope_insts:
        tz = zone(inst.timezone)
        spans, _ = load_opening(session, inst.id, tz, w.start, w.end)
        for lo, hi in spans:
            key = ("open", inst.id, inst.name, lo, hi, w.anchor)
            chunks.append(_memo(key, lambda inst=inst, lo=lo, hi=hi: open_vevent(inst, lo, hi, w.anchor)))
        closed = session.exec(
            select(AvailabilityException).where(
                AvailabilityException.instrument_id == inst.id,
                AvailabilityException.kind == ExceptionKind.closed,
                AvailabilityException.end > w.start,
                AvailabilityException.start < w.end,
            )
        ).all()
        for exc in closed:
            key = ("closed", exc.id, exc.start, exc.end, exc.title, exc.reason, inst.name, inst.timezone, w.anchor)
            chunks.append(_memo(key, lambda inst=inst, exc=exc: closed_vevent(inst, exc, w.anchor)))
    tzids = tuple(sorted({i.timezone for i in insts.values()} or {"Asia/Shanghai"}))
    blob = b"".join(chunks)
    return _Events(blob, hashlib.sha256(blob).hexdigest(), latest, tzids, len(chunks))


def get_feed(
    session: Session, sub: CalendarSubscription, actor: Actor, params: FeedParams, now: datetime | None = None
) -> RenderedFeed:
    """The feed, its events from the view cache when the data version and parameters are unchanged."""
    now = now or utcnow()
    params = params.clamped()
    check_scope(session, actor, sub.scope_kind, sub.scope_id)  # the owner may have lost the right
    w = window(params, now)
    key = (sub.scope_kind, sub.scope_id, _view_key(actor), params, w.anchor, data_version(session, sub, params, w))
    hit = _BODIES.get(key)
    if hit is None or _time.monotonic() - hit[0] >= BODY_TTL_SECONDS:
        with _render_lock(key):  # many pollers of one view after a change: one renders, the rest reuse
            hit = _BODIES.get(key)
            if hit is None or _time.monotonic() - hit[0] >= BODY_TTL_SECONDS:
                hit = (_time.monotonic(), _render_events(session, sub, actor, params, w))
                _BODIES.put(key, hit)
    return _assemble(sub, hit[1])


_LOCKS: dict[Hashable, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _render_lock(key: Hashable) -> threading.Lock:
    """A per-view lock against a render stampede inside one process (a cache detail, not a
    correctness guard: without it the result is the same, only computed more than once)."""
    with _LOCKS_GUARD:
        if len(_LOCKS) > 10_000:
            _LOCKS.clear()
        return _LOCKS.setdefault(key, threading.Lock())


# --- one booking: download and invitation ------------------------------------------------------


def _names_for(session: Session, booking: Booking, inst: Instrument) -> Names:
    ent = session.get(Enterprise, booking.enterprise_id) if booking.enterprise_id else None
    op = session.get(Operator, booking.operator_id) if booking.operator_id else None
    lab = session.get(Lab, inst.lab_id) if inst.lab_id else None
    loc = inst.location or (", ".join(p for p in (lab.name, lab.building, lab.room) if p) if lab else "")
    return Names(inst.name, loc, inst.timezone, ent.name if ent else "", op.name if op else "")


def _row(booking: Booking, inst: Instrument) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(**booking.model_dump(), owner_unit_id=inst.owner_unit_id)


def booking_ics(session: Session, booking: Booking, inst: Instrument) -> bytes:
    """One booking as a METHOD:PUBLISH calendar (the caller has checked visibility)."""
    ev = full_vevent(_row(booking, inst), _names_for(session, booking, inst))
    head, foot = _calendar_head(f"{inst.name} booking {booking.id}", [inst.timezone], method="PUBLISH")
    return head + ev + foot


def invitation_ics(
    session: Session, actor: Actor, booking: Booking, inst: Instrument, now: datetime | None = None
) -> bytes:
    """An iTIP (RFC 5546) invitation for the booking's operator: METHOD:REQUEST, or METHOD:CANCEL
    once cancelled; ORGANIZER is the owner unit, ATTENDEE the operator."""
    if not (
        actor.manages_unit(inst.owner_unit_id) or (booking.operator_id and actor.operator_id == booking.operator_id)
    ):
        raise Forbidden("Invitations are for the booking's operator and the unit's lab managers.")
    if not booking.operator_id:
        raise InvalidState(f"Booking {booking.id} has no operator assigned; there is nobody to invite.")
    op = session.get(Operator, booking.operator_id)
    unit = session.get(OwnerUnit, inst.owner_unit_id)
    assert op is not None and unit is not None
    cancelled = booking.status == BookingStatus.cancelled
    ev = _full_event(_row(booking, inst), _names_for(session, booking, inst))
    ev.pop("DTSTAMP")
    ev.add("dtstamp", now or utcnow())
    organizer = vCalAddress(f"mailto:{unit.contact_email or f'{unit.id}@{UID_DOMAIN}.invalid'}")
    organizer.params["CN"] = unit.name
    ev.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{op.email or f'{op.id}@{UID_DOMAIN}.invalid'}")
    attendee.params.update(
        {"CN": op.name, "ROLE": "REQ-PARTICIPANT", "CUTYPE": "INDIVIDUAL", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}
    )
    if cancelled:
        attendee.params.pop("PARTSTAT")
        attendee.params.pop("RSVP")
    ev.add("attendee", attendee)
    method = "CANCEL" if cancelled else "REQUEST"
    head, foot = _calendar_head(f"{inst.name} booking {booking.id}", [inst.timezone], method=method)
    return head + ev.to_ical() + foot
