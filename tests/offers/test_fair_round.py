"""A round with the fairness option: no enterprise gets more than its share of contested time."""

from __future__ import annotations

from sqlmodel import col, select

from scheduler.allocation.rounds import run_round
from scheduler.booking.booking_requests import BookingRequest, RequestStatus
from scheduler.booking.bookings import Booking
from tests.booking_api.conftest import auth

from .helpers import now_of, waiting


def test_a_round_with_a_share_limit_leaves_room_for_the_other_enterprise(db, session, w):
    a = [waiting(session, w, w.member_a, priority=9) for _ in range(3)]
    b = waiting(session, w, w.member_b, priority=0)
    session.commit()
    # 09:00–17:00 holds four two-hour requests; A's three alone would be 100 % of the contested time
    rnd = run_round(db.engine, w.admin, now=now_of(w), time_limit=5, workers=1, deterministic_time=2.0,
                    max_share_bp=6000)
    assert rnd.metrics["max_share_bp"] == 6000
    session.expire_all()
    placed = {r.id for r in session.exec(select(BookingRequest).where(BookingRequest.status == RequestStatus.allocated))}
    assert b.id in placed
    held = {e: 0 for e in (w.ent_a.id, w.ent_b.id)}
    for bk in session.exec(select(Booking).where(col(Booking.request_id).in_([r.id for r in [*a, b]]))):
        held[bk.enterprise_id] += bk.minutes
    assert 10000 * held[w.ent_a.id] <= 6000 * sum(held.values()) and held[w.ent_a.id] > 0


def test_the_round_api_takes_the_option_and_bounds_it(db, session, w, app):
    from fastapi.testclient import TestClient

    client = TestClient(app)
    bad = client.post("/api/v1/rounds", json={"max_share_bp": 0, "time_limit": 1}, headers=auth(w, "admin"))
    assert bad.status_code == 422
    got = client.post("/api/v1/rounds", json={"max_share_bp": 5000, "time_limit": 1, "workers": 1},
                      headers=auth(w, "admin"))
    assert got.status_code == 201 and got.json()["metrics"]["max_share_bp"] == 5000
