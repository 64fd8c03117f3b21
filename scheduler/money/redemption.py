"""Redemption: providers (owner units) claim what completed voucher orders earned, with proof;
the programme office approves or rejects each order; approved orders are paid in batches with
the provider bonus. One claim item per voucher, ever: filing an order twice never pays twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, Session, SQLModel, col, select

from instruments.actor import Actor
from instruments.audit import record, snapshot
from instruments.db import json_field, utc_field, utcnow
from instruments.errors import Conflict, InvalidInput, InvalidState, NotFound
from instruments.ids import new_id
from instruments.settings import get_settings
from instruments.units import OwnerUnit
from scheduler.money import ledger, proof_files
from scheduler.money.vouchers import Voucher, VoucherStatus, get_programme, is_local
from scheduler.shared.mail_prefs import MailKind
from scheduler.shared.notifications import tell

PROOFS = ("contract", "invoice", "payment_proof", "service_record")


class ItemStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    paid = "paid"


class RedemptionClaim(SQLModel, table=True):
    __tablename__ = "redemption_claim"

    id: str = Field(default_factory=lambda: new_id("clm"), primary_key=True)
    programme_id: str = Field(foreign_key="voucher_programme.id", index=True)
    owner_unit_id: str = Field(foreign_key="owner_unit.id", index=True)
    window: str = Field(description="The redemption window it was filed in, e.g. 2026Q3 or 2026-11")
    filed_at: datetime = utc_field(default_factory=utcnow)
    filed_by: str | None = None


class ClaimItem(SQLModel, table=True):
    __tablename__ = "claim_item"

    id: str = Field(default_factory=lambda: new_id("cli"), primary_key=True)
    claim_id: str = Field(foreign_key="redemption_claim.id", index=True)
    voucher_id: str = Field(foreign_key="voucher.id", unique=True)
    booking_id: str = Field(foreign_key="booking.id", index=True)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    bonus_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    proofs: dict[str, Any] = json_field(dict)
    status: ItemStatus = Field(default=ItemStatus.pending, index=True)
    reason: str = ""
    decided_at: datetime | None = utc_field(nullable=True, default=None)
    batch_id: str | None = Field(default=None, foreign_key="payment_batch.id", index=True)


class PaymentBatch(SQLModel, table=True):
    __tablename__ = "payment_batch"

    id: str = Field(default_factory=lambda: new_id("pay"), primary_key=True)
    programme_id: str = Field(foreign_key="voucher_programme.id", index=True)
    created_at: datetime = utc_field(default_factory=utcnow)
    paid_at: datetime | None = utc_field(nullable=True, default=None)
    amount_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    bonus_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    items: int = 0


def file_claim(
    session: Session,
    actor: Actor,
    programme_id: str,
    owner_unit_id: str,
    orders: list[dict[str, Any]],
    now: datetime | None = None,
) -> tuple[RedemptionClaim, list[dict[str, Any]]]:
    """File a claim for completed voucher orders (each ``{"voucher_id", "proofs": {...}}``).
    Returns the claim and one outcome per order (filed / already filed / refused with why)."""
    now = now or utcnow()
    actor.require_unit_manager(owner_unit_id)
    if session.get(OwnerUnit, owner_unit_id) is None:  # before the window: a typo is named whatever the day
        raise InvalidInput(f"No owner unit {owner_unit_id!r}.", field="owner_unit_id")
    prog = get_programme(session, programme_id)
    rules = prog.parsed
    window = rules.redemption.window_at(now.date())
    if window is None:
        nxt = rules.redemption.next_opening(now.date())
        raise Conflict(f"No redemption window of {prog.name} is open today; the next opens on {nxt}.")
    if not orders:
        raise InvalidInput("List at least one order to claim.", field="orders")
    claim = RedemptionClaim(
        programme_id=prog.id, owner_unit_id=owner_unit_id, window=window, filed_at=now, filed_by=actor.user_id
    )
    session.add(claim)
    session.flush()
    unit = session.get(OwnerUnit, owner_unit_id)
    outcomes = []
    for i, order in enumerate(orders):
        vid = str(order.get("voucher_id", ""))
        proofs = order.get("proofs") or {}
        missing = [p for p in PROOFS if not str(proofs.get(p, "")).strip()]
        v = session.exec(select(Voucher).where(Voucher.id == vid).with_for_update()).first()
        if v is None or v.programme_id != prog.id or v.provider_unit_id != owner_unit_id:
            outcomes.append(
                {
                    "order": i,
                    "voucher_id": vid,
                    "outcome": "refused",
                    "why": "not a voucher order of this unit in this programme",
                }
            )
            continue
        if missing:
            outcomes.append(
                {"order": i, "voucher_id": vid, "outcome": "refused", "why": f"missing proof: {', '.join(missing)}"}
            )
            continue
        bad_file = proof_files.check_refs(session, owner_unit_id, proofs)
        if bad_file:
            outcomes.append({"order": i, "voucher_id": vid, "outcome": "refused", "why": bad_file})
            continue
        existing = session.exec(select(ClaimItem).where(ClaimItem.voucher_id == v.id)).first()
        if existing is not None and existing.status != ItemStatus.rejected:
            outcomes.append(
                {
                    "order": i,
                    "voucher_id": vid,
                    "outcome": "already_filed",
                    "item": existing.id,
                    "status": str(existing.status),
                }
            )
            continue
        if v.status != VoucherStatus.consumed:
            outcomes.append(
                {
                    "order": i,
                    "voucher_id": vid,
                    "outcome": "refused",
                    "why": f"voucher is {v.status}, not a completed service",
                }
            )
            continue
        bonus = rules.bonus_fen(v.consumed_fen, is_local(rules, unit))
        if existing is not None:  # a rejected order filed again with new proof
            existing.claim_id, existing.proofs, existing.status, existing.reason = (
                claim.id,
                dict(proofs),
                ItemStatus.pending,
                "",
            )
            existing.amount_fen, existing.bonus_fen, existing.decided_at = v.consumed_fen, bonus, None
            item = existing
        else:
            item = ClaimItem(
                claim_id=claim.id,
                voucher_id=v.id,
                booking_id=v.booking_id,
                amount_fen=v.consumed_fen,
                bonus_fen=bonus,
                proofs=dict(proofs),
            )
        session.add(item)
        session.flush()
        outcomes.append(
            {"order": i, "voucher_id": vid, "outcome": "filed", "item": item.id, "amount_fen": item.amount_fen}
        )
    record(session, actor, "claim.file", "redemption_claim", claim.id, after={"window": window, "outcomes": outcomes})
    return claim, outcomes


def decide(
    session: Session, actor: Actor, item_id: str, approve: bool, reason: str = "", now: datetime | None = None
) -> ClaimItem:
    actor.require_admin()
    item = session.exec(select(ClaimItem).where(ClaimItem.id == item_id).with_for_update()).first()
    if item is None:
        raise NotFound(f"No claim item {item_id!r}.")
    if item.status != ItemStatus.pending:
        raise InvalidState(f"Claim item {item.id} is already {item.status}.")
    if not approve and not reason.strip():
        raise InvalidInput("Say why the order is rejected.", field="reason")
    claim = session.get(RedemptionClaim, item.claim_id)
    before = snapshot(item)
    if approve:
        p = claim.programme_id
        available = ledger.balance(session, ledger.budget(p))
        if item.bonus_fen > available:
            raise Conflict(
                f"The programme budget has {available} fen left, not enough for the {item.bonus_fen} fen bonus."
            )
        ledger.post(
            session,
            "approve",
            p,
            [
                (ledger.claimable(claim.owner_unit_id), ledger.payable(claim.owner_unit_id), item.amount_fen),
                (ledger.budget(p), ledger.payable(claim.owner_unit_id), item.bonus_fen),
            ],
            voucher_id=item.voucher_id,
            booking_id=item.booking_id,
        )
        item.status = ItemStatus.approved
    else:
        item.status = ItemStatus.rejected
    item.reason, item.decided_at = reason, now or utcnow()
    session.add(item)
    record(
        session,
        actor,
        "claim_item.approve" if approve else "claim_item.reject",
        "claim_item",
        item.id,
        before=before,
        after=snapshot(item),
    )
    v = session.get(Voucher, item.voucher_id)
    tell(
        session,
        MailKind.claim_decided,
        f"claim_decided:{item.id}",
        {
            "item_id": item.id,
            "programme": get_programme(session, claim.programme_id).name,
            "voucher_code": v.code if v else item.voucher_id,
            "amount_fen": item.amount_fen,
            "bonus_fen": item.bonus_fen,
            "approved": approve,
            "reason": reason,
        },
        owner_unit_id=claim.owner_unit_id,
        link=f"/api/v1/redemption-claims/{claim.id}",
        now=item.decided_at,
    )
    return item


def create_batch(session: Session, actor: Actor, programme_id: str) -> PaymentBatch:
    actor.require_admin()
    get_programme(session, programme_id, lock=True)
    items = session.exec(
        select(ClaimItem)
        .join(RedemptionClaim, RedemptionClaim.id == ClaimItem.claim_id)
        .where(
            RedemptionClaim.programme_id == programme_id,
            ClaimItem.status == ItemStatus.approved,
            col(ClaimItem.batch_id).is_(None),
        )
        .with_for_update()
    ).all()
    if not items:
        raise InvalidState("No approved orders wait for payment.")
    batch = PaymentBatch(
        programme_id=programme_id,
        amount_fen=sum(i.amount_fen for i in items),
        bonus_fen=sum(i.bonus_fen for i in items),
        items=len(items),
    )
    session.add(batch)
    session.flush()
    for i in items:
        i.batch_id = batch.id
        session.add(i)
    record(session, actor, "batch.create", "payment_batch", batch.id, after=snapshot(batch))
    return batch


def mark_paid(session: Session, actor: Actor, batch_id: str, now: datetime | None = None) -> PaymentBatch:
    actor.require_admin()
    batch = session.exec(select(PaymentBatch).where(PaymentBatch.id == batch_id).with_for_update()).first()
    if batch is None:
        raise NotFound(f"No payment batch {batch_id!r}.")
    if batch.paid_at is not None:
        return batch  # paying twice is a no-op
    items = session.exec(select(ClaimItem).where(ClaimItem.batch_id == batch.id)).all()
    for i in items:
        claim = session.get(RedemptionClaim, i.claim_id)
        ledger.post(
            session,
            "pay",
            batch.programme_id,
            [(ledger.payable(claim.owner_unit_id), ledger.paid(claim.owner_unit_id), i.amount_fen + i.bonus_fen)],
            voucher_id=i.voucher_id,
            booking_id=i.booking_id,
        )
        i.status = ItemStatus.paid
        session.add(i)
        v = session.get(Voucher, i.voucher_id)
        if v.status == VoucherStatus.consumed:
            v.status = VoucherStatus.redeemed
            session.add(v)
    before = snapshot(batch)
    batch.paid_at = now or utcnow()
    session.add(batch)
    record(session, actor, "batch.paid", "payment_batch", batch.id, before=before, after=snapshot(batch))
    _tell_paid(session, batch, items)
    return batch


def _tell_paid(session: Session, batch: PaymentBatch, items: list[ClaimItem]) -> None:
    """Each unit paid in ``batch`` hears what it was paid for."""
    per_unit: dict[str, list[ClaimItem]] = {}
    for i in items:
        per_unit.setdefault(session.get(RedemptionClaim, i.claim_id).owner_unit_id, []).append(i)
    name = get_programme(session, batch.programme_id).name
    for unit_id, mine in sorted(per_unit.items()):
        tell(
            session,
            MailKind.batch_paid,
            f"batch_paid:{batch.id}:{unit_id}",
            {
                "batch_id": batch.id,
                "programme": name,
                "items": len(mine),
                "amount_fen": sum(i.amount_fen for i in mine),
                "bonus_fen": sum(i.bonus_fen for i in mine),
                "paid_at": batch.paid_at.isoformat(),
                "tz": get_settings().default_timezone,
            },
            owner_unit_id=unit_id,
            now=batch.paid_at,
        )


def claw_back(session: Session, v: Voucher, reason: str) -> None:
    """Fraud on a consumed or redeemed voucher: its money returns to the programme budget from
    wherever it is (claimable, payable); if it was already paid, the payment becomes a debt the
    provider owes (account ``clawback:<unit>``)."""
    p, unit = v.programme_id, v.provider_unit_id
    item = session.exec(select(ClaimItem).where(ClaimItem.voucher_id == v.id).with_for_update()).first()
    if item is None or item.status in (ItemStatus.pending, ItemStatus.rejected):
        moves = [(ledger.claimable(unit), ledger.budget(p), v.consumed_fen)]
    elif item.status == ItemStatus.approved and item.batch_id is None:
        moves = [(ledger.payable(unit), ledger.budget(p), item.amount_fen + item.bonus_fen)]
    elif item.status == ItemStatus.approved:  # in an unpaid batch: take it out of the batch
        batch = session.get(PaymentBatch, item.batch_id)
        batch.amount_fen -= item.amount_fen
        batch.bonus_fen -= item.bonus_fen
        batch.items -= 1
        session.add(batch)
        item.batch_id = None
        moves = [(ledger.payable(unit), ledger.budget(p), item.amount_fen + item.bonus_fen)]
    else:  # paid: the payment is reversed into a debt the provider owes the programme
        moves = [(ledger.paid(unit), ledger.clawback(unit), item.amount_fen + item.bonus_fen)]
    ledger.post(session, "clawback", p, moves, voucher_id=v.id, booking_id=v.booking_id, memo=reason)
    if item is not None and item.status != ItemStatus.paid:
        item.status, item.reason = ItemStatus.rejected, f"voided: {reason}"
        session.add(item)
