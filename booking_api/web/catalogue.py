"""The public catalogue pages, steps 1–2 of an enterprise's journey: find an instrument (``/``),
look at it and at the time one could book (``/instruments/{id}``, with the week's bookable slots
as JSON for the calendar at ``/instruments/{id}/bookable.json``), and its owner unit
(``/owner-units/{id}``).

Search is ``instruments.search`` with the API's filters; bookable time is
``scheduler.booking.bookable.bookable_time`` for the signed-in enterprise member (the service
behind ``GET /api/v1/instruments/{id}/bookable``); signed-out visitors and staff see the published
opening time (``opening_time``). Every bookable slot links to the booking form at
``/instruments/{id}/book?service_mode=…&start=…&duration_minutes=…`` (or ``sample_count=…``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session, col, func, select

from instruments.actor import Role
from instruments.availability import zone
from instruments.catalogue import get_instrument
from instruments.db import MAX_FEN, utcnow
from instruments.errors import DomainError, NotFound
from instruments.inventory import Instrument, ServiceMode
from instruments.policy import BookingPolicy, policy_of
from instruments.search import search
from instruments.unit_page import items as published_items
from instruments.units import Lab, OwnerUnit
from scheduler.booking.bookable import BookableTime, ClosedTime, bookable_time, opening_time
from scheduler.booking.free_time import free_within

from ..deps import SessionDep
from .error_pages import not_found_page
from .instrument_words import (
    category_name,
    closed_label,
    gettext,
    policy_sentences,
    refusal,
    service_mode_name,
    span,
    status_name,
)
from .signin import MaybeWebUser, login_url
from .templating import render

router = APIRouter(include_in_schema=False)

MAX_QUERY = 200
WEEK = timedelta(days=7)
WEEKS_BACK = 4  # the furthest week back a page shows (all of it past)
WEEKS_AHEAD = 60  # the furthest week ahead (policies allow booking up to two years ahead)
MAX_DURATION = 31 * 1440
MAX_SAMPLES = 10_000


class BadFilter(ValueError):
    """A query parameter a person could have typed wrong: the page says which, with status 400."""


def _yuan_to_fen(value: str | None, label: str, _: Any) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        amount = Decimal(value.strip().replace(",", "").lstrip("¥￥"))
    except InvalidOperation:
        raise BadFilter(_('{field}: "{value}" is not an amount in yuan.').format(field=label, value=value)) from None
    if not amount.is_finite() or amount < 0 or amount * 100 > MAX_FEN:
        raise BadFilter(_('{field}: "{value}" is not an amount in yuan.').format(field=label, value=value))
    return int(amount * 100)


def _categories(session: Session, lang: str) -> list[tuple[str, str, int]]:
    rows = session.exec(
        select(Instrument.category, func.count()).group_by(Instrument.category).order_by(Instrument.category)
    ).all()
    return [(c, category_name(c, lang), n) for c, n in rows if c]


@router.get("/")
def find(
    request: Request,
    session: SessionDep,
    web_user: MaybeWebUser,
    q: str = "",
    category: str = "",
    owner_unit: str = "",
    service_mode: str = "",
    min_yuan: str = "",
    max_yuan: str = "",
    this_week: str = "",
) -> Response:
    """Search the catalogue: words over names, model, maker, category and owner unit, in Chinese
    or English, with filters; the API's search (``instruments.search``), best match first."""
    lang = request.state.lang
    _ = gettext(lang)
    units = {u.id: u for u in session.exec(select(OwnerUnit).order_by(OwnerUnit.name)).all()}
    owning = set(session.exec(select(Instrument.owner_unit_id).distinct()).all())
    form = {
        "q": q,
        "category": category,
        "owner_unit": owner_unit,
        "service_mode": service_mode,
        "min_yuan": min_yuan,
        "max_yuan": max_yuan,
        "this_week": this_week,
    }
    context: dict[str, Any] = {
        "form": form,
        "categories": _categories(session, lang),
        "units": [u for u in units.values() if u.id in owning],
        "modes": [(m.value, service_mode_name(m.value, _)) for m in ServiceMode],
        "searched": any(v.strip() for v in form.values()),
    }
    try:
        if any(len(v) > MAX_QUERY for v in form.values()):
            raise BadFilter(_("A search may have at most {n} characters.").format(n=MAX_QUERY))
        if service_mode and service_mode not in {m.value for m in ServiceMode}:
            raise BadFilter(_('Service mode: "{value}" is not one of the choices.').format(value=service_mode))
        if owner_unit and owner_unit not in units:
            raise BadFilter(_('Owner unit: "{value}" is not one of the choices.').format(value=owner_unit))
        lo = _yuan_to_fen(min_yuan, _("Lowest fee per hour"), _)
        hi = _yuan_to_fen(max_yuan, _("Highest fee per hour"), _)
    except BadFilter as e:
        return render(request, "catalogue.html", status_code=400, error=str(e), results=[], **context)
    mode = ServiceMode(service_mode) if service_mode else None
    rows = search(
        session,
        q=q.strip() or None,
        category=category.strip() or None,
        owner_unit_id=owner_unit or None,
        service_mode=mode,
        min_fee_hour_fen=lo,
        max_fee_hour_fen=hi,
    )
    if this_week:
        rows = free_within(session, rows, utcnow(), 7, service_mode or None)
    results = [
        {
            "instrument": r,
            "unit": units.get(r.owner_unit_id),
            "category": category_name(r.category, lang),
            "modes": [service_mode_name(m, _) for m in r.service_modes],
        }
        for r in rows
    ]
    return render(request, "catalogue.html", results=results, **context)


