"""Redemption claims for tests, made through the services as people would: a programme (the
Jinan preset: 60 % voucher share, +10 % provider bonus, monthly windows on the 1st–20th),
vouchers issued to an enterprise and spent on completed operator-run bookings, and a claim of
them filed by the provider's lab manager in the next month's window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from fixtures.voucher_presets import PRESETS
from instruments.actor import Actor
from scheduler import booking_actions as actions
from scheduler.money import redemption
from scheduler.money import vouchers as v

TZ = ZoneInfo("Asia/Shanghai")
PROOFS = {"contract": "HT-2026-031", "invoice": "FP-0012", "payment_proof": "ZF-778", "service_record": "BG-1107"}


@dataclass
class Filed:
    programme: v.VoucherProgramme
    claim: redemption.RedemptionClaim
    items: list[redemption.ClaimItem]
    vouchers: list[v.Voucher]
    window_day: datetime  # a moment inside the window the claim was filed in


def programme(session: Session, admin: Actor, year: int, name: str = "2026 测试创新券") -> v.VoucherProgramme:
    rules = PRESETS["shandong_jinan"].model_dump(mode="json")
    return v.create_programme(
        session, admin, v.VoucherProgramme(name=name, year=year, total_budget_fen=10_000_000, rules=rules)
    )


def window_after(day: date) -> datetime:
    """10:00 on the 5th of the month after ``day`` (inside a monthly redemption window)."""
    return datetime(day.year + day.month // 12, day.month % 12 + 1, 5, 10, tzinfo=TZ)


def file_claim(
    session: Session,
    *,
    admin: Actor,
    manager: Actor,
    member: Actor,
    instrument_id: str,
    day: date,
    hours: tuple[int, ...] = (9, 14),
    prog: v.VoucherProgramme | None = None,
    proofs: dict[str, str] | None = None,
) -> Filed:
    """One completed 2-hour voucher order per start hour on ``day``, claimed in one claim."""
    prog = prog or programme(session, admin, day.year)
    vouchers = []
    orders = []
    for hh in hours:
        voucher = v.issue_voucher(session, admin, prog.id, member.enterprise_id, "testing", 100_000)
        v.claim(session, member, voucher.code)
        start = datetime.combine(day, time(hh), TZ)
        b = actions.book(
            session,
            member,
            actions.BookingInput(instrument_id, start, start + timedelta(hours=2), "operator_run"),
            now=start - timedelta(days=2),
        )
        actions.confirm(session, manager, b.id)
        v.apply_to_booking(session, member, b.id, voucher.code)
        actions.check_in(session, manager, b.id, now=b.start)
        actions.check_out(session, manager, b.id, now=b.end)
        vouchers.append(voucher)
        orders.append({"voucher_id": voucher.id, "proofs": dict(proofs or PROOFS)})
    when = window_after(day)
    claim, outcomes = redemption.file_claim(session, manager, prog.id, manager.owner_unit_id, orders, now=when)
    assert [o["outcome"] for o in outcomes] == ["filed"] * len(hours), outcomes
    items = [session.get(redemption.ClaimItem, o["item"]) for o in outcomes]
    session.commit()
    return Filed(prog, claim, items, vouchers, when)
