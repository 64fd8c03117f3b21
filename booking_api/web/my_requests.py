"""My requests: the enterprise's flexible booking requests (an instrument, or any instrument of a
category, somewhere in a window), each with the round's outcome said in people's terms, the
booking it became, instant suggestions with their fees ("book this" opens the booking form), a form
to submit one and withdraw while it waits. Through the same services as ``routers/requests.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import select

from instruments.errors import DomainError, InvalidInput, NotFound
from instruments.inventory import Instrument, ServiceMode, SharingMode
from scheduler.allocation.suggestions import suggest
from scheduler.booking.booking_requests import (
    OPEN_STATUSES,
    BookingRequest,
    Funding,
    bookings_of,
    get_request,
    list_requests,
    withdraw_request,
    zone_of,
)
from scheduler.booking.bookings import Booking
from scheduler.money.request_funding import submit_funded_request
from scheduler.money.vouchers import SPENDABLE, Voucher, find_by_code, list_vouchers

from ..deps import SessionDep
from ..timefields import FIRST_YEAR, LAST_YEAR
from .enterprise import Gettext, gettext, mode_label, reason_text, span, status_label, zone
from .error_pages import not_found_page
from .offers import offers_of_request
from .roles import MemberDep
from .signin import check_csrf
from .templating import render

ANY_VOUCHER = "any"  # the form's choice: any voucher of the enterprise that can pay
router = APIRouter(include_in_schema=False)
SHOWN = {"instrument_id", "category", "service_mode", "earliest_start", "deadline", "duration_minutes", "sample_count"}
"""The form's fields that show an error beside them; any other refusal is shown above the form."""


def _instruments(session) -> list[Instrument]:
    q = select(Instrument).where(Instrument.sharing_mode == SharingMode.external).order_by(Instrument.name)
    return list(session.exec(q).all())


def _names(session, rows: list[BookingRequest]) -> dict[str, str]:
    ids = {r.instrument_id for r in rows if r.instrument_id}
    if not ids:
        return {}
    return {i.id: i.name for i in session.exec(select(Instrument).where(Instrument.id.in_(ids))).all()}  # type: ignore[attr-defined]


def _outcome(_: Gettext, r: BookingRequest, booking_id: str | None) -> str:
    if booking_id:
        return _("Placed: it became a booking.")
    if str(r.status) == "unplaced" and r.explanation:
        return reason_text(_, r.explanation[0], r.duration_minutes)
    if str(r.status) == "pending":
        return _("The next allocation round will answer it.")
    return ""


@router.get("/my/requests")
def my_requests(request: Request, session: SessionDep, actor: MemberDep) -> Response:
    _ = gettext(request)
    rows = list_requests(session, actor, None, 200, 0)
    booked = bookings_of(session, rows)
    names = _names(session, rows)
    items = [
        {
            "r": r,
            "what": names.get(r.instrument_id or "", r.instrument_id)
            if r.instrument_id
            else _("any {category} instrument").format(category=r.category),
            "status": status_label(_, str(r.status)),
            "window": span(r.earliest_start, r.deadline, zone_of(session, r)),
            "booking_id": booked.get(r.id),
            "outcome": _outcome(_, r, booked.get(r.id)),
        }
        for r in rows
    ]
    return render(request, "my_requests.html", items=items)


def _form_page(request: Request, session, actor, values: dict, errors: dict, status: int = 200) -> Response:
    _ = gettext(request)
    instruments = _instruments(session)
    vouchers = [v for v in list_vouchers(session, actor, None, None, 200, 0) if v.status in SPENDABLE]
    return render(
        request,
        "request_form.html",
        status_code=status,
        instruments=instruments,
        categories=sorted({i.category for i in instruments if i.category}),
        modes=[(m.value, mode_label(_, m.value)) for m in ServiceMode],
        vouchers=vouchers,
        values=values,
        errors=errors,
        zone=zone(),
    )


@router.get("/my/requests/new")
def new_request(
    request: Request, session: SessionDep, actor: MemberDep, instrument_id: str = "", category: str = ""
) -> Response:
    values = {"instrument_id": instrument_id, "category": category, "service_mode": "operator_run", "sample_count": "0"}
    return _form_page(request, session, actor, values, {})


def _local(value: str, tz: str) -> datetime | None:
    """A ``datetime-local`` field's wall-clock time in ``tz`` (None when it is not one, or outside
    the years the platform supports, like the API's times)."""
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        return None
    return at.replace(tzinfo=ZoneInfo(tz)) if at.tzinfo is None else at


