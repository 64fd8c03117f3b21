"""The API as clients use it: public catalogue, booking life, scoping, errors as problem+json."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.booking_api.conftest import auth

API = "/api/v1"


def iso(dt) -> str:
    return dt.isoformat()


def book(client, world, who="member_a", start=None, end=None, **extra):
    body = {
        "instrument_id": world.xrd.id,
        "start": iso(start or world.at(9)),
        "end": iso(end or world.at(11)),
        "service_mode": "operator_run",
        **extra,
    }
    return client.post(f"{API}/bookings", json=body, headers=auth(world, who))


def test_catalogue_unit_page_and_free_time_are_public(client, world):
    r = client.get(f"{API}/instruments", params={"category": "XRD"})
    assert r.status_code == 200 and [i["id"] for i in r.json()] == [world.xrd.id]
    unit = client.get(f"{API}/owner-units/{world.xrd.owner_unit_id}").json()
    assert unit["instrument_count"] == 2
    r = client.get(
        f"{API}/instruments/{world.xrd.id}/availability",
        params={"start": iso(world.at(0)), "end": iso(world.at(0) + timedelta(days=1))},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["timezone"] == "Asia/Shanghai"
    assert [(f["start"][11:16], f["end"][11:16]) for f in body["free"]] == [("08:30", "12:00"), ("13:30", "17:30")]
    assert body["free"][0]["start"].endswith("+08:00")
    assert client.get("/openapi.json").status_code == 200


def test_booking_shows_as_anonymous_busy_time_to_others(client, world):
    r = book(client, world)
    assert r.status_code == 201, r.text
    booking = r.json()
    assert booking["status"] == "tentative" and booking["price_fen"] == 40000
    params = {"start": iso(world.at(0)), "end": iso(world.at(0) + timedelta(days=1))}
    url = f"{API}/instruments/{world.xrd.id}/availability"
    free = client.get(url, params=params).json()["free"]
    assert [(f["start"][11:16], f["end"][11:16]) for f in free] == [
        ("08:30", "09:00"),
        ("11:00", "12:00"),
        ("13:30", "17:30"),
    ]
    theirs = client.get(url, params=params, headers=auth(world, "member_b")).json()["busy"]
    assert theirs == [
        {"start": booking["start"], "end": booking["end"], "booking_id": None, "status": None, "yours": False}
    ]
    mine = client.get(url, params=params, headers=auth(world, "member_a")).json()["busy"]
    assert mine[0]["booking_id"] == booking["id"] and mine[0]["yours"] is True


def test_booking_life_confirm_move_check_in_rules(client, world):
    b = book(client, world).json()
    bid = b["id"]
    assert client.post(f"{API}/bookings/{bid}/confirm", headers=auth(world, "member_a")).status_code == 403
    r = client.post(f"{API}/bookings/{bid}/confirm", headers=auth(world, "manager"))
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    r = client.post(
        f"{API}/bookings/{bid}/move",
        json={"start": iso(world.at(14)), "end": iso(world.at(16))},
        headers=auth(world, "manager"),
    )
    assert r.status_code == 200 and r.json()["sequence"] == 1 and r.json()["start"] == iso(world.at(14))
    r = client.post(f"{API}/bookings/{bid}/check-in", headers=auth(world, "member_a"))
    assert r.status_code == 409 and "Check-in opens 30 min before" in r.json()["detail"]
    r = client.post(f"{API}/bookings/{bid}/cancel", json={"reason": "plans changed"}, headers=auth(world, "member_a"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = client.post(f"{API}/bookings/{bid}/cancel", headers=auth(world, "member_a"))
    assert r.status_code == 409 and "only tentative or confirmed" in r.json()["detail"]
    audit = client.get(f"{API}/audit", params={"entity_id": bid}, headers=auth(world, "admin")).json()
    assert [a["action"] for a in reversed(audit)] == [
        "booking.create",
        "booking.confirm",
        "booking.move",
        "booking.cancel",
    ]


def test_conflict_names_the_booking(client, world):
    first = book(client, world).json()  # the caller's own booking (others' ids stay hidden: test_conflict_privacy)
    r = book(client, world, start=world.at(10), end=world.at(12))
    assert r.status_code == 409
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert first["id"] in problem["detail"] and problem["conflicts"][0]["booking"] == first["id"]


def test_policy_failures_are_listed_with_codes(client, world):
    r = book(client, world, start=world.at(12, 10), end=world.at(13))
    assert r.status_code == 422
    codes = {v["code"] for v in r.json()["violations"]}
    assert {"slot_grid", "outside_opening_hours"} <= codes


def test_enterprise_cannot_read_or_cancel_anothers_booking(client, world):
    bid = book(client, world).json()["id"]
    assert client.get(f"{API}/bookings/{bid}", headers=auth(world, "member_b")).status_code == 404
    assert client.post(f"{API}/bookings/{bid}/cancel", headers=auth(world, "member_b")).status_code == 404
    assert client.get(f"{API}/bookings", headers=auth(world, "member_b")).json() == []
    assert [b["id"] for b in client.get(f"{API}/bookings", headers=auth(world, "member_a")).json()] == [bid]
    assert client.get(f"{API}/bookings/{bid}", headers=auth(world, "operator")).status_code == 200  # assigned


def test_lab_manager_manages_only_own_unit(client, world):
    bid = book(client, world).json()["id"]
    assert client.post(f"{API}/bookings/{bid}/confirm", headers=auth(world, "other_manager")).status_code == 404
    r = client.patch(
        f"{API}/instruments/{world.xrd.id}", json={"status": "standby"}, headers=auth(world, "other_manager")
    )
    assert r.status_code == 403
    r = client.patch(f"{API}/instruments/{world.xrd.id}", json={"status": "standby"}, headers=auth(world, "manager"))
    assert r.status_code == 200 and r.json()["status"] == "standby"
    body = {"owner_unit_id": world.xrd.owner_unit_id, "name": "Raman", "category": "Raman"}
    assert client.post(f"{API}/instruments", json=body, headers=auth(world, "other_manager")).status_code == 403
    assert client.post(f"{API}/instruments", json=body, headers=auth(world, "member_a")).status_code == 403
    assert client.post(f"{API}/instruments", json=body, headers=auth(world, "manager")).status_code == 201


def test_tokens_are_required_checked_and_revocable(client, world):
    assert book(client, world, who="member_a").status_code == 201
    r = client.post(f"{API}/bookings", json={}, headers={"Authorization": "Bearer lsk_nope"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get(f"{API}/bookings").status_code == 401
    tok = client.post(f"{API}/tokens", json={"label": "laptop"}, headers=auth(world, "member_b")).json()
    headers = {"Authorization": f"Bearer {tok['token']}"}
    assert client.get(f"{API}/me", headers=headers).json()["email"] == "b@t.cn"
    assert client.delete(f"{API}/tokens/{tok['id']}", headers=headers).status_code == 204
    assert client.get(f"{API}/me", headers=headers).status_code == 401


def test_idempotency_key_never_books_twice(client, world):
    headers = {**auth(world, "member_a"), "Idempotency-Key": "k-123"}
    body = {
        "instrument_id": world.xrd.id,
        "start": iso(world.at(9)),
        "end": iso(world.at(10)),
        "service_mode": "operator_run",
    }
    first = client.post(f"{API}/bookings", json=body, headers=headers)
    again = client.post(f"{API}/bookings", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and again.headers.get("idempotent-replayed") == "true"
    assert len(client.get(f"{API}/bookings", headers=auth(world, "member_a")).json()) == 1


def test_bad_inputs_are_4xx_naming_the_field(client, world):
    m = auth(world, "manager")
    cases = [
        (
            client.post(
                f"{API}/bookings",
                json={"instrument_id": world.xrd.id, "start": "2026-12-01T09:00:00", "end": "2026-12-01T10:00:00"},
                headers=auth(world, "member_a"),
            ),
            422,
            "start",
        ),
        (book(client, world, start=world.at(11), end=world.at(10)), 422, "end"),
        (book(client, world, instrument_id="ins_missing"), 404, None),
        (
            client.post(
                f"{API}/bookings",
                content=b"{not json",
                headers={**auth(world, "member_a"), "content-type": "application/json"},
            ),
            422,
            None,
        ),
        (
            client.post(
                f"{API}/instruments/{world.xrd.id}/opening-rules",
                json={
                    "rrule": "FREQ=SOMETIMES",
                    "start_time": "08:00",
                    "end_time": "12:00",
                    "valid_from": "2026-01-01",
                },
                headers=m,
            ),
            422,
            "rrule",
        ),
        (
            client.post(
                f"{API}/instruments/{world.xrd.id}/opening-rules",
                json={"rrule": "FREQ=DAILY", "start_time": "12:00", "end_time": "08:00", "valid_from": "2026-01-01"},
                headers=m,
            ),
            422,
            "end_time",
        ),
        (
            client.post(
                f"{API}/instruments/{world.xrd.id}/exceptions",
                json={"start": iso(world.at(12)), "end": iso(world.at(9))},
                headers=m,
            ),
            422,
            "end",
        ),
        (
            client.get(
                f"{API}/instruments/{world.xrd.id}/availability",
                params={"start": iso(world.at(0)), "end": iso(world.at(0) + timedelta(days=400))},
            ),
            422,
            "end",
        ),
        (
            client.post(
                f"{API}/enterprises",
                json={"name": "X", "credit_code": "91440300708461137T"},
                headers=auth(world, "admin"),
            ),
            422,
            "credit_code",
        ),
        (client.get(f"{API}/bookings/bkg_nothere", headers=m), 404, None),
        (client.get(f"{API}/instruments", params={"limit": 0}), 422, "limit"),
    ]
    for r, status, field in cases:
        assert r.status_code == status, r.text
        body = r.json()
        assert body["status"] == status and body["detail"]
        if field:
            assert any(v.get("field", "").endswith(field) for v in body["violations"]), body


def test_overlapping_exceptions_are_refused(client, world):
    m = auth(world, "manager")
    url = f"{API}/instruments/{world.xrd.id}/exceptions"
    first = client.post(
        url, json={"start": iso(world.at(9)), "end": iso(world.at(12)), "reason": "maintenance"}, headers=m
    )
    assert first.status_code == 201
    r = client.post(url, json={"start": iso(world.at(11)), "end": iso(world.at(13))}, headers=m)
    assert (
        r.status_code == 422
        and first.json()["id"] in r.json()["detail"]
        and r.json()["violations"][0]["field"] == "start"
    )
    free = client.get(
        f"{API}/instruments/{world.xrd.id}/availability", params={"start": iso(world.at(0)), "end": iso(world.at(23))}
    ).json()["free"]
    assert [(f["start"][11:16], f["end"][11:16]) for f in free] == [("08:30", "09:00"), ("13:30", "17:30")]


def test_rules_and_closures_are_changed_in_place_by_their_unit_only(client, world):
    m, other = auth(world, "manager"), auth(world, "other_manager")
    rules = f"{API}/instruments/{world.xrd.id}/opening-rules"
    rule = client.post(rules, json={"rrule": "FREQ=WEEKLY;BYDAY=SA", "start_time": "09:00", "end_time": "12:00",
                                    "valid_from": world.day.isoformat(), "valid_until": (world.day + timedelta(days=7)).isoformat()}, headers=m).json()  # fmt: skip
    r = client.patch(f"{rules}/{rule['id']}", json={"end_time": "12:30", "valid_until": None, "label": "winter"}, headers=m)
    assert r.status_code == 200, r.text
    assert (r.json()["start_time"], r.json()["end_time"], r.json()["valid_until"], r.json()["label"]) == ("09:00", "12:30", None, "winter")
    assert client.patch(f"{rules}/{rule['id']}", json={"end_time": "08:00"}, headers=m).status_code == 422
    assert client.patch(f"{rules}/{rule['id']}", json={"rrule": None}, headers=m).status_code == 422
    assert client.patch(f"{rules}/{rule['id']}", json={"label": "x"}, headers=other).status_code == 403
    assert client.patch(f"{rules}/opr_nope", json={"label": "x"}, headers=m).status_code == 404
    kept = next(x for x in client.get(rules).json() if x["id"] == rule["id"])  # the list has no order
    assert kept["end_time"] == "12:30"  # the refused edits left it as it was

    closures = f"{API}/instruments/{world.xrd.id}/exceptions"
    first = client.post(closures, json={"start": iso(world.at(9)), "end": iso(world.at(10)), "title": "Service"}, headers=m).json()
    second = client.post(closures, json={"start": iso(world.at(14)), "end": iso(world.at(15))}, headers=m).json()
    r = client.patch(f"{closures}/{first['id']}", json={"end": iso(world.at(11)), "title": "Annual service"}, headers=m)
    assert r.status_code == 200 and r.json()["title"] == "Annual service", r.text  # over its own old times
    assert datetime.fromisoformat(r.json()["end"]) == world.at(11)
    r = client.patch(f"{closures}/{first['id']}", json={"end": iso(world.at(14, 30))}, headers=m)
    assert r.status_code == 422 and second["id"] in r.json()["detail"]
    assert client.patch(f"{closures}/{second['id']}", json={"title": "x"}, headers=other).status_code == 403


def test_requests_are_scoped_and_validated(client, world):
    body = {
        "category": "XRD",
        "duration_minutes": 120,
        "earliest_start": iso(world.at(8)),
        "deadline": iso(world.at(8) + timedelta(days=5)),
        "notes": "two powders",
    }
    r = client.post(f"{API}/requests", json=body, headers=auth(world, "member_a"))
    assert r.status_code == 201 and r.json()["status"] == "pending"
    rid = r.json()["id"]
    assert client.get(f"{API}/requests/{rid}", headers=auth(world, "member_b")).status_code == 404
    assert client.get(f"{API}/requests/{rid}", headers=auth(world, "manager")).status_code == 200
    assert client.get(f"{API}/requests/{rid}", headers=auth(world, "other_manager")).status_code == 404
    bad = client.post(f"{API}/requests", json={**body, "deadline": iso(world.at(9))}, headers=auth(world, "member_a"))
    assert bad.status_code == 422 and bad.json()["violations"][0]["field"] == "deadline"
    bad = client.post(f"{API}/requests", json={**body, "category": "Cyclotron"}, headers=auth(world, "member_a"))
    assert bad.status_code == 422
    assert (
        client.post(f"{API}/requests/{rid}/withdraw", headers=auth(world, "member_a")).json()["status"] == "withdrawn"
    )


def test_holiday_calendar_endpoint_and_override(client, world):
    days = client.get(f"{API}/calendar/days", params={"start": "2026-10-01", "end": "2026-10-10"}).json()
    kinds = {d["day"]: d["kind"] for d in days}
    assert kinds["2026-10-01"] == "holiday" and kinds["2026-10-10"] == "makeup_workday"
    r = client.get(f"{API}/calendar/days", params={"start": "2027-02-01", "end": "2027-02-02"})
    assert "2027" in r.headers.get("warning", "")
    put = client.put(
        f"{API}/calendar/overrides/{world.day}",
        json={"day": str(world.day), "is_workday": False, "name": "停电"},
        headers=auth(world, "admin"),
    )
    assert put.status_code == 200
    free = client.get(
        f"{API}/instruments/{world.xrd.id}/availability", params={"start": iso(world.at(0)), "end": iso(world.at(23))}
    ).json()["free"]
    assert free == []
    assert (
        client.put(
            f"{API}/calendar/overrides/{world.day}",
            json={"day": str(world.day), "is_workday": False},
            headers=auth(world, "manager"),
        ).status_code
        == 403
    )


def test_request_by_sample_count_derives_duration(client, world):
    m = auth(world, "manager")
    policy = client.get(f"{API}/instruments/{world.xrd.id}/policy").json()
    policy.pop("instrument_id")
    r = client.put(f"{API}/instruments/{world.xrd.id}/policy", json={**policy, "minutes_per_sample": 20}, headers=m)
    assert r.status_code == 200
    body = {
        "instrument_id": world.xrd.id,
        "sample_count": 4,
        "earliest_start": iso(world.at(8)),
        "deadline": iso(world.at(8) + timedelta(days=3)),
    }
    r = client.post(f"{API}/requests", json=body, headers=auth(world, "member_a"))
    assert r.status_code == 201 and r.json()["duration_minutes"] == 90  # 4 × 20 min → 80 → 30-min grid
    r = client.post(f"{API}/requests", json={**body, "sample_count": 0}, headers=auth(world, "member_a"))
    assert r.status_code == 422 and r.json()["violations"][0]["field"] == "duration_minutes"


def test_rounds_via_api_explain_and_notify(client, world):
    body = {
        "instrument_id": world.xrd.id,
        "duration_minutes": 300,
        "earliest_start": iso(world.at(0)),
        "deadline": iso(world.at(0) + timedelta(days=1)),
    }
    rid = client.post(f"{API}/requests", json=body, headers=auth(world, "member_a")).json()["id"]
    ok = client.post(f"{API}/requests", json={**body, "duration_minutes": 120}, headers=auth(world, "member_a")).json()[
        "id"
    ]
    assert client.post(f"{API}/rounds", json={"time_limit": 3}, headers=auth(world, "manager")).status_code == 403
    r = client.post(f"{API}/rounds", json={"time_limit": 3, "workers": 1}, headers=auth(world, "admin"))
    assert r.status_code == 201, r.text
    rnd = r.json()
    assert rnd["placed"] == 1 and rnd["unplaced"] == 1 and rnd["metrics"]["unplaced_reasons"] == {"no_window": 1}
    got = client.get(f"{API}/requests/{rid}", headers=auth(world, "member_a")).json()
    assert got["status"] == "unplaced" and "window" in got["explanation"][0]["message"]
    assert client.get(f"{API}/requests/{ok}", headers=auth(world, "member_a")).json()["status"] == "allocated"
    notes = client.get(f"{API}/notifications", headers=auth(world, "member_a")).json()
    assert notes and "1 placed, 1 not placed" in notes[0]["subject"]
    assert client.get(f"{API}/notifications", headers=auth(world, "member_b")).json() == []
    assert [x["id"] for x in client.get(f"{API}/rounds", headers=auth(world, "admin")).json()] == [rnd["id"]]
    assert client.post(f"{API}/rounds", json={"time_limit": 0}, headers=auth(world, "admin")).status_code == 422


def test_suggestions_are_bookable_and_ranked_by_preference(client, world):
    body = {
        "instrument_id": world.xrd.id,
        "duration_minutes": 120,
        "earliest_start": iso(world.at(0)),
        "deadline": iso(world.at(0) + timedelta(days=1)),
        "preferred_start": iso(world.at(14)),
    }
    rid = client.post(f"{API}/requests", json=body, headers=auth(world, "member_a")).json()["id"]
    book(client, world, who="manager", start=world.at(14), end=world.at(15), service_mode="self_operated")
    r = client.get(f"{API}/requests/{rid}/suggestions", params={"k": 3}, headers=auth(world, "member_a"))
    assert r.status_code == 200, r.text
    slots = r.json()
    assert len(slots) == 3 and slots[0]["start"] == iso(world.at(15))  # nearest free 2 h to 14:00
    assert client.get(f"{API}/requests/{rid}/suggestions", headers=auth(world, "member_b")).status_code == 404
    first = slots[0]
    made = book(
        client,
        world,
        start=datetime.fromisoformat(first["start"]),
        end=datetime.fromisoformat(first["end"]),
        request_id=rid,
    )
    assert made.status_code == 201, made.text
    assert client.get(f"{API}/requests/{rid}", headers=auth(world, "member_a")).json()["status"] == "booked"


def test_booking_the_same_slot_twice_is_a_plain_conflict(client, world):
    assert book(client, world).status_code == 201
    again = book(client, world, who="member_b")
    assert again.status_code == 409 and "collides with another booking" in again.json()["detail"]
