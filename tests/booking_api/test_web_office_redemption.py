"""The programme office's redemption and credit pages: the claims queue, a claim's orders with
their proofs (an uploaded file as a link, any other proof as text), approving and rejecting with
a reason (the refusals beside the form), payment batches made, exported and paid; the complaints
queue resolved or dismissed with a reason, the red and black lists, a fraud recorded and a
suspension lifted. Forms without CSRF are refused, unknown ids are 404, other roles 403."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from booking_api.accounts import User, set_password
from booking_api.web.clock import web_now
from instruments.actor import SYSTEM
from scheduler.booking.enterprises import Enterprise
from scheduler.money import credit, proof_files, redemption
from scheduler.money.credit import Complaint, ComplaintStatus, CreditKind
from scheduler.money.redemption import ClaimItem, ItemStatus, PaymentBatch
from scheduler.money.vouchers import Voucher, VoucherStatus
from tests.redemption_claims import PROOFS, file_claim
from tests.world import next_workday

from .test_web_signin import PASSWORD, csrf_of, sign_in

ZH = {"Accept-Language": "zh-CN"}


def _password(session, actor) -> str:
    user = session.get(User, actor.user_id)
    set_password(session, SYSTEM, user, PASSWORD)
    session.commit()
    return user.email


def _row(session, model, key):
    row = session.get(model, key, populate_existing=True)
    session.commit()
    return row


@pytest.fixture
def filed(session, world):
    """Unit 1's claim of two orders, their invoice an uploaded PDF (the other proofs text)."""
    w = world
    scan = proof_files.store(session, w.manager, w.xrd.owner_unit_id, "发票-2026-031.pdf", b"%PDF-1.4\n%%EOF\n")
    session.commit()
    return file_claim(
        session,
        admin=w.admin,
        manager=w.manager,
        member=w.member_a,
        instrument_id=w.xrd.id,
        day=w.day,
        proofs={**PROOFS, "invoice": proof_files.ref(scan.id)},
    )


@pytest.fixture
def office(client, world, session, filed):
    """The test client signed in as the programme office, the clock in the claim's window."""
    assert sign_in(client, _password(session, world.admin)).status_code == 303
    client.app.dependency_overrides[web_now] = lambda: filed.window_day + timedelta(days=1)
    return client


def _csrf(client, path="/office/redemption") -> str:
    return csrf_of(client.get(path, headers=ZH).text)


def test_the_queue_lists_claims_waiting_for_a_decision(office, world, filed):
    r = office.get("/office/redemption", headers=ZH)
    assert r.status_code == 200
    assert f'data-claim="{filed.claim.id}"' in r.text
    assert "Haihe University Analysis Centre" in r.text and "2026 测试创新券" in r.text
    assert "¥480.00" in r.text and "¥48.00" in r.text  # two orders of 240 yuan, +10 % bonus
    assert "兑付申请" in r.text and "付款批次" in r.text and "没有待付款的已批准订单。" in r.text
    assert 'class="table-wrap"' in r.text
    assert f'data-claim="{filed.claim.id}"' not in office.get("/office/redemption?status=approved", headers=ZH).text
    assert f'data-claim="{filed.claim.id}"' in office.get("/office/redemption?status=all", headers=ZH).text
    other = office.get("/office/redemption?status=all&programme_id=prg_none", headers=ZH).text
    assert f'data-claim="{filed.claim.id}"' not in other and "没有兑付申请。" in other
    en = office.get("/office/redemption", headers={"Accept-Language": "en"}).text
    assert "Payment batches" in en


def test_a_claim_shows_each_orders_proofs(office, filed):
    r = office.get(f"/office/redemption/claims/{filed.claim.id}", headers=ZH)
    assert r.status_code == 200
    assert r.text.count('data-testid="decision-form"') == 2
    file_id = proof_files.file_id_of(filed.items[0].proofs["invoice"])
    assert f'<a href="/proof-files/{file_id}" data-testid="proof-file">发票-2026-031.pdf</a>' in r.text
    assert office.get(f"/proof-files/{file_id}").content.startswith(b"%PDF-")  # served to the office (B2)
    assert '<span data-testid="proof-text">HT-2026-031</span>' in r.text
    for word in ("合同", "发票", "付款凭证", "服务记录", "待审核", "Powder XRD", "Ruike Materials"):
        assert word in r.text
    assert filed.vouchers[0].code in r.text
    assert office.get("/office/redemption/claims/clm_none", headers=ZH).status_code == 404


