"""The lab manager's vouchers and claims (/unit/vouchers): every voucher order at the unit (the
booking it funded, the enterprise, the voucher code, the amount in yuan, its status), what can
be claimed, filing a redemption claim for a completed order with its four proofs (each an
uploaded PDF/JPEG/PNG kept by the platform, or a reference number), and each claim with the
office's decision on every order and its payment. Through the same services as the API
(``scheduler.money.unit_orders``, ``redemption_lists``, ``redemption.file_claim``, ``proof_files``); always the
manager's own unit: another unit's voucher or claim answers the 404 page."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from instruments.errors import DomainError, InvalidInput, NotFound, PayloadTooLarge
from instruments.settings import get_settings
from scheduler.money import proof_files, redemption, redemption_lists, unit_orders

from ..bodies import capped_form
from ..deps import SessionDep
from .clock import NowDep
from .enterprise import Gettext, gettext, zone
from .error_pages import error_page, not_found_page
from .owned import OwnClaim, Words
from .proof_files import href
from .roles import ManagerDep
from .signin import check_csrf
from .templating import render

router = APIRouter(include_in_schema=False)
FORM_OVERHEAD = 64 * 1024
MAX_REF = 200


def proof_label(_: Gettext, proof: str) -> str:
    return {
        "contract": _("Contract"),
        "invoice": _("Invoice"),
        "payment_proof": _("Payment proof"),
        "service_record": _("Service record or test report"),
    }.get(proof, proof)


def order_status_label(_: Gettext, status: str) -> str:
    """A voucher's status as its provider sees it."""
    return {
        "reserved": _("held for the booking (service not done yet)"),
        "consumed": _("service done"),
        "redeemed": _("redeemed"),
        "expired": _("expired"),
        "revoked": _("revoked"),
        "claimed": _("claimed by the enterprise"),
        "issued": _("issued"),
    }.get(status, status)


def item_status_label(_: Gettext, status: str | None) -> str:
    return {
        None: _("not claimed yet"),
        "pending": _("claimed, awaiting the office's decision"),
        "approved": _("approved, awaiting payment"),
        "rejected": _("rejected"),
        "paid": _("paid"),
    }.get(status, status or "")


def claim_status_label(_: Gettext, status: str) -> str:
    return {
        "pending": _("pending: awaiting the office's decision"),
        "decided": _("decided"),
        "paid": _("paid"),
    }.get(status, status)


def why_text(_: Gettext, why: str) -> str:
    """Why ``file_claim`` refused an order, in the page's language."""
    if why.startswith("missing proof"):
        return _("A proof is missing.")
    if why.startswith("voucher is"):
        return _("The service of this order is not done yet, so it cannot be claimed.")
    if why.startswith("no proof file"):
        return _("A proof file is not one of your unit's.")
    if why.startswith("not a voucher order"):
        return _("This is not a voucher order of your unit in this programme.")
    return why


def refusal_text(_: Gettext, exc: DomainError) -> str:
    m = re.search(r"the next opens on (\d{4}-\d{2}-\d{2})", exc.detail)
    if m:
        return _("No redemption window of this programme is open today; the next opens on {date}.").format(
            date=m.group(1)
        )
    if exc.detail.startswith("No redemption window"):
        return _("No redemption window of this programme is open today.")
    return exc.detail


def file_error(_: Gettext, exc: DomainError) -> str:
    if isinstance(exc, PayloadTooLarge):
        mb = get_settings().proof_file_max_bytes / 1024 / 1024
        return _("The file is larger than {mb:g} MB.").format(mb=mb)
    if "empty" in exc.detail:
        return _("The file is empty.")
    return _("The file is not a PDF, JPEG or PNG (judged by its content, not its name).")


@router.get("/unit/vouchers")
def unit_vouchers(request: Request, session: SessionDep, actor: ManagerDep) -> Response:
    _ = gettext(request)
    unit = actor.owner_unit_id
    orders = unit_orders.orders(session, actor, unit, 200, 0)
    claims = redemption_lists.summaries(session, redemption_lists.list_claims(session, actor, owner_unit_id=unit))
    return render(
        request,
        "unit_vouchers.html",
        orders=[
            {
                "o": o,
                "status": order_status_label(_, o.voucher_status),
                "claim": item_status_label(_, o.item_status),
            }
            for o in orders
        ],
        claimable_fen=unit_orders.claimable_fen(session, actor, unit),
        ready_fen=sum(o.voucher_fen for o in orders if o.claimable),
        ready=sum(1 for o in orders if o.claimable),
        claims=[{"c": c, "status": claim_status_label(_, c.status)} for c in claims],
        zone=zone(),
    )


def _form(request: Request, order, errors: dict[str, str], values: dict[str, str], status: int = 200) -> Response:
    _ = gettext(request)
    return render(
        request,
        "unit_claim_form.html",
        status_code=status,
        order=order,
        proofs=[(p, proof_label(_, p)) for p in redemption.PROOFS],
        errors=errors,
        values=values,
        max_mb=f"{get_settings().proof_file_max_bytes / 1024 / 1024:g}",
        zone=zone(),
    )