@dataclass
class Day:
    """One day of the week shown: its bookable slots (with their booking links), its opening
    time, and its closed time with the reason."""

    day: date
    slots: list[tuple[datetime, datetime, str]] = field(default_factory=list)
    open: list[tuple[datetime, datetime]] = field(default_factory=list)
    closed: list[tuple[datetime, datetime, str]] = field(default_factory=list)

    @property
    def hours(self) -> str:
        return ", ".join(f"{s:%H:%M}–{_clock(e, s)}" for s, e in self.open)


def _clock(end: datetime, start: datetime) -> str:
    """An end time on the start's day: next midnight is 24:00."""
    return "24:00" if end.date() != start.date() else f"{end:%H:%M}"


def book_url(instrument_id: str, mode: str, start: datetime, minutes: int, samples: int | None) -> str:
    """The booking form's address for one slot (the contract with ``/instruments/{id}/book``)."""
    params: dict[str, str | int] = {"service_mode": mode, "start": start.isoformat()}
    if samples:
        params["sample_count"] = samples
    else:
        params["duration_minutes"] = minutes
    return f"/instruments/{instrument_id}/book?{urlencode(params)}"


def _split_by_day(start: datetime, end: datetime, tz) -> list[tuple[datetime, datetime]]:
    out = []
    s, e = start.astimezone(tz), end.astimezone(tz)
    while s < e:
        midnight = datetime.combine(s.date() + timedelta(days=1), time(0), tz)
        out.append((s, min(e, midnight)))
        s = midnight
    return out


def _days(
    first: date,
    tz,
    closed: list[ClosedTime],
    _: Any,
    open_: list[tuple[datetime, datetime]] = (),
    slots: list[tuple[datetime, datetime, str]] = (),
) -> list[Day]:
    days = {first + timedelta(days=i): Day(first + timedelta(days=i)) for i in range(7)}
    for s, e, url in slots:
        d = days.get(s.astimezone(tz).date())
        if d:
            d.slots.append((s.astimezone(tz), e.astimezone(tz), url))
    for s0, e0 in open_:
        for s, e in _split_by_day(s0, e0, tz):
            if s.date() in days:
                days[s.date()].open.append((s, e))
    for c in closed:
        for s, e in _split_by_day(c.start, c.end, tz):
            whole_day = s.time() == time(0) and e.date() != s.date()
            if c.reason == "outside_opening_hours" and not whole_day:
                continue  # the hours between openings: the list says when it is open or bookable
            if s.date() in days:
                days[s.date()].closed.append((s, e, closed_label(c.reason, c.detail, _, c.note)))
    return list(days.values())


def _int(value: str, label: str, lo: int, hi: int, _: Any) -> int | None:
    if not value.strip():
        return None
    try:
        n = int(value.strip())
    except ValueError:
        n = None
    if n is None or not lo <= n <= hi:
        raise BadFilter(_("{field}: give a whole number from {lo} to {hi}.").format(field=label, lo=lo, hi=hi))
    return n


def _week_start(value: str, today: date, _: Any) -> date:
    """The first day of the week shown: a date (YYYY-MM-DD) or an ISO time; default today."""
    if not value.strip():
        return today
    try:
        first = date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise BadFilter(_('Week: "{value}" is not a date like 2026-12-07.').format(value=value)) from None
    if not today - WEEK * WEEKS_BACK <= first <= today + WEEK * WEEKS_AHEAD:
        raise BadFilter(
            _("Week: choose a week between {lo} and {hi}.").format(
                lo=today - WEEK * WEEKS_BACK, hi=today + WEEK * WEEKS_AHEAD
            )
        )
    return first


@dataclass
class Choice:
    """What the enterprise member asked to book: a service mode and a length or a sample count."""

    service_mode: str
    duration_minutes: int | None
    sample_count: int | None


