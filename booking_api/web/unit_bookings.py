"""The lab manager's bookings across their unit (/unit/bookings): a day or a week of every
instrument of the unit as a server-rendered resource grid (instrument rows × hours for a day,
× days for a week; FullCalendar's resource views are premium, so none is used), the bookings of
that span listed below with their actions — confirm, reject, check in, check out, no-show — and a
form to book on behalf of an enterprise (/unit/bookings/new). Every action goes through the same
services as ``POST /api/v1/bookings/…`` (``booking_actions``); refusals are said in the page's
language (``refusals``). Only the manager's own unit: another unit's booking or instrument is a
404 page, as it is in the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select

from instruments.actor import Actor, Role
from instruments.errors import DomainError, InvalidState, NotFound
from instruments.inventory import Instrument, ServiceMode
from instruments.policy import policy_of
from instruments.units import OwnerUnit
from scheduler import booking_actions as actions
from scheduler.booking.bookings import Booking, BookingStatus, get_visible
from scheduler.booking.enterprises import Enterprise

from ..accounts import User
from ..deps import SessionDep, commit
from .booking_form import refusal_messages
from .clock import NowDep
from .error_pages import not_found_page
from .i18n import translations
from .owned import CsrfChecked
from .refusals import mode_name, status_name
from .roles import ManagerDep
from .templating import render

router = APIRouter(include_in_schema=False)

DAY_FROM, DAY_TO = 8, 20  # the day grid's hours unless a booking lies outside them
LIST_LIMIT = 500
ACTIONS: dict[str, tuple[BookingStatus, ...]] = {
    "confirm": (BookingStatus.tentative,),
    "reject": (BookingStatus.tentative,),
    "check-in": (BookingStatus.confirmed,),
    "no-show": (BookingStatus.confirmed,),
    "check-out": (BookingStatus.checked_in,),
}
"""Each action on the page and the statuses it is offered for (the service has the last word)."""
GRID_STATUSES = (BookingStatus.tentative, BookingStatus.confirmed, BookingStatus.checked_in, BookingStatus.completed)


@dataclass(frozen=True)
class Block:
    """A booking placed on the grid: its left edge and width in % of its row's span."""

    booking: Booking
    left: float
    width: float
    label: str


def _(message: str) -> str:  # marks msgids for the catalogue; translated when rendered
    return message


DONE = {
    "confirm": _("The booking is confirmed."),
    "reject": _("The booking is rejected; the enterprise is told."),
    "check-in": _("Checked in."),
    "check-out": _("Checked out; the booking is completed."),
    "no-show": _("Marked as a no-show."),
    "booked": _("Booked on the enterprise's behalf."),
}


def _unit(session: Session, actor: Actor) -> OwnerUnit:
    unit = session.get(OwnerUnit, actor.owner_unit_id)
    if unit is None:  # a manager's unit always exists (foreign key); kept for the type checker
        raise NotFound("No owner unit.")
    return unit


def _instruments(session: Session, unit: OwnerUnit) -> list[Instrument]:
    return list(
        session.exec(select(Instrument).where(Instrument.owner_unit_id == unit.id).order_by(col(Instrument.name))).all()
    )


def _day(value: str, today: date) -> date:
    try:
        return date.fromisoformat(value) if value else today
    except ValueError:
        return today


def _span(view: str, day: date) -> tuple[date, int]:
    """The first day and the number of days a view shows (a week starts on Monday)."""
    if view == "day":
        return day, 1
    return day - timedelta(days=day.weekday()), 7


def _bookings(session: Session, ids: list[str], lo: datetime, hi: datetime) -> list[Booking]:
    if not ids:
        return []
    q = (
        select(Booking)
        .where(col(Booking.instrument_id).in_(ids), Booking.end > lo, Booking.start < hi)
        .order_by(col(Booking.start), col(Booking.id))
        .limit(LIST_LIMIT)
    )
    return list(session.exec(q).all())


def _names(session: Session, rows: list[Booking]) -> tuple[dict[str, str], dict[str, str]]:
    """Enterprise and user names of the bookings, by id."""
    ent_ids = sorted({b.enterprise_id for b in rows if b.enterprise_id})
    user_ids = sorted({b.user_id for b in rows if b.user_id})
    ents = (
        {e.id: e.name for e in session.exec(select(Enterprise).where(col(Enterprise.id).in_(ent_ids)))}
        if ent_ids
        else {}
    )
    users = {u.id: u.name for u in session.exec(select(User).where(col(User.id).in_(user_ids)))} if user_ids else {}
    return ents, users


