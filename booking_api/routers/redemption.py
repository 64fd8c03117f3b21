"""Redemption claims by providers, decisions and payment batches by the programme office."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from scheduler.money import redemption as svc
from scheduler.money import unit_claims

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


@router.get(
    "/owner-units/{unit_id}/voucher-orders",
    response_model=list[dict[str, Any]],
    summary="Voucher orders at the unit, latest service first: booking, enterprise, amount, voucher status, "
    "claim item, whether it can be claimed (the unit's lab managers, programme admins)",
)
def voucher_orders(unit_id: str, session: SessionDep, actor: ActorDep, page: PageDep) -> list[dict[str, Any]]:
    return [o.as_dict() for o in unit_claims.orders(session, actor, unit_id, page.limit, page.offset)]


@router.get(
    "/owner-units/{unit_id}/redemption-claims",
    response_model=list[dict[str, Any]],
    summary="The unit's redemption claims, latest first, each order with its decision and payment batch "
    "(the unit's lab managers, programme admins)",
)
def unit_redemption_claims(unit_id: str, session: SessionDep, actor: ActorDep, page: PageDep) -> list[dict[str, Any]]:
    return [c.as_dict() for c in unit_claims.claims(session, actor, unit_id, page.limit, page.offset)]