def _choice(inst: Instrument, policy: BookingPolicy, mode: str, duration: str, samples: str, _: Any) -> Choice:
    if len(mode) > 40:
        raise BadFilter(_('Service mode: "{value}" is not one of the choices.').format(value=mode[:40]))
    mode = mode or (inst.service_modes[0] if inst.service_modes else ServiceMode.operator_run.value)
    n_samples = _int(samples, _("Number of samples"), 1, MAX_SAMPLES, _)
    minutes = None if n_samples else _int(duration, _("Duration in minutes"), 1, MAX_DURATION, _)
    if not n_samples and minutes is None:
        minutes = policy.min_minutes
    return Choice(mode, minutes, n_samples)


def _bookable_week(session: Session, web_user, inst: Instrument, choice: Choice, first: date) -> BookableTime:
    tz = zone(inst.timezone)
    lo = datetime.combine(first, time(0), tz)
    return bookable_time(
        session,
        web_user.user.actor(),
        inst.id,
        choice.service_mode,
        duration_minutes=choice.duration_minutes,
        sample_count=choice.sample_count,
        start=lo,
        end=datetime.combine(first + WEEK, time(0), tz),
    )


def _can_book(web_user) -> bool:
    return web_user is not None and web_user.user.role == Role.enterprise_member


@router.get("/instruments/{instrument_id}")
def instrument_page(
    request: Request,
    instrument_id: str,
    session: SessionDep,
    web_user: MaybeWebUser,
    service_mode: str = "",
    duration_minutes: str = "",
    sample_count: str = "",
    week: str = "",
) -> Response:
    """An instrument's facts, fees and booking rules; for a signed-in enterprise member, the week's
    bookable time as a calendar and as a list of links to the booking form."""
    lang = request.state.lang
    _ = gettext(lang)
    try:
        inst = get_instrument(session, instrument_id)
    except NotFound:
        return not_found_page(request, _("There is no instrument {id} in the catalogue.").format(id=instrument_id[:80]))
    policy = policy_of(session, inst.id)
    unit = session.get(OwnerUnit, inst.owner_unit_id)
    lab = session.get(Lab, inst.lab_id) if inst.lab_id else None
    tz = zone(inst.timezone)
    today = utcnow().astimezone(tz).date()
    context: dict[str, Any] = {
        "inst": inst,
        "unit": unit,
        "lab": lab,
        "policy": policy,
        "category": category_name(inst.category, lang),
        "status": status_name(str(inst.status), _),
        "modes": [(m, service_mode_name(m, _)) for m in inst.service_modes],
        "rules": policy_sentences(inst, policy, _),
        "zone": inst.timezone,
        "can_book": _can_book(web_user),
        "sign_in": login_url(f"/instruments/{inst.id}"),
        "sample_minutes": span(policy.minutes_per_sample, _),
        "clock": _clock,
    }
    try:
        first = _week_start(week, today, _)
        choice = _choice(inst, policy, service_mode, duration_minutes, sample_count, _)
    except BadFilter as e:
        return render(request, "instrument.html", status_code=400, error=str(e), days=[], choice=None, **context)
    context.update(
        choice=choice,
        first=first,
        last=first + timedelta(days=6),
        prev_week=(first - WEEK) if first - WEEK >= today - WEEK * WEEKS_BACK else None,
        next_week=(first + WEEK) if first + WEEK <= today + WEEK * WEEKS_AHEAD else None,
        week_query=lambda d: urlencode(
            {
                k: v
                for k, v in (
                    ("service_mode", choice.service_mode),
                    ("duration_minutes", choice.duration_minutes or ""),
                    ("sample_count", choice.sample_count or ""),
                    ("week", d.isoformat()),
                )
                if v != ""
            }
        ),
    )
    if not context["can_book"]:
        lo, hi = datetime.combine(first, time(0), tz), datetime.combine(first + WEEK, time(0), tz)
        published = opening_time(session, inst.id, lo, hi)
        days = _days(first, tz, published.closed, _, open_=published.open)
        return render(request, "instrument.html", days=days, blocked=[], **context)
    try:
        bt = _bookable_week(session, web_user, inst, choice, first)
    except DomainError as e:
        return render(request, "instrument.html", status_code=e.status, error=e.detail, days=[], **context)
    context["hours"] = _calendar_hours(
        list(bt.slots) + [(c.start, c.end) for c in bt.closed if c.reason not in SHUT], tz
    )
    slots = [
        (s, e, book_url(inst.id, choice.service_mode, s.astimezone(tz), bt.duration_minutes, choice.sample_count))
        for s, e in bt.slots
    ]
    days = _days(first, tz, bt.closed, _, slots=slots)
    blocked = [refusal(v, policy, _) for v in bt.blocked]
    return render(
        request,
        "instrument.html",
        days=days,
        blocked=blocked,
        minutes=bt.duration_minutes,
        slot_count=len(slots),
        **context,
    )


