"""The enterprise's pages for steps 4–7 of its journey: requests (submit, field errors in zh/en,
the round's outcome in people's terms with the booking it became, suggestions with fees,
withdraw), vouchers (amounts from the ledger, claim), the notifications inbox (unread, read) and
complaints; other enterprises' things are 404, forms without CSRF 403, other roles 403."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlmodel import select

from booking_api.accounts import User, set_password
from fixtures.voucher_presets import PRESETS
from instruments.actor import SYSTEM
from scheduler import booking_actions as actions
from scheduler.allocation.rounds import run_round
from scheduler.booking.booking_requests import BookingRequest, Funding, RequestStatus, submit_request
from scheduler.booking.bookings import Booking
from scheduler.money import ledger
from scheduler.money import vouchers as v
from scheduler.money.credit import Complaint
from scheduler.shared.notifications import Notification, notify

from .test_web_signin import PASSWORD, csrf_of, sign_in

FAST = {"time_limit": 5, "workers": 1, "deterministic_time": 2.0}
ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def _password(session, actor) -> str:
    user = session.get(User, actor.user_id)
    set_password(session, SYSTEM, user, PASSWORD)
    session.commit()
    return user.email


@pytest.fixture
def a(client, world, session):
    """The test client signed in as an enterprise A member."""
    assert sign_in(client, _password(session, world.member_a)).status_code == 303
    return client


def _row(session, model, key):
    """A row as it is now, then the test's transaction ends (SQLite: a held read would block the
    page's own write of the session)."""
    row = session.get(model, key, populate_existing=True)
    session.commit()
    return row


def _local(dt) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M")


def _form(client, headers=None, **fields):
    page = client.get("/my/requests/new", headers=headers or {})
    assert page.status_code == 200
    data = {"csrf": csrf_of(page.text), "service_mode": "operator_run", "sample_count": "0", **fields}
    return client.post("/my/requests/new", data=data, headers=headers or {}, follow_redirects=False)


def _submit(client, w, **fields):
    base = {
        "instrument_id": w.xrd.id,
        "earliest_start": _local(w.at(0)),
        "deadline": _local(w.at(0) + timedelta(days=1)),
        "duration_minutes": "120",
    }
    r = _form(client, **{**base, **fields})
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[1]


def test_submit_an_instrument_request_through_the_form(a, world, session):
    w = world
    rid = _submit(a, w, notes="四个粉末样品")
    req = _row(session, BookingRequest, rid)
    assert req.instrument_id == w.xrd.id and req.category is None and req.enterprise_id == w.ent_a.id
    assert req.earliest_start == w.at(0) and req.deadline == w.at(0) + timedelta(days=1)  # local times, Asia/Shanghai
    assert req.duration_minutes == 120 and req.status == RequestStatus.pending
    page = a.get("/my/requests", headers=ZH)
    assert page.status_code == 200, page.text
    row = re.search(rf'<tr data-request="{rid}">.*?</tr>', page.text, re.S).group(0)
    assert "Powder XRD" in row and "等待下一轮分配" in row and "(Asia/Shanghai)" in row
    assert f"{w.day:%Y-%m-%d} 00:00" in row and "120 分钟" in row


def test_submit_a_category_request_with_samples(a, world, session):
    w = world
    rid = _submit(a, w, instrument_id="", category="SEM", duration_minutes="", sample_count="3")
    req = _row(session, BookingRequest, rid)
    assert req.instrument_id is None and req.category == "SEM" and req.sample_count == 3 and req.duration_minutes > 0
    detail = a.get(f"/my/requests/{rid}", headers=EN)
    assert "Request for any SEM instrument" in detail.text and "3 samples" in detail.text


