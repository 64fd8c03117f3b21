"""The lab manager's bookings across the unit (/unit/bookings), on SQLite and PostgreSQL: the
week and day grids with the list below, each action (confirm, reject, check in, check out,
no-show) with its refusals in Chinese, booking on an enterprise's behalf with the same rules, and
another unit's bookings and instruments answering 404. The pages' clock is pinned."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking_api.accounts import User, set_password
from booking_api.web.clock import web_now
from instruments.actor import SYSTEM
from scheduler import booking_actions as actions
from scheduler.booking.bookings import Booking, BookingStatus

from .conftest import auth
from .test_web_signin import PASSWORD, csrf_of, sign_in


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def setup(world, session, client):
    """The lab manager of the world's first unit signed in (zh-CN), a tentative operator-run
    booking of enterprise A on the XRD at 09:00–11:00 of the world's day, one of the other unit's
    XPS at the same time, and the pages' clock two days before."""
    w = world
    for who in ("manager", "member_a", "other_manager"):
        set_password(session, SYSTEM, session.get(User, getattr(w, who).user_id), PASSWORD)
    now = w.at(8) - timedelta(days=2)
    mine = actions.book(session, w.member_a, actions.BookingInput(w.xrd.id, w.at(9), w.at(11), "operator_run"), now=now)
    theirs = Booking(  # the other unit's XPS has no operator: its booking is made without the rules
        instrument_id=w.other.id,
        enterprise_id=w.ent_b.id,
        service_mode="self_operated",
        start=w.at(9),
        end=w.at(11),
        blocked_start=w.at(9),
        blocked_end=w.at(11),
        status=BookingStatus.tentative,
    )
    session.add(theirs)
    session.commit()
    clock = Clock(now)
    client.app.dependency_overrides[web_now] = clock
    assert sign_in(client, "m1@t.cn").status_code == 303
    return w, mine.id, theirs.id, clock  # ids: reading an expired object would open a transaction


def post_action(client, booking_id: str, action: str, **extra):
    page = client.get("/unit/bookings")
    return client.post(
        f"/unit/bookings/{booking_id}/{action}",
        data={"csrf": csrf_of(page.text), "view": "week", "date": "", **extra},
        follow_redirects=False,
    )


def status_of(session, booking_id: str) -> BookingStatus:
    session.expire_all()
    status = session.get(Booking, booking_id).status
    session.rollback()  # the test's session ends its transaction: on SQLite it holds the write lock
    return status


def test_the_week_shows_the_units_instruments_and_bookings_in_chinese(setup, client, db):
    w, mine, theirs, _ = setup
    r = client.get(f"/unit/bookings?view=week&date={w.day.isoformat()}")
    assert r.status_code == 200
    text = r.text
    assert 'data-testid="grid-week"' in text and "全单位预约" in text
    assert w.xrd.name in text and w.sem.name in text and w.other.name not in text
    assert f'data-booking="{mine}"' in text and f'data-booking="{theirs}"' not in text
    assert w.ent_a.name in text and "待确认" in text and "(Asia/Shanghai)" in text
    assert 'data-testid="action-confirm"' in text and 'data-testid="action-reject"' in text
    assert "09:00–11:00" in text and "¥" in text
    for english in ("Confirm<", "Check in<", "Bookings in this span", ">tentative<"):
        assert english not in text


def test_the_day_places_the_booking_on_its_instruments_row(setup, client, db):
    w, mine, _, _ = setup
    r = client.get(f"/unit/bookings?view=day&date={w.day.isoformat()}")
    assert r.status_code == 200 and 'data-testid="grid-day"' in r.text
    row = r.text.split(f'data-instrument="{w.xrd.id}"')[1].split("</tr>")[0]
    assert f'data-booking="{mine}"' in row
    # 08:00–20:00 is 12 hours: 09:00 is 1/12 from the left, two hours 2/12 wide
    assert "left: 8.333%; width: 16.667%" in row
    empty = client.get(f"/unit/bookings?view=day&date={(w.day + timedelta(days=1)).isoformat()}")
    assert f'data-booking="{mine}"' not in empty.text and "此时段内没有预约" in empty.text


def test_confirm_then_check_in_and_out_at_the_right_times(setup, client, session, db):
    w, mine, _, clock = setup
    r = post_action(client, mine, "confirm")
    assert r.status_code == 303 and "done=confirm" in r.headers["location"]
    assert status_of(session, mine) == BookingStatus.confirmed
    assert "预约已确认" in client.get(r.headers["location"]).text
    again = post_action(client, mine, "confirm")
    assert again.status_code == 409 and "只有待确认的预约才能确认或拒绝" in again.text and "已确认" in again.text
    early = post_action(client, mine, "check-in")
    assert early.status_code == 409 and "签到在开始前 30 分钟" in early.text
    clock.now = w.at(8, 45)
    assert post_action(client, mine, "check-in").status_code == 303
    assert status_of(session, mine) == BookingStatus.checked_in
    clock.now = w.at(10, 50)
    assert post_action(client, mine, "check-out").status_code == 303
    assert status_of(session, mine) == BookingStatus.completed
    out = post_action(client, mine, "check-out")
    assert out.status_code == 409 and "请先签到" in out.text


def test_reject_a_tentative_booking_with_a_reason(setup, client, session, db):
    w, mine, _, _ = setup
    r = post_action(client, mine, "reject", reason="仪器维护")
    assert r.status_code == 303
    session.expire_all()
    done = session.get(Booking, mine)
    assert done.status == BookingStatus.cancelled and done.cancel_reason == "仪器维护"


