"""The lab manager's money and usage pages: proof files (size and content checks, who may read
them, the API upload), filing a claim with uploaded proofs, the claim's decision and payment,
the usage CSV upload with its row and column errors and the utilisation dashboard; another
unit's vouchers, claims, files and instruments answer 404. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from booking_api.accounts import User, set_password
from booking_api.web.clock import web_now
from fixtures import factories
from fixtures.voucher_presets import PRESETS
from instruments.actor import SYSTEM
from instruments.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from instruments.settings import get_settings
from instruments.units import OwnerUnit
from scheduler import booking_actions as actions
from scheduler.money import proof_files, redemption, unit_orders
from scheduler.money import vouchers as v
from scheduler.money.voucher_rules import RedemptionCalendar
from scheduler.sharing.usage import UsageRecord
from tests.world import TZ

from .conftest import auth
from .test_web_signin import PASSWORD, csrf_of, sign_in

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def programme(session, w) -> v.VoucherProgramme:
    rules = PRESETS["shandong_jinan"].model_copy(
        update={"redemption": RedemptionCalendar(kind="monthly", monthly_days=(1, 31))}
    )
    return v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(
            name="2026 测试创新券", year=2026, total_budget_fen=10_000_000, rules=rules.model_dump(mode="json")
        ),
    )


def completed_order(session, w, prog, hh: int = 9, inst=None) -> v.Voucher:
    """A voucher of enterprise A that paid for a completed 2-hour booking (consumed)."""
    voucher = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
    v.claim(session, w.member_a, voucher.code)
    b = actions.book(
        session,
        w.member_a,
        actions.BookingInput((inst or w.xrd).id, w.at(hh), w.at(hh + 2), "operator_run"),
        now=w.at(8) - timedelta(days=2),
    )
    manager = w.manager if (inst or w.xrd).owner_unit_id == w.xrd.owner_unit_id else w.other_manager
    actions.confirm(session, manager, b.id)
    v.apply_to_booking(session, w.member_a, b.id, voucher.code)
    actions.check_in(session, manager, b.id, now=b.start)
    actions.check_out(session, manager, b.id, now=b.end)
    session.commit()
    assert voucher.status == v.VoucherStatus.consumed
    return voucher


def web_sign_in(client, session, actor) -> None:
    user = session.get(User, actor.user_id)
    set_password(session, SYSTEM, user, PASSWORD)
    session.commit()
    assert sign_in(client, user.email).status_code == 303


def pin_clock(client, at: datetime) -> None:
    client.app.dependency_overrides[web_now] = lambda: at


ZH = {"Accept-Language": "zh-CN"}


# --- the proof file service -------------------------------------------------------------------


def test_proof_files_are_judged_by_content_and_size(session, world, monkeypatch):
    unit = world.xrd.owner_unit_id
    f = proof_files.store(session, world.manager, unit, "C:\\scans\\发票.pdf", PDF)
    assert (f.content_type, f.name, f.size) == ("application/pdf", "发票.pdf", len(PDF))
    assert proof_files.store(session, world.manager, unit, "x.png", PNG).content_type == "image/png"
    assert proof_files.store(session, world.manager, unit, "x.jpg", JPEG).content_type == "image/jpeg"
    with pytest.raises(InvalidInput):  # a name says PDF, the bytes say otherwise
        proof_files.store(session, world.manager, unit, "fake.pdf", b"MZ\x90\x00 not a pdf")
    with pytest.raises(InvalidInput):
        proof_files.store(session, world.manager, unit, "empty.pdf", b"")
    monkeypatch.setattr(get_settings(), "proof_file_max_bytes", 100)
    with pytest.raises(PayloadTooLarge) as err:
        proof_files.store(session, world.manager, unit, "big.pdf", PDF + b"0" * 100)
    assert err.value.extra["limit"] == "proof_file_max_bytes"
    with pytest.raises(Forbidden):  # another unit's manager cannot file proofs for this unit
        proof_files.store(session, world.other_manager, unit, "x.pdf", PDF)


def test_only_the_owning_unit_and_the_office_read_a_proof_file(session, world):
    f = proof_files.store(session, world.manager, world.xrd.owner_unit_id, "x.pdf", PDF)
    session.commit()
    assert proof_files.readable(session, world.manager, f.id).data == PDF
    assert proof_files.readable(session, world.admin, f.id).sha256 == f.sha256
    for other in (world.other_manager, world.member_a, world.operator):
        with pytest.raises(NotFound):
            proof_files.readable(session, other, f.id)


def test_a_claim_may_not_name_another_units_file(session, world):
    prog = programme(session, world)
    voucher = completed_order(session, world, prog)
    theirs = proof_files.store(session, world.other_manager, world.other.owner_unit_id, "x.pdf", PDF)
    mine = proof_files.store(session, world.manager, world.xrd.owner_unit_id, "y.pdf", PDF)
    unit = world.xrd.owner_unit_id
    proofs = {
        "contract": proof_files.ref(theirs.id),
        "invoice": proof_files.ref(mine.id),
        "payment_proof": "ZF-1",
        "service_record": "BG-1",
    }
    now = world.at(18)
    _, out = redemption.file_claim(
        session, world.manager, prog.id, unit, [{"voucher_id": voucher.id, "proofs": proofs}], now=now
    )
    assert out[0]["outcome"] == "refused" and theirs.id in out[0]["why"]
    proofs["contract"] = "proof-file:pf_nonexistent"
    _, out = redemption.file_claim(
        session, world.manager, prog.id, unit, [{"voucher_id": voucher.id, "proofs": proofs}], now=now
    )
    assert out[0]["outcome"] == "refused"
    proofs["contract"] = proof_files.ref(mine.id)
    _, out = redemption.file_claim(
        session, world.manager, prog.id, unit, [{"voucher_id": voucher.id, "proofs": proofs}], now=now
    )
    assert out[0]["outcome"] == "filed"


# --- the API ------------------------------------------------------------------------------------


def test_api_upload_returns_the_reference_and_checks_the_file(client, world, monkeypatch):
    r = client.post(
        "/api/v1/proof-files", files={"file": ("合同.pdf", PDF, "application/pdf")}, headers=auth(world, "manager")
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ref"] == f"proof-file:{body['id']}" and body["owner_unit_id"] == world.xrd.owner_unit_id
    assert body["content_type"] == "application/pdf" and body["name"] == "合同.pdf" and "data" not in body
    r = client.post(
        "/api/v1/proof-files", files={"file": ("a.pdf", b"<html>", "application/pdf")}, headers=auth(world, "manager")
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/proof-files", files={"file": ("a.pdf", PDF, "application/pdf")}, headers=auth(world, "member_a")
    )
    assert r.status_code in (403, 422)  # an enterprise has no unit to file proofs for
    monkeypatch.setattr(get_settings(), "proof_file_max_bytes", 1_000)
    r = client.post(
        "/api/v1/proof-files",
        files={"file": ("a.pdf", PDF + b"0" * 200_000, "application/pdf")},
        headers=auth(world, "manager"),
    )
    assert r.status_code == 413 and r.json()["limit"] == "proof_file_max_bytes"


def test_api_lists_the_units_orders_and_claims_only_to_its_managers(client, session, world):
    prog = programme(session, world)
    voucher = completed_order(session, world, prog)
    unit = world.xrd.owner_unit_id
    r = client.get(f"/api/v1/owner-units/{unit}/voucher-orders", headers=auth(world, "manager"))
    assert r.status_code == 200 and r.json()[0]["voucher_code"] == voucher.code and r.json()[0]["claimable"] is True
    assert (
        client.get(f"/api/v1/owner-units/{unit}/voucher-orders", headers=auth(world, "other_manager")).status_code
        == 403
    )
    assert (
        client.get(f"/api/v1/owner-units/{unit}/redemption-claims?limit=5", headers=auth(world, "admin")).json() == []
    )


# --- the pages ----------------------------------------------------------------------------------


def test_a_manager_files_a_claim_with_uploaded_proofs_and_sees_its_decision_and_payment(client, session, world):
    prog = programme(session, world)
    voucher = completed_order(session, world, prog)
    pin_clock(client, world.at(18))
    web_sign_in(client, session, world.manager)
    page = client.get("/unit/vouchers", headers=ZH)
    assert page.status_code == 200 and voucher.code in page.text and "¥240.00" in page.text  # 60 % of ¥400
    assert f"/unit/vouchers/{voucher.id}/claim" in page.text
    form = client.get(f"/unit/vouchers/{voucher.id}/claim", headers=ZH)
    assert form.status_code == 200 and "合同" in form.text
    csrf = csrf_of(form.text)
    files = {
        "file_contract": ("合同.pdf", PDF, "application/pdf"),
        "file_invoice": ("发票.png", PNG, "image/png"),
        "file_payment_proof": ("付款.jpg", JPEG, "image/jpeg"),
    }
    # a file that is not what its name says: nothing is filed, the error is beside its field
    bad = {**files, "file_invoice": ("发票.pdf", b"GIF89a....", "application/pdf")}
    r = client.post(
        f"/unit/vouchers/{voucher.id}/claim", data={"csrf": csrf, "ref_service_record": "BG-7"}, files=bad, headers=ZH
    )
    assert r.status_code == 422 and 'data-testid="error-invoice"' in r.text and "PDF、JPEG 或 PNG" in r.text
    assert session.exec(select(proof_files.ProofFile)).all() == []
    assert session.exec(select(redemption.ClaimItem)).all() == []
    session.commit()  # end the test's read (on SQLite it holds the write lock); keeps the rows loaded
    # a proof neither uploaded nor referenced
    r = client.post(f"/unit/vouchers/{voucher.id}/claim", data={"csrf": csrf}, files=files, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-service_record"' in r.text, re.sub(r"\s+", " ", r.text)[-1500:]
    r = client.post(
        f"/unit/vouchers/{voucher.id}/claim",
        data={"csrf": csrf, "ref_service_record": "BG-2026-7"},
        files=files,
        headers=ZH,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    claim_url = r.headers["location"]
    item = session.exec(select(redemption.ClaimItem)).one()
    assert item.proofs["service_record"] == "BG-2026-7"
    for p in ("contract", "invoice", "payment_proof"):
        assert item.proofs[p].startswith("proof-file:")
    page = client.get(claim_url, headers=ZH)
    assert page.status_code == 200 and "待办" not in page.text and "待审核" in page.text
    links = re.findall(r'href="(/proof-files/[^"]+)"', page.text)
    assert len(links) == 3
    got = client.get(links[0])
    assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    # filing again: already claimed
    assert client.get(f"/unit/vouchers/{voucher.id}/claim", headers=ZH).status_code == 409
    # the office decides and pays: the page shows both
    redemption.decide(session, world.admin, item.id, approve=True, now=world.at(19))
    batch = redemption.create_batch(session, world.admin, prog.id)
    redemption.mark_paid(session, world.admin, batch.id, now=world.at(20))
    session.commit()
    page = client.get(claim_url, headers=ZH)
    assert "已付款" in page.text and batch.id in page.text and "¥24.00" in page.text  # +10 % bonus
    listing = client.get("/unit/vouchers", headers=ZH)
    assert "已付款" in listing.text and claim_url in listing.text


def test_a_rejected_order_shows_its_reason(client, session, world):
    prog = programme(session, world)
    voucher = completed_order(session, world, prog)
    proofs = {p: f"{p}-1" for p in redemption.PROOFS}
    claim, out = redemption.file_claim(
        session,
        world.manager,
        prog.id,
        world.xrd.owner_unit_id,
        [{"voucher_id": voucher.id, "proofs": proofs}],
        now=world.at(18),
    )
    redemption.decide(session, world.admin, out[0]["item"], approve=False, reason="发票抬头与合同不一致")
    session.commit()
    web_sign_in(client, session, world.manager)
    page = client.get(f"/unit/vouchers/claims/{claim.id}", headers=ZH)
    assert "已驳回" in page.text and "发票抬头与合同不一致" in page.text
    assert unit_orders.orders(session, world.manager, world.xrd.owner_unit_id)[0].claimable  # may be filed again


def test_another_units_things_answer_404(client, session, world):
    prog = programme(session, world)
    factories.operator(session, session.get(OwnerUnit, world.other.owner_unit_id), "Operator Li", [world.other])
    theirs = completed_order(session, world, prog, inst=world.other)
    proofs = {p: f"{p}-1" for p in redemption.PROOFS}
    claim, _ = redemption.file_claim(
        session,
        world.other_manager,
        prog.id,
        world.other.owner_unit_id,
        [{"voucher_id": theirs.id, "proofs": proofs}],
        now=world.at(18),
    )
    f = proof_files.store(session, world.other_manager, world.other.owner_unit_id, "x.pdf", PDF)
    session.commit()
    web_sign_in(client, session, world.manager)
    assert client.get(f"/unit/vouchers/{theirs.id}/claim").status_code == 404
    assert client.get(f"/unit/vouchers/claims/{claim.id}").status_code == 404
    assert client.get(f"/proof-files/{f.id}").status_code == 404
    assert client.get("/proof-files/pf_nothing").status_code == 404
    csrf = csrf_of(client.get("/unit/usage").text)
    r = client.post(
        "/unit/usage",
        data={"csrf": csrf, "instrument_id": world.other.id},
        files={"file": ("u.csv", b"started_at,ended_at\n2026-03-02T09:00,2026-03-02T10:00\n", "text/csv")},
    )
    assert r.status_code == 404
    assert theirs.code not in client.get("/unit/vouchers").text


def test_the_office_reads_any_units_proof_file_and_members_do_not(client, session, world):
    f = proof_files.store(session, world.manager, world.xrd.owner_unit_id, "x.png", PNG)
    session.commit()
    web_sign_in(client, session, world.member_a)
    assert client.get(f"/proof-files/{f.id}").status_code == 404
    client.cookies.clear()
    web_sign_in(client, session, world.admin)
    r = client.get(f"/proof-files/{f.id}")
    assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"


def test_a_too_large_claim_form_is_refused_before_it_is_read(client, session, world, monkeypatch):
    prog = programme(session, world)
    voucher = completed_order(session, world, prog)
    web_sign_in(client, session, world.manager)
    csrf = csrf_of(client.get(f"/unit/vouchers/{voucher.id}/claim").text)
    monkeypatch.setattr(get_settings(), "proof_file_max_bytes", 1_000)
    big = PDF + b"0" * 400_000
    r = client.post(
        f"/unit/vouchers/{voucher.id}/claim",
        data={"csrf": csrf},
        files={"file_contract": ("a.pdf", big, "application/pdf")},
        headers=ZH,
    )
    assert r.status_code == 413
    r = client.post(  # under the form's cap but over one file's
        f"/unit/vouchers/{voucher.id}/claim",
        data={"csrf": csrf, **{f"ref_{p}": "X" for p in redemption.PROOFS}},
        files={"file_contract": ("a.pdf", PDF + b"0" * 2_000, "application/pdf")},
        headers=ZH,
    )
    assert r.status_code == 422 and 'data-testid="error-contract"' in r.text
    assert session.exec(select(redemption.ClaimItem)).all() == []


def test_usage_upload_shows_row_and_column_errors_then_imports_and_the_dashboard_counts_it(client, session, world):
    pin_clock(client, datetime(2026, 6, 1, 12, tzinfo=TZ))
    web_sign_in(client, session, world.manager)
    page = client.get("/unit/usage", headers=ZH)
    assert page.status_code == 200 and "2026 年使用情况" in page.text and world.xrd.name in page.text
    csrf = csrf_of(page.text)
    bad = (
        "started_at,ended_at,measure_minutes,user_type,fee_yuan\n"
        "2026-03-02T09:00,2026-03-02T11:00,110,external,400.00\n"
        "2026-03-03T09:00,2026-03-03T10:00,abc,external,100\n"
    )
    r = client.post(
        "/unit/usage",
        data={"csrf": csrf, "instrument_id": world.xrd.id},
        files={"file": ("log.csv", bad.encode(), "text/csv")},
        headers=ZH,
    )
    assert r.status_code == 422
    assert 'data-row="3" data-column="measure_minutes"' in r.text and "不是整数" in r.text
    assert session.exec(select(UsageRecord)).all() == []  # all or nothing
    session.commit()
    good = bad.replace(",abc,", ",50,")
    r = client.post(
        "/unit/usage",
        data={"csrf": csrf, "instrument_id": world.xrd.id},
        files={"file": ("log.csv", good.encode(), "text/csv")},
        headers=ZH,
    )
    assert r.status_code == 200 and 'data-testid="imported"' in r.text
    assert len(session.exec(select(UsageRecord)).all()) == 2
    page = client.get("/unit/usage?year=2026", headers=ZH)
    assert 'data-testid="unit-hours">2.7<' in page.text  # 110 + 50 minutes
    assert 'data-testid="unit-sharing">100.0%<' in page.text
    assert "/static/vendor/chart.js/chart.umd.min.js" in page.text
    page = client.get("/unit/usage?year=2025", headers=ZH)
    assert 'data-testid="unit-hours">0.0<' in page.text


def test_odd_uploads_are_refused_not_crashed(client, session, world):
    h = auth(world, "manager")
    assert client.post("/api/v1/proof-files", json={"file": "x"}, headers=h).status_code == 422
    r = client.post("/api/v1/proof-files", data={"file": "not a file"}, headers=h)
    assert r.status_code == 422
    r = client.post(
        "/api/v1/proof-files",
        content=b"--xx\r\nContent-Disposition: form-data; name=file\r\n\r\nbroken",
        headers={**h, "content-type": "multipart/form-data; boundary=xx"},
    )
    assert 400 <= r.status_code < 500
    web_sign_in(client, session, world.manager)
    csrf = csrf_of(client.get("/unit/usage").text)
    assert client.post("/unit/usage", data={"csrf": csrf}).status_code == 422  # no instrument, no file
    r = client.post(
        "/unit/usage",
        data={"csrf": csrf, "instrument_id": world.xrd.id},
        files={"file": ("u.csv", "起始,结束\n".encode("gb18030"), "text/csv")},
        headers=ZH,
    )
    assert r.status_code == 422 and "未知的列" in r.text
    assert client.post("/unit/usage", data={"csrf": "wrong", "instrument_id": world.xrd.id}).status_code == 403


def test_the_pages_speak_english_too(client, session, world):
    prog = programme(session, world)
    completed_order(session, world, prog)
    web_sign_in(client, session, world.manager)
    en = {"Accept-Language": "en"}
    r = client.get("/unit/usage", headers=en)
    assert r.status_code == 200 and "Utilisation in" in r.text and "All rows or none" in r.text
    r = client.get("/unit/vouchers", headers=en)
    assert r.status_code == 200 and "Voucher orders at your unit" in r.text and "service done" in r.text
