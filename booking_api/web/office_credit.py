"""The programme office's credit page (/office/credit): the complaints queue (open ones first,
each resolved or dismissed with the office's reason), the red list (good standing, computed
from completed bookings and no credit event) and the black list (suspended or blacklisted
enterprises, with why), where a confirmed fraud is recorded (blacklisting, voiding the
vouchers named) and a suspension is lifted with a reason. Through ``scheduler/money/credit.py``
like ``routers/credit.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from instruments.errors import DomainError, InvalidInput, InvalidState, NotFound
from instruments.inventory import Instrument
from instruments.units import OwnerUnit
from scheduler.booking.bookings import Booking
from scheduler.booking.enterprises import Enterprise
from scheduler.money import credit
from scheduler.money.credit import ComplaintStatus, CreditEvent, CreditKind
from scheduler.money.vouchers import Voucher, normalise_code

from ..deps import SessionDep
from .clock import NowDep
from .enterprise import Gettext, gettext, span, zone
from .error_pages import not_found_page
from .owned import CsrfChecked, Words
from .roles import OfficeDep
from .templating import render

router = APIRouter(include_in_schema=False)
LIMIT = 100


def complaint_status_label(_: Gettext, status: str) -> str:
    return {"open": _("open"), "resolved": _("resolved"), "dismissed": _("dismissed")}.get(status, status)


def _complaint_rows(request: Request, session, complaints) -> list[dict]:
    _ = gettext(request)
    books = {
        b.id: b
        for b in session.exec(select(Booking).where(col(Booking.id).in_({c.booking_id for c in complaints}))).all()
    }
    insts = {
        i.id: i
        for i in session.exec(
            select(Instrument).where(col(Instrument.id).in_({b.instrument_id for b in books.values()}))
        ).all()
    }
    units = dict(session.exec(select(OwnerUnit.id, OwnerUnit.name)).all())
    ents = dict(
        session.exec(
            select(Enterprise.id, Enterprise.name).where(col(Enterprise.id).in_({c.enterprise_id for c in complaints}))
        ).all()
    )
    rows = []
    for c in complaints:
        b = books.get(c.booking_id)
        inst = insts.get(b.instrument_id) if b else None
        booking = f"{inst.name}, {span(b.start, b.end, inst.timezone)}" if b and inst else c.booking_id
        rows.append(
            {
                "c": c,
                "enterprise": ents.get(c.enterprise_id, c.enterprise_id),
                "booking": booking,
                "unit": units.get(inst.owner_unit_id, "") if inst else "",
                "status": complaint_status_label(_, str(c.status)),
            }
        )
    return rows


def _black_rows(request: Request, session, now) -> list[dict]:
    """The black list with each enterprise's standing and the latest credit event's words."""
    _ = gettext(request)
    ents = credit.black_list(session, now)
    events: dict[str, CreditEvent] = {}  # per enterprise: its fraud finding, else its latest event
    if ents:
        for ev in session.exec(
            select(CreditEvent)
            .where(col(CreditEvent.enterprise_id).in_([e.id for e in ents]), CreditEvent.kind != CreditKind.suspension)
            .order_by(col(CreditEvent.at), col(CreditEvent.id))
        ).all():
            if events.get(ev.enterprise_id) is None or events[ev.enterprise_id].kind != CreditKind.fraud:
                events[ev.enterprise_id] = ev
    frauds = {e for e, ev in events.items() if ev.kind == CreditKind.fraud}
    rows = []
    for e in ents:
        ev = events.get(e.id)
        rows.append(
            {
                "e": e,
                "blacklisted": e.id in frauds,
                "why": _credit_words(_, ev) if ev else "",
            }
        )
    return rows


def _credit_words(_: Gettext, ev: CreditEvent) -> str:
    kind = {
        CreditKind.no_show: _("no-show"),
        CreditKind.late_cancel: _("late cancellation"),
        CreditKind.fraud: _("confirmed fraud"),
        CreditKind.suspension: _("suspension"),
    }.get(ev.kind, str(ev.kind))
    return _("{kind}: {note}").format(kind=kind, note=ev.note) if ev.note and ev.kind == CreditKind.fraud else kind


def _page(
    request: Request,
    session,
    actor,
    now,
    status: str = "open",
    errors: dict | None = None,
    values: dict | None = None,
    code: int = 200,
) -> Response:
    _ = gettext(request)
    wanted = ComplaintStatus(status) if status in ComplaintStatus.__members__ else None
    complaints = credit.list_complaints(session, actor, wanted, None, None, LIMIT, 0)
    statuses = [(s.value, complaint_status_label(_, s.value)) for s in ComplaintStatus]
    return render(
        request,
        "office_credit.html",
        status_code=code,
        complaints=_complaint_rows(request, session, complaints),
        status=status if wanted else "all",
        statuses=statuses,
        red=credit.red_list(session, now),
        black=_black_rows(request, session, now),
        enterprises=session.exec(select(Enterprise).order_by(Enterprise.name)).all(),
        errors=errors or {},
        values=values or {},
        done=request.query_params.get("done", ""),
        zone=zone(),
    )


@router.get("/office/credit")
def credit_page(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    now: NowDep,
    status: Annotated[str, Query(max_length=20)] = "open",
) -> Response:
    return _page(request, session, actor, now, status)


@router.post("/office/credit/complaints/{complaint_id}")
def close_complaint(
    complaint_id: str,
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    now: NowDep,
    csrf: CsrfChecked,
    _: Words,
    action: Annotated[str, Form(max_length=10)] = "",
    resolution: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    if action not in ("resolve", "dismiss"):
        return not_found_page(request)
    dismiss = action == "dismiss"
    try:
        credit.resolve_complaint(session, actor, complaint_id, resolution, dismiss=dismiss, now=now)
    except NotFound:
        session.rollback()
        return not_found_page(request)
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, InvalidInput):
            error = _("Say why the complaint is dismissed.") if dismiss else _("Say how it was resolved.")
        elif isinstance(exc, InvalidState):
            error = _("This complaint is already closed.")
        else:
            error = exc.detail
        shown = "all" if isinstance(exc, InvalidState) else "open"  # a closed complaint is not in the open queue
        return _page(request, session, actor, now, shown, {complaint_id: error}, {complaint_id: resolution}, exc.status)
    session.commit()
    return RedirectResponse("/office/credit?done=complaint", status_code=303)


@router.post("/office/credit/fraud")
def record_fraud(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    now: NowDep,
    csrf: CsrfChecked,
    _: Words,
    enterprise_id: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    codes: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Blacklist an enterprise for confirmed fraud, voiding the vouchers named by code."""
    values = {"enterprise_id": enterprise_id, "note": note, "codes": codes}
    wanted = [normalise_code(c) for c in codes.replace("，", ",").replace("\n", ",").split(",") if c.strip()]
    found = (
        {v.code: v for v in session.exec(select(Voucher).where(col(Voucher.code).in_(wanted))).all()} if wanted else {}
    )
    unknown = [c for c in wanted if c not in found or found[c].holder_enterprise_id != enterprise_id]
    errors = {}
    if session.get(Enterprise, enterprise_id) is None:
        errors["enterprise_id"] = _("Choose an enterprise.")
    elif unknown:
        errors["codes"] = _("Not a voucher of this enterprise: {codes}").format(codes=", ".join(unknown))
    if not note.strip():
        errors["note"] = _("Describe the finding.")
    if errors:
        return _page(request, session, actor, now, errors=errors, values=values, code=422)
    try:
        credit.confirm_fraud(session, actor, enterprise_id, [found[c].id for c in wanted], note.strip(), now=now)
    except DomainError as exc:
        session.rollback()
        return _page(request, session, actor, now, errors={"fraud": exc.detail}, values=values, code=exc.status)
    session.commit()
    return RedirectResponse("/office/credit?done=fraud#black-list", status_code=303)


@router.post("/office/credit/enterprises/{enterprise_id}/lift")
def lift(
    enterprise_id: str,
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    now: NowDep,
    csrf: CsrfChecked,
    _: Words,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        credit.lift_suspension(session, actor, enterprise_id, reason, now=now)
    except NotFound:
        session.rollback()
        return not_found_page(request)
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, InvalidInput):
            error = _("Say why the suspension is lifted.")
        elif isinstance(exc, InvalidState):
            error = _("This enterprise is not suspended.")
        else:
            error = exc.detail
        key = f"lift-{enterprise_id}" if isinstance(exc, InvalidInput) else "lift"  # not listed: said above the list
        return _page(request, session, actor, now, errors={key: error}, values={key: reason}, code=exc.status)
    session.commit()
    return RedirectResponse("/office/credit?done=lifted#black-list", status_code=303)
