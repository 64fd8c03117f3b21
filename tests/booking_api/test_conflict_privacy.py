"""A 409 on a taken slot shows when the slot is taken; it names a booking (id) only to those who
may read that booking (its enterprise, staff of the owning unit, programme admins), never
another enterprise's booking or name."""

from __future__ import annotations

import pytest

from instruments.errors import Conflict
from scheduler.booking.bookings import flush_or_conflict
from tests.booking_api.conftest import auth
from tests.world import raw_booking

API = "/api/v1"


def _book(client, w, who: str, hh: int, **extra):
    body = {
        "instrument_id": w.xrd.id,
        "start": w.at(hh).isoformat(),
        "end": w.at(hh + 2).isoformat(),
        "service_mode": "operator_run",
        **extra,
    }
    return client.post(f"{API}/bookings", json=body, headers=auth(w, who))


def test_a_conflict_with_another_enterprises_booking_shows_only_the_time(client, world):
    w = world
    theirs = _book(client, w, "member_a", 9).json()
    r = _book(client, w, "member_b", 10)
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["conflicts"] == [{"start": theirs["start"], "end": theirs["end"], "yours": False}]
    assert theirs["id"] not in r.text and w.ent_a.name not in r.text
    assert "09:00–11:00" in problem["detail"]


def test_own_and_staff_conflicts_name_the_booking(client, world):
    w = world
    mine = _book(client, w, "member_a", 9).json()
    r = _book(client, w, "member_a", 10)
    assert r.status_code == 409
    assert r.json()["conflicts"] == [{"booking": mine["id"], "start": mine["start"], "end": mine["end"], "yours": True}]
    assert mine["id"] in r.json()["detail"]
    staff = _book(client, w, "manager", 10, service_mode="self_operated")
    assert staff.status_code == 409 and staff.json()["conflicts"][0]["booking"] == mine["id"]
    other_unit = client.post(  # another unit's manager cannot book here at all: no conflict details either
        f"{API}/bookings",
        json={
            "instrument_id": w.xrd.id,
            "start": w.at(10).isoformat(),
            "end": w.at(11).isoformat(),
            "service_mode": "self_operated",
        },
        headers=auth(w, "other_manager"),
    )
    assert other_unit.status_code == 403 and mine["id"] not in other_unit.text



def test_a_write_the_database_refuses_names_the_other_booking_only_to_who_may_see_it(db, world):
    w = world
    with db.session() as s:
        first = raw_booking(w, w.at(9), w.at(11), w.ent_a.id)
        s.add(first)
        s.commit()
        with pytest.raises(Conflict) as err:
            flush_or_conflict(s, raw_booking(w, w.at(10), w.at(12), w.ent_b.id), actor=w.member_b)
        assert first.id not in str(err.value.detail) and first.id not in repr(err.value.extra)
        assert err.value.extra["conflicts"] == [
            {"start": w.at(9).isoformat(), "end": w.at(11).isoformat(), "yours": False}
        ]
        with pytest.raises(Conflict) as err:
            flush_or_conflict(s, raw_booking(w, w.at(10), w.at(12), w.ent_a.id), actor=w.member_a)
        assert err.value.extra["conflicts"][0]["booking"] == first.id and first.id in err.value.detail
