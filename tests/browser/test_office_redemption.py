"""The programme office's part of the second scenario in a real browser, in Chinese: a provider's
claim of two completed voucher orders is filed (through the services, with text proofs and an
uploaded service record), the office opens the queue, approves one order and rejects the other
with a reason, makes a payment batch, downloads its payment file (CSV and Excel) and records it
paid; then the credit page, where a complaint is resolved with a reason. Screenshots: office-redemption-zh-CN,
office-claim-zh-CN, office-batch-zh-CN, office-credit-zh-CN.

The data is this module's own in the test server's database: an XRD at the lab manager's unit
with an operator, vouchers of the test enterprise spent on two bookings on the next working day
and claimed in the next month's redemption window."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from .conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time

TZ = ZoneInfo("Asia/Shanghai")
REASON = "发票金额与服务记录不符"


@dataclass
class Claim:
    claim_id: str
    items: list[str]
    codes: list[str]
    complaint_id: str


@pytest.fixture(scope="module")
def claim(server) -> Claim:
    from sqlmodel import Session, select

    from booking_api.accounts import User
    from fixtures import factories
    from instruments.db import get_engine
    from instruments.units import OwnerUnit
    from scheduler.money import credit, proof_files
    from tests.redemption_claims import PROOFS, file_claim
    from tests.world import POLICY, next_workday

    with Session(get_engine(server.db_url), expire_on_commit=False) as s:
        actors = {
            key: s.exec(select(User).where(User.email == email)).one().actor() for key, email in server.users.items()
        }
        unit = s.get(OwnerUnit, actors["manager"].owner_unit_id)
        inst = factories.instrument(s, unit, "X射线粉末衍射仪", "XRD", policy=POLICY, fee_hour_external_fen=20000)
        factories.operator(s, unit, "张工", [inst])
        s.commit()
        scan = proof_files.store(s, actors["manager"], unit.id, "服务记录-1107.pdf", b"%PDF-1.4\n%%EOF\n")
        filed = file_claim(
            s,
            admin=actors["admin"],
            manager=actors["manager"],
            member=actors["member"],
            instrument_id=inst.id,
            day=next_workday(datetime.now(TZ).date()),
            proofs={**PROOFS, "service_record": proof_files.ref(scan.id)},
        )
        complaint = credit.file_complaint(s, actors["member"], filed.vouchers[0].booking_id, "检测报告晚交三天")
        late = factories.enterprise(s, "天津恒远材料有限公司", 2)
        for _ in range(3):  # three no-shows: booking suspended for 30 days
            credit.note_event(s, actors["admin"], late.id, credit.CreditKind.no_show)
        s.commit()
        return Claim(filed.claim.id, [i.id for i in filed.items], [v.code for v in filed.vouchers], complaint.id)


def test_the_office_decides_a_claim_and_pays_it_in_a_batch(page, server, claim):
    sign_in(page, server.users["admin"])
    page.goto("/office/redemption")
    row = page.locator(f'tr[data-claim="{claim.claim_id}"]')
    expect(row).to_contain_text("南开大学分析测试中心")
    expect(row).to_contain_text("¥480.00")  # two 2-hour orders, 60 % of 400 yuan each
    shot(page, "office-redemption-zh-CN")
    row.get_by_role("link", name="南开大学分析测试中心").click()
    expect(page.get_by_role("heading", name="兑付申请")).to_be_visible()

    first = page.locator(f'article[data-item="{claim.items[0]}"]')
    second = page.locator(f'article[data-item="{claim.items[1]}"]')
    expect(first.get_by_test_id("proofs")).to_contain_text("HT-2026-031")
    expect(first.get_by_test_id("proofs")).to_contain_text("发票")
    scan = first.get_by_test_id("proof-file")
    expect(scan).to_have_text("服务记录-1107.pdf")
    assert page.request.get(scan.get_attribute("href")).body().startswith(b"%PDF-")  # B2 serves it
    first.get_by_test_id("approve").click()
    expect(first.get_by_test_id("item-status")).to_have_text("已批准")
    expect(first.get_by_test_id("decided")).to_be_visible()

    second.get_by_test_id("reject").click()  # no reason: refused beside the field
    expect(second.get_by_test_id("decision-error")).to_have_text("请说明驳回该订单的理由。")
    second.get_by_label("原因（驳回时必填）").fill(REASON)
    second.get_by_test_id("reject").click()
    expect(second.get_by_test_id("item-status")).to_have_text("已驳回")
    expect(second.get_by_test_id("item-reason")).to_have_text(REASON)
    shot(page, "office-claim-zh-CN")

    page.goto("/office/redemption")
    batchable = page.get_by_test_id("batchable")
    expect(batchable).to_contain_text("¥264.00")  # the approved order, +10 % bonus
    batchable.get_by_test_id("create-batch").click()
    expect(page.get_by_role("heading", name=re.compile("付款批次"))).to_be_visible()
    expect(page.get_by_test_id("batch-total")).to_have_text("¥264.00")
    expect(page.get_by_test_id("batch-paid")).to_have_text("未付款")

    with page.expect_download() as got:
        page.get_by_test_id("export-csv").click()
    download = got.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert rows[1][:3] == ["序号", "服务机构", "创新券编号"]
    assert rows[2][1:3] == ["南开大学分析测试中心", claim.codes[0]] and rows[2][5:] == ["240.00", "24.00", "264.00"]
    with page.expect_download() as got:
        page.get_by_test_id("export-xlsx").click()
    assert got.value.suggested_filename.endswith(".xlsx")

    page.get_by_test_id("mark-paid").click()
    expect(page.get_by_test_id("batch-paid")).to_contain_text("已付款")
    expect(page.get_by_test_id("mark-paid")).to_have_count(0)
    shot(page, "office-batch-zh-CN")

    page.goto("/office/credit")
    complaint = page.locator(f'article[data-complaint="{claim.complaint_id}"]')
    expect(complaint).to_contain_text("检测报告晚交三天")
    expect(page.get_by_test_id("black-list")).to_contain_text("天津恒远材料有限公司")
    expect(page.get_by_test_id("black-list")).to_contain_text("暂停预约至")
    shot(page, "office-credit-zh-CN")
    complaint.get_by_label("处理情况，或投诉不成立的理由").fill("已督促实验室按期出具报告")
    complaint.get_by_test_id("resolve").click()
    expect(page.get_by_test_id("done")).to_be_visible()
    page.goto("/office/credit?status=resolved")
    expect(
        page.locator(f'article[data-complaint="{claim.complaint_id}"]').get_by_test_id("resolution")
    ).to_contain_text("已督促实验室按期出具报告")
