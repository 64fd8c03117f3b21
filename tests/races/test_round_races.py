"""Allocation rounds never overlap: while one runs, another is refused with 409 (problem+json),
so requests are placed once and nobody is told their slot collides with their own booking."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlmodel import col, func, select

import solver
from instruments import run_lock
from instruments.actor import SYSTEM
from scheduler.allocation.rounds import ROUND_LOCK, AllocationRound, run_round
from scheduler.booking.booking_requests import BookingRequest, RequestStatus, submit_request
from scheduler.booking.bookings import Booking
from scheduler.jobs import run_scheduled_round
from scheduler.shared.notifications import Notification
from tests.booking_api.conftest import auth

from .burst import CLIENTS, http_burst, statuses


def _requests(session, w, n: int = 3) -> list[BookingRequest]:  # noqa: ANN001
    out = []
    for i in range(n):
        actor = (w.member_a, w.member_b)[i % 2]
        start = w.at(0)
        req = BookingRequest(
            enterprise_id=actor.enterprise_id,
            instrument_id=w.xrd.id,
            duration_minutes=180,
            earliest_start=start,
            deadline=start + timedelta(days=1),
        )
        out.append(submit_request(session, actor, req))
    session.commit()
    return out


def test_parallel_rounds_run_one_and_refuse_the_others(db, world, session, app, monkeypatch):
    w = world
    _requests(session, w)
    answered = [0]
    cond = threading.Condition()
    real_solve = solver.solve

    def solve_once_the_others_answered(*args, **kwargs):  # noqa: ANN202
        # hold the running round until every other client has its answer (bounded): any client
        # that got in would be solving too, and the test would see more than one round
        with cond:
            cond.wait_for(lambda: answered[0] >= CLIENTS - 1, timeout=30)
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(solver, "solve", solve_once_the_others_answered)

    def post(client, i):  # noqa: ANN001, ANN202
        r = client.post("/api/v1/rounds", json={"time_limit": 5, "workers": 1}, headers=auth(w, "admin"))
        with cond:
            answered[0] += 1
            cond.notify_all()
        return r

    answers = http_burst(app, post)
    assert statuses(answers) == {201: 1, 409: CLIENTS - 1}, statuses(answers)
    refusal = next(r for r in answers if r.status_code == 409)
    assert refusal.headers["content-type"] == "application/problem+json"
    assert "already running" in refusal.json()["detail"]
    session.expire_all()
    rounds = session.exec(select(AllocationRound)).all()
    assert len(rounds) == 1 and rounds[0].placed == 2
    assert session.exec(select(func.count()).select_from(Booking)).one() == 2
    assert not session.exec(select(Notification).where(col(Notification.body).contains("collide"))).all()
    assert session.get(run_lock.RunLock, ROUND_LOCK) is None  # released after the round


def test_a_round_after_a_round_runs(db, world, session):
    w = world
    _requests(session, w, 1)
    now = w.at(8) - timedelta(days=2)
    fast = {"time_limit": 5, "workers": 1, "deterministic_time": 2.0}
    assert run_round(db.engine, SYSTEM, now=now, **fast).placed == 1
    assert run_round(db.engine, SYSTEM, now=now, **fast).requests_considered == 0


def test_the_round_job_skips_while_a_round_runs(db, world, session):
    w = world
    (req,) = _requests(session, w, 1)
    token = run_lock.acquire(db.engine, ROUND_LOCK, "someone", timedelta(minutes=5))
    try:
        assert run_scheduled_round(db.url, time_limit=2) == ""
    finally:
        run_lock.release(db.engine, ROUND_LOCK, token)
    session.expire_all()
    assert session.get(BookingRequest, req.id).status == RequestStatus.pending


def test_a_lock_left_by_a_crashed_round_expires(db):
    gone = run_lock.acquire(db.engine, ROUND_LOCK, "crashed", timedelta(seconds=-1))  # already expired
    token = run_lock.acquire(db.engine, ROUND_LOCK, "next", timedelta(minutes=5))
    assert token != gone
    run_lock.release(db.engine, ROUND_LOCK, gone)  # the crashed holder's late release frees nothing
    with db.session() as s:  # a short read: on SQLite an open transaction holds the write lock
        assert s.get(run_lock.RunLock, ROUND_LOCK).holder == "next"
    run_lock.release(db.engine, ROUND_LOCK, token)
