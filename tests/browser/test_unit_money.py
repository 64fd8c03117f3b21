"""The lab manager's usage and money pages in a real browser, in Chinese: a usage CSV with an
error is refused with its row and column named, the fixed file imports and the dashboard draws
its charts; a completed voucher order is claimed with three proof files uploaded (and one
reference number) and the claim shows as pending, its files downloadable; then the programme
office approves it, pays it in a batch, and the statistics page shows the amounts moving from used to
approved-unpaid to redeemed (issue 23's second scenario, end to end).

The data is built relative to the real now (an instrument in the manager's unit open round the
clock, remote service, no notice period; a programme whose redemption window is always open)."""

from __future__ import annotations

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from booking_api.accounts import User
from fixtures import factories
from fixtures.voucher_presets import PRESETS
from instruments.actor import SYSTEM, Role
from instruments.availability import OpeningRule
from instruments.catalogue import add_opening_rule
from instruments.db import get_engine, utcnow
from scheduler import booking_actions as actions
from scheduler.booking.enterprises import Enterprise
from scheduler.money import vouchers as v
from scheduler.money.voucher_rules import RedemptionCalendar

from .conftest import PASSWORD, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time

MODE = "remote"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


@pytest.fixture(scope="module")
def order(server) -> dict[str, str]:
    """A unit of its own (the browser tests share one server: other tests' usage and claims stay
    off this unit's figures), its lab manager, an instrument and a completed voucher order on it."""
    with Session(get_engine(server.db_url), expire_on_commit=False) as s:
        unit = factories.unit(s, "渤海大学兑付测试中心")
        email = "money-manager@browser.example.cn"
        manager, _, _ = factories.user(s, Role.lab_manager, "赵敏", email, password=PASSWORD, owner_unit_id=unit.id)
        inst = factories.instrument(
            s,
            unit,
            "核磁共振波谱仪 NMR-600",
            "NMR",
            hours=(),
            service_modes=[MODE],
            fee_hour_external_fen=30_000,
            policy={
                "slot_minutes": 30,
                "lead_minutes": {MODE: 0},
                "cancel_cutoff_minutes": 60,
                "max_future_bookings": 20,
            },
        )
        add_opening_rule(
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
        ent = s.exec(select(Enterprise)).first()
        member = s.exec(select(User).where(User.email == server.users["member"])).one().actor()
        admin = s.exec(select(User).where(User.role == Role.programme_admin)).first().actor()
        rules = PRESETS["shandong_jinan"].model_copy(
            update={"redemption": RedemptionCalendar(kind="monthly", monthly_days=(1, 31))}
        )
        prog = v.create_programme(
            s,
            admin,
            v.VoucherProgramme(
                name="浏览器测试兑付创新券",
                year=utcnow().year,
                total_budget_fen=10_000_000,
                rules=rules.model_dump(mode="json"),
            ),
        )
        voucher = v.issue_voucher(s, admin, prog.id, ent.id, "testing", 100_000)
        v.claim(s, member, voucher.code)
        now = utcnow()
        start = (
            (now + timedelta(days=1))
            .astimezone(ZoneInfo("Asia/Shanghai"))
            .replace(hour=10, minute=0, second=0, microsecond=0)
        )
        b = actions.book(s, member, actions.BookingInput(inst.id, start, start + timedelta(hours=2), MODE), now=now)
        v.apply_to_booking(s, member, b.id, voucher.code, now=now)
        mgr = manager.actor()
        if str(b.status) != "confirmed":
            actions.confirm(s, mgr, b.id)
        actions.check_in(s, mgr, b.id, now=b.start)
        actions.check_out(s, mgr, b.id, now=b.end)
        s.commit()
        return {
            "instrument": inst.id,
            "voucher": voucher.id,
            "code": voucher.code,
            "manager": email,
            "programme": prog.id,
        }


def test_usage_upload_errors_then_dashboard(page, server, order):
    sign_in(page, order["manager"])
    page.goto("/unit/usage")
    expect(page.locator("h1")).to_have_text("使用记录")
    year = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).year
    bad = (
        "started_at,ended_at,measure_minutes,user_type,fee_yuan\n"
        f"{year}-01-05T09:00,{year}-01-05T11:00,110,external,400.00\n"
        f"{year}-01-06T09:00,{year}-01-06T10:00,五十,external,100\n"
    )
    page.select_option("#instrument_id", order["instrument"])
    page.set_input_files("#file", files=[{"name": "使用记录.csv", "mimeType": "text/csv", "buffer": bad.encode()}])
    page.get_by_role("button", name="上传").click()
    errors = page.get_by_test_id("row-errors")
    expect(errors).to_be_visible()
    row = errors.locator('tr[data-row="3"][data-column="measure_minutes"]')
    expect(row).to_contain_text("不是整数")
    expect(errors).to_contain_text("未导入任何记录")
    shot(page, "unit-usage-errors-zh-CN")
    page.select_option("#instrument_id", order["instrument"])
    good = bad.replace(",五十,", ",50,")
    page.set_input_files("#file", files=[{"name": "使用记录.csv", "mimeType": "text/csv", "buffer": good.encode()}])
    page.get_by_role("button", name="上传").click()
    expect(page.get_by_test_id("imported")).to_contain_text("导入 2 行")
    expect(page.get_by_test_id("unit-hours")).to_have_text("4.7")  # 110 + 50 min, and the 2 h checked-out booking
    expect(page.get_by_test_id("unit-sharing")).to_have_text("100.0%")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-hours'))")
    shot(page, "unit-usage-zh-CN")


