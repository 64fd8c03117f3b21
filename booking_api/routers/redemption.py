"""Redemption claims by providers, decisions and payment batches by the programme office; the
lists of claims, claim items and batches (programme admins all, a lab manager their unit's) and a
batch's payment file (CSV or XLSX, amounts in yuan, Chinese headers); a unit's voucher orders.

One endpoint per concept: a unit's claims are ``GET /redemption-claims?owner_unit_id=`` (the
older ``/owner-units/{id}/redemption-claims`` is a deprecated alias that calls the same
handler); a unit's vouchers are ``GET /owner-units/{id}/voucher-orders`` (``/vouchers?owner_unit_id=``
is its deprecated alias, in the vouchers router)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from scheduler.money import redemption as svc
from scheduler.money import redemption_lists, unit_orders
from scheduler.money.vouchers import VoucherStatus

from ..batch_files import batch_file
from ..deps import ActorDep, AdminDep, PageDep, SessionDep
from ..idempotency import IdempotencyKey, once

router = APIRouter(prefix="/api/v1", tags=["redemption"])


class Order(BaseModel):
    voucher_id: str
    proofs: dict[str, str] = Field(
        description="References to: contract, invoice, payment_proof, service_record",
        examples=[
            {
                "contract": "HT-2026-031",
                "invoice": "FP-0012",
                "payment_proof": "ZF-778",
                "service_record": "BG-2026-1107",
            }
        ],
    )


class ClaimIn(BaseModel):
    programme_id: str
    owner_unit_id: str
    orders: list[Order] = Field(min_length=1, max_length=1000)


class ClaimOut(BaseModel):
    claim: svc.RedemptionClaim
    outcomes: list[dict[str, Any]]


class DecisionIn(BaseModel):
    approve: bool
    reason: str = Field(default="", max_length=500)


@router.post(
    "/redemption-claims",
    response_model=ClaimOut,
    status_code=201,
    summary="File a claim for completed voucher orders, with proof (the provider's lab managers; only in an open window)",
)
def file_claim(body: ClaimIn, session: SessionDep, actor: ActorDep, idempotency_key: IdempotencyKey = None) -> ClaimOut:
    def act() -> ClaimOut:
        claim, outcomes = svc.file_claim(
            session, actor, body.programme_id, body.owner_unit_id, [o.model_dump() for o in body.orders]
        )
        return ClaimOut(claim=claim, outcomes=outcomes)

    return once(session, actor, idempotency_key, "POST /redemption-claims", act, request=body)


@router.post(
    "/claim-items/{item_id}/decision",
    response_model=svc.ClaimItem,
    summary="Approve or reject one order (programme admin)",
)
def decide(
    item_id: str, body: DecisionIn, session: SessionDep, actor: AdminDep, idempotency_key: IdempotencyKey = None
) -> svc.ClaimItem:
    return once(
        session,
        actor,
        idempotency_key,
        f"POST /claim-items/{item_id}/decision",
        lambda: svc.decide(session, actor, item_id, body.approve, body.reason),
        status=200,
        request=body,
    )


@router.post(
    "/voucher-programmes/{programme_id}/payment-batches",
    response_model=svc.PaymentBatch,
    status_code=201,
    summary="Batch every approved, unpaid order (programme admin)",
)
def create_batch(
    programme_id: str, session: SessionDep, actor: AdminDep, idempotency_key: IdempotencyKey = None
) -> svc.PaymentBatch:
    return once(
        session,
        actor,
        idempotency_key,
        f"POST /voucher-programmes/{programme_id}/payment-batches",
        lambda: svc.create_batch(session, actor, programme_id),
    )


@router.post(
    "/payment-batches/{batch_id}/paid", response_model=svc.PaymentBatch, summary="Record a batch as paid (idempotent)"
)
def mark_paid(
    batch_id: str, session: SessionDep, actor: AdminDep, idempotency_key: IdempotencyKey = None
) -> svc.PaymentBatch:
    return once(
        session,
        actor,
        idempotency_key,
        f"POST /payment-batches/{batch_id}/paid",
        lambda: svc.mark_paid(session, actor, batch_id),
        status=200,
    )


# --- reading: claims, items, batches --------------------------------------------------------------


class ClaimSummaryOut(BaseModel):
    claim: svc.RedemptionClaim
    programme: str = Field(description="The programme's name")
    status: str = Field(
        description="pending while an order awaits its decision; paid when every approved order is paid; else decided"
    )
    items: int = Field(description="Orders in the claim")
    counts: dict[str, int] = Field(description="Orders by status: pending, approved, rejected, paid")
    amount_fen: int = Field(description="What the orders claim (voucher money), fen")
    bonus_fen: int = Field(description="The provider bonus on them, fen")


class ClaimDetailOut(BaseModel):
    claim: svc.RedemptionClaim
    items: list[svc.ClaimItem]


class BatchDetailOut(BaseModel):
    batch: svc.PaymentBatch
    items: list[svc.ClaimItem] = Field(description="The orders it pays (a lab manager: their unit's only)")


@router.get(
    "/redemption-claims",
    response_model=list[ClaimSummaryOut],
    summary="Redemption claims, newest first (programme admins: all; lab managers: their unit's)",
)
def list_claims(
    session: SessionDep,
    actor: ActorDep,
    page: PageDep,
    programme_id: str | None = None,
    owner_unit_id: str | None = None,
    status: Annotated[
        svc.ItemStatus | None, Query(description="Only claims with an order in this status (pending: the queue)")
    ] = None,
    window: Annotated[str | None, Query(max_length=20, description="The redemption window, e.g. 2026-11")] = None,
) -> list[ClaimSummaryOut]:
    claims = redemption_lists.list_claims(
        session, actor, programme_id, owner_unit_id, status, window, page.limit, page.offset
    )
    return [
        ClaimSummaryOut(
            claim=s.claim,
            programme=s.programme,
            status=s.status,
            items=s.items,
            counts=s.counts,
            amount_fen=s.amount_fen,
            bonus_fen=s.bonus_fen,
        )
        for s in redemption_lists.summaries(session, claims)
    ]


@router.get(
    "/redemption-claims/{claim_id}",
    response_model=ClaimDetailOut,
    summary="A redemption claim with its orders and their proofs",
)
def get_claim(claim_id: str, session: SessionDep, actor: ActorDep) -> ClaimDetailOut:
    claim, items = redemption_lists.get_claim(session, actor, claim_id)
    return ClaimDetailOut(claim=claim, items=items)


@router.get(
    "/claim-items",
    response_model=list[svc.ClaimItem],
    summary="Claimed orders (programme admins: all; lab managers: their unit's)",
)
def list_items(
    session: SessionDep,
    actor: ActorDep,
    page: PageDep,
    claim_id: str | None = None,
    status: svc.ItemStatus | None = None,
    voucher_id: str | None = None,
    batch_id: str | None = None,
    owner_unit_id: str | None = None,
) -> list[svc.ClaimItem]:
    return redemption_lists.list_items(
        session, actor, claim_id, status, voucher_id, batch_id, owner_unit_id, page.limit, page.offset
    )


@router.get(
    "/payment-batches",
    response_model=list[svc.PaymentBatch],
    summary="Payment batches, newest first (programme admins: all; lab managers: those paying their unit)",
)
def list_batches(
    session: SessionDep,
    actor: ActorDep,
    page: PageDep,
    programme_id: str | None = None,
    paid: Annotated[bool | None, Query(description="true: paid ones only; false: unpaid ones only")] = None,
) -> list[svc.PaymentBatch]:
    return redemption_lists.list_batches(session, actor, programme_id, paid, page.limit, page.offset)


@router.get("/payment-batches/{batch_id}", response_model=BatchDetailOut, summary="A payment batch and its orders")
def get_batch(batch_id: str, session: SessionDep, actor: ActorDep) -> BatchDetailOut:
    batch, items = redemption_lists.get_batch(session, actor, batch_id)
    return BatchDetailOut(batch=batch, items=items)


@router.get(
    "/payment-batches/{batch_id}/export.csv",
    summary="A batch's payment file as CSV (yuan amounts, Chinese headers, UTF-8 with BOM)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(batch_id: str, session: SessionDep, actor: ActorDep) -> Response:
    return batch_file(session, actor, batch_id, "csv")


@router.get(
    "/payment-batches/{batch_id}/export.xlsx",
    summary="A batch's payment file as an Excel workbook (yuan amounts, Chinese headers)",
    response_class=Response,
    responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}},
)
def export_xlsx(batch_id: str, session: SessionDep, actor: ActorDep) -> Response:
    return batch_file(session, actor, batch_id, "xlsx")


@router.get(
    "/owner-units/{unit_id}/voucher-orders",
    response_model=list[dict[str, Any]],
    summary="Voucher orders at the unit, latest service first: booking, enterprise, amount, voucher status, "
    "claim item, whether it can be claimed (the unit's lab managers, programme admins)",
)
def voucher_orders(
    unit_id: str,
    session: SessionDep,
    actor: ActorDep,
    page: PageDep,
    programme_id: Annotated[str | None, Query(max_length=40)] = None,
    status: VoucherStatus | None = None,
    enterprise_id: Annotated[str | None, Query(max_length=40, description="Only this holder's")] = None,
) -> list[dict[str, Any]]:
    found = unit_orders.orders(
        session, actor, unit_id, page.limit, page.offset, programme_id=programme_id, status=status,
        enterprise_id=enterprise_id,
    )
    return [o.as_dict() for o in found]


@router.get(
    "/owner-units/{unit_id}/redemption-claims",
    response_model=list[ClaimSummaryOut],
    deprecated=True,
    summary="Deprecated alias of GET /redemption-claims?owner_unit_id={unit_id} (the same handler and answer)",
)
def unit_redemption_claims(
    unit_id: str,
    session: SessionDep,
    actor: ActorDep,
    page: PageDep,
    programme_id: str | None = None,
    status: svc.ItemStatus | None = None,
    window: Annotated[str | None, Query(max_length=20)] = None,
) -> list[ClaimSummaryOut]:
    return list_claims(session, actor, page, programme_id, unit_id, status, window)
