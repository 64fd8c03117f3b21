"""The API's lists for the programme office and the lab managers: redemption claims (with their
orders), claim items, payment batches (with the payment file as CSV and XLSX), vouchers used at a
unit and complaints; each with its filters and paging, and scoped by role (programme admins see
all, a lab manager their own unit's, an enterprise member is refused or sees their own)."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from fixtures import factories
from instruments.units import OwnerUnit
from scheduler.money import credit, redemption
from tests.redemption_claims import file_claim

from .conftest import auth

API = "/api/v1"


@pytest.fixture
def claims(session, world):
    """Two claims: unit 1's (two orders, XRD) and unit 2's (one order, XPS, same programme)."""
    w = world
    unit2 = session.get(OwnerUnit, w.other.owner_unit_id)
    factories.operator(session, unit2, "Operator Wang", [w.other])
    session.commit()
    one = file_claim(session, admin=w.admin, manager=w.manager, member=w.member_a, instrument_id=w.xrd.id, day=w.day)
    two = file_claim(
        session,
        admin=w.admin,
        manager=w.other_manager,
        member=w.member_b,
        instrument_id=w.other.id,
        day=w.day,
        hours=(10,),
        prog=one.programme,
    )
    return one, two


def test_claims_are_listed_by_role_with_filters_and_paging(client, world, claims):
    w = world
    one, two = claims
    r = client.get(f"{API}/redemption-claims", headers=auth(w, "admin"))
    assert r.status_code == 200
    assert {c["claim"]["id"] for c in r.json()} == {one.claim.id, two.claim.id}
    mine = next(c for c in r.json() if c["claim"]["id"] == one.claim.id)
    assert mine["items"] == 2 and mine["counts"] == {"pending": 2}
    assert mine["amount_fen"] == 48_000 and mine["bonus_fen"] == 4_800  # 2 × 60 % of 400 RMB, +10 %

    page = client.get(f"{API}/redemption-claims", params={"limit": 1, "offset": 1}, headers=auth(w, "admin")).json()
    first = client.get(f"{API}/redemption-claims", params={"limit": 1}, headers=auth(w, "admin")).json()
    assert len(page) == len(first) == 1 and page[0]["claim"]["id"] != first[0]["claim"]["id"]
    by_unit = client.get(
        f"{API}/redemption-claims", params={"owner_unit_id": w.other.owner_unit_id}, headers=auth(w, "admin")
    ).json()
    assert [c["claim"]["id"] for c in by_unit] == [two.claim.id]
    assert (
        client.get(f"{API}/redemption-claims", params={"programme_id": "prg_none"}, headers=auth(w, "admin")).json()
        == []
    )
    assert client.get(f"{API}/redemption-claims", params={"status": "approved"}, headers=auth(w, "admin")).json() == []
    window = one.claim.window
    assert len(client.get(f"{API}/redemption-claims", params={"window": window}, headers=auth(w, "admin")).json()) == 2

    # a lab manager sees their unit's only, and may not ask for another's
    r = client.get(f"{API}/redemption-claims", headers=auth(w, "manager"))
    assert [c["claim"]["id"] for c in r.json()] == [one.claim.id]
    r = client.get(
        f"{API}/redemption-claims", params={"owner_unit_id": w.other.owner_unit_id}, headers=auth(w, "manager")
    )
    assert r.status_code == 403
    for who in ("member_a", "operator"):
        assert client.get(f"{API}/redemption-claims", headers=auth(w, who)).status_code == 403
    assert client.get(f"{API}/redemption-claims").status_code == 401


def test_a_claim_with_its_orders_and_proofs(client, world, claims):
    w = world
    one, two = claims
    r = client.get(f"{API}/redemption-claims/{one.claim.id}", headers=auth(w, "manager"))
    assert r.status_code == 200
    body = r.json()
    assert body["claim"]["owner_unit_id"] == w.xrd.owner_unit_id
    assert [i["id"] for i in body["items"]] == sorted(i.id for i in one.items)
    assert body["items"][0]["proofs"]["invoice"] == "FP-0012"
    assert client.get(f"{API}/redemption-claims/{two.claim.id}", headers=auth(w, "manager")).status_code == 404
    assert client.get(f"{API}/redemption-claims/{two.claim.id}", headers=auth(w, "admin")).status_code == 200
    assert client.get(f"{API}/redemption-claims/clm_none", headers=auth(w, "admin")).status_code == 404
    assert client.get(f"{API}/redemption-claims/{one.claim.id}", headers=auth(w, "member_a")).status_code == 403


def test_claim_items_by_claim_status_and_voucher(client, world, session, claims):
    w = world
    one, two = claims
    redemption.decide(session, w.admin, one.items[0].id, approve=True)
    session.commit()
    admin = auth(w, "admin")
    assert len(client.get(f"{API}/claim-items", headers=admin).json()) == 3
    got = client.get(f"{API}/claim-items", params={"claim_id": one.claim.id}, headers=admin).json()
    assert {i["id"] for i in got} == {i.id for i in one.items}
    got = client.get(f"{API}/claim-items", params={"status": "approved"}, headers=admin).json()
    assert [i["id"] for i in got] == [one.items[0].id]
    got = client.get(f"{API}/claim-items", params={"voucher_id": two.vouchers[0].id}, headers=admin).json()
    assert [i["id"] for i in got] == [two.items[0].id]
    assert len(client.get(f"{API}/claim-items", params={"limit": 2}, headers=admin).json()) == 2
    assert len(client.get(f"{API}/claim-items", params={"offset": 2}, headers=admin).json()) == 1
    assert client.get(f"{API}/claim-items", params={"status": "lost"}, headers=admin).status_code == 422
    # scoped
    got = client.get(f"{API}/claim-items", headers=auth(w, "other_manager")).json()
    assert [i["id"] for i in got] == [two.items[0].id]
    got = client.get(f"{API}/claim-items", params={"claim_id": one.claim.id}, headers=auth(w, "other_manager"))
    assert got.json() == []
    assert client.get(f"{API}/claim-items", headers=auth(w, "member_b")).status_code == 403


def _rows_of_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_payment_batches_listed_read_and_exported(client, world, session, claims):
    w = world
    one, two = claims
    for item in (*one.items, *two.items):
        redemption.decide(session, w.admin, item.id, approve=True)
    batch = redemption.create_batch(session, w.admin, one.programme.id)
    session.commit()
    admin = auth(w, "admin")

    assert [b["id"] for b in client.get(f"{API}/payment-batches", headers=admin).json()] == [batch.id]
    assert client.get(f"{API}/payment-batches", params={"paid": "true"}, headers=admin).json() == []
    assert len(client.get(f"{API}/payment-batches", params={"paid": "false"}, headers=admin).json()) == 1
    assert len(client.get(f"{API}/payment-batches", params={"programme_id": one.programme.id}, headers=admin).json())
    assert client.get(f"{API}/payment-batches", params={"programme_id": "prg_x"}, headers=admin).json() == []
    assert client.get(f"{API}/payment-batches", params={"offset": 1}, headers=admin).json() == []

    r = client.get(f"{API}/payment-batches/{batch.id}", headers=admin).json()
    assert r["batch"]["items"] == 3 and len(r["items"]) == 3
    r = client.get(f"{API}/payment-batches/{batch.id}", headers=auth(w, "other_manager")).json()
    assert [i["id"] for i in r["items"]] == [two.items[0].id]  # a lab manager: their unit's orders only
    assert client.get(f"{API}/payment-batches/pay_none", headers=admin).status_code == 404
    assert client.get(f"{API}/payment-batches", headers=auth(w, "member_a")).status_code == 403

    r = client.get(f"{API}/payment-batches/{batch.id}/export.csv", headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f'filename="{batch.id}.csv"' in r.headers["content-disposition"]
    rows = _rows_of_csv(r.content)
    assert rows[0][0].startswith(f"兑付批次 {batch.id}（2026 测试创新券）") and "未付款" in rows[0][0]
    assert rows[1] == [
        "序号",
        "服务机构",
        "创新券编号",
        "使用企业",
        "预约编号",
        "兑付金额（元）",
        "奖励金额（元）",
        "合计（元）",
    ]
    amounts = sorted((r[3], *r[5:]) for r in rows[2:5])  # 60 % of 2 h of XRD (200/h) or of XPS (300/h), +10 %
    assert amounts == [
        ("Nawei Powders", "360.00", "36.00", "396.00"),
        ("Ruike Materials", "240.00", "24.00", "264.00"),
        ("Ruike Materials", "240.00", "24.00", "264.00"),
    ]
    assert rows[5] == ["合计", "", "", "", "", "840.00", "84.00", "924.00"]

    r = client.get(f"{API}/payment-batches/{batch.id}/export.xlsx", headers=admin)
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    ws = load_workbook(io.BytesIO(r.content)).active
    values = list(ws.iter_rows(values_only=True))
    assert values[1][5] == "兑付金额（元）" and values[-1][5:] == (840, 84, 924)
    assert ws.cell(row=3, column=6).number_format == "#,##0.00"

    mine = client.get(f"{API}/payment-batches/{batch.id}/export.csv", headers=auth(w, "manager"))
    assert len(_rows_of_csv(mine.content)) == 2 + 2 + 1  # title, headers, their two orders, total
    assert client.get(f"{API}/payment-batches/{batch.id}/export.csv", headers=auth(w, "member_a")).status_code == 403

    assert client.post(f"{API}/payment-batches/{batch.id}/paid", headers=admin).status_code == 200
    assert len(client.get(f"{API}/payment-batches", params={"paid": "true"}, headers=admin).json()) == 1
    paid = _rows_of_csv(client.get(f"{API}/payment-batches/{batch.id}/export.csv", headers=admin).content)
    assert "付款于" in paid[0][0]


def test_vouchers_used_at_a_unit(client, world, claims):
    w = world
    one, two = claims
    unit1, unit2 = w.xrd.owner_unit_id, w.other.owner_unit_id
    admin = auth(w, "admin")
    got = client.get(f"{API}/vouchers", params={"owner_unit_id": unit1}, headers=admin).json()
    assert {x["id"] for x in got} == {x.id for x in one.vouchers}
    assert len(client.get(f"{API}/vouchers", headers=admin).json()) == 3
    got = client.get(f"{API}/vouchers", headers=auth(w, "other_manager")).json()
    assert [x["id"] for x in got] == [two.vouchers[0].id]
    r = client.get(f"{API}/vouchers", params={"owner_unit_id": unit2}, headers=auth(w, "manager"))
    assert r.status_code == 403
    got = client.get(f"{API}/vouchers", params={"owner_unit_id": unit1, "limit": 1}, headers=admin).json()
    assert len(got) == 1
    assert client.get(f"{API}/vouchers", headers=auth(w, "operator")).status_code == 403


def test_complaints_listed_by_status_enterprise_and_unit(client, world, session, claims):
    w = world
    one, two = claims
    a = credit.file_complaint(session, w.member_a, one.vouchers[0].booking_id, "样品未按时检测")
    b = credit.file_complaint(session, w.member_b, two.vouchers[0].booking_id, "报告有误")
    credit.resolve_complaint(session, w.admin, b.id, "已重新出具报告")
    session.commit()
    admin = auth(w, "admin")
    got = client.get(f"{API}/complaints", headers=admin).json()
    assert [c["id"] for c in got] == [a.id, b.id]  # open ones first
    assert [c["id"] for c in client.get(f"{API}/complaints", params={"status": "open"}, headers=admin).json()] == [a.id]
    by_ent = client.get(f"{API}/complaints", params={"enterprise_id": w.ent_b.id}, headers=admin).json()
    assert [c["id"] for c in by_ent] == [b.id]
    by_unit = client.get(f"{API}/complaints", params={"owner_unit_id": w.xrd.owner_unit_id}, headers=admin).json()
    assert [c["id"] for c in by_unit] == [a.id]
    assert [
        c["id"] for c in client.get(f"{API}/complaints", params={"limit": 1, "offset": 1}, headers=admin).json()
    ] == [b.id]
    assert [c["id"] for c in client.get(f"{API}/complaints", headers=auth(w, "manager")).json()] == [a.id]
    assert [c["id"] for c in client.get(f"{API}/complaints", headers=auth(w, "member_b")).json()] == [b.id]
    r = client.get(f"{API}/complaints", params={"enterprise_id": w.ent_a.id}, headers=auth(w, "member_b"))
    assert r.status_code == 403
    r = client.get(f"{API}/complaints", params={"owner_unit_id": w.other.owner_unit_id}, headers=auth(w, "manager"))
    assert r.status_code == 403
    assert client.get(f"{API}/complaints", headers=auth(w, "operator")).status_code == 403

    # dismissing: with a reason, by the programme office only, once
    path = f"{API}/complaints/{a.id}/dismiss"
    assert client.post(path, json={"resolution": "x"}, headers=auth(w, "manager")).status_code == 403
    assert client.post(path, json={"resolution": ""}, headers=admin).status_code == 422
    r = client.post(path, json={"resolution": "检测在约定时间内完成"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    assert client.post(path, json={"resolution": "again"}, headers=admin).status_code == 409
    got = client.get(f"{API}/complaints", params={"status": "dismissed"}, headers=admin).json()
    assert [c["id"] for c in got] == [a.id]


def test_a_suspension_is_lifted_with_a_reason_by_the_programme_office(client, world, session):
    w = world
    for _ in range(3):
        credit.note_event(session, w.admin, w.ent_b.id, credit.CreditKind.no_show)
    session.commit()
    names = [r["name"] for r in client.get(f"{API}/credit/black-list").json()]
    assert names == ["Nawei Powders"]
    path = f"{API}/credit/black-list/{w.ent_b.id}/lift"
    assert client.post(path, json={"reason": "申诉成立"}, headers=auth(w, "manager")).status_code == 403
    assert client.post(path, json={"reason": ""}, headers=auth(w, "admin")).status_code == 422
    r = client.post(path, json={"reason": "申诉成立"}, headers=auth(w, "admin"))
    assert r.status_code == 200 and r.json()["booking_suspended_until"] is None
    assert client.get(f"{API}/credit/black-list").json() == []
    assert client.post(path, json={"reason": "again"}, headers=auth(w, "admin")).status_code == 409
    assert (
        client.post(
            f"{API}/credit/black-list/ent_none/lift", json={"reason": "x"}, headers=auth(w, "admin")
        ).status_code
        == 404
    )


def test_a_units_claims_alias_answers_as_the_canonical_list(client, world, claims):
    """/owner-units/{id}/redemption-claims is a deprecated alias of /redemption-claims?owner_unit_id=:
    the same answer, filters and paging, and the same refusals."""
    w = world
    one, _two = claims
    unit1, unit2 = w.xrd.owner_unit_id, w.other.owner_unit_id
    for who in ("admin", "manager"):
        for params in ({}, {"limit": 1}, {"status": "pending"}, {"status": "approved"}):
            alias = client.get(f"{API}/owner-units/{unit1}/redemption-claims", params=params, headers=auth(w, who))
            canonical = client.get(
                f"{API}/redemption-claims", params={**params, "owner_unit_id": unit1}, headers=auth(w, who)
            )
            assert alias.status_code == canonical.status_code == 200
            assert alias.json() == canonical.json()
    (row,) = client.get(f"{API}/owner-units/{unit1}/redemption-claims", headers=auth(w, "manager")).json()
    assert row["claim"]["id"] == one.claim.id and row["status"] == "pending" and row["programme"]
    assert row["items"] == 2 and row["amount_fen"] == 48_000
    for path, params in ((f"/owner-units/{unit2}/redemption-claims", {}), ("/redemption-claims", {"owner_unit_id": unit2})):
        assert client.get(f"{API}{path}", params=params, headers=auth(w, "manager")).status_code == 403
    spec = client.get("/openapi.json").json()["paths"]
    assert spec["/api/v1/owner-units/{unit_id}/redemption-claims"]["get"]["deprecated"] is True
    assert "deprecated" not in spec["/api/v1/redemption-claims"]["get"]


def test_a_units_vouchers_alias_answers_as_the_canonical_orders(client, world, claims):
    """/vouchers?owner_unit_id= is a deprecated alias of /owner-units/{id}/voucher-orders: the same
    vouchers in the same order through the same service, with the same filters and refusals."""
    w = world
    one, two = claims
    unit1, unit2 = w.xrd.owner_unit_id, w.other.owner_unit_id
    for who in ("admin", "manager"):
        for params in ({}, {"limit": 1}, {"offset": 1}, {"status": "consumed"}, {"status": "issued"},
                       {"programme_id": one.programme.id}, {"enterprise_id": w.ent_b.id}):
            orders = client.get(f"{API}/owner-units/{unit1}/voucher-orders", params=params, headers=auth(w, who))
            alias = client.get(f"{API}/vouchers", params={**params, "owner_unit_id": unit1}, headers=auth(w, who))
            assert orders.status_code == alias.status_code == 200
            assert [o["voucher_id"] for o in orders.json()] == [v["id"] for v in alias.json()]
    got = client.get(f"{API}/owner-units/{unit1}/voucher-orders", headers=auth(w, "admin")).json()
    assert {o["voucher_id"] for o in got} == {v.id for v in one.vouchers}
    assert client.get(f"{API}/owner-units/{unit1}/voucher-orders", params={"enterprise_id": w.ent_b.id},
                      headers=auth(w, "admin")).json() == []
    mine = client.get(f"{API}/vouchers", headers=auth(w, "other_manager")).json()
    assert [v["id"] for v in mine] == [o["voucher_id"] for o in client.get(
        f"{API}/owner-units/{unit2}/voucher-orders", headers=auth(w, "other_manager")).json()] == [two.vouchers[0].id]
    assert client.get(f"{API}/owner-units/{unit2}/voucher-orders", headers=auth(w, "manager")).status_code == 403
    assert client.get(f"{API}/vouchers", params={"owner_unit_id": unit2}, headers=auth(w, "manager")).status_code == 403
    params = client.get("/openapi.json").json()["paths"]["/api/v1/vouchers"]["get"]["parameters"]
    assert next(p for p in params if p["name"] == "owner_unit_id")["deprecated"] is True
