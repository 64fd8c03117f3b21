"""The vouchers used at an owner unit, as its voucher orders: each voucher applied to a booking of
one of the unit's instruments (the booking it funded, the enterprise, the amount, the voucher's
status, its claim item if filed, whether it can be claimed now), and what the unit can claim.
The one home of "vouchers at a unit": the API's /owner-units/{id}/voucher-orders (and its
deprecated alias /vouchers?owner_unit_id=) and the lab manager's /unit/vouchers read here; the
unit's claims are ``redemption_lists``. Reading only: filing is ``redemption.file_claim``.
Scoped to the unit's lab managers and programme admins."""

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
from scheduler.money.redemption import ClaimItem, ItemStatus
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
    voucher: Voucher | None = field(default=None, repr=False)  # the row itself, for the vouchers list

    @property
    def claimable(self) -> bool:
        """A completed service not yet claimed (or claimed and rejected: it may be filed again)."""
        return self.voucher_status == VoucherStatus.consumed.value and self.item_status in (
            None,
            ItemStatus.rejected.value,
        )

    def as_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k != "voucher"}, "claimable": self.claimable}


def orders(
    session: Session,
    actor: Actor,
    owner_unit_id: str,
    limit: int = 50,
    offset: int = 0,
    programme_id: str | None = None,
    status: VoucherStatus | None = None,
    enterprise_id: str | None = None,
) -> list[Order]:
    """The unit's voucher orders, the latest service first (then by voucher id); optionally of one
    programme, in one voucher status, or held by one enterprise."""
    actor.require_unit_manager(owner_unit_id)
    q = (
        select(Voucher, Booking, Instrument, Enterprise, VoucherProgramme, ClaimItem)
        .join(Booking, Booking.id == Voucher.booking_id)
        .join(Instrument, Instrument.id == Booking.instrument_id)
        .join(Enterprise, Enterprise.id == Voucher.holder_enterprise_id)
        .join(VoucherProgramme, VoucherProgramme.id == Voucher.programme_id)
        .outerjoin(ClaimItem, ClaimItem.voucher_id == Voucher.id)
        .where(Voucher.provider_unit_id == owner_unit_id)
    )
    if programme_id:
        q = q.where(Voucher.programme_id == programme_id)
    if status:
        q = q.where(Voucher.status == status)
    if enterprise_id:
        q = q.where(Voucher.holder_enterprise_id == enterprise_id)
    q = (
        q.order_by(col(Booking.start).desc(), col(Voucher.id))
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
        voucher=v,
    )


def claimable_fen(session: Session, actor: Actor, owner_unit_id: str) -> int:
    """What the unit's completed voucher orders earned and no decision has moved yet (the
    ledger's ``claimable:<unit>``: filed-and-pending and rejected orders stay in it)."""
    actor.require_unit_manager(owner_unit_id)
    return ledger.balance(session, ledger.claimable(owner_unit_id))