SHUT = ("outside_opening_hours", "holiday", "blackout")
"""Closed time outside the opening hours; the rest of the closed time lies within them."""


def _calendar_hours(open_: list[tuple[datetime, datetime]], tz) -> tuple[str, str]:
    """The calendar's first and last hour: the week's open time in whole hours (08:00–18:00 if none)."""
    if not open_:
        return "08:00:00", "18:00:00"
    local = [(s.astimezone(tz), e.astimezone(tz)) for s, e in open_]
    first = min(s.hour for s, _ in local)
    last = max(24 if e.date() > s.date() else e.hour + (1 if e.minute else 0) for s, e in local)
    return f"{first:02d}:00:00", f"{last:02d}:00:00"


def _wall(t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%M:%S}"


@router.get("/instruments/{instrument_id}/bookable.json")
def bookable_json(
    request: Request,
    instrument_id: str,
    session: SessionDep,
    web_user: MaybeWebUser,
    service_mode: str = "",
    duration_minutes: str = "",
    sample_count: str = "",
    start: str = "",
) -> Response:
    """The week from ``start`` (a date in the instrument's zone, or an ISO time) of
    ``bookable_time`` for the signed-in person, for the page's calendar: each slot with its
    booking link, each closed stretch with its reason in the page's language. Times carry their
    offset (``start``/``end``) and the instrument's wall clock (``local_start``/``local_end``)."""
    _ = gettext(request.state.lang)
    if web_user is None:
        return JSONResponse({"detail": _("Sign in to see the time you can book.")}, status_code=401)
    try:
        inst = get_instrument(session, instrument_id)
    except NotFound:
        return JSONResponse(
            {"detail": _("There is no instrument {id} in the catalogue.").format(id=instrument_id[:80])},
            status_code=404,
        )
    if not _can_book(web_user):
        return JSONResponse({"detail": _("Only enterprise members book on these pages.")}, status_code=403)
    policy = policy_of(session, inst.id)
    tz = zone(inst.timezone)
    try:
        first = _week_start(start, utcnow().astimezone(tz).date(), _)
        choice = _choice(inst, policy, service_mode, duration_minutes, sample_count, _)
        bt = _bookable_week(session, web_user, inst, choice, first)
    except BadFilter as e:
        return JSONResponse({"detail": str(e)}, status_code=400)
    except DomainError as e:
        return JSONResponse({"detail": e.detail}, status_code=e.status)
    return JSONResponse(
        {
            "instrument_id": inst.id,
            "timezone": bt.timezone,
            "service_mode": bt.service_mode,
            "duration_minutes": bt.duration_minutes,
            "slot_minutes": policy.slot_minutes,
            "start": bt.start.isoformat(),
            "end": bt.end.isoformat(),
            "slots": [
                {
                    "start": s.astimezone(tz).isoformat(),
                    "end": e.astimezone(tz).isoformat(),
                    "local_start": _wall(s.astimezone(tz)),
                    "local_end": _wall(e.astimezone(tz)),
                    "url": book_url(
                        inst.id, bt.service_mode, s.astimezone(tz), bt.duration_minutes, choice.sample_count
                    ),
                }
                for s, e in bt.slots
            ],
            "closed": [
                {
                    "start": c.start.astimezone(tz).isoformat(),
                    "end": c.end.astimezone(tz).isoformat(),
                    "local_start": _wall(c.start.astimezone(tz)),
                    "local_end": _wall(c.end.astimezone(tz)),
                    "reason": c.reason,
                    "label": closed_label(c.reason, c.detail, _, c.note),
                }
                for c in bt.closed
            ],
            "blocked": [{"code": v.code, "message": refusal(v, policy, _)} for v in bt.blocked],
        }
    )


@router.get("/owner-units/{unit_id}")
def unit_page(request: Request, unit_id: str, session: SessionDep, web_user: MaybeWebUser) -> Response:
    """An owner unit's public page: profile, sharing rules, labs, instruments, news, service cases."""
    lang = request.state.lang
    _ = gettext(lang)
    unit = session.get(OwnerUnit, unit_id)
    if unit is None:
        return not_found_page(request, _("There is no owner unit {id}.").format(id=unit_id[:80]))
    labs = session.exec(select(Lab).where(Lab.owner_unit_id == unit.id).order_by(Lab.name)).all()
    insts = session.exec(
        select(Instrument)
        .where(col(Instrument.owner_unit_id) == unit.id)
        .order_by(Instrument.category, Instrument.name)
    ).all()
    return render(
        request,
        "unit.html",
        unit=unit,
        labs=labs,
        instruments=[(i, category_name(i.category, lang)) for i in insts],
        news=published_items(unit, "news"),
        cases=published_items(unit, "cases"),
    )
