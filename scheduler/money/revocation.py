"""Voiding a voucher at any point of its life (programme admins, or a fraud finding).

Unused money, reserved or not, returns to the programme budget; a consumed or redeemed voucher's
money is clawed back from the provider through redemption (``redemption.claw_back``). It lives
apart from ``vouchers`` because it reaches into redemption, which itself builds on vouchers."""

from __future__ import annotations

from sqlmodel import Session

from instruments.actor import Actor
from instruments.audit import record, snapshot
from instruments.errors import InvalidState
from scheduler.money import ledger
from scheduler.money.redemption import claw_back
from scheduler.money.vouchers import SPENDABLE, Voucher, VoucherStatus, locked


def revoke(session: Session, actor: Actor, voucher_id: str, reason: str, fraud: bool = False) -> Voucher:
    """Void a voucher. Unused money returns to the budget; with ``fraud`` a consumed or redeemed
    voucher's money is clawed back from the provider."""
    actor.require_admin()
    v = locked(session, voucher_id)
    if v.status == VoucherStatus.revoked:
        return v
    if v.status == VoucherStatus.expired:
        raise InvalidState(f"Voucher {v.code} has expired; nothing to revoke.")
    if v.status in (VoucherStatus.consumed, VoucherStatus.redeemed) and not fraud:
        raise InvalidState(f"Voucher {v.code} is {v.status}; only a fraud finding can void it now (fraud=true).")
    before = snapshot(v)
    p = v.programme_id
    if v.status == VoucherStatus.reserved:
        ledger.post(
            session,
            "revoke",
            p,
            [
                (ledger.booking(v.booking_id), ledger.budget(p), v.reserved_fen),
                (ledger.voucher(v.id), ledger.budget(p), v.face_value_fen - v.reserved_fen),
            ],
            voucher_id=v.id,
            booking_id=v.booking_id,
            memo=reason,
        )
    elif v.status in SPENDABLE:
        ledger.post(
            session,
            "revoke",
            p,
            [(ledger.voucher(v.id), ledger.budget(p), v.face_value_fen)],
            voucher_id=v.id,
            memo=reason,
        )
    else:  # consumed or redeemed: take the money back from wherever redemption has it
        claw_back(session, v, reason)
    v.status, v.revoked_reason = VoucherStatus.revoked, reason
    session.add(v)
    record(session, actor, "voucher.revoke", "voucher", v.id, before=before, after=snapshot(v))
    return v
