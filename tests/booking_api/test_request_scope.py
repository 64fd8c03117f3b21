"""Who may act on a booking request: only its enterprise (or a programme admin) withdraws it, and
a booking fulfils only a request of the same enterprise, for the same instrument (or category)
and service mode."""

from __future__ import annotations

from datetime import timedelta

from tests.booking_api.conftest import auth

API = "/api/v1"


def _request(client, w, who: str, **extra) -> str:
    body = {
        "instrument_id": w.xrd.id,
        "duration_minutes": 120,
        "earliest_start": w.at(0).isoformat(),
        "deadline": (w.at(0) + timedelta(days=2)).isoformat(),
        **extra,
    }
    r = client.post(f"{API}/requests", json=body, headers=auth(w, who))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _book(client, w, who: str, request_id: str, instrument=None, **extra):
    body = {
        "instrument_id": (instrument or w.xrd).id,
        "start": w.at(9).isoformat(),
        "end": w.at(11).isoformat(),
        "service_mode": "operator_run",
        "request_id": request_id,
        **extra,
    }
    return client.post(f"{API}/bookings", json=body, headers=auth(w, who))


def _status(client, w, who: str, rid: str) -> str:
    return client.get(f"{API}/requests/{rid}", headers=auth(w, who)).json()["status"]


def _field(r) -> str:
    return r.json()["violations"][0]["field"]


def test_a_lab_manager_cannot_withdraw_an_enterprises_request(client, world):
    w = world
    rid = _request(client, w, "member_a")
    r = client.post(f"{API}/requests/{rid}/withdraw", headers=auth(w, "manager"))
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _status(client, w, "member_a", rid) == "pending"
    assert client.post(f"{API}/requests/{rid}/withdraw", headers=auth(w, "member_b")).status_code == 404
    r = client.post(f"{API}/requests/{rid}/withdraw", headers=auth(w, "admin"))  # admins submit on behalf, too
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"


def test_booking_with_another_enterprises_request_is_refused_and_leaves_it_open(client, world):
    w = world
    rid_b = _request(client, w, "member_b")
    r = _book(client, w, "member_a", rid_b)
    assert r.status_code == 422 and _field(r) == "request_id", r.text
    assert _status(client, w, "member_b", rid_b) == "pending"
    assert client.get(f"{API}/bookings", headers=auth(w, "member_a")).json() == []
    # a lab manager (who may see both) booking for A with B's request: refused the same way
    r = _book(client, w, "manager", rid_b, enterprise_id=w.ent_a.id)
    assert r.status_code == 422 and _field(r) == "request_id", r.text
    assert "Nawei" not in r.json()["detail"]
    assert _status(client, w, "member_b", rid_b) == "pending"


def test_booking_must_match_the_requests_instrument_category_and_service_mode(client, world):
    w = world
    rid = _request(client, w, "member_a")  # for the XRD, operator-run
    r = _book(client, w, "member_a", rid, instrument=w.sem)
    assert r.status_code == 422 and _field(r) == "request_id", r.text
    assert "Powder XRD" in r.json()["detail"]
    r = _book(client, w, "member_a", rid, service_mode="self_operated")
    assert r.status_code == 422 and _field(r) == "request_id", r.text
    assert _status(client, w, "member_a", rid) == "pending"
    by_category = _request(client, w, "member_a", instrument_id=None, category="SEM")
    r = _book(client, w, "member_a", by_category)
    assert r.status_code == 422 and "SEM" in r.json()["detail"], r.text
    r = _book(client, w, "member_a", rid)
    assert r.status_code == 201, r.text
    assert _status(client, w, "member_a", rid) == "booked"


def test_an_unknown_request_id_is_refused_before_anything_is_booked(client, world):
    w = world
    r = _book(client, w, "member_a", "req_nope")
    assert r.status_code == 422 and _field(r) == "request_id", r.text
    assert client.get(f"{API}/bookings", headers=auth(w, "member_a")).json() == []
