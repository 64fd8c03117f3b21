"""What a provider (owner unit) sees of the money its voucher orders earn: each voucher order at
the unit (the booking it funded, the enterprise, the amount, the voucher's status, its claim
item if filed, whether it can be claimed now) and each of its redemption claims with every
order's decision and payment (approved or rejected with the reason, the payment batch and when
it was paid). Reading only: filing is ``redemption.file_claim``. Scoped to the unit's lab
managers and programme admins; another unit's claim does not exist for the reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from instruments.actor import Actor
from instruments.errors import NotFound
from instruments.inventory import Instrument
from scheduler.booking.bookings import Booking
from scheduler.booking.enterprises import Enterprise
from scheduler.money import ledger
from scheduler.money.redemption import ClaimItem, ItemStatus, PaymentBatch, RedemptionClaim
from scheduler.money.vouchers import Voucher, VoucherProgramme, VoucherStatus


@dataclass
class Order:
    """One voucher order at the unit: a voucher applied to a booking of one of its instruments."""

    voucher_id: str
    voucher_code: str
    programme_id: str
    programme: str
    voucher_status: str
    booking_id: str
    instrument: str
    timezone: str
    start: datetime
    end: datetime
    enterprise: str
    price_fen: int
    voucher_fen: int  # consumed when the service is done, else what the voucher holds for it
    item_id: str | None = None
    item_status: str | None = None
    claim_id: str | None = None

    @property
    def claimable(self) -> bool:
        """A completed service not yet claimed (or claimed and rejected: it may be filed again)."""
        return self.voucher_status == VoucherStatus.consumed.value and self.item_status in (
            None,
            ItemStatus.rejected.value,
        )

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "claimable": self.claimable}


@dataclass
class Item:
    item: ClaimItem
    voucher_code: str
    batch: PaymentBatch | None


@dataclass
class Claim:
    claim: RedemptionClaim
    programme: str
    items: list[Item] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``pending`` while any order awaits its decision, ``paid`` when every approved order
        is paid and none waits, else ``decided`` (approved, rejected, or waiting for a batch)."""
        states = {str(i.item.status) for i in self.items}
        if not states or ItemStatus.pending.value in states:
            return "pending"
        if ItemStatus.paid.value in states and ItemStatus.approved.value not in states:
            return "paid"
        return "decided"

    @property
    def amount_fen(self) -> int:
        return sum(i.item.amount_fen for i in self.items)

    @property
    def bonus_fen(self) -> int:
        return sum(i.item.bonus_fen for i in self.items)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim.model_dump(mode="json"),
            "programme": self.programme,
            "status": self.status,
            "amount_fen": self.amount_fen,
            "bonus_fen": self.bonus_fen,
            "items": [
                {
                    **i.item.model_dump(mode="json"),
                    "voucher_code": i.voucher_code,
                    "batch": i.batch.model_dump(mode="json") if i.batch else None,
                }
                for i in self.items
            ],
        }


def orders(session: Session, actor: Actor, owner_unit_id: str, limit: int = 50, offset: int = 0) -> list[Order]:
    """The unit's voucher orders, the latest service first."""
    actor.require_unit_manager(owner_unit_id)
    q = (
        select(Voucher, Booking, Instrument, Enterprise, VoucherProgramme, ClaimItem)
        .join(Booking, Booking.id == Voucher.booking_id)
        .join(Instrument, Instrument.id == Booking.instrument_id)
        .join(Enterprise, Enterprise.id == Voucher.holder_enterprise_id)
        .join(VoucherProgramme, VoucherProgramme.id == Voucher.programme_id)
        .outerjoin(ClaimItem, ClaimItem.voucher_id == Voucher.id)
        .where(Voucher.provider_unit_id == owner_unit_id)
        .order_by(col(Booking.start).desc(), col(Voucher.id))
        .offset(offset)
        .limit(limit)
    )
    return [_order(*row) for row in session.exec(q).all()]


