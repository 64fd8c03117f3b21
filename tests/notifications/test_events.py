"""Every event sends exactly one mail per person it concerns, over SMTP, in the person's language
(member A keeps the default zh-CN, member B chose English), naming the instrument, the local time
with its zone, and the amounts in yuan. On SQLite and PostgreSQL; every clock passed in."""

from __future__ import annotations

from datetime import datetime, timedelta

from instruments.actor import SYSTEM
from scheduler import booking_actions as actions
from scheduler.allocation.rounds import run_round
from scheduler.booking.booking_requests import BookingRequest, submit_request
from scheduler.jobs import run_reminders, run_voucher_housekeeping, run_voucher_warnings
from scheduler.money import redemption
from scheduler.money import vouchers as v
from scheduler.shared.mail_prefs import set_preferences
from scheduler.shared.mail_templates import yuan
from tests.notifications.conftest import check, only
from tests.vouchers.test_voucher_life import complete, programme
from tests.world import TZ

ZONE = "(Asia/Shanghai)"


def english_b(session, w) -> None:  # noqa: ANN001
    set_preferences(session, w.member_b.user_id, language="en")
    session.commit()


def test_a_booking_s_life_mails_its_user(db, session, world, postman):
    w = world
    english_b(session, w)
    now = w.at(8) - timedelta(days=2)
    b = actions.book(session, w.member_a, actions.BookingInput(w.xrd.id, w.at(9), w.at(11), "operator_run"), now=now)
    session.commit()
    got = postman.new(now)
    assert len(got) == 1  # the booking's user only, once
    check(only(got, "booking_created"), "a@t.cn", "zh-CN", "预约已提交", "Powder XRD", f"{w.day} 09:00–11:00 {ZONE}", "¥400.00")

    actions.confirm(session, w.manager, b.id)
    session.commit()
    check(only(postman.new(now), "booking_confirmed"), "a@t.cn", "zh-CN", "预约已确认", f"{w.day} 09:00 {ZONE}")

    actions.move(session, w.manager, b.id, w.at(14), w.at(16), now=now)
    session.commit()
    moved = only(postman.new(now), "booking_moved")
    check(moved, "a@t.cn", "zh-CN", "预约时间已调整", f"{w.day} 09:00–11:00 {ZONE}", f"{w.day} 14:00–16:00 {ZONE}")

    actions.cancel(session, w.member_a, b.id, reason="样品未备好", now=now)
    session.commit()
    check(only(postman.new(now), "booking_cancelled"), "a@t.cn", "zh-CN", "预约已取消", "样品未备好", "Powder XRD")
    assert postman.new(now) == []  # nothing is sent twice


def test_no_show_and_the_day_before_reminder_in_english(db, session, world, postman):
    w = world
    english_b(session, w)
    now = w.at(8) - timedelta(days=2)
    late = actions.book(session, w.member_b, actions.BookingInput(w.xrd.id, w.at(9), w.at(10), "operator_run"), now=now)
    soon = actions.book(session, w.member_b, actions.BookingInput(w.sem.id, w.at(14), w.at(16), "operator_run"), now=now)
    for b in (late, soon):
        actions.confirm(session, w.manager, b.id)
    session.commit()
    postman.new(now)  # created and confirmed: tested above

    assert run_reminders(db.url, now=w.at(14) - timedelta(hours=30)) == 0  # more than a day ahead: not yet
    assert run_reminders(db.url, now=w.at(8)) == 2
    assert run_reminders(db.url, now=w.at(8, 30)) == 0  # once per booking
    got = postman.new(w.at(8))
    assert len(got) == 2
    reminders = sorted(got, key=lambda m: m["Subject"])
    check(reminders[0], "b@t.cn", "en", "Reminder: FE-SEM tomorrow", f"{w.day} 14:00–16:00 {ZONE}")
    check(reminders[1], "b@t.cn", "en", "Reminder: Powder XRD tomorrow", f"{w.day} 09:00–10:00 {ZONE}", "¥200.00")

    actions.mark_no_show(session, w.manager, late.id, now=w.at(9, 45))
    session.commit()
    check(
        only(postman.new(w.at(9, 45)), "booking_no_show"),
        "b@t.cn",
        "en",
        "Missed booking (no-show): Powder XRD",
        f"{w.day} 09:00 {ZONE}",
        "30 minutes",
    )


def test_a_round_tells_each_requester_placed_or_not_and_why(db, session, world, postman):
    w = world
    english_b(session, w)
    start = w.at(0)

    def req(actor, hours: int) -> BookingRequest:  # noqa: ANN001
        r = BookingRequest(
            enterprise_id=actor.enterprise_id,
            instrument_id=w.xrd.id,
            duration_minutes=60 * hours,
            earliest_start=start,
            deadline=start + timedelta(days=1),
        )
        return submit_request(session, actor, r)

    placed, never = req(w.member_a, 3), req(w.member_b, 5)  # 5 h fits no opening period
    session.commit()
    now = w.at(8) - timedelta(days=2)
    run_round(db.engine, SYSTEM, now=now, time_limit=5, workers=1, deterministic_time=2.0)
    got = postman.new(now)
    check(only(got, "request_placed"), "a@t.cn", "zh-CN", "申请已排定", "Powder XRD", ZONE, placed.id, "¥600.00")
    check(only(got, "request_unplaced"), "b@t.cn", "en", "Request not placed: Powder XRD", never.id, "Why: ")
    run_round(db.engine, SYSTEM, now=now + timedelta(hours=1), time_limit=5, workers=1, deterministic_time=2.0)
    assert [m for m in postman.new(now) if m["X-Labshare-Kind"] == "request_unplaced"] == []  # same reason: told once