def test_no_show_only_after_the_grace(setup, client, session, db):
    w, mine, _, clock = setup
    assert post_action(client, mine, "no-show").status_code == 409  # tentative
    post_action(client, mine, "confirm")
    clock.now = w.at(9, 10)
    early = post_action(client, mine, "no-show")
    assert early.status_code == 409 and "30 分钟后才能标记为爽约" in early.text
    clock.now = w.at(9, 31)
    assert post_action(client, mine, "no-show").status_code == 303
    assert status_of(session, mine) == BookingStatus.no_show


def test_another_units_booking_or_an_unknown_action_is_a_404(setup, client, session, db):
    _, mine, theirs, _ = setup
    for action in ("confirm", "reject", "check-in", "check-out", "no-show"):
        r = post_action(client, theirs, action)
        assert r.status_code == 404 and "未找到" in r.text, action
    assert status_of(session, theirs) == BookingStatus.tentative
    assert post_action(client, mine, "explode").status_code == 404
    assert post_action(client, "bkg_missing", "confirm").status_code == 404


def test_actions_need_the_forms_csrf(setup, client, session, db):
    _, mine, _, _ = setup
    r = client.post(f"/unit/bookings/{mine}/confirm", data={"csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403 and status_of(session, mine) == BookingStatus.tentative


def book_for_data(client, w, **extra) -> dict:
    page = client.get("/unit/bookings/new")
    assert page.status_code == 200 and w.ent_a.name in page.text and "代企业预约" in page.text
    return {
        "csrf": csrf_of(page.text),
        "enterprise_id": w.ent_b.id,
        "member_id": w.member_b.user_id,
        "instrument_id": w.sem.id,
        "service_mode": "operator_run",
        "date": w.day.isoformat(),
        "start": "14:00",
        "duration_minutes": "60",
        "sample_count": "0",
        "notes": "代客户预约",
        **extra,
    }


def test_book_on_behalf_of_an_enterprise_and_its_member(setup, client, session, db):
    w, _, _, _ = setup
    r = client.post("/unit/bookings/new", data=book_for_data(client, w), follow_redirects=False)
    assert r.status_code == 303 and "done=booked" in r.headers["location"]
    session.expire_all()
    b = session.exec(Booking.__table__.select().where(Booking.__table__.c.notes == "代客户预约")).one()
    assert b.enterprise_id == w.ent_b.id and b.user_id == w.member_b.user_id
    assert b.status == BookingStatus.confirmed and b.start == w.at(14) and b.source == "manager"
    page = client.get(r.headers["location"])
    assert "已代企业预约" in page.text and w.ent_b.name in page.text


def test_booking_for_an_enterprise_is_refused_in_chinese_by_the_same_rules(setup, client, session, db):
    w, _, _, _ = setup
    closed = client.post("/unit/bookings/new", data=book_for_data(client, w, start="12:30"), follow_redirects=False)
    assert closed.status_code == 422 and "不在" in closed.text and "开放时段" in closed.text
    collide = client.post(
        "/unit/bookings/new",
        data=book_for_data(client, w, instrument_id=w.xrd.id, start="10:00"),
        follow_redirects=False,
    )
    assert collide.status_code == 409 and "冲突" in collide.text
    wrong_member = client.post(
        "/unit/bookings/new", data=book_for_data(client, w, member_id=w.member_a.user_id), follow_redirects=False
    )
    assert wrong_member.status_code == 422 and 'data-testid="error-member_id"' in wrong_member.text
    missing = client.post(
        "/unit/bookings/new",
        data=book_for_data(client, w, enterprise_id="", duration_minutes="x"),
        follow_redirects=False,
    )
    assert (
        'data-testid="error-enterprise_id"' in missing.text and 'data-testid="error-duration_minutes"' in missing.text
    )
    other = client.post(
        "/unit/bookings/new", data=book_for_data(client, w, instrument_id=w.other.id), follow_redirects=False
    )
    assert other.status_code == 404
    assert session.exec(Booking.__table__.select().where(Booking.__table__.c.notes == "代客户预约")).all() == []


def test_the_api_rejects_a_tentative_booking_for_the_units_manager_only(setup, client, session, db):
    w, mine, theirs, _ = setup
    assert client.post(f"/api/v1/bookings/{theirs}/reject", headers=auth(w, "manager")).status_code == 404
    assert client.post(f"/api/v1/bookings/{mine}/reject", headers=auth(w, "member_a")).status_code == 403
    r = client.post(f"/api/v1/bookings/{mine}/reject", json={"reason": "busy"}, headers=auth(w, "manager"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/bookings/{mine}/reject", headers=auth(w, "manager")).status_code == 409


def test_the_pages_read_in_english_too_and_survive_odd_links(setup, client, db):
    w, mine, _, _ = setup
    en = {"Accept-Language": "en"}
    week = client.get(f"/unit/bookings?date={w.day.isoformat()}", headers=en)
    assert week.status_code == 200 and "Bookings across the unit" in week.text and "awaiting confirmation" in week.text
    day = client.get(f"/unit/bookings?view=day&date={w.day.isoformat()}", headers=en)
    assert day.status_code == 200 and f'data-booking="{mine}"' in day.text
    form = client.get("/unit/bookings/new", headers=en)
    assert form.status_code == 200 and "Book for an enterprise" in form.text
    for odd in ("?date=2026-02-30", "?view=month&date=x", "?date="):
        assert client.get("/unit/bookings" + odd).status_code == 200, odd