def order(session: Session, actor: Actor, owner_unit_id: str, voucher_id: str) -> Order:
    """One voucher order of the unit (NotFound for another unit's voucher or an unused one)."""
    actor.require_unit_manager(owner_unit_id)
    v = session.get(Voucher, voucher_id)
    if v is None or v.provider_unit_id != owner_unit_id or v.booking_id is None:
        raise NotFound(f"No voucher order {voucher_id!r} at this unit.")
    b = session.get(Booking, v.booking_id)
    return _order(
        v,
        b,
        session.get(Instrument, b.instrument_id),
        session.get(Enterprise, v.holder_enterprise_id),
        session.get(VoucherProgramme, v.programme_id),
        session.exec(select(ClaimItem).where(ClaimItem.voucher_id == v.id)).first(),
    )


def _order(
    v: Voucher, b: Booking, inst: Instrument, ent: Enterprise, prog: VoucherProgramme, item: ClaimItem | None
) -> Order:
    done = v.status in (VoucherStatus.consumed, VoucherStatus.redeemed)
    return Order(
        voucher_id=v.id,
        voucher_code=v.code,
        programme_id=prog.id,
        programme=prog.name,
        voucher_status=str(v.status),
        booking_id=b.id,
        instrument=inst.name,
        timezone=inst.timezone,
        start=b.start,
        end=b.end,
        enterprise=ent.name,
        price_fen=b.price_fen,
        voucher_fen=v.consumed_fen if done else v.reserved_fen,
        item_id=item.id if item else None,
        item_status=str(item.status) if item else None,
        claim_id=item.claim_id if item else None,
    )


def claimable_fen(session: Session, actor: Actor, owner_unit_id: str) -> int:
    """What the unit's completed voucher orders earned and no decision has moved yet (the
    ledger's ``claimable:<unit>``: filed-and-pending and rejected orders stay in it)."""
    actor.require_unit_manager(owner_unit_id)
    return ledger.balance(session, ledger.claimable(owner_unit_id))


def _claims(session: Session, rows: list[RedemptionClaim]) -> list[Claim]:
    if not rows:
        return []
    ids = [c.id for c in rows]
    items = session.exec(
        select(ClaimItem, Voucher.code)
        .join(Voucher, Voucher.id == ClaimItem.voucher_id)
        .where(col(ClaimItem.claim_id).in_(ids))
        .order_by(col(ClaimItem.id))
    ).all()
    batch_ids = sorted({i.batch_id for i, _ in items if i.batch_id})
    batches = (
        {b.id: b for b in session.exec(select(PaymentBatch).where(col(PaymentBatch.id).in_(batch_ids))).all()}
        if batch_ids
        else {}
    )
    names = {p.id: p.name for p in session.exec(select(VoucherProgramme)).all()}
    out = {c.id: Claim(c, names.get(c.programme_id, c.programme_id)) for c in rows}
    for i, code in items:
        out[i.claim_id].items.append(Item(i, code, batches.get(i.batch_id) if i.batch_id else None))
    return [out[c.id] for c in rows]


def claims(session: Session, actor: Actor, owner_unit_id: str, limit: int = 50, offset: int = 0) -> list[Claim]:
    """The unit's redemption claims, the latest filed first, each with its orders' decisions."""
    actor.require_unit_manager(owner_unit_id)
    rows = session.exec(
        select(RedemptionClaim)
        .where(RedemptionClaim.owner_unit_id == owner_unit_id)
        .order_by(col(RedemptionClaim.filed_at).desc(), col(RedemptionClaim.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return _claims(session, list(rows))


def claim(session: Session, actor: Actor, claim_id: str) -> Claim:
    """One claim, for its unit's lab managers and programme admins (NotFound for anyone else)."""
    c = session.get(RedemptionClaim, claim_id)
    if c is None or not actor.manages_unit(c.owner_unit_id):
        raise NotFound(f"No redemption claim {claim_id!r}.")
    return _claims(session, [c])[0]