def test_the_form_says_how_the_request_pays_cash_any_voucher_or_one_voucher(a, world, session):
    w = world
    rules = PRESETS["shandong_jinan"].model_dump(mode="json")
    prog = v.create_programme(
        session, w.admin, v.VoucherProgramme(name="2026 测试创新券", year=2026, total_budget_fen=10_000_000, rules=rules)
    )
    mine = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
    theirs = v.issue_voucher(session, w.admin, prog.id, w.ent_b.id, "testing", 100_000)
    session.commit()
    cash = _row(session, BookingRequest, _submit(a, w))
    assert (cash.funding, cash.voucher_id, cash.cash_fallback) == (Funding.cash, None, False)
    anyv = _row(session, BookingRequest, _submit(a, w, voucher="any", cash_fallback="1"))
    assert (anyv.funding, anyv.voucher_id, anyv.cash_fallback) == (Funding.any_voucher, None, True)
    one = _row(session, BookingRequest, _submit(a, w, voucher=mine.code))
    assert (one.funding, one.voucher_id, one.cash_fallback) == (Funding.voucher, mine.id, False)
    assert f"创新券 {mine.code}" in a.get(f"/my/requests/{one.id}", headers=ZH).text
    assert "or cash if no voucher can pay" in a.get(f"/my/requests/{anyv.id}", headers=EN).text
    refused = _form(a, ZH, instrument_id=w.xrd.id, earliest_start=_local(w.at(0)),
                    deadline=_local(w.at(0) + timedelta(days=1)), duration_minutes="120", voucher=theirs.code)  # fmt: skip
    assert refused.status_code == 422 and "这不是您企业的创新券。" in refused.text


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        (
            ZH,
            [
                "请选择一台仪器或一个类别，不要同时选择两者。",
                "请输入日期和时间。",
                "请输入整数分钟，最多一周（10080）。",
            ],
        ),
        (
            EN,
            [
                "Choose an instrument or a category, not both.",
                "Enter a date and time.",
                "Enter whole minutes, at most a week (10080).",
            ],
        ),
    ],
)
def test_field_errors_are_shown_next_to_their_field_in_the_page_language(a, world, session, headers, words):
    w = world
    r = _form(
        a,
        headers,
        instrument_id=w.xrd.id,
        category="XRD",
        earliest_start="not a date",
        deadline="",
        duration_minutes="abc",
    )
    assert r.status_code == 422
    for field, word in zip(("instrument_id", "earliest_start", "duration_minutes"), words, strict=True):
        assert re.search(rf'data-testid="error-{field}">{re.escape(word)}<', r.text), field
    assert 'aria-describedby="earliest_start-error"' in r.text
    assert session.exec(select(BookingRequest)).all() == []


@pytest.mark.parametrize(
    ("fields", "field", "zh"),
    [
        ({"deadline_days": -1}, "deadline", "时间窗口的结束必须晚于开始。"),
        ({"duration_minutes": "1500"}, "deadline", "时间窗口短于所需时长。"),
        ({"service_mode": "remote"}, "service_mode", "这台仪器不向企业提供该服务方式。"),
        ({"start_days": -30, "deadline_days": 1}, "deadline", "时间窗口的结束时间已经过去。"),
    ],
)
def test_refusals_of_the_service_are_said_in_words_next_to_the_field(a, world, session, fields, field, zh):
    w = world
    fields = dict(fields)  # the parameters are shared by both databases' runs
    start = w.at(0) + timedelta(days=fields.pop("start_days", 0))
    end = start + timedelta(days=fields.pop("deadline_days", 1))
    fields = {
        "instrument_id": w.xrd.id,
        "earliest_start": _local(start),
        "deadline": _local(end),
        "duration_minutes": "120",
        **fields,
    }
    r = _form(a, ZH, **fields)
    assert r.status_code == 422 and f'data-testid="error-{field}">{zh}<' in r.text, re.findall(
        r'data-testid="error-[^<]*', r.text
    )
    assert session.exec(select(BookingRequest)).all() == []


