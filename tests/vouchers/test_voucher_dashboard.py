"""The programme office's dashboard figures add up, on SQLite and PostgreSQL, and move when claims
are approved and batches paid. Identities checked (the cohort = vouchers issued in the period):

1. count:  issued = unused + reserved + used + expired + revoked
2. amount: issued face value = unused face + reserved face + used + lapsed + revoked face,
   lapsed = expired face value + the part of used vouchers' face value their service did not need
3. used = not yet claimed + pending + approved but unpaid + paid (redeemed) + rejected
4. budget = unissued + face value issued in the period + face value issued before it
5. the months, the owner units and the categories each split the cohort's used amount exactly."""

from __future__ import annotations

from datetime import timedelta

from fixtures.voucher_presets import PRESETS
from scheduler import booking_actions as actions
from scheduler.money import redemption, revocation
from scheduler.money import vouchers as v
from scheduler.money.voucher_rules import RedemptionCalendar
from scheduler.money.voucher_stats import dashboard
from tests.world import next_workday

BUDGET = 10_000_000
PROOFS = {"contract": "HT-1", "invoice": "FP-1", "payment_proof": "ZF-1", "service_record": "BG-1"}


def _programme(session, w):
    rules = PRESETS["shandong_jinan"].model_copy(
        update={"redemption": RedemptionCalendar(kind="monthly", monthly_days=(1, 31))}
    )
    return v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(
            name="2026 看板测试", year=2026, total_budget_fen=BUDGET, rules=rules.model_dump(mode="json")
        ),
    )


def _used(session, w, voucher, member, hh, inst=None, day=None):
    """A 2-hour booking paid partly by ``voucher``, done: the voucher is consumed."""
    b = actions.book(
        session,
        member,
        actions.BookingInput((inst or w.xrd).id, w.at(hh, day=day), w.at(hh + 2, day=day), "operator_run"),
        now=w.at(8) - timedelta(days=2),
    )
    actions.confirm(session, w.manager, b.id)
    v.apply_to_booking(session, member, b.id, voucher.code, now=w.at(8) - timedelta(days=2))
    actions.check_in(session, w.manager, b.id, now=b.start)
    actions.check_out(session, w.manager, b.id, now=b.end)
    assert voucher.status == v.VoucherStatus.consumed
    return b


def _identities(d, issued_before=0):
    assert d["issued"]["count"] == sum(d[k]["count"] for k in ("unused", "reserved", "used", "expired", "revoked"))
    assert d["issued"]["amount_fen"] == sum(
        d[k]["amount_fen"] for k in ("unused", "reserved", "used", "lapsed", "revoked")
    )
    assert d["used"]["amount_fen"] == sum(c["amount_fen"] for c in d["claims"].values())
    assert d["used"]["count"] == sum(c["count"] for c in d["claims"].values())
    assert d["budget_fen"] == d["unissued_fen"] + d["issued"]["amount_fen"] + issued_before
    assert sum(m["used_fen"] for m in d["by_month"]) == d["used"]["amount_fen"]
    assert sum(m["issued_fen"] for m in d["by_month"]) == d["issued"]["amount_fen"]
    assert sum(m["lapsed_fen"] for m in d["by_month"]) == d["lapsed"]["amount_fen"]
    assert sum(u["amount_used_fen"] for u in d["by_unit"]) == d["used"]["amount_fen"]
    assert sum(c["amount_used_fen"] for c in d["by_category"]) == d["used"]["amount_fen"]
    assert sum(m["redeemed_fen"] for m in d["by_month"]) == d["redeemed"]["amount_fen"]


