"""Dates far outside the supported range (years 2000–2100) are a 422 naming the field, never a 500.

Year 1 at +08:00 lies before the first representable UTC instant, so converting it overflows;
year 9999 overflows as soon as a default range is added to it. Every date the API accepts goes
through one validated type, so each endpoint answers the same way.
"""

from __future__ import annotations

import pytest

from tests.booking_api.conftest import auth

API = "/api/v1"
YEAR_ONE = "0001-01-01T00:00:00+08:00"
YEAR_9999 = "9999-12-31T23:00:00-08:00"


def _fields(r) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return [v["field"] for v in r.json()["violations"]]


@pytest.mark.parametrize("far", [YEAR_ONE, YEAR_9999])
def test_booking_list_with_a_far_start_is_422(client, world, far):
    r = client.get(f"{API}/bookings", params={"start": far}, headers=auth(world, "member_a"))
    assert _fields(r) == ["query.start"]
    r = client.get(f"{API}/bookings", params={"end": far}, headers=auth(world, "member_a"))
    assert _fields(r) == ["query.end"]


def test_request_with_a_far_earliest_start_is_422(client, world):
    body = {
        "instrument_id": world.xrd.id,
        "duration_minutes": 60,
        "earliest_start": YEAR_ONE,
        "deadline": world.at(18).isoformat(),
    }
    r = client.post(f"{API}/requests", json=body, headers=auth(world, "member_a"))
    assert _fields(r) == ["earliest_start"]


def test_booking_with_far_times_is_422(client, world):
    body = {"instrument_id": world.xrd.id, "start": YEAR_ONE, "end": world.at(10).isoformat()}
    r = client.post(f"{API}/bookings", json=body, headers=auth(world, "member_a"))
    assert _fields(r) == ["start"]


def test_exception_with_a_far_start_is_422(client, world):
    body = {"kind": "closed", "start": YEAR_ONE, "end": world.at(18).isoformat()}
    r = client.post(f"{API}/instruments/{world.xrd.id}/exceptions", json=body, headers=auth(world, "manager"))
    assert _fields(r) == ["start"]


def test_usage_with_a_far_start_is_422(client, world):
    body = {"instrument_id": world.xrd.id, "started_at": YEAR_ONE, "ended_at": world.at(10).isoformat()}
    r = client.post(f"{API}/usage", json=body, headers=auth(world, "manager"))
    assert _fields(r) == ["started_at"]
    r = client.get(f"{API}/usage", params={"start": YEAR_ONE}, headers=auth(world, "manager"))
    assert _fields(r) == ["query.start"]


def test_indicators_with_a_far_start_is_422(client, world):
    params = {"start": YEAR_ONE, "end": world.at(10).isoformat()}
    r = client.get(f"{API}/indicators", params=params, headers=auth(world, "admin"))
    assert _fields(r) == ["query.start"]


def test_voucher_statistics_with_a_far_day_is_422(client, world):
    admin = auth(world, "admin")
    r = client.post(
        f"{API}/voucher-programmes",
        json={"name": "P", "year": 2026, "total_budget_fen": 1_000_000, "preset": "shanghai"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    url = f"{API}/voucher-programmes/{r.json()['programme']['id']}/statistics"
    assert _fields(client.get(url, params={"start": "0001-01-01", "end": "2026-12-31"}, headers=admin)) == [
        "query.start"
    ]
    assert _fields(client.get(url, params={"start": "2026-01-01", "end": "9999-12-31"}, headers=admin)) == [
        "query.end"
    ]


def test_calendar_days_far_away_is_422(client, world):
    r = client.get(f"{API}/calendar/days", params={"start": "0001-01-01", "end": "0001-01-05"})
    assert _fields(r) == ["query.start", "query.end"]


def test_the_message_says_the_supported_range(client, world):
    r = client.get(f"{API}/bookings", params={"start": YEAR_ONE}, headers=auth(world, "member_a"))
    assert "2000" in r.json()["detail"] and "2100" in r.json()["detail"]


def test_dates_inside_the_range_are_still_accepted(client, world):
    r = client.get(
        f"{API}/bookings",
        params={"start": "2000-01-01T00:00:00+08:00", "end": "2100-12-31T23:59:59+08:00"},
        headers=auth(world, "member_a"),
    )
    assert r.status_code == 200, r.text


def test_availability_from_year_one_is_422(client, world):
    r = client.get(f"{API}/instruments/{world.xrd.id}/availability", params={"start": YEAR_ONE})
    assert _fields(r) == ["query.start"]
