"""Steps 1–2 of an enterprise's journey in a real browser, in Chinese and English: search → results
→ the instrument page → its week calendar of bookable time → a slot (clicked in the calendar, or
chosen with the keyboard in the list) opens the booking form's address; a closed day shows its
reason; the catalogue, instrument and owner-unit pages have no serious accessibility violation.

The data is made relative to the real now: the instrument opens every day 08:00–20:00 in
Asia/Shanghai whatever the calendar says (holidays and 调休 do not close it), self-operated with no
notice period, and the member is qualified, so some slot is bookable within a week at any hour."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD, shot, sign_in
from .test_signin_pages import _axe

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time

TZ = ZoneInfo("Asia/Shanghai")
NAME = "全天候X射线荧光光谱仪"
NAME_EN = "All-week XRF spectrometer"
MAINTENANCE = "年度维护"


@dataclass
class Lab:
    instrument_id: str
    unit_id: str
    member: str
    member_user_id: str
    maintenance_day: date


@pytest.fixture(scope="module")
def lab(server) -> Lab:
    return make_lab(server.db_url)


def make_lab(db_url: str) -> Lab:
    from sqlmodel import Session

    from fixtures import factories
    from instruments.actor import SYSTEM, Role
    from instruments.availability import AvailabilityException, ExceptionKind, OpeningRule
    from instruments.catalogue import add_exception, add_opening_rule
    from instruments.db import get_engine

    today = datetime.now(TZ).date()
    with Session(get_engine(db_url), expire_on_commit=False) as s:
        unit = factories.unit(
            s,
            "渤海理工大学分析测试中心",
            name_en="Bohai Tech Analysis Centre",
            profile="面向企业开放的分析测试平台。",
            management_rules="校外用户须签订服务协议。",
            contact_name="赵老师",
            news=[{"title": "新增 X 射线荧光光谱仪", "date": today.isoformat()}],
        )
        inst = factories.instrument(
            s,
            unit,
            NAME,
            "XRF",
            hours=(),
            name_en=NAME_EN,
            manufacturer="Rigaku",
            model="ZSX Primus IV",
            service_modes=["self_operated", "operator_run"],
            fee_hour_external_fen=45000,
            fee_sample_external_fen=12000,
            policy={"slot_minutes": 30, "min_minutes": 60, "max_minutes": 240, "lead_minutes": {"self_operated": 0}},
        )
        add_opening_rule(
            s,
            SYSTEM,
            inst,
            OpeningRule(
                rrule="FREQ=DAILY",
                start_time=time(8),
                end_time=time(20),
                valid_from=today - timedelta(days=30),
                follows_holidays=False,
            ),
        )
        closed = today + timedelta(days=3)
        add_exception(
            s,
            SYSTEM,
            inst,
            AvailabilityException(
                instrument_id=inst.id,
                kind=ExceptionKind.closed,
                start=datetime.combine(closed, time(8), TZ),
                end=datetime.combine(closed, time(20), TZ),
                reason=MAINTENANCE,
            ),
        )
        ent = factories.enterprise(s, "渤海检测科技有限公司", 77)
        user, _, _ = factories.user(
            s, Role.enterprise_member, "陈静", "catalogue@browser.example.cn", password=PASSWORD, enterprise_id=ent.id
        )
        factories.qualify(s, user.id, inst, today - timedelta(days=30))
        s.commit()
        return Lab(inst.id, unit.id, user.email, user.id, closed)


def first_bookable(server, lab: Lab) -> datetime | None:
    """The service's first bookable start of 60 minutes in the week from today (as the page asks)."""
    from sqlmodel import Session

    from booking_api.accounts import User
    from instruments.db import get_engine
    from scheduler.booking.bookable import bookable_time

    start = datetime.combine(datetime.now(TZ).date(), time(0), TZ)
    with Session(get_engine(server.db_url)) as s:
        actor = s.get(User, lab.member_user_id).actor()
        bt = bookable_time(
            s, actor, lab.instrument_id, "self_operated", duration_minutes=60, start=start, end=start + timedelta(days=7)
        )
    return bt.slots[0][0].astimezone(TZ) if bt.slots else None


def _language(page, lang: str) -> None:
    page.goto(f"/language?lang={lang}&next=/")
    expect(page.locator("html")).to_have_attribute("lang", lang)


