"""The programme office's redemption pages (/office/redemption): the claims queue (claims with
orders waiting for a decision first), one claim with each order's proofs (a provider's uploaded
file, ``proof-file:<id>``, links to ``/proof-files/<id>``; any other proof is shown as the text it
is) and an approve or reject-with-a-reason decision per order; payment batches: made per
programme from its approved orders, downloaded as the payment file (CSV or XLSX, yuan, Chinese
headers), marked paid. Through the same services as ``routers/redemption.py``
(``scheduler/money/redemption.py`` decides and pays, ``redemption_lists`` reads)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from instruments.errors import Conflict, DomainError, InvalidInput, InvalidState, NotFound
from instruments.inventory import Instrument
from instruments.units import OwnerUnit
from scheduler.booking.bookings import Booking
from scheduler.money import proof_files, redemption, redemption_lists
from scheduler.money.redemption import ItemStatus
from scheduler.money.vouchers import VoucherProgramme

from ..batch_files import batch_file
from ..deps import SessionDep
from .clock import NowDep
from .enterprise import Gettext, gettext, span, zone
from .error_pages import not_found_page
from .owned import CsrfChecked, OfficeBatch, OfficeClaimItem, Words
from .roles import OfficeDep
from .templating import render

router = APIRouter(include_in_schema=False)
PAGE = 50
STATUSES = ("pending", "approved", "rejected", "paid")


def status_label(_: Gettext, status: str) -> str:
    return {
        "pending": _("waiting for a decision"),
        "approved": _("approved"),
        "rejected": _("rejected"),
        "paid": _("paid"),
    }.get(status, status)


def proof_label(_: Gettext, name: str) -> str:
    return {
        "contract": _("Contract"),
        "invoice": _("Invoice"),
        "payment_proof": _("Proof of payment"),
        "service_record": _("Service record"),
    }.get(name, name)


def proofs_of(_: Gettext, proofs: dict, files: dict[str, dict]) -> list[dict]:
    """Each proof as a label and either a link to the uploaded file (named as uploaded, when the
    platform holds it: ``files`` from ``proof_files.describe_many``) or its text."""
    order = list(redemption.PROOFS) + sorted(k for k in proofs if k not in redemption.PROOFS)
    out = []
    for name in order:
        if name not in proofs:
            continue
        value = str(proofs[name])
        file_id = proof_files.file_id_of(value)
        about = files.get(file_id or "")
        out.append(
            {
                "label": proof_label(_, name),
                "text": value,
                "href": f"/proof-files/{file_id}" if file_id else "",
                "file": about["name"] if about else "",
            }
        )
    return out


def _bookings(session, items) -> dict[str, str]:
    """Each item's booking as people know it: the instrument and its local time."""
    ids = {i.booking_id for i in items}
    if not ids:
        return {}
    books = session.exec(select(Booking).where(col(Booking.id).in_(ids))).all()
    insts = {
        i.id: i
        for i in session.exec(select(Instrument).where(col(Instrument.id).in_({b.instrument_id for b in books}))).all()
    }
    out = {}
    for b in books:
        inst = insts.get(b.instrument_id)
        out[b.id] = f"{inst.name}, {span(b.start, b.end, inst.timezone)}" if inst else b.id
    return out


# --- the queue --------------------------------------------------------------------------------


def _queue(
    request: Request, session, actor, status: str, programme_id: str, offset: int, batch_error: str = "", code=200
) -> Response:
    _ = gettext(request)
    wanted = ItemStatus(status) if status in STATUSES else None
    claims = redemption_lists.list_claims(session, actor, programme_id or None, None, wanted, None, PAGE + 1, offset)
    more = len(claims) > PAGE
    rows = redemption_lists.summaries(session, claims[:PAGE])
    units = redemption_lists.names_of(session, OwnerUnit, {r.claim.owner_unit_id for r in rows})
    programmes = session.exec(select(VoucherProgramme).order_by(col(VoucherProgramme.year).desc())).all()
    names = {p.id: p.name for p in programmes}
    batches = redemption_lists.list_batches(session, actor, None, None, 20, 0)
    return render(
        request,
        "office_redemption.html",
        status_code=code,
        rows=rows,
        units=units,
        programmes=programmes,
        names=names,
        status=status if wanted else "all",
        statuses=[(s, status_label(_, s)) for s in STATUSES],
        programme_id=programme_id,
        offset=offset,
        more=more,
        page=PAGE,
        batchable=redemption_lists.batchable(session),
        batches=batches,
        batch_error=batch_error,
        zone=zone(),
    )


