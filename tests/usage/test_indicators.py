"""Indicators on a hand-computed fixture, to the minute and the fen, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest
from sqlmodel import select

from instruments.errors import Forbidden, InvalidInput
from scheduler import booking_actions as actions
from scheduler.sharing import indicators as ind
from scheduler.sharing.usage import UsageRecord, UsageSource, record_usage

from .helpers import build, t

Y0, Y1 = t(2026, 1, 1), t(2027, 1, 1)
QUOTA = ind.Quota(special_categories=("SEM",))


def test_instrument_indicators_match_hand_computed(session, world):
    build(session, world)
    rows = {r.key: r for r in ind.compute(session, Y0, Y1, "instrument", quota=QUOTA)}
    x = rows[world.xrd.id]
    assert (x.records, x.effective_minutes, x.external_minutes, x.samples) == (5, 485, 395, 6)
    assert (x.income_internal_fen, x.income_external_fen, x.voucher_fen) == (9_000, 152_000, 20_000)
    assert (x.external_users, x.enterprises_served) == (2, 2)
    assert x.quota_minutes == 1400 * 60
    assert x.utilisation == Fraction(485, 84_000)
    assert x.sharing_rate == Fraction(395, 485)
    assert x.voucher_share == Fraction(20_000, 161_000)
    assert x.average_rating == 4
    assert (x.bookings_due, x.no_shows, x.no_show_rate) == (4, 1, Fraction(1, 4))
    sem = rows[world.sem.id]
    assert (sem.effective_minutes, sem.external_minutes, sem.quota_minutes) == (60, 0, 800 * 60)  # special purpose
    assert sem.sharing_rate == 0 and sem.average_rating == 0 and sem.no_show_rate == 0
    assert rows[world.other.id].external_minutes == 480
    d = x.as_dict()
    assert d["sharing_rate"] == "79/97" and d["effective_hours"] == "8.08"


def test_unit_and_programme_indicators_count_distinct_people(session, world):
    build(session, world)
    units = {r.key: r for r in ind.compute(session, Y0, Y1, "unit", quota=QUOTA)}
    u1 = units[world.xrd.owner_unit_id]
    assert (u1.instruments, u1.effective_minutes, u1.external_minutes) == (2, 545, 395)
    assert (u1.quota_minutes, u1.original_value_fen) == (84_000 + 48_000, 160_000_000)
    assert (u1.income_internal_fen, u1.income_external_fen, u1.external_users, u1.enterprises_served) == (
        9_000,
        152_000,
        2,
        2,
    )
    assert u1.name == "Haihe University Analysis Centre"
    (prog,) = ind.compute(session, Y0, Y1, "programme", quota=QUOTA)
    assert (prog.instruments, prog.effective_minutes, prog.external_minutes) == (3, 1025, 875)
    assert (prog.external_users, prog.enterprises_served) == (3, 2)  # Li, Chen, Zhao; ent_a, ent_b
    assert prog.income_fen == 361_000 and prog.voucher_share == Fraction(20_000, 361_000)
    assert prog.average_rating == Fraction(12, 3)


def test_scope_filters_and_pro_rata_quota(session, world):
    build(session, world)
    large = ind.compute(session, Y0, Y1, "instrument", ind.Scope(min_value_fen=50_000_000))
    assert {r.key for r in large} == {world.xrd.id, world.sem.id}
    q1 = ind.compute(session, Y0, t(2026, 4, 2), "instrument", ind.Scope(instrument_ids=(world.xrd.id,)))
    (x,) = q1
    assert x.effective_minutes == 165 + 90 + 60  # Jan 1 00:10 and the two March sessions
    assert x.quota_minutes == 84_000 * 91 // 365  # 91 days of a 365-day year, rounded down
    (empty,) = ind.compute(session, t(2030, 1, 1), t(2031, 1, 1), "programme")
    assert empty.effective_minutes == 0 and empty.instruments == 3


def test_check_out_leaves_a_usage_record(session, world):
    w = world
    b = actions.book(
        session,
        w.member_a,
        actions.BookingInput(w.xrd.id, w.at(9), w.at(11), "operator_run", sample_count=2),
        now=w.at(8) - timedelta(days=2),
    )
    actions.confirm(session, w.manager, b.id)
    actions.check_in(session, w.manager, b.id, now=w.at(9, 10))
    actions.check_out(session, w.manager, b.id, now=w.at(10, 55))
    session.commit()
    (u,) = session.exec(select(UsageRecord).where(UsageRecord.booking_id == b.id)).all()
    assert (u.source, u.measure_minutes, u.effective_minutes, u.samples) == (UsageSource.check_out, 105, 105, 2)
    assert u.external and u.enterprise_id == w.ent_a.id and u.fee_fen == b.price_fen and u.voucher_fen == 0


def test_record_usage_checks_scope_and_parts(session, world):
    w = world
    bad = UsageRecord(
        instrument_id=w.xrd.id, started_at=t(2026, 3, 1, 9), ended_at=t(2026, 3, 1, 10), measure_minutes=61
    )
    with pytest.raises(InvalidInput, match="exceed"):
        record_usage(session, w.manager, bad)
    ok = UsageRecord(
        instrument_id=w.xrd.id, started_at=t(2026, 3, 1, 9), ended_at=t(2026, 3, 1, 10), measure_minutes=60
    )
    with pytest.raises(Forbidden):
        record_usage(session, w.other_manager, ok)
    with pytest.raises(Forbidden):
        record_usage(session, w.member_a, ok)
    assert record_usage(session, w.operator, ok).effective_minutes == 60


def test_check_out_records_the_voucher_paid_part(session, world):
    from fixtures.voucher_presets import PRESETS
    from scheduler.money import vouchers as v

    w = world
    prog = v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(
            name="2026 创新券",
            year=2026,
            total_budget_fen=10_000_000,
            rules=PRESETS["shandong_jinan"].model_dump(mode="json"),
        ),
    )
    voucher = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
    v.claim(session, w.member_a, voucher.code)
    b = actions.book(
        session,
        w.member_a,
        actions.BookingInput(w.xrd.id, w.at(9), w.at(11), "operator_run"),
        now=w.at(8) - timedelta(days=2),
    )
    actions.confirm(session, w.manager, b.id)
    v.apply_to_booking(session, w.member_a, b.id, voucher.code)
    actions.check_in(session, w.manager, b.id, now=b.start)
    actions.check_out(session, w.manager, b.id, now=b.end)
    (u,) = session.exec(select(UsageRecord).where(UsageRecord.booking_id == b.id)).all()
    assert (u.fee_fen, u.voucher_fen) == (40_000, 24_000)  # 60 % of 2 h × 200 RMB paid by the voucher
    (x,) = ind.compute(session, t(2020, 1, 1), t(2040, 1, 1), "instrument", ind.Scope(instrument_ids=(w.xrd.id,)))
    assert x.voucher_share == Fraction(24_000, 40_000)
