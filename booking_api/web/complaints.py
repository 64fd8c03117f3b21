"""Complaints: the enterprise's complaints about its bookings, with their status and the
programme office's resolution, and a form to file one about a booking of theirs (preselected by
``?booking_id=``). Through ``scheduler/money/credit.py`` like ``routers/credit.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from instruments.errors import DomainError, Forbidden, InvalidInput, NotFound
from instruments.inventory import Instrument
from scheduler.booking.bookings import Booking, visible_query
from scheduler.money.credit import complaints_of, file_complaint

from ..deps import SessionDep
from .enterprise import gettext, span, zone
from .roles import MemberDep
from .signin import check_csrf
from .templating import render

router = APIRouter(include_in_schema=False)


def _bookings(session, actor) -> list[dict]:
    """The enterprise's bookings to choose from, newest first, each named by instrument and time."""
    rows = session.exec(visible_query(actor).order_by(col(Booking.start).desc()).limit(200)).all()
    ids = {b.instrument_id for b in rows}
    names = {i.id: i for i in session.exec(select(Instrument).where(col(Instrument.id).in_(ids))).all()} if ids else {}
    out = []
    for b in rows:
        inst = names.get(b.instrument_id)
        tz = inst.timezone if inst else zone()
        out.append({"id": b.id, "label": f"{inst.name if inst else b.instrument_id}, {span(b.start, b.end, tz)}"})
    return out


@router.get("/my/complaints")
def my_complaints(request: Request, session: SessionDep, actor: MemberDep) -> Response:
    _ = gettext(request)
    labels = {b["id"]: b["label"] for b in _bookings(session, actor)}
    status = {
        "open": _("open: the programme office is looking into it"),
        "resolved": _("resolved"),
        "dismissed": _("dismissed"),
    }
    items = [
        {"c": c, "booking": labels.get(c.booking_id, c.booking_id), "status": status.get(str(c.status), str(c.status))}
        for c in complaints_of(session, actor)
    ]
    return render(request, "complaints.html", items=items, zone=zone())


def _form(request: Request, session, actor, booking_id: str, text: str = "", error: str = "", status: int = 200):
    return render(
        request,
        "complaint_form.html",
        status_code=status,
        bookings=_bookings(session, actor),
        booking_id=booking_id,
        text=text,
        error=error,
    )


@router.get("/my/complaints/new")
def new_complaint(request: Request, session: SessionDep, actor: MemberDep, booking_id: str = "") -> Response:
    return _form(request, session, actor, booking_id)


@router.post("/my/complaints/new")
def file(
    request: Request,
    session: SessionDep,
    actor: MemberDep,
    booking_id: Annotated[str, Form(max_length=40)] = "",
    text: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf)
    _ = gettext(request)
    try:
        if not booking_id:
            raise NotFound("no booking chosen")
        file_complaint(session, actor, booking_id, text)
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, InvalidInput):
            error = _("Say what went wrong.")
        elif isinstance(exc, NotFound | Forbidden):
            error = _("Choose one of your enterprise's bookings.")
        else:
            error = exc.detail
        return _form(request, session, actor, booking_id, text, error, status=422)
    session.commit()
    return RedirectResponse("/my/complaints", status_code=303)