def test_dashboard_figures_add_up_and_move_with_claims_and_payments(session, world):
    w = world
    prog = _programme(session, w)
    issued_at = w.at(9) - timedelta(days=20)
    lo, hi = w.at(0) - timedelta(days=60), w.at(0) + timedelta(days=60)

    def issue(ent, face=100_000):
        return v.issue_voucher(session, w.admin, prog.id, ent.id, "testing", face, now=issued_at)

    paid, unpaid, rejected, unclaimed = issue(w.ent_a), issue(w.ent_a), issue(w.ent_b), issue(w.ent_b)
    reserved, unused, expired, revoked = (
        issue(w.ent_a),
        issue(w.ent_b, 50_000),
        issue(w.ent_b, 70_000),
        issue(w.ent_a, 30_000),
    )
    outside = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 40_000, now=lo - timedelta(days=1))
    for x in (paid, unpaid, reserved, unused, revoked, outside):
        v.claim(session, w.member_a if x.holder_enterprise_id == w.ent_a.id else w.member_b, x.code, now=issued_at)
    for x in (rejected, unclaimed, expired):
        v.claim(session, w.member_b, x.code, now=issued_at)

    _used(session, w, paid, w.member_a, 9)
    _used(session, w, unpaid, w.member_a, 14)
    day2 = next_workday(w.day, 1)
    _used(session, w, rejected, w.member_b, 9, inst=w.sem, day=day2)
    _used(session, w, unclaimed, w.member_b, 14, day=day2)
    day3 = next_workday(day2, 1)
    b = actions.book(
        session,
        w.member_a,
        actions.BookingInput(w.sem.id, w.at(14, day=day3), w.at(16, day=day3), "operator_run"),
        now=w.at(8) - timedelta(days=2),
    )
    v.apply_to_booking(session, w.member_a, b.id, reserved.code, now=w.at(8) - timedelta(days=2))
    expired.expires_at = issued_at + timedelta(days=1)
    session.add(expired)
    v.expire_due(session, w.admin, now=issued_at + timedelta(days=2), programme_id=prog.id)
    assert expired.status == v.VoucherStatus.expired and unused.status == v.VoucherStatus.claimed
    revocation.revoke(session, w.admin, revoked.id, "重复发放")

    unit_a = w.xrd.owner_unit_id
    now = w.at(19, day=day2)
    _, filed_a = redemption.file_claim(
        session,
        w.manager,
        prog.id,
        unit_a,
        [{"voucher_id": x.id, "proofs": PROOFS} for x in (paid, unpaid, rejected)],
        now=now,
    )
    items = {o["voucher_id"]: o["item"] for o in filed_a}
    redemption.decide(session, w.admin, items[rejected.id], approve=False, reason="发票不符", now=now)

    d = dashboard(session, prog.id, lo, hi)
    _identities(d, issued_before=40_000)
    used_fen = sum(x.consumed_fen for x in (paid, unpaid, rejected, unclaimed))
    assert d["issued"] == {"count": 8, "amount_fen": 650_000}  # not the voucher issued before the period
    assert d["used"] == {"count": 4, "amount_fen": used_fen}
    assert d["reserved"] == {"count": 1, "amount_fen": 100_000}
    assert d["unused"] == {"count": 1, "amount_fen": 50_000}
    assert d["expired"] == {"count": 1, "amount_fen": 70_000}
    assert d["revoked"] == {"count": 1, "amount_fen": 30_000}
    assert d["lapsed"]["amount_fen"] == 70_000 + (400_000 - used_fen)
    assert d["rejected"] == {"count": 1, "amount_fen": rejected.consumed_fen}
    assert d["claims"]["not_claimed"] == {"count": 1, "amount_fen": unclaimed.consumed_fen, "bonus_fen": 0}
    assert d["claims"]["pending"]["amount_fen"] == paid.consumed_fen + unpaid.consumed_fen
    assert d["approved_unpaid"] == {"count": 0, "amount_fen": 0} and d["redeemed"] == {"count": 0, "amount_fen": 0}
    assert d["unissued_fen"] == BUDGET - 650_000 - 40_000  # the earlier voucher was issued before the end too
    assert d["enterprises_served"] == 2 and d["enterprises_holding"] == 2
    assert [u["owner_unit_id"] for u in d["by_unit"]] == [unit_a]
    assert {c["category"] for c in d["by_category"]} == {"XRD", "SEM"}

    # approving moves the orders to "approved, not yet paid"; paying a batch moves them to redeemed
    for x in (paid, unpaid):
        redemption.decide(session, w.admin, items[x.id], approve=True, now=now)
    d = dashboard(session, prog.id, lo, hi)
    _identities(d, issued_before=40_000)
    assert d["approved_unpaid"] == {"count": 2, "amount_fen": paid.consumed_fen + unpaid.consumed_fen}
    assert d["redeemed"]["amount_fen"] == 0 and d["claims"]["pending"]["count"] == 0
    batch = redemption.create_batch(session, w.admin, prog.id)
    redemption.mark_paid(session, w.admin, batch.id, now=now)
    d = dashboard(session, prog.id, lo, hi)
    _identities(d, issued_before=40_000)
    assert d["approved_unpaid"] == {"count": 0, "amount_fen": 0}
    assert d["redeemed"] == {"count": 2, "amount_fen": paid.consumed_fen + unpaid.consumed_fen}
    assert (
        d["bonus_paid_fen"]
        == sum(
            i.bonus_fen
            for i in session.exec(
                redemption.select(redemption.ClaimItem).where(redemption.ClaimItem.batch_id == batch.id)
            ).all()
        )
        > 0
    )
    unit_row = next(u for u in d["by_unit"] if u["owner_unit_id"] == unit_a)
    assert unit_row["amount_redeemed_fen"] == d["redeemed"]["amount_fen"]
    assert unit_row["amount_rejected_fen"] == rejected.consumed_fen


def test_a_period_without_vouchers_is_all_zero_and_still_adds_up(session, world):
    prog = _programme(session, world)
    d = dashboard(session, prog.id, world.at(0), world.at(0) + timedelta(days=1))
    _identities(d)
    assert d["issued"]["count"] == 0 and d["unissued_fen"] == BUDGET and d["by_month"] == []