def _day_grid(
    insts: list[Instrument], rows: list[Booking], day: date, tz: ZoneInfo, label: Callable[[Booking], str]
) -> tuple[list[int], dict[str, list[Block]]]:
    """The day view: its hours (widened to every booking of the day) and each instrument's blocks."""
    lo_day = datetime.combine(day, time(0), tz)
    hi_day = lo_day + timedelta(days=1)
    live = [b for b in rows if b.status in GRID_STATUSES and b.end > lo_day and b.start < hi_day]
    first, last = DAY_FROM, DAY_TO
    for b in live:
        s = max(b.start, lo_day).astimezone(tz)
        e = min(b.end, hi_day)
        first = min(first, s.hour)
        end_hours = (e - lo_day).total_seconds() / 3600
        last = max(last, min(24, int(-(-end_hours // 1))))
    lo, total = lo_day + timedelta(hours=first), (last - first) * 60
    blocks: dict[str, list[Block]] = {i.id: [] for i in insts}
    for b in live:
        s = max(b.start, lo)
        e = min(b.end, lo + timedelta(minutes=total))
        left = (s - lo).total_seconds() / 60 / total * 100
        width = max((e - s).total_seconds() / 60 / total * 100, 0.5)
        blocks.setdefault(b.instrument_id, []).append(Block(b, round(left, 3), round(width, 3), label(b)))
    return list(range(first, last)), blocks


def _week_grid(
    insts: list[Instrument], rows: list[Booking], first: date, tz: ZoneInfo
) -> tuple[list[date], dict[tuple[str, date], list[Booking]]]:
    """The week view: its days and each (instrument, day)'s bookings, by local start date."""
    days = [first + timedelta(days=n) for n in range(7)]
    cells: dict[tuple[str, date], list[Booking]] = {(i.id, d): [] for i in insts for d in days}
    for b in rows:
        if b.status not in GRID_STATUSES:
            continue
        d = b.start.astimezone(tz).date()
        while d in days and datetime.combine(d, time(0), tz) < b.end:
            cells.setdefault((b.instrument_id, d), []).append(b)
            d += timedelta(days=1)
    return days, cells


WEEKDAYS = (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    now: datetime,
    view: str,
    day_text: str,
    status: int = 200,
    errors: list[str] | None = None,
    failed: str = "",
) -> Response:
    unit = _unit(session, actor)
    tz = ZoneInfo(unit.timezone)
    view = "day" if view == "day" else "week"
    day = _day(day_text, now.astimezone(tz).date())
    first, n_days = _span(view, day)
    lo = datetime.combine(first, time(0), tz)
    hi = lo + timedelta(days=n_days)
    insts = _instruments(session, unit)
    by_id = {i.id: i for i in insts}
    rows = _bookings(session, list(by_id), lo, hi)
    ents, users = _names(session, rows)
    lang = request.state.lang
    gettext = translations(lang).gettext

    def who(b: Booking) -> str:
        return ents.get(b.enterprise_id or "", "") or gettext("the unit's own use")

    hours, blocks = _day_grid(insts, rows, day, tz, who) if view == "day" else ([], {})
    days, cells = _week_grid(insts, rows, first, tz) if view == "week" else ([], {})
    step = timedelta(days=n_days)
    return render(
        request,
        "unit_bookings.html",
        status_code=status,
        unit=unit,
        zone=unit.timezone,
        view=view,
        day=day,
        first=first,
        last=first + timedelta(days=n_days - 1),
        prev_day=(first - step).isoformat() if view == "week" else (day - step).isoformat(),
        next_day=(first + step).isoformat() if view == "week" else (day + step).isoformat(),
        today=now.astimezone(tz).date(),
        instruments=insts,
        by_id=by_id,
        bookings=rows,
        hours=hours,
        blocks=blocks,
        days=days,
        cells=cells,
        weekdays=WEEKDAYS,
        who=who,
        hm=lambda at, zone: f"{at.astimezone(ZoneInfo(zone)):%H:%M}",
        users=users,
        actions_for=lambda b: [a for a, states in ACTIONS.items() if b.status in states],
        status_name=lambda s: status_name(str(s), lang),
        mode_label=lambda m: mode_name(str(m), lang),
        done=DONE.get(request.query_params.get("done", ""), ""),
        errors=errors or [],
        failed=failed,
    )


@router.get("/unit/bookings")
def unit_bookings(
    request: Request, session: SessionDep, actor: ManagerDep, now: NowDep, view: str = "week", date: str = ""
) -> Response:
    return _page(request, session, actor, now, view, date)


def _back(view: str, day: str, done: str) -> str:
    return "/unit/bookings?" + urlencode({"view": view, "date": day, "done": done})


def _state_refusal(session: Session, actor: Actor, action: str, booking_id: str, now: datetime, lang: str) -> str:
    """Why the booking's state does not allow ``action``, in ``lang`` (the service says it in English)."""
    gettext = translations(lang).gettext
    booking, inst = get_visible(session, actor, booking_id)
    state = status_name(str(booking.status), lang)
    if action in ("confirm", "reject") and booking.status != BookingStatus.tentative:
        return gettext(
            "Only bookings awaiting confirmation can be confirmed or rejected; this one is {status}."
        ).format(status=state)
    if action in ("check-in", "no-show") and booking.status != BookingStatus.confirmed:
        return gettext("Only confirmed bookings can be checked in or marked as no-shows; this one is {status}.").format(
            status=state
        )
    if action == "check-out" and booking.status != BookingStatus.checked_in:
        return gettext("Check the booking in first; it is {status}.").format(status=state)
    tz = ZoneInfo(inst.timezone)
    if action == "check-in":
        return gettext("Check-in opens 30 minutes before the start ({start}) and closes at the end ({end}).").format(
            start=f"{booking.start.astimezone(tz):%Y-%m-%d %H:%M}", end=f"{booking.end.astimezone(tz):%H:%M}"
        )
    if action == "no-show":
        grace = policy_of(session, inst.id).no_show_grace_minutes
        return gettext("A booking becomes a no-show only {minutes} minutes after its start ({start}).").format(
            minutes=grace, start=f"{booking.start.astimezone(tz):%Y-%m-%d %H:%M}"
        )
    return status_name(str(booking.status), lang)


@router.post("/unit/bookings/{booking_id}/{action}")
def booking_action(
    request: Request,
    booking_id: str,
    action: str,
    session: SessionDep,
    actor: ManagerDep,
    now: NowDep,
    csrf: CsrfChecked,
    view: Annotated[str, Form(max_length=10)] = "week",
    date: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    run: dict[str, Callable[[], Booking]] = {
        "confirm": lambda: actions.confirm(session, actor, booking_id),
        "reject": lambda: actions.reject(session, actor, booking_id, reason.strip(), now=now),
        "check-in": lambda: actions.check_in(session, actor, booking_id, now=now),
        "check-out": lambda: actions.check_out(session, actor, booking_id, now=now),
        "no-show": lambda: actions.mark_no_show(session, actor, booking_id, now=now),
    }
    if action not in run:
        return not_found_page(request)
    try:
        run[action]()
        commit(session)
    except NotFound:
        session.rollback()
        return not_found_page(request)
    except DomainError as exc:
        session.rollback()
        lang = request.state.lang
        if isinstance(exc, InvalidState):
            errors = [_state_refusal(session, actor, action, booking_id, now, lang)]
        else:
            errors = refusal_messages(exc, lang)
        return _page(request, session, actor, now, view, date, status=exc.status, errors=errors, failed=booking_id)
    return RedirectResponse(_back(view, date, action), status_code=303)


# booking on an enterprise's behalf ------------------------------------------------------------


def _members(session: Session) -> tuple[list[Enterprise], dict[str, list[User]]]:
    enterprises = list(session.exec(select(Enterprise).order_by(col(Enterprise.name))).all())
    members: dict[str, list[User]] = {}
    q = select(User).where(User.role == Role.enterprise_member, col(User.active).is_(True)).order_by(col(User.name))
    for u in session.exec(q):
        members.setdefault(u.enterprise_id or "", []).append(u)
    return enterprises, members


def _form(
    request: Request,
    session: Session,
    actor: Actor,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    refusals: list[str] | None = None,
    status: int = 200,
) -> Response:
    unit = _unit(session, actor)
    enterprises, members = _members(session)
    lang = request.state.lang
    return render(
        request,
        "unit_book_for.html",
        status_code=status,
        unit=unit,
        zone=unit.timezone,
        instruments=_instruments(session, unit),
        enterprises=enterprises,
        members=members,
        modes=[(m.value, mode_name(m.value, lang)) for m in ServiceMode],
        values=values,
        errors=errors or {},
        refusals=refusals or [],
    )


@router.get("/unit/bookings/new")
def book_for_form(
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    now: NowDep,
    instrument_id: str = "",
    date: str = "",
    start: str = "09:00",
) -> Response:
    unit = _unit(session, actor)
    day = _day(date, now.astimezone(ZoneInfo(unit.timezone)).date() + timedelta(days=1))
    values = {
        "instrument_id": instrument_id,
        "service_mode": ServiceMode.operator_run.value,
        "date": day.isoformat(),
        "start": start[:5],
        "duration_minutes": "60",
        "sample_count": "0",
    }
    return _form(request, session, actor, values)


@router.post("/unit/bookings/new")
def book_for(
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    now: NowDep,
    csrf: CsrfChecked,
    enterprise_id: Annotated[str, Form(max_length=40)] = "",
    member_id: Annotated[str, Form(max_length=40)] = "",
    instrument_id: Annotated[str, Form(max_length=40)] = "",
    service_mode: Annotated[str, Form(max_length=40)] = "",
    date: Annotated[str, Form(max_length=10)] = "",
    start: Annotated[str, Form(max_length=8)] = "",
    duration_minutes: Annotated[str, Form(max_length=8)] = "",
    sample_count: Annotated[str, Form(max_length=8)] = "0",
    notes: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    values = dict(
        enterprise_id=enterprise_id,
        member_id=member_id,
        instrument_id=instrument_id,
        service_mode=service_mode,
        date=date,
        start=start,
        duration_minutes=duration_minutes,
        sample_count=sample_count,
        notes=notes,
    )
    gettext = translations(request.state.lang).gettext
    errors: dict[str, str] = {}
    inst = session.get(Instrument, instrument_id) if instrument_id else None
    if not instrument_id:
        errors["instrument_id"] = gettext("Choose an instrument.")
    elif inst is None or inst.owner_unit_id != actor.owner_unit_id:
        return not_found_page(request)
    enterprise = session.get(Enterprise, enterprise_id) if enterprise_id else None
    if enterprise is None:
        errors["enterprise_id"] = gettext("Choose the enterprise the booking is for.")
    member = session.get(User, member_id) if member_id else None
    if member_id and (member is None or enterprise is None or member.enterprise_id != enterprise.id):
        errors["member_id"] = gettext("Choose a member of the chosen enterprise, or no one in particular.")
    if service_mode not in {m.value for m in ServiceMode}:
        errors["service_mode"] = gettext("Choose a service mode.")
    try:
        day = datetime.strptime(date, "%Y-%m-%d").date()
        at = datetime.strptime(start, "%H:%M").time()
    except ValueError:
        errors["start"] = gettext("Enter a date and a time.")
    minutes = int(duration_minutes) if duration_minutes.isdigit() else 0
    if not 1 <= minutes <= 7 * 1440:
        errors["duration_minutes"] = gettext("Enter whole minutes, at most a week (10080).")
    samples = int(sample_count) if sample_count.isdigit() else -1
    if not 0 <= samples <= 10_000:
        errors["sample_count"] = gettext("Enter a whole number of samples from 0 to 10000.")
    if errors or inst is None or enterprise is None:
        return _form(request, session, actor, values, errors, status=422)
    begin = datetime.combine(day, at, ZoneInfo(inst.timezone))
    data = actions.BookingInput(
        inst.id,
        begin,
        begin + timedelta(minutes=minutes),
        service_mode,
        samples,
        notes.strip(),
        enterprise_id=enterprise.id,
        user_id=member.id if member else None,
    )
    try:
        booking = actions.book(session, actor, data, now=now)
        commit(session)
    except NotFound:
        session.rollback()
        return not_found_page(request)
    except DomainError as exc:
        session.rollback()
        return _form(
            request, session, actor, values, refusals=refusal_messages(exc, request.state.lang), status=exc.status
        )
    local = booking.start.astimezone(ZoneInfo(_unit(session, actor).timezone)).date().isoformat()
    return RedirectResponse(_back("day", local, "booked") + f"#b-{booking.id}", status_code=303)