def _claimable_order(request: Request, session, actor, voucher_id: str):  # noqa: ANN202
    """The order, or the page that says why it cannot be claimed here."""
    _ = gettext(request)
    try:
        order = unit_orders.order(session, actor, actor.owner_unit_id, voucher_id)
    except NotFound:
        return None, not_found_page(request)
    if not order.claimable:
        message = (
            _("This order is already claimed.")
            if order.item_status
            else _("The service of this order is not done yet, so it cannot be claimed.")
        )
        return None, error_page(request, 409, message)
    return order, None


@router.get("/unit/vouchers/{voucher_id}/claim")
def claim_form(voucher_id: str, request: Request, session: SessionDep, actor: ManagerDep) -> Response:
    order, refused = _claimable_order(request, session, actor, voucher_id)
    return refused or _form(request, order, {}, {})


@router.post("/unit/vouchers/{voucher_id}/claim")
async def file_claim(
    voucher_id: str, request: Request, session: SessionDep, actor: ManagerDep, now: NowDep
) -> Response:
    """File one order's claim: every proof is a file (checked by size and content before anything
    is kept) or a reference; nothing is stored unless the claim is filed. The body is read here;
    the database work runs in a worker thread, as a plain (sync) page's does."""
    _ = gettext(request)
    limit = get_settings().proof_file_max_bytes
    n = len(redemption.PROOFS)

    def too_large(size: int) -> None:
        raise PayloadTooLarge(
            f"The form is larger than {n} proof files of {limit} bytes.", limit="proof_file_max_bytes"
        )

    try:
        form = await capped_form(request, n * limit + FORM_OVERHEAD, too_large, max_files=n, max_fields=20)
    except PayloadTooLarge:
        mb = limit / 1024 / 1024
        return error_page(request, 413, _("Each proof file may be at most {mb:g} MB.").format(mb=mb))
    try:
        csrf = str(form.get("csrf") or "")
        refs = {p: str(form.get(f"ref_{p}") or "").strip()[:MAX_REF] for p in redemption.PROOFS}
        uploads: dict[str, tuple[str, bytes]] = {}
        for p in redemption.PROOFS:
            upload = form.get(f"file_{p}")
            if isinstance(upload, UploadFile) and upload.filename:
                uploads[p] = (upload.filename, await upload.read(limit + 1))
    finally:
        await form.close()
    check_csrf(request, csrf)
    return await run_in_threadpool(_file_claim, request, session, actor, now, voucher_id, refs, uploads)


def _file_claim(
    request: Request,
    session,  # noqa: ANN001
    actor,  # noqa: ANN001
    now: datetime,
    voucher_id: str,
    values: dict[str, str],
    uploads: dict[str, tuple[str, bytes]],
) -> Response:
    _ = gettext(request)
    order, refused = _claimable_order(request, session, actor, voucher_id)
    if refused:
        return refused
    errors: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for p in redemption.PROOFS:
        if p in uploads:
            try:
                proof_files.check_content(uploads[p][1])
            except (InvalidInput, PayloadTooLarge) as exc:
                errors[p] = file_error(_, exc)
                continue
            files[p] = uploads[p]
        elif not values[p]:
            errors[p] = _("Upload the file or give its reference number.")
    if errors:
        if files:
            errors["form"] = _("Nothing was filed. Choose the files again: a browser does not keep them.")
        return _form(request, order, errors, values, status=422)
    proofs = dict(values)
    try:
        for p, (name, data) in files.items():
            proofs[p] = proof_files.ref(proof_files.store(session, actor, actor.owner_unit_id, name, data, now).id)
        claim, outcomes = redemption.file_claim(
            session,
            actor,
            order.programme_id,
            actor.owner_unit_id,
            [{"voucher_id": order.voucher_id, "proofs": proofs}],
            now=now,
        )
    except DomainError as exc:
        session.rollback()
        return _form(request, order, {"form": refusal_text(_, exc)}, values, status=exc.status)
    outcome = outcomes[0]
    if outcome["outcome"] != "filed":
        session.rollback()
        why = (
            _("This order is already claimed.")
            if outcome["outcome"] == "already_filed"
            else why_text(_, outcome["why"])
        )
        return _form(request, order, {"form": why}, values, status=409)
    session.commit()
    return RedirectResponse(f"/unit/vouchers/claims/{claim.id}", status_code=303)


@router.get("/unit/vouchers/claims/{claim_id}")
def claim_page(request: Request, session: SessionDep, actor: ManagerDep, c: OwnClaim, _: Words) -> Response:
    files = proof_files.describe_many(
        session,
        {i for it in c.items for i in (proof_files.file_id_of(v) for v in it.item.proofs.values()) if i},
    )
    items = []
    for it in c.items:
        proofs = []
        for p in redemption.PROOFS:
            value = str(it.item.proofs.get(p, ""))
            file_id = proof_files.file_id_of(value)
            proofs.append(
                {
                    "label": proof_label(_, p),
                    "href": href(value),
                    "text": files.get(file_id, {}).get("name", file_id) if file_id else value,
                }
            )
        items.append({"it": it, "status": item_status_label(_, str(it.item.status)), "proofs": proofs})
    return render(
        request,
        "unit_claim.html",
        c=c,
        status=claim_status_label(_, c.status),
        items=items,
        zone=zone(),
    )
