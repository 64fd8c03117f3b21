"""Shared resources behind one instrument (the lab's capacity, the operators) are refereed by the
database: parallel bookings of different instruments never over-fill a lab or double-book an
operator."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from fixtures import factories
from scheduler.booking.bookings import LIVE, Booking
from tests.booking_api.conftest import auth

from .burst import http_burst, statuses


def _one_lab(session, w, capacity: int = 1):  # noqa: ANN001, ANN202
    """xrd and sem in one lab of ``capacity``; they already share operator Zhang."""
    from instruments.units import OwnerUnit

    unit = session.get(OwnerUnit, w.xrd.owner_unit_id)
    lab = factories.lab(session, unit, "Shared lab", capacity=capacity)
    for inst in (w.xrd, w.sem):
        inst.lab_id = lab.id
        session.add(inst)
    session.commit()
    return lab


def _live(session) -> list[Booking]:  # noqa: ANN001
    session.expire_all()
    return list(session.exec(select(Booking).where(col(Booking.status).in_(LIVE))).all())


def test_parallel_bookings_of_a_full_lab_leave_one(db, world, session, app):
    w = world
    _one_lab(session, w)
    start = w.at(9)

    def post(client, i):  # noqa: ANN001, ANN202
        inst = (w.xrd, w.sem)[i % 2]
        who = ("member_a", "member_b")[(i // 2) % 2]
        body = {
            "instrument_id": inst.id,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "service_mode": "operator_run",
        }
        return client.post("/api/v1/bookings", json=body, headers=auth(w, who))

    answers = http_burst(app, post)
    got = statuses(answers)
    assert got[201] == 1, got
    assert set(got) <= {201, 409, 422}, [r.json() for r in answers if r.status_code >= 500]
    assert len(_live(session)) == 1


def test_parallel_bookings_sharing_one_operator_leave_one(db, world, session, app):
    """No lab in common: only operator Zhang is shared, and he runs one booking at a time."""
    w = world
    start = w.at(14)

    def post(client, i):  # noqa: ANN001, ANN202
        inst = (w.xrd, w.sem)[i % 2]
        body = {
            "instrument_id": inst.id,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "service_mode": "operator_run",
        }
        return client.post("/api/v1/bookings", json=body, headers=auth(w, ("member_a", "member_b")[(i // 2) % 2]))

    answers = http_burst(app, post)
    got = statuses(answers)
    assert got[201] == 1, got
    assert set(got) <= {201, 409, 422}, got
    live = _live(session)
    assert len(live) == 1 and live[0].operator_id is not None


def _staff_booking(client, w, inst, start, hours: int = 1) -> str:  # noqa: ANN001
    body = {
        "instrument_id": inst.id,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "service_mode": "operator_run",
        "enterprise_id": w.ent_a.id,
    }
    r = client.post("/api/v1/bookings", json=body, headers=auth(w, "manager"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_parallel_moves_into_one_slot_of_a_full_lab_leave_one_there(db, world, session, app):
    w = world
    _one_lab(session, w)
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        first = _staff_booking(c, w, w.xrd, w.at(8, 30))
        second = _staff_booking(c, w, w.sem, w.at(14))
    target = w.at(10, 30)

    def move(client, i):  # noqa: ANN001, ANN202
        body = {"start": target.isoformat(), "end": (target + timedelta(hours=1)).isoformat()}
        return client.post(f"/api/v1/bookings/{(first, second)[i % 2]}/move", json=body, headers=auth(w, "manager"))

    got = statuses(http_burst(app, move))
    assert set(got) <= {200, 409, 422} and got[200] >= 1, got
    live = _live(session)
    assert len(live) == 2
    at_target = [b for b in live if b.start == target]
    assert len(at_target) == 1  # the lab holds one booking at a time: only one of the two moved there


def test_parallel_confirm_and_cancel_never_revive_a_cancelled_booking(db, world, session, app):
    w = world
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        body = {
            "instrument_id": w.xrd.id,
            "start": w.at(9).isoformat(),
            "end": w.at(10).isoformat(),
            "service_mode": "operator_run",
        }
        r = c.post("/api/v1/bookings", json=body, headers=auth(w, "member_a"))
        assert r.status_code == 201 and r.json()["status"] == "tentative", r.text
        bid = r.json()["id"]

    def act(client, i):  # noqa: ANN001, ANN202
        verb = ("confirm", "cancel")[i % 2]
        return verb, client.post(f"/api/v1/bookings/{bid}/{verb}", headers=auth(w, "manager"))

    answers = http_burst(app, act)
    assert {r.status_code for _, r in answers} <= {200, 409}, [r.text for _, r in answers if r.status_code >= 500]
    assert sum(1 for v, r in answers if v == "cancel" and r.status_code == 200) == 1
    session.expire_all()
    assert session.get(Booking, bid).status == "cancelled"  # whatever the order, cancel wins last
