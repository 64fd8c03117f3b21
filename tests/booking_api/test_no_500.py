"""No request a client can send produces a 500: random bodies and parameters on every write."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.booking_api.conftest import auth

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "2026-12-01T09:00:00+08:00",
            "2026-12-01T09:00:00",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00+00:00",
            "08:30",
            "25:00",
            "FREQ=DAILY",
            "RRULE:FREQ=WEEKLY;BYDAY=MO",
            "operator_run",
            "self_operated",
            "XRD",
            "2026-02-30",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
FIELDS = [
    "instrument_id",
    "start",
    "end",
    "service_mode",
    "sample_count",
    "category",
    "duration_minutes",
    "earliest_start",
    "deadline",
    "preferred_start",
    "rrule",
    "start_time",
    "end_time",
    "valid_from",
    "valid_until",
    "kind",
    "reason",
    "name",
    "credit_code",
    "enterprise_id",
    "request_id",
    "slot_minutes",
    "min_minutes",
    "max_minutes",
    "lead_minutes",
    "day",
    "is_workday",
    "status",
    "email",
    "role",
]
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, which=st.integers(0, 9), who=st.sampled_from(["admin", "manager", "member_a"]))
def test_random_writes_never_500(client, world, body, which, who):
    w = world
    if "instrument_id" in body and isinstance(body["instrument_id"], bool):
        body["instrument_id"] = w.xrd.id
    targets = [
        ("post", "/api/v1/bookings"),
        ("post", "/api/v1/requests"),
        ("post", f"/api/v1/instruments/{w.xrd.id}/opening-rules"),
        ("post", f"/api/v1/instruments/{w.xrd.id}/exceptions"),
        ("put", f"/api/v1/instruments/{w.xrd.id}/policy"),
        ("post", "/api/v1/enterprises"),
        ("patch", f"/api/v1/instruments/{w.xrd.id}"),
        ("post", "/api/v1/users"),
        ("put", "/api/v1/calendar/overrides/2026-12-01"),
        ("post", "/api/v1/instruments"),
    ]
    method, url = targets[which]
    r = client.request(method, url, json=body, headers=auth(w, who))
    assert r.status_code < 500, (url, body, r.text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=scalars, end=scalars, path=st.text(min_size=1, max_size=20))
def test_random_queries_never_500(client, world, start, end, path):
    params = {k: str(v) for k, v in (("start", start), ("end", end)) if v is not None}
    for url in (f"/api/v1/instruments/{world.xrd.id}/availability", "/api/v1/calendar/days"):
        assert client.get(url, params=params).status_code < 500
    assert client.get(f"/api/v1/instruments/{quote(path, safe='')}", params=params).status_code < 500
    assert client.get("/api/v1/bookings", params=params, headers=auth(world, "member_a")).status_code < 500


def test_dates_at_the_end_of_time_are_4xx(client, world):
    far = "9999-12-31T23:00:00+00:00"
    body = {"instrument_id": world.xrd.id, "start": far, "end": "9999-12-31T23:30:00+00:00", "service_mode": "operator_run"}
    assert client.post("/api/v1/bookings", json=body, headers=auth(world, "member_a")).status_code in (409, 422)
    r = client.get(f"/api/v1/instruments/{world.xrd.id}/availability", params={"start": far})
    assert r.status_code == 422 and r.json()["violations"][0]["field"] == "query.start"