def test_file_a_claim_with_proof_files_and_see_it_pending(page, server, order):
    sign_in(page, order["manager"])
    page.goto("/unit/vouchers")
    expect(page.locator("h1")).to_have_text("创新券与兑付申请")
    row = page.locator(f'tr[data-voucher="{order["code"]}"]')
    expect(row).to_contain_text("服务已完成")
    expect(row).to_contain_text("¥360.00")  # 60 % of the ¥600 fee
    shot(page, "unit-vouchers-zh-CN")
    page.get_by_test_id(f"claim-{order['code']}").click()
    expect(page.locator("h1")).to_have_text("提交兑付申请")
    page.set_input_files("#file_contract", files=[{"name": "合同.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.set_input_files("#file_invoice", files=[{"name": "发票.png", "mimeType": "image/png", "buffer": PNG}])
    page.set_input_files(
        "#file_payment_proof", files=[{"name": "付款凭证.jpg", "mimeType": "image/jpeg", "buffer": JPEG}]
    )
    page.fill("#ref_service_record", "BG-2026-1107")
    shot(page, "unit-claim-form-zh-CN")
    page.get_by_role("button", name="提交申请").click()
    expect(page).to_have_url(re.compile(r"/unit/vouchers/claims/clm_"))
    expect(page.get_by_test_id("claim-status")).to_have_text("待审核")
    expect(page.get_by_test_id("item-status")).to_have_text("已申请，等待审核")
    links = page.get_by_test_id("proof-link")
    expect(links).to_have_count(3)
    href = links.first.get_attribute("href")
    got = page.request.get(href)
    assert got.status == 200 and got.body() == PDF
    shot(page, "unit-claim-zh-CN")
    page.goto("/unit/vouchers")
    expect(page.get_by_test_id("claim-status").first).to_have_text("待审核")

    # the programme office: the statistics before, the decision, the batch paid, the statistics after
    page.context.clear_cookies()
    sign_in(page, server.users["admin"])
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    stats = (
        f"/office/statistics?programme={order['programme']}"
        f"&start={(today - timedelta(days=1)).isoformat()}&end={(today + timedelta(days=1)).isoformat()}"
    )
    page.goto(stats)
    expect(page.get_by_test_id("used")).to_have_text("¥360.00")
    expect(page.get_by_test_id("approved-unpaid")).to_have_text("¥0.00")
    expect(page.get_by_test_id("redeemed")).to_have_text("¥0.00")
    page.goto("/office/redemption")
    row = page.locator("tr[data-claim]", has_text="渤海大学兑付测试中心")
    expect(row).to_contain_text("¥360.00")
    row.get_by_role("link", name="渤海大学兑付测试中心").click()
    expect(page.get_by_test_id("proof-file")).to_have_count(3)
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("item-status")).to_have_text("已批准")
    page.goto(stats)
    expect(page.get_by_test_id("approved-unpaid")).to_have_text("¥360.00")
    expect(page.get_by_test_id("redeemed")).to_have_text("¥0.00")
    page.goto("/office/redemption")
    page.locator('[data-testid="batchable"] tr', has_text="浏览器测试兑付创新券").get_by_test_id("create-batch").click()
    page.get_by_test_id("mark-paid").click()
    expect(page.get_by_test_id("batch-paid")).to_contain_text("已付款")
    page.goto(stats)
    expect(page.get_by_test_id("approved-unpaid")).to_have_text("¥0.00")
    expect(page.get_by_test_id("redeemed")).to_have_text("¥360.00")

    # and the provider sees the decision and the payment
    page.context.clear_cookies()
    sign_in(page, order["manager"])
    page.goto("/unit/vouchers")
    expect(page.get_by_test_id("claim-status").first).to_have_text("已付款")
