"""The booking pages over HTTP, on SQLite and PostgreSQL: the booking form with its live price
split, booking with a voucher (one transaction, the ledger balanced), refusals in the page's
language, my bookings (list, calendar events, a booking's page), cancel and self-move around the
cut-off, the .ics download, and calendar feed subscriptions. The pages' clock is pinned."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote as urlquote

import pytest
from sqlmodel import select

from booking_api.accounts import User, set_password
from booking_api.web.clock import web_now
from booking_api.web.refusals import RULE_CODES_OUTSIDE_RULES, TEMPLATES, VOUCHER_CODES, say
from fixtures.voucher_presets import PRESETS
from instruments.actor import SYSTEM
from instruments.errors import NotFound, PolicyViolation
from instruments.inventory import ServiceMode
from scheduler import booking_actions as actions
from scheduler.booking.bookings import Booking, BookingStatus
from scheduler.booking.rules import RULES
from scheduler.money import ledger
from scheduler.money import vouchers as v
from scheduler.money.price_split import quote

from .test_web_signin import PASSWORD, csrf_of, sign_in

BUDGET = 1_000_000


@pytest.fixture
def setup(world, session, client):
    """Member A signed in (zh-CN), a claimed 500-yuan voucher of the Shanghai preset (50 %), and
    the pages' clock two days before the world's working day."""
    w = world
    for who in ("member_a", "member_b"):
        set_password(session, SYSTEM, session.get(User, getattr(w, who).user_id), PASSWORD)
    prog = v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(
            name="2026 创新券", year=2026, total_budget_fen=BUDGET, rules=PRESETS["shanghai"].model_dump(mode="json")
        ),
    )
    voucher = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 50_000)
    v.claim(session, w.member_a, voucher.code)
    session.commit()
    now = w.at(8) - timedelta(days=2)
    client.app.dependency_overrides[web_now] = lambda: now
    assert sign_in(client, "a@t.cn").status_code == 303
    return w, voucher, now


def form_url(w, hh: int = 9, minutes: int = 120, mode: str = "operator_run") -> str:
    start = urlquote(w.at(hh).isoformat())
    return f"/instruments/{w.xrd.id}/book?service_mode={mode}&start={start}&duration_minutes={minutes}"


def book_form_data(client, w, hh: int = 9, minutes: int = 120, voucher: str = "", **extra) -> dict:
    page = client.get(form_url(w, hh, minutes))
    return {
        "csrf": csrf_of(page.text),
        "service_mode": "operator_run",
        "start": w.at(hh).isoformat(),
        "duration_minutes": str(minutes),
        "sample_count": "0",
        "voucher": voucher,
        "notes": "两个粉末样品",
        **extra,
    }


def test_the_form_shows_the_slot_and_the_split_of_the_chosen_voucher(setup, client, db):
    w, voucher, now = setup
    page = client.get(form_url(w))
    assert page.status_code == 200
    assert w.xrd.name in page.text and "(Asia/Shanghai)" in page.text and "委托测试" in page.text
    assert f"{w.at(9):%Y-%m-%d} 09:00 (Asia/Shanghai)" in page.text
    assert 'data-testid="price">¥400.00' in page.text  # 2 h × 200 yuan, no voucher chosen yet
    assert 'data-testid="enterprise-pays">¥400.00' in page.text and voucher.code in page.text
    # the htmx partial with the voucher chosen says what the quote service says
    with db.session() as s:  # a session of its own, closed before the page is asked
        q = quote(s, w.member_a, w.xrd.id, w.at(9), w.at(11), ServiceMode.operator_run, code=voucher.code, now=now)
    assert (q.split.voucher_fen, q.split.enterprise_fen, q.split.lapsed_fen) == (20_000, 20_000, 30_000)
    part = client.get(
        f"/instruments/{w.xrd.id}/book/split",
        params={
            "service_mode": "operator_run",
            "start": w.at(9).isoformat(),
            "duration_minutes": 120,
            "voucher": voucher.code,
        },
    )
    assert part.status_code == 200 and "<html" not in part.text
    for testid, fen in (("price", 40_000), ("voucher-pays", 20_000), ("enterprise-pays", 20_000), ("lapses", 30_000)):
        assert f'data-testid="{testid}">¥{fen // 100:,}.00' in part.text


def test_a_raw_plus_in_the_link_and_a_sample_count_link_work(setup, client):
    w, _, _ = setup
    raw = f"/instruments/{w.xrd.id}/book?service_mode=operator_run&start={w.at(9).isoformat()}&sample_count=2"
    page = client.get(raw)  # "+08:00" unescaped arrives as " 08:00"
    assert page.status_code == 200 and "09:00 (Asia/Shanghai)" in page.text
    assert 'data-testid="price">' in page.text
    bad = client.get(f"/instruments/{w.xrd.id}/book?service_mode=operator_run&start=tomorrow&duration_minutes=60")
    assert bad.status_code == 422 and "tomorrow" in bad.text
    assert client.get(f"/instruments/ins_nope/book?start={urlquote(w.at(9).isoformat())}&duration_minutes=60").status_code == 404


def test_booking_with_a_voucher_books_and_reserves_in_one_go(setup, client, session):
    w, voucher, _ = setup
    r = client.post(f"/instruments/{w.xrd.id}/book", data=book_form_data(client, w, voucher=voucher.code), follow_redirects=False)
    assert r.status_code == 303, r.text
    booking_id = re.fullmatch(r"/my/bookings/(bkg_\w+)\?done=booked", r.headers["location"]).group(1)
    session.expire_all()
    b = session.get(Booking, booking_id)
    assert b.enterprise_id == w.ent_a.id and b.notes == "两个粉末样品" and b.price_fen == 40_000
    held = session.get(v.Voucher, voucher.id)
    assert held.status == v.VoucherStatus.reserved and held.booking_id == b.id and held.reserved_fen == 20_000
    assert ledger.balance(session, ledger.booking(b.id)) == 20_000
    assert ledger.balance(session, ledger.voucher(voucher.id)) == 30_000 and ledger.total(session) == 0
    session.commit()  # end the read: SQLite holds its lock for a transaction
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and 'data-testid="done"' in page.text
    assert 'data-testid="voucher-pays">¥200.00' in page.text and 'data-testid="lapses">¥300.00' in page.text
    assert voucher.code in page.text and f"/my/complaints/new?booking_id={b.id}" in page.text
    # free cancellation until 24 h before the start, stated in local time with the zone
    assert f"{w.at(9) - timedelta(days=1):%Y-%m-%d} 09:00 (Asia/Shanghai)" in page.text
    listing = client.get("/my/bookings")
    assert listing.status_code == 200 and b.id in listing.text and "¥200.00" in listing.text


def test_a_voucher_refusal_leaves_no_booking(setup, client, session):
    """Book and apply are one transaction: a voucher that cannot pay leaves nothing behind."""
    w, voucher, _ = setup
    other = v.issue_voucher(session, w.admin, voucher.programme_id, w.ent_b.id, "testing", 10_000)
    session.commit()
    r = client.post(f"/instruments/{w.xrd.id}/book", data=book_form_data(client, w, voucher=other.code))
    assert r.status_code == 404 and "预约未成功" in r.text
    session.expire_all()
    assert session.exec(select(Booking)).all() == [] and ledger.total(session) == 0


def test_a_refused_booking_lists_every_failing_rule_in_the_page_language(setup, client):
    w, _, now = setup
    # 22:00 for 300 min: outside opening hours, longer than 240 min
    data = book_form_data(client, w, hh=22, minutes=300)
    zh = client.post(f"/instruments/{w.xrd.id}/book", data=data)
    assert zh.status_code == 422
    assert "预约未成功" in zh.text and "每次预约最多 4 小时；本次为 5 小时" in zh.text
    assert "不在Powder XRD的同一个开放时段内" in zh.text
    en = client.post(f"/instruments/{w.xrd.id}/book", data=data, headers={"Accept-Language": "en"})
    assert en.status_code == 422 and "The booking was not made" in en.text
    assert "Bookings of Powder XRD last at most 4 h; this one lasts 5 h." in en.text
    assert "is not within one opening period of Powder XRD" in en.text
    # too soon for operator-run work: the notice period, with the earliest start named
    soon = book_form_data(client, w, hh=9, start=(now + timedelta(hours=2)).replace(minute=0).isoformat())
    r = client.post(f"/instruments/{w.xrd.id}/book", data=soon)
    assert r.status_code == 422 and "须提前 1 天提交" in r.text


def test_a_form_without_its_csrf_token_is_refused(setup, client, session):
    w, _, _ = setup
    data = book_form_data(client, w)
    del data["csrf"]
    assert client.post(f"/instruments/{w.xrd.id}/book", data=data).status_code == 403
    assert session.exec(select(Booking)).all() == []


def _booked(client, w, voucher_code: str = "", hh: int = 9) -> str:
    r = client.post(f"/instruments/{w.xrd.id}/book", data=book_form_data(client, w, hh=hh, voucher=voucher_code), follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"].split("?")[0].rsplit("/", 1)[1]


def test_another_enterprises_booking_is_not_found(setup, client, session):
    w, _, _ = setup
    bid = _booked(client, w)
    client.post("/logout", data={"csrf": csrf_of(client.get("/home").text)})
    assert sign_in(client, "b@t.cn").status_code == 303
    for url in (f"/my/bookings/{bid}", f"/my/bookings/{bid}/booking.ics", f"/my/bookings/{bid}/cancel", f"/my/bookings/{bid}/move"):
        assert client.get(url).status_code == 404, url
    csrf = csrf_of(client.get("/my/bookings").text)
    assert client.post(f"/my/bookings/{bid}/cancel", data={"csrf": csrf}).status_code == 404
    assert bid not in client.get("/my/bookings").text
    assert client.get("/my/bookings/events.json").json() == []


def test_cancel_within_the_cut_off_releases_the_voucher(setup, client, session):
    w, voucher, _ = setup
    bid = _booked(client, w, voucher.code)
    confirm = client.get(f"/my/bookings/{bid}/cancel")
    assert confirm.status_code == 200 and 'data-testid="confirm-cancel"' in confirm.text
    r = client.post(f"/my/bookings/{bid}/cancel", data={"csrf": csrf_of(confirm.text), "reason": "改期"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert 'data-testid="status">已取消' in page.text
    session.expire_all()
    assert session.get(Booking, bid).status == BookingStatus.cancelled
    assert session.get(v.Voucher, voucher.id).status == v.VoucherStatus.claimed
    assert ledger.balance(session, ledger.voucher(voucher.id)) == 50_000 and ledger.total(session) == 0
    # still ahead in time, but over: listed under past and cancelled, not upcoming
    listing = client.get("/my/bookings").text
    upcoming, ended = listing.split("已过去和已取消", 1)
    assert f'data-booking="{bid}"' not in upcoming and f'data-booking="{bid}"' in ended


def test_after_the_cut_off_a_confirmed_booking_is_explained_not_cancelled(setup, client, session):
    w, _, _ = setup
    bid = _booked(client, w)
    actions.confirm(session, w.manager, bid)
    session.commit()
    late = w.at(9) - timedelta(hours=3)
    client.app.dependency_overrides[web_now] = lambda: late
    page = client.get(f"/my/bookings/{bid}")
    assert 'data-testid="too-late"' in page.text and 'data-testid="cancel"' not in page.text
    assert 'data-testid="move"' not in page.text
    r = client.post(f"/my/bookings/{bid}/cancel", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 422 and "已确认预约须在开始前 24 小时" in r.text
    en = client.post(f"/my/bookings/{bid}/cancel", data={"csrf": csrf_of(page.text)}, headers={"Accept-Language": "en"})
    assert "can be cancelled up to 24 h before the start" in en.text
    session.expire_all()
    assert session.get(Booking, bid).status == BookingStatus.confirmed


def test_self_move_rechecks_every_rule_and_keeps_the_voucher(setup, client, session):
    w, voucher, _ = setup
    bid = _booked(client, w, voucher.code)
    page = client.get(f"/my/bookings/{bid}/move")
    assert page.status_code == 200 and 'data-testid="slots"' in page.text
    offered = re.findall(r'name="start" value="([^"]+)"', page.text)
    assert offered and w.at(9).isoformat() not in offered
    csrf = csrf_of(page.text)
    # a time no rule allows (before opening): refused, in words, the booking unchanged
    bad = client.post(f"/my/bookings/{bid}/move", data={"csrf": csrf, "start": w.at(6).isoformat()})
    assert bad.status_code == 422 and "不在Powder XRD的同一个开放时段内" in bad.text
    target = w.at(14).isoformat()
    assert target in offered
    r = client.post(f"/my/bookings/{bid}/move", data={"csrf": csrf, "start": target}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=moved")
    session.expire_all()
    b = session.get(Booking, bid)
    assert b.start == w.at(14) and b.end == w.at(16) and b.sequence == 1
    held = session.get(v.Voucher, voucher.id)
    assert held.booking_id == bid and held.reserved_fen == 20_000
    assert ledger.balance(session, ledger.booking(bid)) == 20_000 and ledger.total(session) == 0


def test_self_move_after_the_cut_off_is_refused(setup, client, session):
    w, _, _ = setup
    bid = _booked(client, w)
    client.app.dependency_overrides[web_now] = lambda: w.at(9) - timedelta(hours=3)
    page = client.get(f"/my/bookings/{bid}")
    r = client.post(f"/my/bookings/{bid}/move", data={"csrf": csrf_of(page.text), "start": w.at(14).isoformat()})
    assert r.status_code == 422 and "之前由企业自行改期" in r.text


def test_self_move_reprices_the_voucher_with_the_fee(setup, session):
    """booking_actions.move by the enterprise: a longer booking costs more and the voucher's
    reservation follows, the ledger balanced; a time the voucher expires before refuses the move."""
    w, voucher, now = setup
    b = actions.book(session, w.member_a, actions.BookingInput(w.xrd.id, w.at(9), w.at(10), "operator_run"), now=now)
    v.apply_to_booking(session, w.member_a, b.id, voucher.code, now=now)
    assert voucher.reserved_fen == 10_000
    actions.move(session, w.member_a, b.id, w.at(14), w.at(17), now=now)
    assert b.price_fen == 60_000 and voucher.reserved_fen == 30_000
    assert ledger.balance(session, ledger.booking(b.id)) == 30_000 and ledger.total(session) == 0
    actions.move(session, w.member_a, b.id, w.at(14), w.at(15), now=now)
    assert voucher.reserved_fen == 10_000 and ledger.balance(session, ledger.voucher(voucher.id)) == 40_000
    assert ledger.total(session) == 0
    with pytest.raises(NotFound):  # another enterprise does not see it
        actions.move(session, w.member_b, b.id, w.at(15), w.at(16), now=now)
    voucher.expires_at = w.at(15)  # valid for the booking's 14:00, expired by 15:00
    session.add(voucher)
    with pytest.raises(PolicyViolation) as refused:
        actions.move(session, w.member_a, b.id, w.at(15), w.at(16), now=now)
    assert [x.code for x in refused.value.violations] == ["expires_first"]


def test_the_ics_download_is_the_apis(setup, client):
    w, _, _ = setup
    bid = _booked(client, w)
    r = client.get(f"/my/bookings/{bid}/booking.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert "attachment" in r.headers["content-disposition"]
    api = client.get(f"/api/v1/bookings/{bid}.ics", headers={"Authorization": f"Bearer {w.tokens['member_a']}"})
    strip = lambda body: re.sub(r"DTSTAMP:\S+", "", body)  # noqa: E731 - the stamp is the moment of rendering
    assert strip(r.text) == strip(api.text) and "BEGIN:VEVENT" in r.text


def test_the_calendar_events_are_mine_in_the_views_range(setup, client):
    w, _, _ = setup
    bid = _booked(client, w)
    events = client.get(
        "/my/bookings/events.json",
        params={"start": (w.at(0) - timedelta(days=1)).isoformat(), "end": (w.at(0) + timedelta(days=1)).isoformat()},
    ).json()
    assert [e["id"] for e in events] == [bid] and events[0]["url"] == f"/my/bookings/{bid}"
    assert events[0]["start"] == f"{w.day}T09:00:00" and "Powder XRD" in events[0]["title"]  # wall clock
    far = client.get("/my/bookings/events.json", params={"start": (w.at(0) + timedelta(days=10)).isoformat()}).json()
    assert far == []


def test_feed_subscribe_rotate_revoke_and_fetch(setup, client):
    w, _, _ = setup
    bid = _booked(client, w)
    page = client.get("/my/calendar-feeds")
    assert page.status_code == 200
    made = client.post("/my/calendar-feeds", data={"csrf": csrf_of(page.text), "label": "Outlook"})
    assert made.status_code == 200
    url = re.search(r'value="(http[^"]+\.ics)"', made.text).group(1)
    feed = client.get(url)
    assert feed.status_code == 200 and bid in feed.text
    listing = client.get("/my/calendar-feeds")
    assert url not in listing.text and "Outlook" in listing.text  # secrets are never listed
    sub_id = re.search(r'data-subscription="(csub_\w+)"', listing.text).group(1)
    confirm = client.get(f"/my/calendar-feeds/{sub_id}/rotate")
    assert confirm.status_code == 200 and 'data-testid="confirm"' in confirm.text
    rotated = client.post(f"/my/calendar-feeds/{sub_id}/rotate", data={"csrf": csrf_of(confirm.text)})
    new_url = re.search(r'value="(http[^"]+\.ics)"', rotated.text).group(1)
    assert new_url != url and client.get(url).status_code == 404 and client.get(new_url).status_code == 200
    r = client.post(f"/my/calendar-feeds/{sub_id}/revoke", data={"csrf": csrf_of(confirm.text)}, follow_redirects=False)
    assert r.status_code == 303 and client.get(new_url).status_code == 404
    assert client.post(f"/my/calendar-feeds/{sub_id}/revoke", data={}).status_code == 403  # no csrf


def test_every_rule_and_voucher_code_has_words_in_both_languages():
    keys = {k.split(".")[0] for k in TEMPLATES}
    codes = {r.code for r in RULES} | set(RULE_CODES_OUTSIDE_RULES) | set(VOUCHER_CODES)
    assert codes <= keys
    assert all(set(t) == {"zh-CN", "en"} for t in TEMPLATES.values())
    # an unknown code (a rule added later) falls back to the API's English message
    assert say("brand_new_rule", "Some English.", {"x": 1}, "zh-CN") == "Some English."


def test_the_move_page_offers_times_at_the_future_booking_limit(setup, client, session):
    """At its limit of future bookings (3 here) the enterprise may still move one of them."""
    w, _, now = setup
    made = [
        actions.book(session, w.member_a, actions.BookingInput(w.xrd.id, w.at(hh), w.at(hh + 1), "operator_run"), now=now)
        for hh in (9, 10, 14)
    ]
    session.commit()
    page = client.get(f"/my/bookings/{made[0].id}/move")
    assert page.status_code == 200 and 'data-testid="slots"' in page.text
    assert w.at(15).isoformat() in page.text and w.at(10).isoformat() not in page.text  # held by another


def test_the_api_lets_the_enterprise_move_its_own_booking(world, client):
    w = world
    member = {"Authorization": f"Bearer {w.tokens['member_a']}"}
    other = {"Authorization": f"Bearer {w.tokens['member_b']}"}
    slot = {"instrument_id": w.xrd.id, "start": w.at(9).isoformat(), "end": w.at(11).isoformat()}
    r = client.post("/api/v1/bookings", json={**slot, "service_mode": "operator_run"}, headers=member)
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    moved = {"start": w.at(14).isoformat(), "end": w.at(16).isoformat()}
    assert client.post(f"/api/v1/bookings/{bid}/move", json=moved, headers=other).status_code == 404
    bad = client.post(f"/api/v1/bookings/{bid}/move", json={"start": w.at(6).isoformat(), "end": w.at(8).isoformat()}, headers=member)
    assert bad.status_code == 422
    assert "outside_opening_hours" in {v["code"] for v in bad.json()["violations"]}
    assert all(set(v) <= {"code", "message", "field"} for v in bad.json()["violations"])  # the API's shape as before
    r = client.post(f"/api/v1/bookings/{bid}/move", json=moved, headers=member)
    assert r.status_code == 200, r.text
    assert r.json()["start"] == w.at(14).isoformat()