def test_approve_one_order_and_reject_another_with_a_reason(office, session, filed):
    first, second = filed.items
    token = _csrf(office, f"/office/redemption/claims/{filed.claim.id}")
    path = f"/office/redemption/items/{first.id}/decision"
    assert office.post(path, data={"decision": "approve"}, headers=ZH).status_code == 403  # no CSRF
    r = office.post(path, data={"decision": "approve", "csrf": token}, headers=ZH, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/office/redemption/claims/{filed.claim.id}")
    assert _row(session, ClaimItem, first.id).status == ItemStatus.approved

    again = office.post(path, data={"decision": "approve", "csrf": token}, headers=ZH)
    assert again.status_code == 409 and "该订单已审核。" in again.text

    reject = f"/office/redemption/items/{second.id}/decision"
    r = office.post(reject, data={"decision": "reject", "reason": "  ", "csrf": token}, headers=ZH)
    assert r.status_code == 422
    assert f'id="reason-{second.id}-error"' in r.text and "请说明驳回该订单的理由。" in r.text
    assert _row(session, ClaimItem, second.id).status == ItemStatus.pending
    r = office.post(reject, data={"decision": "reject", "reason": "发票金额与合同不符", "csrf": token}, headers=ZH)
    assert r.status_code == 200 and "审核结果已记录" in r.text and "发票金额与合同不符" in r.text
    item = _row(session, ClaimItem, second.id)
    assert item.status == ItemStatus.rejected and item.reason == "发票金额与合同不符"
    assert item.decided_at == filed.window_day + timedelta(days=1)  # the page's clock

    assert (
        office.post(
            "/office/redemption/items/cli_none/decision", data={"decision": "approve", "csrf": token}
        ).status_code
        == 404
    )
    assert office.post(path, data={"decision": "maybe", "csrf": token}).status_code == 404


def test_a_payment_batch_is_made_exported_and_paid(office, session, world, filed):
    for item in filed.items:
        redemption.decide(session, world.admin, item.id, approve=True)
    session.commit()
    token = _csrf(office)
    page = office.get("/office/redemption", headers=ZH).text
    assert 'data-testid="create-batch"' in page and "¥528.00" in page  # 480 + 48 bonus
    r = office.post(
        "/office/redemption/batches",
        data={"programme_id": filed.programme.id, "csrf": token},
        headers=ZH,
        follow_redirects=False,
    )
    assert r.status_code == 303
    batch_id = r.headers["location"].rsplit("/", 1)[1]
    again = office.post(
        "/office/redemption/batches", data={"programme_id": filed.programme.id, "csrf": token}, headers=ZH
    )
    assert again.status_code == 409 and "该项目没有待付款的已批准订单。" in again.text
    unknown = office.post("/office/redemption/batches", data={"programme_id": "prg_x", "csrf": token}, headers=ZH)
    assert unknown.status_code == 404 and "请选择创新券项目。" in unknown.text

    page = office.get(f"/office/redemption/batches/{batch_id}", headers=ZH)
    assert page.status_code == 200 and "¥528.00" in page.text and "未付款" in page.text
    csv_file = office.get(f"/office/redemption/batches/{batch_id}/export.csv")
    assert csv_file.status_code == 200 and csv_file.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert rows[1][5] == "兑付金额（元）" and rows[-1] == ["合计", "", "", "", "", "480.00", "48.00", "528.00"]
    xlsx = office.get(f"/office/redemption/batches/{batch_id}/export.xlsx")
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    assert ws.cell(row=2, column=2).value == "服务机构" and ws.cell(row=5, column=8).value == 528
    assert office.get(f"/office/redemption/batches/{batch_id}/export.pdf").status_code == 404
    assert office.get("/office/redemption/batches/pay_none", headers=ZH).status_code == 404
    assert office.get("/office/redemption/batches/pay_none/export.csv").status_code == 404

    paid = f"/office/redemption/batches/{batch_id}/paid"
    assert office.post(paid, data={}).status_code == 403  # no CSRF
    r = office.post(paid, data={"csrf": token}, headers=ZH, follow_redirects=False)
    assert r.status_code == 303
    batch = _row(session, PaymentBatch, batch_id)
    assert batch.paid_at == filed.window_day + timedelta(days=1)
    assert _row(session, Voucher, filed.vouchers[0].id).status == VoucherStatus.redeemed
    page = office.get(f"/office/redemption/batches/{batch_id}", headers=ZH).text
    assert 'data-testid="mark-paid"' not in page and "已付款" in page
    assert office.post("/office/redemption/batches/pay_none/paid", data={"csrf": token}).status_code == 404


def test_other_roles_may_not_act_on_claims(client, world, session, filed):
    assert sign_in(client, _password(session, world.manager)).status_code == 303
    token = csrf_of(client.get("/unit", headers=ZH).text)
    r = client.post(
        f"/office/redemption/items/{filed.items[0].id}/decision", data={"decision": "approve", "csrf": token}
    )
    assert r.status_code == 403
    assert client.get(f"/office/redemption/claims/{filed.claim.id}").status_code == 403
    assert _row(session, ClaimItem, filed.items[0].id).status == ItemStatus.pending


# --- credit ----------------------------------------------------------------------------------


def test_complaints_are_resolved_or_dismissed_with_a_reason(office, session, world, filed):
    w = world
    a = credit.file_complaint(session, w.member_a, filed.vouchers[0].booking_id, "样品未按时检测")
    b = credit.file_complaint(session, w.member_a, filed.vouchers[1].booking_id, "报告有误")
    session.commit()
    page = office.get("/office/credit", headers=ZH)
    assert page.status_code == 200
    assert page.text.count('data-testid="complaint-form"') == 2 and "样品未按时检测" in page.text
    assert "Powder XRD" in page.text and "Ruike Materials" in page.text
    token = csrf_of(page.text)

    path = f"/office/credit/complaints/{a.id}"
    assert office.post(path, data={"action": "resolve", "resolution": "x"}).status_code == 403  # no CSRF
    r = office.post(path, data={"action": "resolve", "resolution": "", "csrf": token}, headers=ZH)
    assert r.status_code == 422 and f'id="{a.id}-error"' in r.text and "请说明处理结果。" in r.text
    r = office.post(path, data={"action": "dismiss", "resolution": " ", "csrf": token}, headers=ZH)
    assert r.status_code == 422 and "请说明驳回投诉的理由。" in r.text
    r = office.post(path, data={"action": "resolve", "resolution": "已补测并退还费用", "csrf": token}, headers=ZH)
    assert r.status_code == 200 and "已记录。" in r.text
    assert _row(session, Complaint, a.id).status == ComplaintStatus.resolved
    r = office.post(
        f"/office/credit/complaints/{b.id}", data={"action": "dismiss", "resolution": "报告经复核无误", "csrf": token}
    )
    assert r.status_code == 200
    c = _row(session, Complaint, b.id)
    assert c.status == ComplaintStatus.dismissed and c.resolution == "报告经复核无误"
    assert c.resolved_at == filed.window_day + timedelta(days=1)
    r = office.post(path, data={"action": "resolve", "resolution": "again", "csrf": token}, headers=ZH)
    assert r.status_code == 409 and "该投诉已处理完毕。" in r.text
    assert (
        office.post(
            "/office/credit/complaints/cmp_none", data={"action": "resolve", "resolution": "x", "csrf": token}
        ).status_code
        == 404
    )
    assert office.post(path, data={"action": "close", "resolution": "x", "csrf": token}).status_code == 404

    listing = office.get("/office/credit?status=dismissed", headers=ZH).text
    assert "报告经复核无误" in listing and "样品未按时检测" not in listing
    assert "已驳回" in office.get("/office/credit?status=all", headers=ZH).text
    assert "已驳回" in _member_complaints(office, session, w)  # the enterprise reads the word too


def _member_complaints(client, session, w) -> str:
    client.app.dependency_overrides.pop(web_now, None)
    client.cookies.clear()
    assert sign_in(client, _password(session, w.member_a)).status_code == 303
    return client.get("/my/complaints", headers=ZH).text


def test_black_list_fraud_recorded_and_suspension_lifted(office, session, world, filed):
    w = world
    now = filed.window_day + timedelta(days=1)
    for _ in range(3):  # three no-shows: suspended for 30 days
        credit.note_event(session, w.admin, w.ent_b.id, CreditKind.no_show, now=now - timedelta(days=1))
    session.commit()
    page = office.get("/office/credit", headers=ZH)
    assert f'data-enterprise="{w.ent_b.id}"' in page.text and "暂停预约至" in page.text and "爽约" in page.text
    token = csrf_of(page.text)

    r = office.post("/office/credit/fraud", data={"enterprise_id": w.ent_a.id, "note": "", "csrf": token}, headers=ZH)
    assert r.status_code == 422 and 'id="note-error"' in r.text
    r = office.post(
        "/office/credit/fraud",
        data={"enterprise_id": w.ent_a.id, "note": "虚构检测服务", "codes": "NOTACODE", "csrf": token},
        headers=ZH,
    )
    assert r.status_code == 422 and "不是该企业的创新券：NOTACODE" in r.text
    r = office.post("/office/credit/fraud", data={"enterprise_id": "", "note": "x", "csrf": token}, headers=ZH)
    assert r.status_code == 422 and "请选择企业。" in r.text
    code = filed.vouchers[0].code
    dashed = f"{code[:6]}-{code[6:12]}-{code[12:]}"
    r = office.post(
        "/office/credit/fraud",
        data={"enterprise_id": w.ent_a.id, "note": "虚构检测服务", "codes": dashed, "csrf": token},
        headers=ZH,
    )
    assert r.status_code == 200 and "已列入黑名单" in r.text and "查实欺诈：虚构检测服务" in r.text
    assert _row(session, Voucher, filed.vouchers[0].id).status == VoucherStatus.revoked
    assert _row(session, Enterprise, w.ent_a.id).booking_suspended_until > now

    lift = f"/office/credit/enterprises/{w.ent_b.id}/lift"
    r = office.post(lift, data={"reason": "", "csrf": token}, headers=ZH)
    assert r.status_code == 422 and f'id="lift-{w.ent_b.id}-error"' in r.text and "请说明解除限制的理由。" in r.text
    r = office.post(lift, data={"reason": "申诉成立：设备故障导致未能到场", "csrf": token}, headers=ZH)
    assert r.status_code == 200 and f'data-enterprise="{w.ent_b.id}"' not in r.text
    assert _row(session, Enterprise, w.ent_b.id).booking_suspended_until is None
    r = office.post(lift, data={"reason": "again", "csrf": token}, headers=ZH)
    assert r.status_code == 409 and "该企业未被暂停预约。" in r.text
    assert (
        office.post("/office/credit/enterprises/ent_none/lift", data={"reason": "x", "csrf": token}).status_code == 404
    )


def test_the_red_list_shows_enterprises_in_good_standing(office, session, world, filed):
    w = world
    page = office.get("/office/credit", headers=ZH).text
    assert "红名单上暂无企业。" in page  # two completed bookings: not yet the three it takes
    file_claim(
        session,
        admin=w.admin,
        manager=w.manager,
        member=w.member_a,
        instrument_id=w.xrd.id,
        day=next_workday(w.day, 1),
        hours=(9,),
        prog=filed.programme,
    )
    page = office.get("/office/credit", headers=ZH).text
    red = re.search(r'<ul data-testid="red-list">(.*?)</ul>', page, re.S)
    assert red and "Ruike Materials" in red.group(1) and "Nawei Powders" not in red.group(1)
