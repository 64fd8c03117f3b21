"""What a voucher paid for, per booking, read from the ledger: held while the service is pending,
paid once consumed (the unused rest lapses, it is not the booking's), nothing once released."""

from __future__ import annotations

from datetime import timedelta

from scheduler import booking_actions as actions
from scheduler.money import ledger
from scheduler.money import vouchers as v

from .test_voucher_life import complete, confirmed_booking, programme


def test_held_then_paid(session, world):
    w = world
    voucher = v.issue_voucher(session, w.admin, programme(session, w).id, w.ent_a.id, "testing", 100_000)
    assert ledger.voucher_uses(session, voucher.id) == []
    b = confirmed_booking(session, w, 9)
    v.apply_to_booking(session, w.member_a, b.id, voucher.code)
    assert ledger.voucher_uses(session, voucher.id) == [ledger.VoucherUse(b.id, 24_000, 0)]
    complete(session, w, b)
    (use,) = ledger.voucher_uses(session, voucher.id)
    assert (use.held_fen, use.paid_fen, use.fen) == (0, voucher.consumed_fen, 24_000)
    assert ledger.balance(session, ledger.voucher(voucher.id)) == 0  # 76,000 lapsed: not counted as used


def test_released_when_the_booking_is_cancelled(session, world):
    w = world
    voucher = v.issue_voucher(session, w.admin, programme(session, w).id, w.ent_a.id, "testing", 100_000)
    b = confirmed_booking(session, w, 9)
    v.apply_to_booking(session, w.member_a, b.id, voucher.code)
    actions.cancel(session, w.member_a, b.id, now=w.at(8) - timedelta(days=2))
    assert ledger.voucher_uses(session, voucher.id) == [ledger.VoucherUse(b.id, 0, 0)]
