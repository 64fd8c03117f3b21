"""The enterprise's booking journey in a real browser, in Chinese and English: search, the
instrument's week of bookable time, the booking form of the first bookable slot, a voucher chosen and the split shown as ``price_split.quote`` says, the
booking made, seen in my bookings, cancelled; the same booking by keyboard alone; a calendar feed
subscribed in the page and fetched; axe finds no serious violation on these pages.

The data is built relative to the real now (an instrument open round the clock every day, holidays
and 调休 included, with no notice period), so the tests pass on any day and at any hour."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import quote as urlquote
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from booking_api.accounts import User
from booking_api.web.i18n import yuan
from fixtures import factories
from fixtures.voucher_presets import PRESETS
from instruments.actor import SYSTEM, Actor, Role
from instruments.availability import OpeningRule
from instruments.catalogue import add_opening_rule
from instruments.db import get_engine, utcnow
from instruments.inventory import Instrument, ServiceMode
from scheduler import booking_actions as actions
from scheduler.booking.bookable import bookable_time
from scheduler.booking.enterprises import Enterprise
from scheduler.money import vouchers as v
from scheduler.money.price_split import quote

from .conftest import shot, sign_in
from .test_signin_pages import _axe

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time

MODE = "remote"  # no operator and no qualification needed: bookable at any hour
MINUTES = 60


@dataclass
class Journey:
    instrument_id: str
    member: Actor
    codes: dict[str, str]  # test key → a claimed voucher of the member's enterprise


@pytest.fixture(scope="module")
def journey(server) -> Journey:
    engine = get_engine(server.db_url)
    with Session(engine, expire_on_commit=False) as s:
        unit = factories.unit(s, "天津大学测试中心")
        inst = factories.instrument(
            s,
            unit,
            "场发射扫描电镜 FE-SEM",
            "SEM",
            hours=(),
            service_modes=[MODE],
            fee_hour_external_fen=30_000,
            policy={"slot_minutes": 30, "lead_minutes": {MODE: 0}, "cancel_cutoff_minutes": 60, "max_future_bookings": 20},
        )
        add_opening_rule(  # open every day, holidays too
            s,
            SYSTEM,
            inst,
            OpeningRule(
                rrule="FREQ=DAILY", start_time=time(0, 0), end_time=time(23, 30), valid_from=utcnow().date() - timedelta(days=2), follows_holidays=False
            ),
        )
        ent = s.exec(select(Enterprise)).first()
        member = s.exec(select(User).where(User.email == server.users["member"])).one().actor()
        admin = s.exec(select(User).where(User.role == Role.programme_admin)).first().actor()
        prog = v.create_programme(
            s,
            admin,
            v.VoucherProgramme(
                name="浏览器测试创新券", year=utcnow().year, total_budget_fen=10_000_000, rules=PRESETS["shanghai"].model_dump(mode="json")
            ),
        )
        codes = {}
        for key in ("zh-CN", "en", "keyboard"):
            voucher = v.issue_voucher(s, admin, prog.id, ent.id, "testing", 50_000 if key != "en" else 10_000)
            v.claim(s, member, voucher.code)
            codes[key] = voucher.code
        s.commit()
        return Journey(inst.id, member, codes)


def first_slot(server, j: Journey) -> tuple[datetime, datetime]:
    """The first bookable hour from three hours on (past the cancellation cut-off)."""
    with Session(get_engine(server.db_url)) as s:
        now = utcnow()
        offer = bookable_time(s, j.member, j.instrument_id, MODE, duration_minutes=MINUTES, start=now + timedelta(hours=3), now=now)
    return offer.slots[0]


def form_url(j: Journey, start: datetime) -> str:
    return f"/instruments/{j.instrument_id}/book?service_mode={MODE}&start={urlquote(start.isoformat())}&duration_minutes={MINUTES}"


def expected_split(server, j: Journey, start: datetime, code: str) -> dict[str, str]:
    with Session(get_engine(server.db_url)) as s:
        q = quote(s, j.member, j.instrument_id, start, start + timedelta(minutes=MINUTES), ServiceMode(MODE), code=code)
    return {
        "price": yuan(q.split.price_fen),
        "voucher-pays": yuan(q.split.voucher_fen),
        "enterprise-pays": yuan(q.split.enterprise_fen),
        "lapses": yuan(q.split.lapsed_fen),
    }


def choose_language(page, server, lang: str) -> None:
    page.goto(f"/language?lang={lang}&next=/login")
    sign_in(page, server.users["member"])
    expect(page).to_have_url(re.compile(r"/home$"))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_book_with_a_voucher_see_it_and_cancel(page, server, journey, lang):
    zh = lang == "zh-CN"
    choose_language(page, server, lang)
    start, _end = first_slot(server, journey)
    # find it: the search box, the instrument's page, the hour in its week of bookable time
    page.goto("/")
    box = page.get_by_label(re.compile("按名称|Search by name"))
    box.fill("电镜" if zh else "fe-sem")
    box.press("Enter")
    page.get_by_role("link", name="场发射扫描电镜 FE-SEM").first.click()
    expect(page).to_have_url(re.compile(rf"/instruments/{journey.instrument_id}$"))
    page.locator("#duration_minutes").fill(str(MINUTES))
    page.locator("#duration_minutes").press("Enter")
    local = start.astimezone(ZoneInfo("Asia/Shanghai"))
    day = page.locator(f'section[data-day="{local:%Y-%m-%d}"]')
    day.get_by_role("link", name=re.compile(rf"{local:%H:%M}–")).click()
    expect(page).to_have_url(re.compile(rf"/instruments/{journey.instrument_id}/book\?"))
    expect(page.get_by_test_id("start")).to_contain_text(f"{local:%Y-%m-%d %H:%M} (Asia/Shanghai)")
    expect(page.get_by_test_id("voucher-pays")).to_have_text("¥0.00")
    shot(page, f"book-form-{lang}")
    code = journey.codes[lang]
    page.get_by_test_id(f"voucher-{code}").check()
    want = expected_split(server, journey, start, code)
    assert want["voucher-pays"] != "¥0.00"
    for testid, text in want.items():
        expect(page.locator("#split").get_by_test_id(testid)).to_have_text(text)
    shot(page, f"book-form-voucher-{lang}")
    page.get_by_test_id("book").click()
    expect(page).to_have_url(re.compile(r"/my/bookings/bkg_\w+\?done=booked$"))
    booking_id = re.search(r"/my/bookings/(bkg_\w+)", page.url).group(1)
    expect(page.get_by_test_id("done")).to_be_visible()
    expect(page.get_by_test_id("voucher")).to_contain_text(code)
    for testid in ("price", "voucher-pays", "enterprise-pays", "lapses"):
        expect(page.get_by_test_id("split").get_by_test_id(testid)).to_have_text(want[testid])
    shot(page, f"booking-{lang}")
    page.get_by_role("link", name="我的预约" if zh else "My bookings").first.click()
    row = page.locator(f"tr[data-booking='{booking_id}']")
    expect(row).to_be_visible()
    expect(row.get_by_test_id("status")).to_have_text("待确认" if zh else "awaiting confirmation")
    expect(page.locator("#calendar .fc-event").first).to_be_visible()
    shot(page, f"my-bookings-{lang}")
    page.goto(f"/my/bookings/{booking_id}")
    page.get_by_test_id("cancel").click()
    shot(page, f"booking-cancel-{lang}")
    page.get_by_test_id("confirm-cancel").click()
    expect(page.get_by_test_id("status")).to_have_text("已取消" if zh else "cancelled")
    page.goto("/my/bookings")
    expect(page.locator(f"tr[data-booking='{booking_id}']").get_by_test_id("status")).to_have_text(
        "已取消" if zh else "cancelled"
    )


def test_booking_by_keyboard_alone(page, server, journey):
    choose_language(page, server, "zh-CN")
    start, _end = first_slot(server, journey)
    page.goto(form_url(journey, start))

    def tab_to(selector: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement && document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("input[name=voucher]")  # the group's checked radio: "no voucher"
    code = journey.codes["keyboard"]
    for _ in range(10):  # arrow keys move the choice within the group
        if page.evaluate("document.activeElement.value") == code:
            break
        page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") == code
    expect(page.locator("#split").get_by_test_id("voucher-pays")).to_have_text(
        expected_split(server, journey, start, code)["voucher-pays"]
    )
    tab_to("textarea[name=notes]")
    page.keyboard.type("键盘预约")
    tab_to("button[data-testid=book]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/my/bookings/bkg_\w+\?done=booked$"))
    expect(page.get_by_test_id("voucher")).to_contain_text(code)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_subscribe_to_a_feed_and_fetch_it(page, server, journey, lang):
    start, end = first_slot(server, journey)
    with Session(get_engine(server.db_url), expire_on_commit=False) as s:
        booking = actions.book(s, journey.member, actions.BookingInput(journey.instrument_id, start, end, MODE))
        s.commit()
        name = s.get(Instrument, journey.instrument_id).name
    choose_language(page, server, lang)
    page.goto("/my/calendar-feeds")
    shot(page, f"feeds-{lang}")
    page.get_by_label("名称（哪个日历或设备）" if lang == "zh-CN" else "Label (which calendar or device)").fill(f"Outlook {lang}")
    page.get_by_test_id("subscribe").click()
    url = page.get_by_test_id("feed-url").input_value()
    assert url.startswith(server.url + "/calendar/feeds/") and url.endswith(".ics")
    page.get_by_test_id("copy").focus()
    page.keyboard.press("Enter")  # the copy button works from the keyboard (with or without clipboard permission)
    expect(page.locator("#copy-status")).not_to_be_empty()
    shot(page, f"feeds-created-{lang}")
    feed = httpx.get(url, timeout=10)
    assert feed.status_code == 200 and f"UID:{booking.id}@" in feed.text and name.split()[0] in feed.text
    with Session(get_engine(server.db_url)) as s:
        actions.cancel(s, journey.member, booking.id)
        s.commit()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_no_serious_accessibility_violations_on_the_booking_pages(page, server, journey, lang):
    start, end = first_slot(server, journey)
    with Session(get_engine(server.db_url), expire_on_commit=False) as s:
        booking = actions.book(s, journey.member, actions.BookingInput(journey.instrument_id, start, end, MODE))
        s.commit()
    choose_language(page, server, lang)
    found = {}
    for path in (
        form_url(journey, start + timedelta(hours=2)),
        "/my/bookings",
        f"/my/bookings/{booking.id}",
        f"/my/bookings/{booking.id}/cancel",
        f"/my/bookings/{booking.id}/move",
        "/my/calendar-feeds",
    ):
        found[path] = _axe(page, path, lang)
    assert {path: x for path, x in found.items() if x} == {}
    with Session(get_engine(server.db_url)) as s:
        actions.cancel(s, journey.member, booking.id)
        s.commit()
