"""A body that names an id that does not exist (an enterprise, a unit, an operator…) is answered
404 or 422 naming the field and the id, on SQLite and PostgreSQL alike: never the database's
foreign-key error as a 500."""

from __future__ import annotations

import pytest

from tests.booking_api.conftest import auth

API = "/api/v1"


def _programme(client, world) -> str:
    r = client.post(
        f"{API}/voucher-programmes",
        json={"name": "P", "year": 2026, "total_budget_fen": 1_000_000, "preset": "shanghai"},
        headers=auth(world, "admin"),
    )
    assert r.status_code == 201, r.text
    return r.json()["programme"]["id"]


def _cases(w, programme_id: str):
    """(who, method, url, body, field, unknown id) for every create path that takes a foreign id."""
    day = w.at(9).isoformat(), w.at(11).isoformat()
    return [
        ("admin", "post", "/users", {"name": "X", "email": "x@t.cn", "role": "enterprise_member", "enterprise_id": "ent_x"}, "enterprise_id", "ent_x"),
        ("admin", "post", "/users", {"name": "X", "email": "x@t.cn", "role": "lab_manager", "owner_unit_id": "unit_x"}, "owner_unit_id", "unit_x"),
        ("admin", "post", "/users", {"name": "X", "email": "x@t.cn", "role": "operator", "operator_id": "op_x"}, "operator_id", "op_x"),
        ("admin", "post", "/redemption-claims", {"programme_id": programme_id, "owner_unit_id": "unit_x", "orders": [{"voucher_id": "vch_x", "proofs": {}}]}, "owner_unit_id", "unit_x"),
        ("admin", "post", "/redemption-claims", {"programme_id": "prg_x", "owner_unit_id": w.xrd.owner_unit_id, "orders": [{"voucher_id": "vch_x", "proofs": {}}]}, "programme_id", "prg_x"),
        ("admin", "post", "/requests", {"enterprise_id": "ent_x", "category": "XRD", "duration_minutes": 60, "earliest_start": day[0], "deadline": day[1]}, "enterprise_id", "ent_x"),
        ("manager", "post", "/bookings", {"instrument_id": w.xrd.id, "start": day[0], "end": day[1], "enterprise_id": "ent_x"}, "enterprise_id", "ent_x"),
        ("member_a", "post", "/bookings", {"instrument_id": w.xrd.id, "start": day[0], "end": day[1], "request_id": "req_x"}, "request_id", "req_x"),
        ("manager", "post", "/usage", {"instrument_id": w.xrd.id, "started_at": day[0], "ended_at": day[1], "enterprise_id": "ent_x"}, "enterprise_id", "ent_x"),
        ("manager", "post", "/usage", {"instrument_id": w.xrd.id, "started_at": day[0], "ended_at": day[1], "booking_id": "bkg_x"}, "booking_id", "bkg_x"),
        ("admin", "post", "/instruments", {"name": "N", "category": "XRD", "owner_unit_id": "unit_x"}, "owner_unit_id", "unit_x"),
        ("admin", "post", "/instruments", {"name": "N", "category": "XRD", "owner_unit_id": w.xrd.owner_unit_id, "lab_id": "lab_x"}, "lab_id", "lab_x"),
        ("manager", "patch", f"/instruments/{w.xrd.id}", {"lab_id": "lab_x"}, "lab_id", "lab_x"),
        ("admin", "post", f"/voucher-programmes/{programme_id}/vouchers", {"enterprise_id": "ent_x", "voucher_type": "testing", "face_value_fen": 10_000}, "enterprise_id", "ent_x"),
        ("admin", "post", "/credit/fraud", {"enterprise_id": "ent_x", "note": "n"}, "enterprise_id", "ent_x"),
        ("manager", "post", "/qualifications", {"user_id": "usr_x", "instrument_id": w.xrd.id, "granted_on": "2026-01-01"}, "user_id", "usr_x"),
        ("manager", "post", "/qualifications", {"user_id": "usr_x", "instrument_id": "ins_x", "granted_on": "2026-01-01"}, "instrument_id", "ins_x"),
        ("manager", "post", f"/owner-units/{w.xrd.owner_unit_id}/operators", {"name": "Op", "instrument_ids": ["ins_x"]}, "instrument_ids", "ins_x"),
        ("manager", "post", "/calendar/subscriptions", {"scope_kind": "instrument", "scope_id": "ins_x"}, "scope_id", "ins_x"),
        ("manager", "post", "/calendar/subscriptions", {"scope_kind": "operator", "scope_id": "op_x"}, "scope_id", "op_x"),
    ]


N_CASES = 20


@pytest.mark.parametrize("case", range(N_CASES))
def test_an_unknown_id_in_a_body_is_named(client, world, case):
    cases = _cases(world, _programme(client, world))
    assert len(cases) == N_CASES
    who, method, url, body, field, unknown = cases[case]
    r = client.request(method, API + url, json=body, headers=auth(world, who))
    assert r.status_code in (404, 422), (url, body, r.status_code, r.text)
    problem = r.json()
    assert unknown in problem["detail"], problem
    if r.status_code == 422:
        assert field in [v.get("field") for v in problem["violations"]], problem