@pytest.mark.parametrize(
    "odd", ["0001-01-01T00:00", "9999-12-31T23:59", "2026-02-30T08:00", "2026-12-07T25:00", "x" * 40]
)
def test_odd_dates_are_field_errors_not_server_errors(a, world, odd):
    r = _form(a, EN, instrument_id=world.xrd.id, earliest_start=odd, deadline=odd, duration_minutes="60")
    assert r.status_code == 422 and 'data-testid="error-earliest_start">Enter a date and time.<' in r.text


def test_a_form_without_its_csrf_token_is_refused(a, world, session):
    r = a.post(
        "/my/requests/new",
        data={"instrument_id": world.xrd.id, "earliest_start": _local(world.at(0)), "deadline": _local(world.at(20))},
    )
    assert r.status_code == 403 and session.exec(select(BookingRequest)).all() == []


def test_after_a_round_the_request_shows_its_booking_and_the_inbox_names_instrument_and_time(a, db, world, session):
    w = world
    placed = _submit(a, w)
    left_out = _submit(a, w, duration_minutes="300")  # 5 h never fits one opening period: no_window
    run_round(db.engine, SYSTEM, now=w.at(8) - timedelta(days=2), **FAST)
    with db.session() as s:
        booking = s.exec(select(Booking).where(Booking.request_id == placed)).one()
    detail = a.get(f"/my/requests/{placed}", headers=ZH)
    assert "已安排（待实验室确认）" in detail.text and f'href="/my/bookings/{booking.id}"' in detail.text
    unplaced = a.get(f"/my/requests/{left_out}", headers=ZH).text
    assert "未能安排" in unplaced and "Powder XRD" in unplaced and "300 分钟" in unplaced
    assert f"{w.day:%Y-%m-%d} 00:00 – " in unplaced and "(Asia/Shanghai)" in unplaced and "between" not in unplaced
    listing = a.get("/my/requests", headers=EN).text
    assert f'href="/my/bookings/{booking.id}"' in listing and "placed (awaiting the lab&#39;s confirmation)" in listing

    inbox = a.get("/my/notifications", headers=ZH).text
    when = f"{booking.start.astimezone(w.at(0).tzinfo):%Y-%m-%d %H:%M}"
    assert "分配轮次：已安排 1 项，未安排 1 项" in inbox
    assert f"已安排在 Powder XRD，{when} – " in inbox and f'href="/my/requests/{placed}"' in inbox
    assert f'href="/my/requests/{left_out}"' in inbox and "1 条未读" in inbox
    en = a.get("/my/notifications", headers=EN).text
    assert f"Placed on Powder XRD, {when} – " in en and "(Asia/Shanghai)" in en


def test_suggestions_show_fees_and_link_to_the_booking_form(a, world):
    w = world
    rid = _submit(a, w)
    page = a.get(f"/my/requests/{rid}", headers=EN).text
    table = re.search(r'<table data-testid="suggestions">.*?</table>', page, re.S).group(0)
    assert "Powder XRD" in table and "¥400.00" in table  # 2 h × ¥200.00 an hour, before vouchers
    link = re.search(r'href="(/instruments/[^"]+)" data-testid="book-this"', table).group(1).replace("&amp;", "&")
    assert link.startswith(f"/instruments/{w.xrd.id}/book?service_mode=operator_run&start=")
    assert link.endswith("&duration_minutes=120") and "%2B08%3A00" in link  # the start with its offset


