"""A request's outcome over HTTP in people's terms: the booking it became, its times in the
platform's zone (+08:00), a round's reasons with instrument names and local times, and a
notification that names the instrument and the local time."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.booking_api.conftest import auth

API = "/api/v1"


def test_request_links_its_booking_and_explains_in_local_terms(client, world):
    a = auth(world, "member_a")
    body = {
        "instrument_id": world.xrd.id,
        "duration_minutes": 300,
        "earliest_start": world.at(0).astimezone(tz=None).isoformat(),  # any offset in; local out
        "deadline": (world.at(0) + timedelta(days=1)).isoformat(),
    }
    too_long = client.post(f"{API}/requests", json=body, headers=a).json()
    fits = client.post(f"{API}/requests", json={**body, "duration_minutes": 120}, headers=a).json()
    assert fits["booking_id"] is None
    for r in (too_long, fits):
        assert r["earliest_start"] == world.at(0).isoformat() and r["earliest_start"].endswith("+08:00")
        assert r["deadline"].endswith("+08:00") and r["created_at"].endswith("+08:00")
    r = client.post(f"{API}/rounds", json={"time_limit": 3, "workers": 1}, headers=auth(world, "admin"))
    assert r.status_code == 201, r.text

    placed = client.get(f"{API}/requests/{fits['id']}", headers=a).json()
    assert placed["status"] == "allocated" and placed["booking_id"]
    booking = client.get(f"{API}/bookings/{placed['booking_id']}", headers=a).json()
    assert booking["request_id"] == fits["id"] and booking["instrument_id"] == world.xrd.id
    listed = {x["id"]: x for x in client.get(f"{API}/requests", headers=a).json()}
    assert listed[fits["id"]]["booking_id"] == placed["booking_id"] and listed[too_long["id"]]["booking_id"] is None
    assert all(x["deadline"].endswith("+08:00") for x in listed.values())

    left = client.get(f"{API}/requests/{too_long['id']}", headers=a).json()
    (why,) = left["explanation"]
    assert why["code"] == "no_window"
    assert why["instruments"] == [{"id": world.xrd.id, "name": world.xrd.name}]
    assert why["timezone"] == "Asia/Shanghai"
    assert why["start"].endswith("+08:00") and why["end"] == body["deadline"]
    day = f"{world.day:%Y-%m-%d}"
    assert world.xrd.name in why["message"] and day in why["message"] and "Asia/Shanghai" in why["message"]
    assert "release" not in why["message"] and not re.search(r"\b\d{4,5}\b(?!-)", why["message"].replace(day, ""))

    (note,) = client.get(f"{API}/notifications", headers=a).json()
    start = booking["start"]  # local, e.g. 2026-12-01T08:00:00+08:00
    assert world.xrd.name in note["body"]
    assert f"{start[:10]} {start[11:16]}" in note["body"] and placed["booking_id"] in note["body"]
    assert "Asia/Shanghai" in note["body"]


def test_suggestions_carry_their_price(client, world):
    a = auth(world, "member_a")
    body = {
        "instrument_id": world.xrd.id,
        "duration_minutes": 120,
        "earliest_start": world.at(0).isoformat(),
        "deadline": (world.at(0) + timedelta(days=1)).isoformat(),
    }
    rid = client.post(f"{API}/requests", json=body, headers=a).json()["id"]
    got = client.get(f"{API}/requests/{rid}/suggestions", params={"k": 2}, headers=a).json()
    assert got and all(s["price_fen"] == 2 * world.xrd.fee_hour_external_fen > 0 for s in got)
    assert all(s["start"].endswith("+08:00") for s in got)
