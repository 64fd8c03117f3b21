"""The lab manager's console in a real browser (zh-CN): an enterprise's tentative booking seen in
the week view of the unit's bookings, confirmed, checked in and out; a booking made on an
enterprise's behalf; the unit's public page edited with a news item whose <script> does not
survive, and the public page showing it.

The server runs on the real clock, so the data is built relative to now: an instrument of the
manager's unit open round the clock, the enterprise's booking starting at the current half hour
(check-in is open from 30 minutes before the start to the end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from booking_api.accounts import User
from fixtures import factories
from instruments.actor import SYSTEM
from instruments.availability import OpeningRule
from instruments.catalogue import add_opening_rule
from instruments.db import get_engine, utcnow
from instruments.units import OwnerUnit
from scheduler import booking_actions as actions
from scheduler.booking.enterprises import Enterprise

from .conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time

MODE = "remote"  # no operator and no qualification needed: bookable at any hour
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Console:
    unit_id: str
    instrument: str
    enterprise: str
    booking_id: str
    start: datetime


@pytest.fixture(scope="module")
def console(server) -> Console:
    engine = get_engine(server.db_url)
    with Session(engine, expire_on_commit=False) as s:
        manager = s.exec(select(User).where(User.email == server.users["manager"])).one()
        unit = s.get(OwnerUnit, manager.owner_unit_id)
        inst = factories.instrument(
            s,
            unit,
            "X 射线光电子能谱仪 XPS-控制台",
            "XPS",
            hours=(),
            service_modes=[MODE],
            fee_hour_external_fen=40_000,
            policy={"slot_minutes": 30, "lead_minutes": {MODE: 0}, "max_future_bookings": 20},
        )
        add_opening_rule(  # open every day, holidays too
            s,
            SYSTEM,
            inst,
            OpeningRule(
                rrule="FREQ=DAILY",
                start_time=time(0, 0),
                end_time=time(23, 30),
                valid_from=utcnow().date() - timedelta(days=2),
                follows_holidays=False,
            ),
        )
        ent = s.exec(select(Enterprise).where(Enterprise.name == "天津云析科技有限公司")).one()
        member = s.exec(select(User).where(User.email == server.users["member"])).one().actor()
        local = datetime.now(TZ)
        start = local.replace(minute=0 if local.minute < 30 else 30, second=0, microsecond=0)
        if start.hour == 23:  # the instrument closes at 23:30: the booking ends then
            start = start.replace(minute=0) - timedelta(minutes=30)
        booking = actions.book(
            s,
            member,
            actions.BookingInput(inst.id, start, start + timedelta(minutes=60), MODE),
            now=start - timedelta(minutes=30),
        )
        s.commit()
        return Console(unit.id, inst.name, ent.name, booking.id, start)


def test_the_manager_confirms_checks_in_and_out_an_enterprises_booking(page, server, console):
    sign_in(page, server.users["manager"])
    page.goto(f"/unit/bookings?view=week&date={console.start.date().isoformat()}")
    grid = page.get_by_test_id("grid-week")
    chip = grid.locator(f'[data-booking="{console.booking_id}"]')
    expect(chip).to_contain_text(console.enterprise)
    expect(chip).to_contain_text("待确认")
    row = page.locator(f"tr#b-{console.booking_id}")
    expect(row).to_contain_text("(Asia/Shanghai)")
    shot(page, "unit-bookings-week-zh-CN")
    row.get_by_test_id("action-confirm").click()
    expect(page.get_by_test_id("done")).to_have_text("预约已确认。")
    row = page.locator(f"tr#b-{console.booking_id}")
    expect(row.get_by_test_id("status")).to_have_text("已确认")
    if datetime.now(TZ) >= console.start + timedelta(minutes=60):  # only after 23:30, when the booking is over
        return
    row.get_by_test_id("action-check-in").click()
    expect(page.get_by_test_id("done")).to_have_text("已签到。")
    page.locator(f"tr#b-{console.booking_id}").get_by_test_id("action-check-out").click()
    expect(page.get_by_test_id("done")).to_contain_text("已签退")
    expect(page.locator(f"tr#b-{console.booking_id}").get_by_test_id("status")).to_have_text("已完成")


def test_the_manager_books_on_behalf_of_an_enterprise(page, server, console):
    sign_in(page, server.users["manager"])
    page.goto("/unit/bookings")
    page.get_by_test_id("book-for").click()
    expect(page.locator("h1")).to_have_text("代企业预约")
    day = (datetime.now(TZ) + timedelta(days=1)).date()
    page.select_option("#enterprise_id", label=console.enterprise)
    page.select_option("#member_id", label=f"王芳 ({server.users['member']})")
    page.select_option("#instrument_id", label=console.instrument)
    page.select_option("#service_mode", value=MODE)
    page.fill("#date", day.isoformat())
    page.fill("#start", "10:00")
    page.fill("#duration_minutes", "90")
    page.fill("#notes", "电话预约")
    shot(page, "unit-book-for-zh-CN")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done")).to_have_text("已代企业预约。")
    expect(page.get_by_test_id("grid-day")).to_be_visible()
    row = page.locator("table[data-testid=bookings] tr", has_text="10:00–11:30")
    expect(row).to_contain_text(console.enterprise)
    expect(row).to_contain_text("王芳")
    expect(row.get_by_test_id("status")).to_have_text("已确认")
    shot(page, "unit-bookings-day-zh-CN")
    # the same slot again: refused by the booking rules, in Chinese, next to the form
    page.goto("/unit/bookings/new")
    page.select_option("#enterprise_id", label=console.enterprise)
    page.select_option("#instrument_id", label=console.instrument)
    page.select_option("#service_mode", value=MODE)
    page.fill("#date", day.isoformat())
    page.fill("#start", "10:30")
    page.fill("#duration_minutes", "60")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("refusal")).to_contain_text("冲突")


def test_the_manager_publishes_news_and_the_public_page_shows_it_without_the_script(page, server, console):
    sign_in(page, server.users["manager"])
    page.goto("/unit/page")
    page.fill("#profile", "面向社会开放的分析测试平台，欢迎企业预约。")
    page.get_by_test_id("save-profile").click()
    expect(page.get_by_test_id("done")).to_have_text("单位主页已保存。")
    page.get_by_test_id("add-news").click()
    page.fill("#news-title", "新增 XPS 能谱仪对外开放")
    page.fill(
        "#news-html",
        "<p>即日起 <strong>XPS</strong> 对外开放，<a href='https://example.cn/xps'>预约须知</a>。</p>"
        "<script>window.__xss = 1</script><img src=x onerror='window.__xss = 2'>",
    )
    page.get_by_test_id("publish-news").click()
    expect(page.get_by_test_id("done")).to_have_text("新闻已发布。")
    news = page.get_by_test_id("list-news")
    expect(news).to_contain_text("新增 XPS 能谱仪对外开放")
    expect(news.locator(".rich-text strong")).to_have_text("XPS")
    shot(page, "unit-page-zh-CN")
    page.get_by_test_id("public-link").click()
    expect(page.locator("h1")).to_have_text("南开大学分析测试中心")
    expect(page.locator("main")).to_contain_text("面向社会开放的分析测试平台")
    item = page.locator("section[aria-labelledby=news] li", has_text="新增 XPS 能谱仪对外开放")
    expect(item.locator("a[href='https://example.cn/xps']")).to_have_text("预约须知")
    assert item.locator("script, img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.locator("main script").count() == 0