def test_withdraw_needs_csrf_and_only_while_waiting(a, world, session):
    rid = _submit(a, world)
    assert a.post(f"/my/requests/{rid}/withdraw").status_code == 403
    page = a.get(f"/my/requests/{rid}")
    r = a.post(f"/my/requests/{rid}/withdraw", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert _row(session, BookingRequest, rid).status == RequestStatus.withdrawn
    again = a.post(f"/my/requests/{rid}/withdraw", data={"csrf": csrf_of(page.text)}, headers=ZH)
    assert again.status_code == 409 and "只有仍在等待中的需求才能撤回。" in again.text
    assert "撤回需求" not in a.get(f"/my/requests/{rid}", headers=ZH).text


def _booking(session, w, actor=None):
    b = actions.book(
        session,
        actor or w.member_a,
        actions.BookingInput(w.xrd.id, w.at(9), w.at(11), "operator_run"),
        now=w.at(8) - timedelta(days=2),
    )
    session.commit()
    return b


def test_another_enterprises_request_and_complaint_are_not_found(a, world, session):
    w = world
    theirs = submit_request(
        session,
        w.member_b,
        BookingRequest(
            enterprise_id="", instrument_id=w.xrd.id, duration_minutes=60, earliest_start=w.at(0), deadline=w.at(20)
        ),
    )
    session.commit()
    assert a.get(f"/my/requests/{theirs.id}").status_code == 404
    page = a.get("/my/requests")
    assert a.post(f"/my/requests/{theirs.id}/withdraw", data={"csrf": csrf_of(page.text)}).status_code == 404
    b = _booking(session, w, w.member_b)
    form = a.get(f"/my/complaints/new?booking_id={b.id}", headers=ZH)
    assert b.id not in form.text  # not offered
    r = a.post("/my/complaints/new", data={"csrf": csrf_of(form.text), "booking_id": b.id, "text": "x"}, headers=ZH)
    assert r.status_code == 422 and "请选择本企业的一条预约。" in r.text
    assert session.exec(select(Complaint)).all() == []


def test_vouchers_page_amounts_match_the_ledger_and_claiming_works(a, world, session):
    w = world
    rules = PRESETS["shandong_jinan"].model_dump(mode="json")
    prog = v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(name="2026 测试创新券", year=2026, total_budget_fen=10_000_000, rules=rules),
    )
    voucher = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
    session.commit()
    page = a.get("/my/vouchers", headers=ZH)
    assert "已发放（领取后可用）" in page.text and "¥1,000.00" in page.text
    bad = a.post("/my/vouchers/claim", data={"csrf": csrf_of(page.text), "code": "ABC"}, headers=ZH)
    assert bad.status_code == 422 and "这不是有效的创新券编码" in bad.text
    ok = a.post("/my/vouchers/claim", data={"csrf": csrf_of(page.text), "code": voucher.code.lower()}, headers=ZH)
    assert ok.status_code == 200 and f"创新券 {voucher.code} 已领取" in ok.text and "可使用" in ok.text
    b = _booking(session, w)
    actions.confirm(session, w.manager, b.id)
    v.apply_to_booking(session, w.member_a, b.id, voucher.code)
    session.commit()
    page = a.get("/my/vouchers", headers=EN).text
    card = re.search(rf'<article data-voucher="{voucher.code}".*?</article>', page, re.S).group(0)
    held = ledger.balance(session, ledger.booking(b.id))
    left = ledger.balance(session, ledger.voucher(voucher.id))
    session.commit()
    assert (held, left) == (24_000, 76_000)
    assert 'data-testid="balance">¥760.00<' in card and 'data-testid="face">¥1,000.00<' in card
    assert f'<a href="/my/bookings/{b.id}">Powder XRD, {w.day:%Y-%m-%d} 09:00 – 11:00 (Asia/Shanghai)</a>' in card
    assert "¥240.00" in card and 'data-testid="expiring"' not in card and "held until the service is done" in card
    assert "60% of the fee" in card and "reserved by a booking" in card


def test_a_voucher_expiring_within_30_days_stands_out(a, world, session):
    w = world
    rules = PRESETS["shandong_jinan"].model_copy(update={"validity_days": 20}).model_dump(mode="json")
    prog = v.create_programme(
        session, w.admin, v.VoucherProgramme(name="短期券", year=2026, total_budget_fen=1_000_000, rules=rules)
    )
    soon = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 10_000)
    session.commit()
    page = a.get("/my/vouchers", headers=ZH).text
    card = re.search(rf'<article data-voucher="{soon.code}" class="expiring">.*?</article>', page, re.S).group(0)
    assert "30 天内到期" in card


