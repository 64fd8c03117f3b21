"""Vouchers over HTTP: issue, apply (idempotent), scoping, statistics as JSON and CSV."""

from __future__ import annotations

from tests.booking_api.conftest import auth

API = "/api/v1"


def test_voucher_flow_over_http(client, world):
    w = world
    admin, a, b = auth(w, "admin"), auth(w, "member_a"), auth(w, "member_b")
    r = client.post(
        f"{API}/voucher-programmes",
        json={"name": "P", "year": w.day.year, "total_budget_fen": 1_000_000, "preset": "shanghai"},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["unissued_fen"] == 1_000_000
    pid = r.json()["programme"]["id"]
    assert (
        client.post(
            f"{API}/voucher-programmes",
            json={"name": "P", "year": w.day.year, "total_budget_fen": 1, "preset": "mars"},
            headers=admin,
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"{API}/voucher-programmes/{pid}/vouchers",
            json={"enterprise_id": w.ent_a.id, "voucher_type": "testing", "face_value_fen": 1},
            headers=a,
        ).status_code
        == 403
    )
    too_big = client.post(
        f"{API}/voucher-programmes/{pid}/vouchers",
        json={"enterprise_id": w.ent_a.id, "voucher_type": "testing", "face_value_fen": 2_000_000},
        headers=admin,
    )
    assert too_big.status_code == 409 and "1000000 fen left" in too_big.json()["detail"]
    r = client.post(
        f"{API}/voucher-programmes/{pid}/vouchers",
        json={"enterprise_id": w.ent_a.id, "voucher_type": "testing", "face_value_fen": 50_000},
        headers=admin,
    )
    assert r.status_code == 201
    code = r.json()["code"]
    assert [x["code"] for x in client.get(f"{API}/vouchers", headers=a).json()] == [code]
    assert client.get(f"{API}/vouchers", headers=b).json() == []
    bid = client.post(
        f"{API}/bookings",
        json={
            "instrument_id": w.xrd.id,
            "start": w.at(9).isoformat(),
            "end": w.at(11).isoformat(),
            "service_mode": "operator_run",
        },
        headers=a,
    ).json()["id"]
    key = {**a, "Idempotency-Key": "apply-1"}
    first = client.post(f"{API}/bookings/{bid}/voucher", json={"code": code}, headers=key)
    again = client.post(f"{API}/bookings/{bid}/voucher", json={"code": code}, headers=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert first.json()["reserved_fen"] == 20_000 and first.json()["balance_fen"] == 30_000
    assert client.post(f"{API}/bookings/{bid}/voucher", json={"code": code}, headers=b).status_code == 404
    assert client.post(f"{API}/bookings/{bid}/voucher", json={"code": "NOTACODE"}, headers=a).status_code == 422
    span = {"start": f"{w.day.year - 1}-01-01", "end": f"{w.day.year + 1}-12-31"}  # around the world's day
    stats = client.get(
        f"{API}/voucher-programmes/{pid}/statistics", params=span, headers=admin
    )
    assert (
        stats.status_code == 200
        and stats.json()["vouchers_issued"] == 1
        and stats.json()["amount_reserved_now_fen"] == 20_000
    )
    csv = client.get(
        f"{API}/voucher-programmes/{pid}/statistics",
        params={**span, "format": "csv"},
        headers=admin,
    )
    assert csv.headers["content-type"].startswith("text/csv") and "vouchers_issued,1" in csv.text
    assert (
        client.post(
            f"{API}/redemption-claims",
            json={
                "programme_id": pid,
                "owner_unit_id": w.xrd.owner_unit_id,
                "orders": [{"voucher_id": "x", "proofs": {}}],
            },
            headers=a,
        ).status_code
        == 403
    )
    assert client.get(f"{API}/credit/black-list").status_code == 200
