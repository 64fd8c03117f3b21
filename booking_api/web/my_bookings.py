"""My bookings: the list (upcoming first, then past) and a calendar (FullCalendar, fed by a small
JSON route on the browser session), and one booking's page — its times, price split and voucher,
the request it came from — with its actions: cancel (the cut-off stated; a confirmation step),
move to another bookable slot of the same length (``bookable_time``; the enterprise itself until
the cut-off, ``booking_actions.move``), its .ics (what ``GET /api/v1/bookings/{id}.ics`` gives) and
a complaint about it. Same services as the API; a booking not yours to see is a 404 page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from instruments.actor import Actor
from instruments.errors import DomainError, NotFound
from instruments.inventory import Instrument
from instruments.policy import policy_of
from instruments.settings import get_settings
from scheduler import booking_actions as actions
from scheduler.booking.bookable import bookable_time
from scheduler.booking.bookings import LIVE, Booking, BookingStatus, get_visible, visible_query
from scheduler.calendars.calendar_feeds import booking_ics
from scheduler.money.price_split import splits_of

from ..deps import SessionDep, commit
from .booking_form import parse_start, refusal_messages
from .clock import NowDep
from .error_pages import not_found_page
from .i18n import translations
from .instrument_words import service_mode_name
from .refusals import say_all, status_name
from .signin import WebUserDep, check_csrf
from .templating import render

router = APIRouter(include_in_schema=False)
MOVABLE = (BookingStatus.tentative, BookingStatus.confirmed)
MOVE_DAYS = 28
LIST_LIMIT = 500
CALENDAR_DAYS = 100


def _zones(session: Session, rows: list[Booking]) -> dict[str, Instrument]:
    ids = sorted({b.instrument_id for b in rows})
    return {i.id: i for i in session.exec(select(Instrument).where(col(Instrument.id).in_(ids)))} if ids else {}


def _wall(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).replace(tzinfo=None).isoformat()


@router.get("/my/bookings")
def my_bookings(request: Request, session: SessionDep, me: WebUserDep, now: NowDep) -> Response:
    actor = me.user.actor()
    rows = list(session.exec(visible_query(actor).order_by(col(Booking.start)).limit(LIST_LIMIT)).all())
    # a cancelled booking (or a no-show) is over even when its time is still ahead
    upcoming = [b for b in rows if b.end > now and b.status in LIVE]
    past = sorted((b for b in rows if b not in upcoming), key=lambda b: b.start, reverse=True)
    lang = request.state.lang
    return render(
        request,
        "my_bookings.html",
        upcoming=upcoming,
        past=past,
        instruments=_zones(session, rows),
        splits=splits_of(session, rows),
        status_name=lambda s: status_name(str(s), lang),
        mode_name=lambda m: service_mode_name(m, translations(lang).gettext),
        fc_locale="zh-cn" if lang == "zh-CN" else "en",
        zone=get_settings().default_timezone,
    )


@router.get("/my/bookings/events.json")
def calendar_events(
    request: Request, session: SessionDep, me: WebUserDep, now: NowDep, start: str = "", end: str = ""
) -> Response:
    """My bookings as FullCalendar events over [start, end) (its view's range), each in its
    instrument's wall-clock time without an offset: the calendar runs in "UTC" and so shows the
    times as they are, whatever zone the browser is in (FullCalendar names no zone of its own)."""
    actor = me.user.actor()
    try:
        lo = parse_start(start) if start else now - timedelta(days=CALENDAR_DAYS)
        hi = parse_start(end) if end else now + timedelta(days=CALENDAR_DAYS)
    except DomainError as exc:
        return JSONResponse({"detail": exc.detail}, status_code=422)
    hi = min(hi, lo + timedelta(days=CALENDAR_DAYS))
    q = visible_query(actor).where(Booking.end > lo, Booking.start < hi).order_by(col(Booking.start))
    rows = list(session.exec(q.limit(LIST_LIMIT)).all())
    insts = _zones(session, rows)
    lang = request.state.lang
    events = [
        {
            "id": b.id,
            "title": f"{insts[b.instrument_id].name} · {status_name(str(b.status), lang)}",
            "start": _wall(b.start, insts[b.instrument_id].timezone),
            "end": _wall(b.end, insts[b.instrument_id].timezone),
            "url": f"/my/bookings/{b.id}",
            "classNames": [f"status-{b.status}"],
        }
        for b in rows
    ]
    return JSONResponse(events)


def _booking_page(
    request: Request,
    session: Session,
    actor: Actor,
    booking_id: str,
    now: datetime,
    template: str = "booking.html",
    status: int = 200,
    **extra,
) -> Response:
    try:
        booking, inst = get_visible(session, actor, booking_id)
    except NotFound:
        return not_found_page(request)
    lang = request.state.lang
    policy = policy_of(session, inst.id)
    cutoff = actions.cancel_cutoff(booking, policy)
    live = booking.status in MOVABLE
    split = splits_of(session, [booking])[booking.id]
    return render(
        request,
        template,
        status_code=status,
        booking=booking,
        instrument=inst,
        zone=inst.timezone,
        split=split,
        cutoff=cutoff,
        cancellable=live and (now <= cutoff or booking.status == BookingStatus.tentative),
        late_tentative=live and now > cutoff and booking.status == BookingStatus.tentative,
        movable=live and now <= cutoff,
        live=live,
        status_label=status_name(str(booking.status), lang),
        mode_label=service_mode_name(booking.service_mode, translations(lang).gettext),
        done=request.query_params.get("done", ""),
        **extra,
    )


@router.get("/my/bookings/{booking_id}")
def booking_page(request: Request, booking_id: str, session: SessionDep, me: WebUserDep, now: NowDep) -> Response:
    return _booking_page(request, session, me.user.actor(), booking_id, now)


@router.get("/my/bookings/{booking_id}/booking.ics")
def booking_ics_file(request: Request, booking_id: str, session: SessionDep, me: WebUserDep) -> Response:
    """The booking as an .ics file, as ``GET /api/v1/bookings/{id}.ics`` gives it."""
    try:
        booking, inst = get_visible(session, me.user.actor(), booking_id)
    except NotFound:
        return not_found_page(request)
    return Response(
        booking_ics(session, booking, inst),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{booking.id}.ics"'},
    )


@router.get("/my/bookings/{booking_id}/cancel")
def cancel_confirm(request: Request, booking_id: str, session: SessionDep, me: WebUserDep, now: NowDep) -> Response:
    """The confirmation step before a cancellation."""
    return _booking_page(request, session, me.user.actor(), booking_id, now, template="booking_cancel.html")


@router.post("/my/bookings/{booking_id}/cancel")
def cancel(
    request: Request,
    booking_id: str,
    session: SessionDep,
    me: WebUserDep,
    now: NowDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_csrf(request, csrf)
    actor = me.user.actor()
    return _act(
        request,
        session,
        booking_id,
        lambda: actions.cancel(session, actor, booking_id, reason.strip(), now=now),
        "cancelled",
        lambda status, errors: _booking_page(request, session, actor, booking_id, now, status=status, errors=errors),
    )


def _act(
    request: Request,
    session: Session,
    booking_id: str,
    action: Callable[[], object],
    done: str,
    refused: Callable[[int, list[str]], Response],
) -> Response:
    """Run a booking action and commit: then back to the booking's page saying it is ``done``;
    a booking not theirs is the 404 page, a refusal the ``refused`` page with every reason."""
    try:
        action()
        commit(session)
    except NotFound:
        session.rollback()
        return not_found_page(request)
    except DomainError as exc:
        session.rollback()
        return refused(exc.status, refusal_messages(exc, request.state.lang))
    return RedirectResponse(f"/my/bookings/{booking_id}?done={done}", status_code=303)


def _move_page(
    request: Request, session: Session, actor: Actor, booking_id: str, now: datetime, status: int = 200, **extra
) -> Response:
    try:
        booking, inst = get_visible(session, actor, booking_id)
    except NotFound:
        return not_found_page(request)
    offer = bookable_time(
        session,
        actor,
        inst.id,
        booking.service_mode,
        duration_minutes=booking.minutes,
        enterprise_id=booking.enterprise_id,
        now=now,
        start=now,
        end=now + timedelta(days=MOVE_DAYS),
        moving=booking,
    )
    lang = request.state.lang
    return _booking_page(
        request,
        session,
        actor,
        booking_id,
        now,
        template="booking_move.html",
        status=status,
        slots=[s for s in offer.slots if s[0] != booking.start],
        blocked=say_all(offer.blocked, lang),
        **extra,
    )


@router.get("/my/bookings/{booking_id}/move")
def move_form(request: Request, booking_id: str, session: SessionDep, me: WebUserDep, now: NowDep) -> Response:
    """The instrument's bookable slots of the same length and service mode, to move to."""
    return _move_page(request, session, me.user.actor(), booking_id, now)


@router.post("/my/bookings/{booking_id}/move")
def move(
    request: Request,
    booking_id: str,
    session: SessionDep,
    me: WebUserDep,
    now: NowDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    start: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    check_csrf(request, csrf)
    actor = me.user.actor()

    def to_new_start() -> None:
        booking, _inst = get_visible(session, actor, booking_id)
        new_start = parse_start(start)
        actions.move(session, actor, booking_id, new_start, new_start + (booking.end - booking.start), now=now)

    return _act(
        request,
        session,
        booking_id,
        to_new_start,
        "moved",
        lambda status, errors: _move_page(request, session, actor, booking_id, now, status=status, errors=errors),
    )
