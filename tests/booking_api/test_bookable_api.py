"""GET /instruments/{id}/bookable: the slots the asker could book now, closed time and refusals."""

from __future__ import annotations

from datetime import timedelta

from tests.booking_api.conftest import auth

API = "/api/v1"


def window(world, days=1) -> dict[str, str]:
    return {"start": world.at(0).isoformat(), "end": (world.at(0) + timedelta(days=days)).isoformat()}


def bookable(client, world, who="member_a", **params):
    query = {"service_mode": "operator_run", "duration_minutes": 120, **window(world), **params}
    query = {k: v for k, v in query.items() if v is not None}
    return client.get(f"{API}/instruments/{world.xrd.id}/bookable", params=query, headers=auth(world, who))


def test_sign_in_required(client, world):
    r = client.get(f"{API}/instruments/{world.xrd.id}/bookable", params={"service_mode": "operator_run"})
    assert r.status_code == 401


def test_offered_slot_books_and_then_shows_as_booked(client, world):
    r = bookable(client, world)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timezone"] == "Asia/Shanghai" and body["duration_minutes"] == 120 and body["blocked"] == []
    first = body["slots"][0]
    assert first == {"start": world.at(8, 30).isoformat(), "end": world.at(10, 30).isoformat()}
    assert first["start"].endswith("+08:00")
    assert {"outside_opening_hours", "too_short"} <= {c["reason"] for c in body["closed"]}
    assert all(c["message"] for c in body["closed"])
    made = client.post(
        f"{API}/bookings",
        json={"instrument_id": world.xrd.id, "service_mode": "operator_run", **first},
        headers=auth(world, "member_a"),
    )
    assert made.status_code == 201, made.text
    after = bookable(client, world, who="member_b").json()
    assert first not in after["slots"]
    booked = [c for c in after["closed"] if c["reason"] == "booked"]
    assert booked and made.json()["id"] not in str(after)


def test_refusals_for_every_slot_come_back_as_blocked(client, world):
    body = bookable(client, world, service_mode="self_operated").json()
    assert body["slots"] == []
    assert [(b["code"], b["field"]) for b in body["blocked"]] == [("not_qualified", "service_mode")]


def test_sample_count_and_input_errors(client, world):
    r = bookable(client, world, duration_minutes=None, sample_count=4)
    assert r.status_code == 200 and r.json()["duration_minutes"] == 120
    r = bookable(client, world, sample_count=4)  # both given
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert bookable(client, world, **window(world, days=200)).status_code == 422


def test_lab_managers_ask_for_an_enterprise(client, world):
    r = bookable(client, world, who="manager", enterprise_id=world.ent_a.id)
    assert r.status_code == 200 and r.json()["slots"]
    assert bookable(client, world, who="other_manager").status_code == 403
    assert bookable(client, world, who="manager", enterprise_id="ent_missing").status_code == 404