def _whole(value: str, lo: int, hi: int) -> int | None:
    try:
        n = int(value.strip() or "0")
    except ValueError:
        return None
    return n if lo <= n <= hi else None


def _service_error(_: Gettext, exc: DomainError) -> tuple[str, str]:
    """The field a refusal of ``submit_request`` concerns and its words in the page's language
    (its English detail when it is one this page does not know)."""
    detail = exc.detail
    if isinstance(exc, NotFound):
        return "instrument_id", _("There is no such instrument.")
    known = [
        ("Give exactly one of", "instrument_id", _("Choose an instrument or a category, not both.")),
        (
            "Give duration_minutes",
            "duration_minutes",
            _("Give the duration, or a number of samples to derive it from."),
        ),
        ("deadline must be after", "deadline", _("The window must end after it starts.")),
        ("The window from", "deadline", _("The window is shorter than the duration.")),
        ("deadline is already past", "deadline", _("The end of the window has already passed.")),
        ("Instrument ", "service_mode", _("This instrument does not offer this service mode to enterprises.")),
        (
            "No instrument of category",
            "category",
            _("No instrument of this category offers this service mode to enterprises."),
        ),
        ("preferred_start", "earliest_start", _("The preferred start must lie inside the window.")),
        ("No voucher", "voucher", _("This is not a voucher of yours.")),
        ("Voucher ", "voucher", _("This voucher cannot pay for this request: {reason}").format(reason=detail)),
    ]
    for prefix, field, text in known:
        if detail.startswith(prefix):
            return field, text
    field = getattr(exc, "field", None)
    return (field if field in SHOWN else "form"), detail


