"""The figures voucher programmes publish (vouchers issued, amount used, vouchers redeemed, amount
redeemed, enterprises served, instruments used), computed live in SQL for any period."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from instruments.units import OwnerUnit
from scheduler.booking.bookings import Booking
from scheduler.money.redemption import ClaimItem, ItemStatus, PaymentBatch
from scheduler.money.vouchers import Voucher, VoucherStatus, get_programme
from scheduler.shared.spreadsheet_cells import csv_text

USED = (VoucherStatus.consumed, VoucherStatus.redeemed)


def programme_stats(session: Session, programme_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    prog = get_programme(session, programme_id)
    V = Voucher

    def one(q) -> Any:  # noqa: ANN001
        return session.exec(q).one()

    issued_n, issued_fen = one(
        select(func.count(), func.coalesce(func.sum(V.face_value_fen), 0)).where(
            V.programme_id == prog.id, V.issued_at >= start, V.issued_at < end
        )
    )
    reserved_n, reserved_fen = one(
        select(func.count(), func.coalesce(func.sum(V.reserved_fen), 0)).where(
            V.programme_id == prog.id, V.status == VoucherStatus.reserved
        )
    )
    used_where = (V.programme_id == prog.id, col(V.status).in_(USED), V.consumed_at >= start, V.consumed_at < end)
    used_n, used_fen = one(select(func.count(), func.coalesce(func.sum(V.consumed_fen), 0)).where(*used_where))
    enterprises = one(select(func.count(func.distinct(V.holder_enterprise_id))).where(*used_where))
    instruments = one(
        select(func.count(func.distinct(Booking.instrument_id)))
        .select_from(V)
        .join(Booking, Booking.id == V.booking_id)
        .where(*used_where)
    )
    red_n, red_fen, bonus_fen = one(
        select(
            func.count(),
            func.coalesce(func.sum(ClaimItem.amount_fen), 0),
            func.coalesce(func.sum(ClaimItem.bonus_fen), 0),
        )
        .select_from(ClaimItem)
        .join(PaymentBatch, PaymentBatch.id == ClaimItem.batch_id)
        .where(
            PaymentBatch.programme_id == prog.id,
            ClaimItem.status == ItemStatus.paid,
            PaymentBatch.paid_at >= start,
            PaymentBatch.paid_at < end,
        )
    )
    top = session.exec(
        select(OwnerUnit.id, OwnerUnit.name, func.count(), func.sum(V.consumed_fen))
        .select_from(V)
        .join(OwnerUnit, OwnerUnit.id == V.provider_unit_id)
        .where(*used_where)
        .group_by(OwnerUnit.id, OwnerUnit.name)
        .order_by(func.sum(V.consumed_fen).desc(), OwnerUnit.id)
        .limit(5)
    ).all()
    return {
        "programme_id": prog.id,
        "programme": prog.name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "vouchers_issued": int(issued_n),
        "face_value_issued_fen": int(issued_fen),
        "vouchers_reserved_now": int(reserved_n),
        "amount_reserved_now_fen": int(reserved_fen),
        "vouchers_used": int(used_n),
        "amount_used_fen": int(used_fen),
        "vouchers_redeemed": int(red_n),
        "amount_redeemed_fen": int(red_fen),
        "bonus_paid_fen": int(bonus_fen),
        "enterprises_served": int(enterprises),
        "instruments_used": int(instruments),
        "top_providers": [
            {"owner_unit_id": u, "name": n, "orders": int(c), "amount_used_fen": int(a)} for u, n, c, a in top
        ],
    }


def stats_csv(stats: dict[str, Any]) -> str:
    rows: list[list[Any]] = [[k, v] for k, v in stats.items() if k != "top_providers"]
    rows += [
        [f"top_provider_{i}", f"{p['name']} ({p['orders']} orders, {p['amount_used_fen']} fen)"]
        for i, p in enumerate(stats["top_providers"], 1)
    ]
    return csv_text(["figure", "value"], rows)
