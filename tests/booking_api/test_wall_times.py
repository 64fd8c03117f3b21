"""Times of day (an opening rule's start and end, an operator's shift) are local wall-clock
times: the OpenAPI document declares them as "HH:MM" strings, not ``format: time`` (which means
RFC 3339 full-time, with an offset), and the answers match the declaration."""

from __future__ import annotations

import re

from tests.booking_api.conftest import auth

API = "/api/v1"


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}/{i}")


def _schema(spec, name: str) -> dict:
    return spec["components"]["schemas"][name]


def test_no_schema_declares_format_time(client):
    spec = client.get("/openapi.json").json()
    assert [p for p, n in _walk(spec) if n.get("format") == "time"] == []


def test_opening_rules_answer_what_the_schema_declares(client, world):
    spec = client.get("/openapi.json").json()
    ref = spec["paths"]["/api/v1/instruments/{instrument_id}/opening-rules"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["items"]["$ref"]
    props = _schema(spec, ref.rsplit("/", 1)[1])["properties"]
    rules = client.get(f"{API}/instruments/{world.xrd.id}/opening-rules").json()
    assert rules
    for field in ("start_time", "end_time"):
        declared = props[field]
        assert declared["type"] == "string" and "local" in declared["description"].lower()
        assert all(re.fullmatch(declared["pattern"], r[field]) for r in rules), rules
    assert sorted((r["start_time"], r["end_time"]) for r in rules)[0] == ("08:30", "12:00")


def test_clients_may_still_send_seconds_but_not_an_offset(client, world):
    url = f"{API}/instruments/{world.xrd.id}/opening-rules"
    body = {"rrule": "FREQ=WEEKLY;BYDAY=SA", "valid_from": "2026-01-01"}
    r = client.post(url, json={**body, "start_time": "09:00:00", "end_time": "11:30"}, headers=auth(world, "manager"))
    assert r.status_code == 201, r.text
    assert (r.json()["start_time"], r.json()["end_time"]) == ("09:00", "11:30")
    for bad in ("09:00+08:00", "09:00:15", "9h"):
        r = client.post(url, json={**body, "start_time": bad, "end_time": "11:30"}, headers=auth(world, "manager"))
        assert r.status_code == 422 and r.json()["violations"][0]["field"] == "start_time", (bad, r.text)