@router.post("/my/requests/new")
def submit(
    request: Request,
    session: SessionDep,
    actor: MemberDep,
    instrument_id: Annotated[str, Form(max_length=40)] = "",
    category: Annotated[str, Form(max_length=100)] = "",
    earliest_start: Annotated[str, Form(max_length=40)] = "",
    deadline: Annotated[str, Form(max_length=40)] = "",
    duration_minutes: Annotated[str, Form(max_length=10)] = "",
    sample_count: Annotated[str, Form(max_length=10)] = "",
    service_mode: Annotated[str, Form(max_length=40)] = "operator_run",
    voucher: Annotated[str, Form(max_length=40)] = "",
    cash_fallback: Annotated[str, Form(max_length=5)] = "",
    auto_book: Annotated[str, Form(max_length=5)] = "",
    notes: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Submit a request; ``voucher`` is empty (pay cash), ``any`` (any voucher of the enterprise
    that can pay, chosen by the round) or one voucher's code; ``cash_fallback`` lets a request no
    voucher can fund be placed paying cash; ``auto_book`` books freed time that fits at once
    instead of offering it."""
    check_csrf(request, csrf)
    _ = gettext(request)
    values = {
        "instrument_id": instrument_id,
        "category": category,
        "earliest_start": earliest_start,
        "deadline": deadline,
        "duration_minutes": duration_minutes,
        "sample_count": sample_count,
        "service_mode": service_mode,
        "voucher": voucher,
        "cash_fallback": cash_fallback,
        "auto_book": auto_book,
        "notes": notes,
    }
    errors: dict[str, str] = {}
    inst = next((i for i in _instruments(session) if i.id == instrument_id), None) if instrument_id else None
    if instrument_id and inst is None:
        errors["instrument_id"] = _("There is no such instrument.")
    if not instrument_id and not category:
        errors["instrument_id"] = _("Choose an instrument, or a category for any instrument of it.")
    if instrument_id and category:
        errors["instrument_id"] = _("Choose an instrument or a category, not both.")
    tz = inst.timezone if inst else zone()
    start, end = _local(earliest_start, tz), _local(deadline, tz)
    if start is None:
        errors["earliest_start"] = _("Enter a date and time.")
    if end is None:
        errors["deadline"] = _("Enter a date and time.")
    minutes = _whole(duration_minutes, 0, 7 * 24 * 60)
    if minutes is None:
        errors["duration_minutes"] = _("Enter whole minutes, at most a week (10080).")
    samples = _whole(sample_count, 0, 10000)
    if samples is None:
        errors["sample_count"] = _("Enter a whole number of samples from 0 to 10000.")
    if service_mode not in {m.value for m in ServiceMode}:
        errors["service_mode"] = _("Choose a service mode.")
    funding, voucher_id = Funding.cash, None
    if voucher == ANY_VOUCHER:
        funding = Funding.any_voucher
    elif voucher:
        try:
            funding, voucher_id = Funding.voucher, find_by_code(session, actor, voucher).id
        except DomainError:
            errors["voucher"] = _("This is not a voucher of yours.")
    if not errors:
        text = notes.strip()
        req = BookingRequest(
            enterprise_id="",
            instrument_id=instrument_id or None,
            category=None if instrument_id else category,
            service_mode=ServiceMode(service_mode),
            duration_minutes=minutes or 0,
            sample_count=samples or 0,
            earliest_start=start,
            deadline=end,
            notes=text,
            funding=funding,
            voucher_id=voucher_id,
            cash_fallback=bool(cash_fallback) and funding != Funding.cash,
            auto_book=bool(auto_book),
        )
        try:
            req = submit_funded_request(session, actor, req)
        except (InvalidInput, NotFound) as exc:
            session.rollback()
            field, text = _service_error(_, exc)
            errors[field] = text
        else:
            session.commit()
            return RedirectResponse(f"/my/requests/{req.id}", status_code=303)
    return _form_page(request, session, actor, values, errors, status=422)


def _funding(_: Gettext, session, r: BookingRequest) -> str:  # noqa: ANN001 - the request's session
    """How the request pays, in words."""
    if r.funding == Funding.voucher:
        v = session.get(Voucher, r.voucher_id)
        text = _("Voucher {code}").format(code=v.code if v else r.voucher_id)
    elif r.funding == Funding.any_voucher:
        text = _("Any of my vouchers that can pay (the round chooses)")
    else:
        return _("Cash")
    return text + (_(", or cash if no voucher can pay") if r.cash_fallback else "")


def book_this_url(req: BookingRequest, s) -> str:  # noqa: ANN001 - a Suggestion
    query = urlencode(
        {"service_mode": str(req.service_mode), "start": s.start.isoformat(), "duration_minutes": req.duration_minutes}
    )
    return f"/instruments/{s.instrument_id}/book?{query}"


def _detail(request: Request, session, actor, request_id: str, error: str = "", status: int = 200) -> Response:
    _ = gettext(request)
    try:
        r = get_request(session, actor, request_id)
    except NotFound:
        return not_found_page(request)
    tz = zone_of(session, r)
    booking_id = bookings_of(session, [r]).get(r.id)
    suggestions = []
    if r.status in OPEN_STATUSES:
        try:
            suggestions = [
                {"s": s, "when": span(s.start, s.end, getattr(s.start.tzinfo, "key", tz)), "url": book_this_url(r, s)}
                for s in suggest(session, actor, r.id, 5)
            ]
        except DomainError:
            suggestions = []
    inst = session.get(Instrument, r.instrument_id) if r.instrument_id else None
    placed = ""
    booking = session.get(Booking, booking_id) if booking_id else None
    if booking is not None:
        where = session.get(Instrument, booking.instrument_id)
        tz_b = where.timezone if where else tz
        placed = _("Placed on {instrument}, {time}: awaiting the lab's confirmation.").format(
            instrument=where.name if where else booking.instrument_id, time=span(booking.start, booking.end, tz_b)
        )
    return render(
        request,
        "request_detail.html",
        status_code=status,
        r=r,
        what=inst.name if inst else _("any {category} instrument").format(category=r.category),
        status=status_label(_, str(r.status)),
        mode=mode_label(_, str(r.service_mode)),
        funding=_funding(_, session, r),
        window=span(r.earliest_start, r.deadline, tz),
        booking_id=booking_id,
        placed=placed,
        reasons=[{"text": reason_text(_, x, r.duration_minutes), "raw": x.get("message", "")} for x in r.explanation],
        suggestions=suggestions,
        can_withdraw=r.status in OPEN_STATUSES,
        offers=offers_of_request(_, session, actor, r.id),
        error=error,
        zone=tz,
    )


@router.get("/my/requests/{request_id}")
def request_detail(request: Request, request_id: str, session: SessionDep, actor: MemberDep) -> Response:
    return _detail(request, session, actor, request_id)


@router.post("/my/requests/{request_id}/withdraw")
def withdraw(
    request: Request,
    request_id: str,
    session: SessionDep,
    actor: MemberDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf)
    _ = gettext(request)
    try:
        withdraw_request(session, actor, request_id)
    except NotFound:
        session.rollback()
        return not_found_page(request)
    except DomainError:
        session.rollback()
        return _detail(request, session, actor, request_id, _("Only a request still waiting can be withdrawn."), 409)
    session.commit()
    return RedirectResponse(f"/my/requests/{request_id}", status_code=303)