@router.get("/office/redemption")
def queue(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    status: Annotated[str, Query(max_length=20)] = "pending",
    programme_id: Annotated[str, Query(max_length=40)] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    return _queue(request, session, actor, status, programme_id, offset)


# --- one claim --------------------------------------------------------------------------------


def _claim_page(
    request: Request, session, actor, claim_id: str, errors: dict | None = None, reasons: dict | None = None, code=200
) -> Response:
    _ = gettext(request)
    try:
        claim, items = redemption_lists.get_claim(session, actor, claim_id)
    except NotFound:
        return not_found_page(request)
    facts = redemption_lists.item_facts(session, items)
    bookings = _bookings(session, items)
    files = proof_files.describe_many(
        session, {f for i in items for f in (proof_files.file_id_of(v) for v in (i.proofs or {}).values()) if f}
    )
    rows = [
        {
            "item": i,
            "facts": facts[i.id],
            "booking": bookings.get(i.booking_id, i.booking_id),
            "proofs": proofs_of(_, i.proofs or {}, files),
            "status": status_label(_, str(i.status)),
        }
        for i in items
    ]
    return render(
        request,
        "office_claim.html",
        status_code=code,
        claim=claim,
        unit=redemption_lists.names_of(session, OwnerUnit, {claim.owner_unit_id}).get(claim.owner_unit_id, ""),
        programme=redemption_lists.names_of(session, VoucherProgramme, {claim.programme_id}).get(
            claim.programme_id, ""
        ),
        rows=rows,
        errors=errors or {},
        reasons=reasons or {},
        decided=request.query_params.get("decided", ""),
        zone=zone(),
    )


@router.get("/office/redemption/claims/{claim_id}")
def claim_page(claim_id: str, request: Request, session: SessionDep, actor: OfficeDep) -> Response:
    return _claim_page(request, session, actor, claim_id)


@router.post("/office/redemption/items/{item_id}/decision")
def decide(
    item_id: str,
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    csrf: CsrfChecked,
    item: OfficeClaimItem,
    now: NowDep,
    _: Words,
    decision: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if decision not in ("approve", "reject"):
        return not_found_page(request)
    claim_id = item.claim_id
    try:
        redemption.decide(session, actor, item_id, decision == "approve", reason.strip(), now=now)
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, InvalidInput):
            error, code = _("Say why the order is rejected."), 422
        elif isinstance(exc, InvalidState):
            error, code = _("This order has already been decided."), 409
        elif isinstance(exc, Conflict):
            error, code = _("The programme's budget has too little left to pay this order's provider bonus."), 409
        else:
            error, code = exc.detail, exc.status
        return _claim_page(request, session, actor, claim_id, {item_id: error}, {item_id: reason}, code)
    session.commit()
    return RedirectResponse(f"/office/redemption/claims/{claim_id}?decided={item_id}#item-{item_id}", status_code=303)


# --- payment batches ----------------------------------------------------------------------------


@router.post("/office/redemption/batches")
def create_batch(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    csrf: CsrfChecked,
    _: Words,
    programme_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        batch = redemption.create_batch(session, actor, programme_id)
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, NotFound):
            error = _("Choose a voucher programme.")
        elif isinstance(exc, InvalidState):
            error = _("No approved orders of this programme wait for payment.")
        else:
            error = exc.detail
        return _queue(request, session, actor, "pending", "", 0, batch_error=error, code=exc.status)
    session.commit()
    return RedirectResponse(f"/office/redemption/batches/{batch.id}", status_code=303)


@router.get("/office/redemption/batches/{batch_id}")
def batch_page(request: Request, session: SessionDep, actor: OfficeDep, found: OfficeBatch) -> Response:
    batch, items = found
    facts = redemption_lists.item_facts(session, items)
    programme = redemption_lists.names_of(session, VoucherProgramme, {batch.programme_id}).get(batch.programme_id, "")
    return render(
        request,
        "office_batch.html",
        batch=batch,
        items=items,
        facts=facts,
        programme=programme,
        zone=zone(),
    )


@router.get("/office/redemption/batches/{batch_id}/export.{fmt}")
def export(batch_id: str, fmt: str, request: Request, session: SessionDep, actor: OfficeDep) -> Response:
    if fmt not in ("csv", "xlsx"):
        return not_found_page(request)
    try:
        return batch_file(session, actor, batch_id, fmt)
    except NotFound:
        return not_found_page(request)


@router.post("/office/redemption/batches/{batch_id}/paid")
def mark_paid(batch_id: str, request: Request, session: SessionDep, actor: OfficeDep, csrf: CsrfChecked, now: NowDep) -> Response:
    try:
        redemption.mark_paid(session, actor, batch_id, now=now)
    except NotFound:
        session.rollback()
        return not_found_page(request)
    session.commit()
    return RedirectResponse(f"/office/redemption/batches/{batch_id}", status_code=303)
