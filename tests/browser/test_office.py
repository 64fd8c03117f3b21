"""The programme office's console in a real browser, in Chinese: a programme created from a preset
and its rules form refusing a bad day beside the field; an enterprise registered (a mistyped credit
code first: the error at the field); vouchers issued from a CSV with one bad row (nothing issued,
the row named with its column), then the fixed list (all issued); an allocation round run from
the page, watched while htmx polls, and its results opened: the gap, the FCFS comparison and
the unplaced request's reason in words. Screenshots of each page (zh-CN).

The round's data is this module's own, relative to the real now: an instrument open 08:00–12:00
every day with self-operated use by a qualified member, a request of one hour (placed) and one
of five hours (it never fits a four-hour opening: not placed)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time

TZ = ZoneInfo("Asia/Shanghai")
INSTRUMENT = "上午开放的红外光谱仪"
ENTERPRISE = "天津滨海光谱科技有限公司"


def _code(seq: int) -> str:
    from scheduler.booking import credit_code

    return credit_code.make("9", "1", "120116", f"MB{seq:07d}")


def _round_data(server) -> None:
    """An instrument open 08:00–12:00 daily, a qualified member and two requests for tomorrow."""
    from sqlmodel import Session

    from fixtures import factories
    from instruments.actor import SYSTEM, Role
    from instruments.availability import OpeningRule
    from instruments.catalogue import add_opening_rule
    from instruments.db import get_engine
    from scheduler.booking.booking_requests import BookingRequest, submit_request

    today = datetime.now(TZ).date()
    with Session(get_engine(server.db_url)) as s:
        unit = factories.unit(s, "天津理工大学分析测试中心")
        inst = factories.instrument(
            s,
            unit,
            INSTRUMENT,
            "FTIR",
            hours=(),
            service_modes=["self_operated"],
            fee_hour_external_fen=10000,
            policy={"slot_minutes": 30, "min_minutes": 30, "max_minutes": 600, "lead_minutes": {"self_operated": 0}},
        )
        add_opening_rule(
            s,
            SYSTEM,
            inst,
            OpeningRule(
                rrule="FREQ=DAILY", start_time=time(8), end_time=time(12), valid_from=date(2020, 1, 1), follows_holidays=False
            ),
        )
        ent = factories.enterprise(s, "天津红外检测有限公司", 78)  # 77 is the catalogue test's (one server for all)
        user, _, actor = factories.user(
            s, Role.enterprise_member, "周敏", "office-round@browser.example.cn", password=PASSWORD, enterprise_id=ent.id
        )
        factories.qualify(s, user.id, inst, today - timedelta(days=30))
        start = datetime.combine(today + timedelta(days=1), time(0), TZ)
        for minutes in (60, 300):
            submit_request(
                s,
                actor,
                BookingRequest(
                    enterprise_id="",
                    instrument_id=inst.id,
                    service_mode="self_operated",
                    duration_minutes=minutes,
                    earliest_start=start,
                    deadline=start + timedelta(days=2),
                ),
            )
        s.commit()


def _vouchers_of(server, credit: str) -> int:
    from sqlmodel import Session, func, select

    from instruments.db import get_engine
    from scheduler.booking.enterprises import Enterprise
    from scheduler.money.vouchers import Voucher

    with Session(get_engine(server.db_url)) as s:
        return s.exec(
            select(func.count())
            .select_from(Voucher)
            .join(Enterprise, Enterprise.id == Voucher.holder_enterprise_id)
            .where(Enterprise.credit_code == credit)
        ).one()


def test_office_registers_issues_from_a_csv_and_runs_a_round(page, server):
    sign_in(page, server.users["admin"])
    expect(page.get_by_test_id("who")).to_contain_text("平台管理员")

    # a programme from a preset, then its rules form refusing a day that is not one of every year
    page.goto("/office/programmes/new")
    page.locator("#preset-shanghai").check()
    page.locator("#name").fill("2026 天津市科技创新券（浏览器）")
    page.locator("#region").fill("天津市")
    page.locator("#year").fill("2026")
    page.locator("#budget").fill("2000000")
    page.get_by_role("button", name="创建项目").click()
    expect(page.get_by_test_id("created")).to_be_visible()
    expect(page.get_by_test_id("left")).to_have_text("¥2,000,000.00")
    page.locator("#q1_opens").fill("02-30")
    page.get_by_role("button", name="保存规则").click()
    expect(page.get_by_test_id("error-q1_opens")).to_contain_text("MM-DD")
    expect(page.locator("#q1_opens")).to_have_attribute("aria-invalid", "true")
    page.get_by_test_id("error-q1_opens").scroll_into_view_if_needed()
    shot(page, "office-programme-form-zh-CN")
    page.locator("#q1_opens").fill("04-19")
    page.locator("#share").fill("55")
    page.get_by_role("button", name="保存规则").click()
    expect(page.get_by_test_id("saved")).to_be_visible()
    expect(page.locator("#share")).to_have_value("55")
    programme_url = page.url.split("?")[0]
    programme_id = programme_url.rsplit("/", 1)[1]
    page.goto("/office/programmes")
    expect(page.locator(f'tr[data-programme="{programme_id}"]')).to_contain_text("¥2,000,000.00")
    shot(page, "office-programmes-zh-CN")

    # an enterprise: a mistyped credit code is refused at its field, then registered and verified
    good = _code(4242)
    typo = good[:17] + ("1" if good[17] != "1" else "2")
    page.goto("/office/enterprises")
    page.locator("#name").fill(ENTERPRISE)
    page.locator("#credit_code").fill(typo)
    page.locator("#region").fill("天津市滨海新区")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.get_by_test_id("error-credit_code")).to_contain_text(f"校验码）应为 {good[17]}")
    expect(page.locator("#credit_code")).to_have_attribute("aria-describedby", "credit_code-error")
    expect(page.locator("#name")).to_have_value(ENTERPRISE)  # what was typed stays
    page.get_by_test_id("error-credit_code").scroll_into_view_if_needed()
    shot(page, "office-enterprises-zh-CN")
    page.locator("#credit_code").fill(good)
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.get_by_test_id("registered")).to_be_visible()
    page.get_by_role("button", name="核验：已核对工商登记").click()
    expect(page.get_by_test_id("verified")).to_contain_text("(Asia/Shanghai)")
    shot(page, "office-enterprise-zh-CN")

    # vouchers from a CSV: one bad row, nothing issued and the row named; then the fixed list
    other = _code(4243)  # nobody is registered with it
    bad_csv = f"统一社会信用代码,券种,面额\n{good},testing,3000\n{other},rd_service,2000\n"
    page.goto(f"/office/vouchers/new?programme_id={programme_id}")
    page.locator("#bulk-programme").select_option(programme_id)
    page.locator("#bulk-file").set_input_files({"name": "名单.csv", "mimeType": "text/csv", "buffer": bad_csv.encode()})
    page.get_by_role("button", name="按名单发放").click()
    refused = page.get_by_test_id("bulk-errors")
    expect(page.get_by_test_id("bulk-refused")).to_contain_text("未发放任何创新券")
    expect(refused.locator("tbody tr")).to_have_count(1)
    expect(refused.locator('tr[data-line="3"]')).to_contain_text("统一社会信用代码 (credit_code)")
    expect(refused.locator('tr[data-line="3"]')).to_contain_text(other)
    assert _vouchers_of(server, good) == 0
    refused.scroll_into_view_if_needed()
    shot(page, "office-vouchers-bulk-errors-zh-CN")
    fixed_csv = f"统一社会信用代码,券种,面额\n{good},testing,3000\n{good},rd_service,2000\n"
    page.locator("#bulk-programme").select_option(programme_id)
    page.locator("#bulk-file").set_input_files({"name": "名单.csv", "mimeType": "text/csv", "buffer": fixed_csv.encode()})
    page.get_by_role("button", name="按名单发放").click()
    expect(page.get_by_test_id("issued")).to_have_text("已发放 2 张创新券。")
    expect(page.locator("tr[data-voucher]")).to_have_count(2)
    expect(page.get_by_test_id("vouchers")).to_contain_text("¥3,000.00")
    assert _vouchers_of(server, good) == 2
    shot(page, "office-vouchers-zh-CN")

    # a round from the page: the progress box polls until htmx is sent to the results
    _round_data(server)
    page.goto("/office/rounds")
    page.get_by_role("button", name="立即运行一轮分配").click()
    expect(page).to_have_url(re.compile(r"/office/rounds/rnd_\w+$"), timeout=120_000)
    expect(page.get_by_test_id("fcfs")).not_to_have_text("—")
    expect(page.get_by_test_id("gap")).to_contain_text("%")
    placed = page.get_by_test_id("placed")
    expect(placed).to_contain_text(INSTRUMENT)
    expect(placed).to_contain_text("(Asia/Shanghai)")
    unplaced = page.get_by_test_id("unplaced").locator("tr", has_text="天津红外检测有限公司")
    expect(unplaced).to_contain_text("300 分钟")
    expect(unplaced).to_contain_text("没有连续 300 分钟的空闲时段")
    shot(page, "office-round-zh-CN")
