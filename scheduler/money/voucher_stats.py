"""The figures voucher programmes publish (vouchers issued, amount used, vouchers redeemed, amount
redeemed, enterprises served, instruments used), computed live in SQL for any period; and the
programme office's ``dashboard``: where the vouchers issued in a period stand now (unused,
reserved, used, expired, revoked), where their money went (lapsed back to the budget, claims
pending, approved but unpaid, paid, rejected), the budget not issued, by month, by owner unit and
by instrument category."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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


# --- the programme office's dashboard: where every voucher and every fen went -------------------

LIVE = (VoucherStatus.issued, VoucherStatus.claimed)
CLAIM_STAGES = ("not_claimed", "pending", "approved_unpaid", "paid", "rejected")


def _month(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m")


def dashboard(
    session: Session, programme_id: str, start: datetime, end: datetime, tz: ZoneInfo | None = None
) -> dict[str, Any]:
    """Where the vouchers issued in [start, end) stand now, and where their money went.

    The *cohort* is every voucher of the programme issued in the period; each is in exactly one
    state, so the figures add up (``tests/vouchers/test_voucher_dashboard.py`` checks it):

    - count:  issued = unused + reserved + used + expired + revoked
    - amount: issued face value = unused face + reserved face + used + lapsed + revoked face,
      where *lapsed* = the face value of expired vouchers + the part of used vouchers' face
      value their service did not need (it returned to the budget)
    - used = not yet claimed + claims pending + approved but unpaid + paid (redeemed) + rejected
    - budget = face value issued (to the end of the period) + unissued

    Bonuses paid to providers on top of the voucher amounts are reported apart. Months, owner
    units and instrument categories split the same cohort (months by issue, use and payment
    date in the programme's zone)."""
    from instruments.inventory import Instrument

    tz = tz or ZoneInfo("Asia/Shanghai")
    prog = get_programme(session, programme_id)
    V = Voucher
    cohort = (V.programme_id == prog.id, V.issued_at >= start, V.issued_at < end)
    by_status = {
        VoucherStatus(s): (int(n), int(face), int(used))
        for s, n, face, used in session.exec(
            select(V.status, func.count(), func.sum(V.face_value_fen), func.sum(V.consumed_fen))
            .where(*cohort)
            .group_by(V.status)
        ).all()
    }

    def part(*states: VoucherStatus) -> tuple[int, int, int]:
        rows = [by_status.get(s, (0, 0, 0)) for s in states]
        return sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows)

    issued = part(*VoucherStatus)
    unused, reserved, used = part(*LIVE), part(VoucherStatus.reserved), part(*USED)
    expired, revoked = part(VoucherStatus.expired), part(VoucherStatus.revoked)
    unused_part = used[1] - used[2]
    issued_to_end = one_value(
        session,
        select(func.coalesce(func.sum(V.face_value_fen), 0)).where(V.programme_id == prog.id, V.issued_at < end),
    )

    # the used vouchers' claims: one claim item per voucher at most
    used_in_cohort = (*cohort, col(V.status).in_(USED))
    stage = {k: [0, 0, 0] for k in CLAIM_STAGES}  # count, amount, bonus
    for st, n, amount, bonus in session.exec(
        select(ClaimItem.status, func.count(), func.sum(ClaimItem.amount_fen), func.sum(ClaimItem.bonus_fen))
        .select_from(V)
        .join(ClaimItem, ClaimItem.voucher_id == V.id)
        .where(*used_in_cohort)
        .group_by(ClaimItem.status)
    ).all():
        key = {"pending": "pending", "approved": "approved_unpaid", "paid": "paid", "rejected": "rejected"}[str(st)]
        stage[key][0] += int(n)
        stage[key][1] += int(amount or 0)
        stage[key][2] += int(bonus or 0)
    claimed_n = sum(v[0] for v in stage.values())
    claimed_fen = sum(v[1] for v in stage.values())
    stage["not_claimed"] = [used[0] - claimed_n, used[2] - claimed_fen, 0]
    enterprises = one_value(session, select(func.count(func.distinct(V.holder_enterprise_id))).where(*used_in_cohort))
    holders = one_value(session, select(func.count(func.distinct(V.holder_enterprise_id))).where(*cohort))

    units = []
    for uid, name, n, amount, ents in session.exec(
        select(
            OwnerUnit.id,
            OwnerUnit.name,
            func.count(),
            func.sum(V.consumed_fen),
            func.count(func.distinct(V.holder_enterprise_id)),
        )
        .select_from(V)
        .join(OwnerUnit, OwnerUnit.id == V.provider_unit_id)
        .where(*used_in_cohort)
        .group_by(OwnerUnit.id, OwnerUnit.name)
        .order_by(func.sum(V.consumed_fen).desc(), OwnerUnit.id)
    ).all():
        per = {
            str(st): (int(c), int(a or 0))
            for st, c, a in session.exec(
                select(ClaimItem.status, func.count(), func.sum(ClaimItem.amount_fen))
                .select_from(V)
                .join(ClaimItem, ClaimItem.voucher_id == V.id)
                .where(*used_in_cohort, V.provider_unit_id == uid)
                .group_by(ClaimItem.status)
            ).all()
        }
        units.append(
            {
                "owner_unit_id": uid,
                "name": name,
                "vouchers_used": int(n),
                "amount_used_fen": int(amount or 0),
                "amount_redeemed_fen": per.get("paid", (0, 0))[1],
                "amount_approved_unpaid_fen": per.get("approved", (0, 0))[1],
                "amount_rejected_fen": per.get("rejected", (0, 0))[1],
                "enterprises_served": int(ents),
            }
        )
    categories = [
        {
            "category": cat,
            "vouchers_used": int(n),
            "amount_used_fen": int(amount or 0),
            "enterprises_served": int(ents),
            "instruments_used": int(insts),
        }
        for cat, n, amount, ents, insts in session.exec(
            select(
                Instrument.category,
                func.count(),
                func.sum(V.consumed_fen),
                func.count(func.distinct(V.holder_enterprise_id)),
                func.count(func.distinct(Instrument.id)),
            )
            .select_from(V)
            .join(Booking, Booking.id == V.booking_id)
            .join(Instrument, Instrument.id == Booking.instrument_id)
            .where(*used_in_cohort)
            .group_by(Instrument.category)
            .order_by(func.sum(V.consumed_fen).desc(), Instrument.category)
        ).all()
    ]

    months: dict[str, dict[str, int]] = {}

    def month(key: str) -> dict[str, int]:
        return months.setdefault(
            key,
            {"issued": 0, "issued_fen": 0, "used": 0, "used_fen": 0, "lapsed_fen": 0, "redeemed": 0, "redeemed_fen": 0},
        )

    for issued_at, face, status, consumed_fen, consumed_at, expires_at in session.exec(
        select(V.issued_at, V.face_value_fen, V.status, V.consumed_fen, V.consumed_at, V.expires_at).where(*cohort)
    ).all():
        m = month(_month(issued_at, tz))
        m["issued"] += 1
        m["issued_fen"] += int(face)
        if status in USED and consumed_at is not None:
            u = month(_month(consumed_at, tz))
            u["used"] += 1
            u["used_fen"] += int(consumed_fen)
            u["lapsed_fen"] += int(face) - int(consumed_fen)
        elif status == VoucherStatus.expired:
            month(_month(expires_at, tz))["lapsed_fen"] += int(face)
    for paid_at, amount in session.exec(
        select(PaymentBatch.paid_at, ClaimItem.amount_fen)
        .select_from(V)
        .join(ClaimItem, ClaimItem.voucher_id == V.id)
        .join(PaymentBatch, PaymentBatch.id == ClaimItem.batch_id)
        .where(*used_in_cohort, ClaimItem.status == ItemStatus.paid)
    ).all():
        m = month(_month(paid_at, tz))
        m["redeemed"] += 1
        m["redeemed_fen"] += int(amount)

    def figure(n: int, fen: int) -> dict[str, int]:
        return {"count": n, "amount_fen": fen}

    return {
        "programme_id": prog.id,
        "programme": prog.name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "budget_fen": int(prog.total_budget_fen),
        "unissued_fen": int(prog.total_budget_fen) - int(issued_to_end),
        "issued": figure(issued[0], issued[1]),
        "unused": figure(unused[0], unused[1]),
        "reserved": figure(reserved[0], reserved[1]),
        "used": figure(used[0], used[2]),
        "expired": figure(expired[0], expired[1]),
        "lapsed": {"count": expired[0], "amount_fen": expired[1] + unused_part, "unused_part_fen": unused_part},
        "revoked": figure(revoked[0], revoked[1]),
        "claims": {k: {"count": v[0], "amount_fen": v[1], "bonus_fen": v[2]} for k, v in stage.items()},
        "redeemed": figure(stage["paid"][0], stage["paid"][1]),
        "approved_unpaid": figure(stage["approved_unpaid"][0], stage["approved_unpaid"][1]),
        "rejected": figure(stage["rejected"][0], stage["rejected"][1]),
        "bonus_paid_fen": stage["paid"][2],
        "enterprises_holding": int(holders),
        "enterprises_served": int(enterprises),
        "by_month": [{"month": k, **v} for k, v in sorted(months.items())],
        "by_unit": units,
        "by_category": categories,
    }


def one_value(session: Session, q) -> int:  # noqa: ANN001
    return int(session.exec(q).one() or 0)
