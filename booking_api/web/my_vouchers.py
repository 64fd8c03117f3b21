"""My vouchers: each innovation voucher of the enterprise with its programme, face value and
balance (from the ledger), what it may fund (share, categories, service modes), validity (those
expiring within 30 days stand out), status, and what each booking used; and claiming an issued
voucher by its code. Through the same services as ``routers/vouchers.py``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from instruments.db import utcnow
from instruments.errors import DomainError, InvalidInput, InvalidState, NotFound
from instruments.inventory import Instrument
from scheduler.booking.bookings import Booking
from scheduler.money import ledger
from scheduler.money.vouchers import VoucherProgramme, claim, list_vouchers

from ..deps import SessionDep
from .enterprise import Gettext, gettext, mode_label, span, zone
from .roles import MemberDep
from .signin import check_csrf
from .templating import render

router = APIRouter(include_in_schema=False)
SOON = timedelta(days=30)


def voucher_status_label(_: Gettext, status: str) -> str:
    return {
        "issued": _("issued (claim it to use it)"),
        "claimed": _("ready to use"),
        "reserved": _("reserved by a booking"),
        "consumed": _("used"),
        "redeemed": _("redeemed"),
        "expired": _("expired"),
        "revoked": _("revoked"),
    }.get(status, status)


def _booking_label(session, booking_id: str) -> str:
    """A booking as people know it: the instrument and its local time."""
    b = session.get(Booking, booking_id)
    inst = session.get(Instrument, b.instrument_id) if b else None
    return f"{inst.name}, {span(b.start, b.end, inst.timezone)}" if b and inst else booking_id


def _rows(request: Request, session, actor) -> list[dict]:
    _ = gettext(request)
    now = utcnow()
    programmes: dict[str, VoucherProgramme | None] = {}
    rows = []
    for v in list_vouchers(session, actor, None, None, 200, 0):
        if v.programme_id not in programmes:
            programmes[v.programme_id] = session.get(VoucherProgramme, v.programme_id)
        prog = programmes[v.programme_id]
        rules = prog.parsed if prog else None
        vtype = next((t for t in rules.voucher_types if t.code == v.voucher_type), None) if rules else None
        categories = (vtype.categories if vtype else None) or []
        modes = [
            m
            for m in ((vtype.service_modes if vtype else None) or [])
            if m not in (rules.excluded_service_modes if rules else [])
        ]
        live = str(v.status) in ("issued", "claimed", "reserved")
        rows.append(
            {
                "v": v,
                "programme": prog.name if prog else v.programme_id,
                "type": vtype.name if vtype else v.voucher_type,
                "balance_fen": ledger.balance(session, ledger.voucher(v.id)),
                "share": _("{share}% of the fee").format(share=f"{rules.share_bp / 100:g}") if rules else None,
                "categories": categories,
                "modes": [mode_label(_, m) for m in modes],
                "excluded": [mode_label(_, m) for m in (rules.excluded_service_modes if rules else [])],
                "status": voucher_status_label(_, str(v.status)),
                "expiring": live and v.expires_at - now <= SOON,
                "uses": [(u, _booking_label(session, u.booking_id)) for u in ledger.voucher_uses(session, v.id)],
            }
        )
    return rows


def _page(request: Request, session, actor, status: int = 200, **extra) -> Response:
    return render(
        request, "my_vouchers.html", status_code=status, rows=_rows(request, session, actor), zone=zone(), **extra
    )


@router.get("/my/vouchers")
def my_vouchers(request: Request, session: SessionDep, actor: MemberDep) -> Response:
    return _page(request, session, actor)


@router.post("/my/vouchers/claim")
def claim_voucher(
    request: Request,
    session: SessionDep,
    actor: MemberDep,
    code: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf)
    _ = gettext(request)
    try:
        v = claim(session, actor, code)
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, InvalidInput):
            error = _("This is not a voucher code: it has 18 letters and digits, the last one a check character.")
        elif isinstance(exc, NotFound):
            error = _("No voucher with this code was issued to your enterprise.")
        elif isinstance(exc, InvalidState):
            error = _("This voucher cannot be claimed: it is already claimed, used, expired or revoked.")
        else:
            error = exc.detail
        return _page(request, session, actor, status=exc.status, claim_error=error, code=code)
    session.commit()
    return _page(request, session, actor, claimed=v.code)