def _booking_params(url: str, lab: Lab) -> dict[str, list[str]]:
    parts = urlsplit(url)
    assert parts.path == f"/instruments/{lab.instrument_id}/book", url
    return parse_qs(parts.query)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_search_to_a_bookable_slot_in_the_week_calendar(page, server, lab, lang):
    _language(page, lang)
    sign_in(page, lab.member)
    page.goto("/")
    box = page.get_by_label(re.compile("按名称|Search by name"))
    box.fill("xrf" if lang == "en" else "荧光光谱")
    box.press("Enter")  # the keyboard submits the search
    expect(page).to_have_url(re.compile(r"/\?q="))
    row = page.locator(f"tr[data-instrument='{lab.instrument_id}']")
    expect(row).to_contain_text("¥450.00")
    expect(box).to_have_value("xrf" if lang == "en" else "荧光光谱")  # the search keeps its words
    shot(page, f"catalogue-{lang}")
    row.get_by_role("link", name=NAME).click()
    expect(page.locator("h1")).to_have_text(NAME)

    before = first_bookable(server, lab)
    slots = page.locator(".slots a")
    expect(slots.first).to_be_visible()
    after = first_bookable(server, lab)
    first_href = slots.first.get_attribute("href")
    params = _booking_params(first_href, lab)
    shown = datetime.fromisoformat(params["start"][0])
    assert shown in {before, after}, (shown, before, after)  # the page offers what the service offers
    assert params["service_mode"] == ["self_operated"] and params["duration_minutes"] == ["60"]

    calendar_slot = page.locator(f"[data-testid=calendar-slot][data-start='{shown:%Y-%m-%dT%H:%M}']")
    expect(calendar_slot).to_be_visible(timeout=10_000)
    expect(page.locator(".fc-bg-event", has_text=MAINTENANCE).first).to_be_attached()
    closed_day = page.locator(f"section.day[data-day='{lab.maintenance_day}']")
    expect(closed_day).to_contain_text(("维护：" if lang == "zh-CN" else "Maintenance: ") + MAINTENANCE)
    expect(page.get_by_text("Asia/Shanghai").first).to_be_visible()
    shot(page, f"instrument-{lang}")
    calendar_slot.click()
    expect(page).to_have_url(re.compile(rf"/instruments/{lab.instrument_id}/book\?"))
    assert _booking_params(page.url, lab) == params


def test_pressing_enter_on_a_listed_slot_opens_the_booking_form(page, server, lab):
    sign_in(page, lab.member)
    page.goto(f"/instruments/{lab.instrument_id}")
    first = page.locator(".slots a").first
    href = first.get_attribute("href")
    first.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/instruments/{lab.instrument_id}/book\?"))
    assert page.url.endswith(href)


def test_choosing_samples_links_by_sample_count(page, server, lab):
    sign_in(page, lab.member)
    page.goto(f"/instruments/{lab.instrument_id}")
    page.get_by_label("或样品数").fill("4")
    page.get_by_label("或样品数").press("Enter")
    href = page.locator(".slots a").first.get_attribute("href")
    params = _booking_params(href, lab)
    assert params["sample_count"] == ["4"] and "duration_minutes" not in params
    expect(page.locator("[data-testid=calendar-slot]").first).to_be_visible(timeout=10_000)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_signed_out_visitors_see_rules_and_opening_time(page, server, lab, lang):
    _language(page, lang)
    page.goto(f"/instruments/{lab.instrument_id}")
    expect(page.get_by_test_id("rules")).to_contain_text("1 hour(s) to 4 hour(s)" if lang == "en" else "1 小时 至 4 小时")
    link = page.get_by_test_id("sign-in-hint").get_by_role("link")
    expect(link).to_have_attribute("href", f"/login?next=/instruments/{lab.instrument_id}")
    expect(page.locator(f"section.day[data-day='{lab.maintenance_day}']")).to_contain_text(MAINTENANCE)
    expect(page.locator(".slots")).to_have_count(0)
    shot(page, f"instrument-signed-out-{lang}")
    page.goto(f"/owner-units/{lab.unit_id}")
    expect(page.get_by_role("link", name=NAME)).to_be_visible()
    expect(page.locator("h2#rules")).to_have_text("共享与管理制度" if lang == "zh-CN" else "Sharing and management rules")
    shot(page, f"unit-{lang}")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_catalogue_pages_have_no_serious_accessibility_violations(page, server, lab, lang):
    _language(page, lang)
    found = {"/": _axe(page, "/", lang), "unit": _axe(page, f"/owner-units/{lab.unit_id}", lang)}
    sign_in(page, lab.member)
    page.goto(f"/instruments/{lab.instrument_id}")
    expect(page.locator("[data-testid=calendar-slot]").first).to_be_visible(timeout=10_000)
    found["instrument"] = _axe(page, f"/instruments/{lab.instrument_id}", lang, wait_for="[data-testid=calendar-slot]")
    assert all(v == [] for v in found.values()), found
