"""The whole life of a voucher, with every balance checked at each step, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from fixtures.voucher_presets import PRESETS
from instruments.errors import Conflict, InvalidInput, InvalidState, PolicyViolation
from scheduler import booking_actions as actions
from scheduler.money import credit, ledger, redemption
from scheduler.money import vouchers as v
from scheduler.money.voucher_stats import programme_stats
from tests.world import TZ

BUDGET = 10_000_000  # 100,000 RMB


def programme(session: Session, w, preset: str = "shandong_jinan", **rules) -> v.VoucherProgramme:
    r = PRESETS[preset].model_copy(update=rules)
    return v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(name="2026 测试创新券", year=2026, total_budget_fen=BUDGET, rules=r.model_dump(mode="json")),
    )


def bal(session, account: str) -> int:
    return ledger.balance(session, account)


def confirmed_booking(session, w, hh: int, hours: int = 2, enterprise=None, inst=None):
    now = w.at(8) - timedelta(days=2)
    b = actions.book(
        session,
        w.member_a if enterprise is None else enterprise,
        actions.BookingInput((inst or w.xrd).id, w.at(hh), w.at(hh + hours), "operator_run"),
        now=now,
    )
    actions.confirm(session, w.manager, b.id)
    return b


def complete(session, w, b):
    actions.check_in(session, w.manager, b.id, now=b.start)
    actions.check_out(session, w.manager, b.id, now=b.end)


def test_whole_life_programme_to_paid_batch(session, world):
    w = world
    unit = w.xrd.owner_unit_id
    prog = programme(session, w)
    p = prog.id
    assert bal(session, ledger.budget(p)) == BUDGET and ledger.total(session) == 0

    voucher = v.issue_voucher(session, w.admin, p, w.ent_a.id, "testing", 100_000)
    assert len(voucher.code) == 18 and v.code_problem(voucher.code) is None
    assert bal(session, ledger.budget(p)) == BUDGET - 100_000 and bal(session, ledger.voucher(voucher.id)) == 100_000

    v.claim(session, w.member_a, voucher.code)
    b = confirmed_booking(session, w, 9)  # 2 h × 200 RMB = 40,000 fen
    assert b.price_fen == 40_000
    v.apply_to_booking(session, w.member_a, b.id, "-".join([voucher.code[:6], voucher.code[6:12], voucher.code[12:]]))
    assert voucher.reserved_fen == 24_000  # 60 % (Jinan), rounded down; the enterprise pays 16,000
    assert bal(session, ledger.voucher(voucher.id)) == 76_000 and bal(session, ledger.booking(b.id)) == 24_000

    complete(session, w, b)
    assert voucher.status == v.VoucherStatus.consumed and voucher.consumed_fen == 24_000
    assert bal(session, ledger.claimable(unit)) == 24_000
    assert bal(session, ledger.voucher(voucher.id)) == 0 and bal(session, ledger.booking(b.id)) == 0
    assert bal(session, ledger.budget(p)) == BUDGET - 24_000  # the unused 76,000 lapsed back

    window_day = datetime(2026, 12, 5, 10, tzinfo=TZ)  # monthly window: 1st–20th
    proofs = {"contract": "HT-1", "invoice": "FP-1", "payment_proof": "ZF-1", "service_record": "BG-1"}
    with pytest.raises(Conflict):
        redemption.file_claim(
            session,
            w.manager,
            p,
            unit,
            [{"voucher_id": voucher.id, "proofs": proofs}],
            now=window_day + timedelta(days=20),
        )
    _, outcomes = redemption.file_claim(
        session, w.manager, p, unit, [{"voucher_id": voucher.id, "proofs": proofs}], now=window_day
    )
    assert outcomes[0]["outcome"] == "filed"
    _, again = redemption.file_claim(
        session, w.manager, p, unit, [{"voucher_id": voucher.id, "proofs": proofs}], now=window_day
    )
    assert again[0]["outcome"] == "already_filed"  # filing twice never pays twice

    item = redemption.decide(session, w.admin, outcomes[0]["item"], approve=True)
    assert item.bonus_fen == 2_400  # +10 % provider bonus
    assert bal(session, ledger.claimable(unit)) == 0 and bal(session, ledger.payable(unit)) == 26_400
    assert bal(session, ledger.budget(p)) == BUDGET - 26_400
    with pytest.raises(InvalidState):
        redemption.decide(session, w.admin, item.id, approve=True)

    batch = redemption.create_batch(session, w.admin, p)
    assert (batch.amount_fen, batch.bonus_fen, batch.items) == (24_000, 2_400, 1)
    redemption.mark_paid(session, w.admin, batch.id)
    redemption.mark_paid(session, w.admin, batch.id)  # idempotent
    assert bal(session, ledger.payable(unit)) == 0 and bal(session, ledger.paid(unit)) == 26_400
    assert voucher.status == v.VoucherStatus.redeemed
    assert ledger.total(session) == 0
    assert bal(session, ledger.funding(p)) == -BUDGET

    # the period covers the service (world day, a few days from today) and the redemption
    stats = programme_stats(session, p, w.at(0) - timedelta(days=30), max(window_day, w.at(0)) + timedelta(days=1))
    assert (
        stats["vouchers_issued"],
        stats["face_value_issued_fen"],
        stats["vouchers_used"],
        stats["amount_used_fen"],
    ) == (1, 100_000, 1, 24_000)
    assert (
        stats["vouchers_redeemed"],
        stats["amount_redeemed_fen"],
        stats["enterprises_served"],
        stats["instruments_used"],
    ) == (1, 24_000, 1, 1)
    assert stats["top_providers"][0]["owner_unit_id"] == unit


def test_cancel_releases_and_caps_refuse(session, world):
    w = world
    prog = programme(session, w, "liaocheng", per_enterprise_year_cap_fen=150_000, per_group_year_cap_fen=200_000)
    p = prog.id
    a1 = v.issue_voucher(session, w.admin, p, w.ent_a.id, "testing", 100_000)
    with pytest.raises(PolicyViolation) as err:
        v.issue_voucher(session, w.admin, p, w.ent_a.id, "testing", 60_000)
    assert err.value.violations[0].code == "enterprise_cap" and "at most 50000 fen more" in err.value.detail
    from fixtures import factories

    sister = factories.enterprise(session, "Ruike Membranes", 9, group="Ruike")  # same controller as ent_a
    v.issue_voucher(session, w.admin, p, sister.id, "testing", 90_000)
    with pytest.raises(PolicyViolation) as err:
        v.issue_voucher(session, w.admin, p, sister.id, "testing", 20_000)
    assert err.value.violations[0].code == "group_cap"
    b = confirmed_booking(session, w, 9)
    v.apply_to_booking(session, w.member_a, b.id, a1.code)
    assert a1.reserved_fen == 16_000  # 40 %; the provider is not local
    actions.cancel(session, w.manager, b.id)
    assert a1.status == v.VoucherStatus.issued and bal(session, ledger.voucher(a1.id)) == 100_000
    assert bal(session, ledger.booking(b.id)) == 0 and ledger.total(session) == 0


def test_refusals_related_party_wrong_holder_bad_code(session, world):
    w = world
    from instruments.units import OwnerUnit

    prog = programme(session, w)
    vch = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
    b = confirmed_booking(session, w, 9)
    with pytest.raises(InvalidInput) as err:
        v.apply_to_booking(session, w.member_a, b.id, vch.code[:-1] + ("2" if vch.code[-1] != "2" else "3"))
    assert "check character" in err.value.detail
    other = v.issue_voucher(session, w.admin, prog.id, w.ent_b.id, "testing", 100_000)
    with pytest.raises(Exception) as err:  # B's voucher is invisible to A
        v.apply_to_booking(session, w.member_a, b.id, other.code)
    assert getattr(err.value, "status", None) == 404
    unit = session.get(OwnerUnit, w.xrd.owner_unit_id)
    unit.controller_group = "Ruike"  # the provider and ent_a now share a controller
    session.add(unit)
    with pytest.raises(PolicyViolation) as err:
        v.apply_to_booking(session, w.member_a, b.id, vch.code)
    assert err.value.violations[0].code == "related_party"


def test_fraud_voids_and_claws_back_and_blacklists(session, world):
    w = world
    unit = w.xrd.owner_unit_id
    prog = programme(session, w)
    vch = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
    b = confirmed_booking(session, w, 9)
    v.apply_to_booking(session, w.member_a, b.id, vch.code)
    complete(session, w, b)
    assert bal(session, ledger.claimable(unit)) == 24_000
    credit.confirm_fraud(session, w.admin, w.ent_a.id, [vch.id], "split orders")
    assert vch.status == v.VoucherStatus.revoked and bal(session, ledger.claimable(unit)) == 0
    assert bal(session, ledger.budget(prog.id)) == BUDGET and ledger.total(session) == 0
    assert w.ent_a.id in {e.id for e in credit.black_list(session)}
    with pytest.raises(PolicyViolation) as err:
        actions.book(
            session,
            w.member_a,
            actions.BookingInput(w.xrd.id, w.at(14), w.at(15), "operator_run"),
            now=w.at(8) - timedelta(days=2),
        )
    assert "enterprise_suspended" in {x.code for x in err.value.violations}


def test_three_no_shows_suspend_booking(session, world):
    w = world
    for hh in (9, 14, 16):
        b = confirmed_booking(session, w, hh, hours=1)
        actions.mark_no_show(session, w.manager, b.id, now=b.start + timedelta(minutes=45))
    assert w.ent_a.booking_suspended_until is not None
    assert (w.ent_a.booking_suspended_until - (w.at(16) + timedelta(minutes=45))).days == 30
    assert w.ent_a.id in {e.id for e in credit.black_list(session, now=w.at(17))}


def test_housekeeping_job_expires_vouchers_once(db, session, world):
    from scheduler.jobs import run_voucher_housekeeping

    w = world
    prog = programme(session, w, validity_days=1)
    old = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 50_000, now=w.at(0) - timedelta(days=30))
    fresh = v.issue_voucher(session, w.admin, prog.id, w.ent_b.id, "testing", 50_000)
    session.commit()
    assert run_voucher_housekeeping(db.url)["expired"] == 1
    assert run_voucher_housekeeping(db.url)["expired"] == 0
    with db.session() as s:
        assert s.get(v.Voucher, old.id).status == v.VoucherStatus.expired
        assert s.get(v.Voucher, fresh.id).status == v.VoucherStatus.issued
        assert ledger.balance(s, ledger.budget(prog.id)) == BUDGET - 50_000 and ledger.total(s) == 0