def test_a_voucher_s_life_mails_the_holder(db, session, world, postman):
    w = world
    english_b(session, w)
    prog = programme(session, w, validity_days=40)
    issued = datetime(2026, 11, 2, 9, tzinfo=TZ)
    voucher = v.issue_voucher(session, w.admin, prog.id, w.ent_b.id, "testing", 123_456, now=issued)
    session.commit()
    check(
        only(postman.new(issued), "voucher_issued"), "b@t.cn", "en", "Innovation voucher issued: ¥1,234.56", voucher.code
    )

    warn_at = voucher.expires_at - timedelta(days=10)
    assert run_voucher_warnings(db.url, now=voucher.expires_at - timedelta(days=31)) == 0
    assert run_voucher_warnings(db.url, now=warn_at) == 1
    assert run_voucher_warnings(db.url, now=warn_at + timedelta(days=1)) == 0  # once per voucher
    expiring = only(postman.new(warn_at), "voucher_expiring")
    check(expiring, "b@t.cn", "en", "expires in 30 days", voucher.code, "¥1,234.56", ZONE)

    after = voucher.expires_at + timedelta(hours=1)
    run_voucher_housekeeping(db.url, now=after)
    check(only(postman.new(after), "voucher_lapsed"), "b@t.cn", "en", "Voucher lapsed", voucher.code, "¥1,234.56")


def test_redemption_window_claim_decision_and_payment_mail_the_provider(db, session, world, postman):
    w = world
    unit = w.xrd.owner_unit_id
    prog = programme(session, w)
    voucher = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
    now = w.at(8) - timedelta(days=2)
    b = actions.book(session, w.member_a, actions.BookingInput(w.xrd.id, w.at(9), w.at(11), "operator_run"), now=now)
    actions.confirm(session, w.manager, b.id)
    v.apply_to_booking(session, w.member_a, b.id, voucher.code)
    complete(session, w, b)
    session.commit()
    postman.new(now)

    window_day = datetime(2026, 12, 5, 10, tzinfo=TZ)  # the preset's monthly window: 1st–20th
    assert run_voucher_housekeeping(db.url, now=window_day)["window_notices"] == 1
    got = postman.new(window_day)
    opened = sorted((m for m in got if m["X-Labshare-Kind"] == "redemption_window_open"), key=lambda m: m["To"])
    assert [m["To"] for m in opened] == ["m1@t.cn", "m2@t.cn"]  # every provider's lab manager, once
    check(opened[0], "m1@t.cn", "zh-CN", "兑付申报窗口 2026-12 已开放", prog.name)
    assert run_voucher_housekeeping(db.url, now=window_day + timedelta(hours=1))["window_notices"] == 0

    proofs = {"contract": "HT-1", "invoice": "FP-1", "payment_proof": "ZF-1", "service_record": "BG-1"}
    _, outcomes = redemption.file_claim(
        session, w.manager, prog.id, unit, [{"voucher_id": voucher.id, "proofs": proofs}], now=window_day
    )
    redemption.decide(session, w.admin, outcomes[0]["item"], approve=True, now=window_day)
    session.commit()
    decided = only(postman.new(window_day), "claim_decided")
    check(decided, "m1@t.cn", "zh-CN", "兑付申报已通过", voucher.code, "¥240.00", "¥24.00")

    batch = redemption.create_batch(session, w.admin, prog.id)
    redemption.mark_paid(session, w.admin, batch.id, now=window_day)
    redemption.mark_paid(session, w.admin, batch.id, now=window_day)  # paying twice mails once
    session.commit()
    paid = only(postman.new(window_day), "batch_paid")
    check(paid, "m1@t.cn", "zh-CN", "兑付款已支付：¥264.00", "¥240.00", "¥24.00", f"2026-12-05 10:00 {ZONE}")


def test_a_published_year_end_report_mails_lab_managers_and_admins(db, session, world, postman):
    from fixtures.reward_rules import PRESETS
    from scheduler.sharing.rewards import run_year_end, save_rule_set
    from tests.usage.helpers import build

    w = world
    build(session, w)
    save_rule_set(session, w.admin, {**PRESETS["national"], "code": "prog", "min_value_fen": 0})
    set_preferences(session, w.other_manager.user_id, language="en")
    out = run_year_end(session, w.admin, 2026, "prog", budget_fen=10_000_000, now=datetime(2027, 1, 5, 1, tzinfo=TZ))
    session.commit()
    got = sorted(postman.new(datetime(2027, 1, 5, 2, tzinfo=TZ)), key=lambda m: m["To"])
    assert [m["To"] for m in got] == ["admin@t.cn", "m1@t.cn", "m2@t.cn"]
    total = yuan(out.report.total_reward_fen)
    check(got[1], "m1@t.cn", "zh-CN", "2026 年度开放共享评价报告已发布", f"奖励总额 {total}", out.report.id)
    check(got[2], "m2@t.cn", "en", "Year-end open-sharing report 2026 published", f"rewards total {total}")
    assert run_year_end(session, w.admin, 2026, "prog", budget_fen=10_000_000).created is False
    session.commit()
    assert postman.new(datetime(2027, 1, 5, 3, tzinfo=TZ)) == []  # the same report is not announced again