def test_the_inbox_marks_unread_and_reads(a, world, session):
    w = world
    notify(session, "Booking moved", "Your booking moved.", enterprise_id=w.ent_a.id, link="/api/v1/bookings/bkg_1")
    notify(session, "Other", enterprise_id=w.ent_a.id)
    notify(session, "Not yours", enterprise_id=w.ent_b.id)
    session.commit()
    assert a.get("/my/notifications/badge").text.count(">2<") == 1
    page = a.get("/my/notifications", headers=EN).text
    assert page.count('data-testid="unread-mark"') == 2 and "Not yours" not in page
    assert 'href="/my/bookings/bkg_1"' in page  # an old API link becomes the page
    first = re.search(r'data-notification="(ntf_[^"]+)"', page).group(1)
    r = a.post(f"/my/notifications/{first}/read", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303
    assert a.get("/my/notifications").text.count('data-testid="unread-mark"') == 1
    a.post("/my/notifications/read-all", data={"csrf": csrf_of(page)})
    assert a.get("/my/notifications").text.count('data-testid="unread-mark"') == 0
    assert a.get("/my/notifications/badge").text == ""
    others = session.exec(select(Notification).where(Notification.enterprise_id == w.ent_b.id)).one()
    session.commit()
    assert a.post(f"/my/notifications/{others.id}/read", data={"csrf": csrf_of(page)}).status_code == 404
    session.refresh(others)
    assert others.read_at is None


def test_an_event_that_was_mailed_is_told_in_the_readers_language(a, world, session):
    from scheduler.shared.mail_prefs import MailKind
    from scheduler.shared.mail_templates import SAMPLES
    from scheduler.shared.notifications import tell

    data = SAMPLES[MailKind.voucher_issued]
    tell(session, MailKind.voucher_issued, "voucher_issued:test", data, enterprise_id=world.ent_a.id)
    session.commit()
    zh, en = a.get("/my/notifications", headers=ZH).text, a.get("/my/notifications", headers=EN).text
    assert "创新券已发放" in zh and "Innovation voucher issued" not in zh
    assert "Innovation voucher issued" in en and "创新券已发放" not in en


def test_file_a_complaint_on_a_booking(a, world, session):
    w = world
    b = _booking(session, w)
    form = a.get(f"/my/complaints/new?{urlencode({'booking_id': b.id})}", headers=ZH)
    assert f'<option value="{b.id}" selected>Powder XRD, {w.day:%Y-%m-%d} 09:00 – 11:00 (Asia/Shanghai)' in form.text
    empty = a.post(
        "/my/complaints/new", data={"csrf": csrf_of(form.text), "booking_id": b.id, "text": "  "}, headers=ZH
    )
    assert empty.status_code == 422 and "请说明出了什么问题。" in empty.text
    r = a.post(
        "/my/complaints/new",
        data={"csrf": csrf_of(form.text), "booking_id": b.id, "text": "操作员迟到一小时"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/my/complaints"
    listing = a.get("/my/complaints", headers=ZH).text
    assert "操作员迟到一小时" in listing and "处理中" in listing and f'href="/my/bookings/{b.id}"' in listing
    assert session.exec(select(Complaint)).one().enterprise_id == w.ent_a.id


def test_other_roles_get_a_clear_403_and_strangers_sign_in_first(client, world, session):
    for path in ("/my/requests", "/my/vouchers", "/my/notifications", "/my/complaints", "/my/requests/new"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/my/")
    sign_in(client, _password(session, world.manager))
    r = client.get("/my/requests", headers=ZH)
    assert r.status_code == 403 and "这些页面供企业用户使用" in r.text
