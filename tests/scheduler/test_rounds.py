"""Allocation rounds: place open requests, explain the rest, atomically, never moving bookings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from instruments.actor import SYSTEM
from scheduler import booking_actions as actions
from scheduler.allocation import rounds as rounds_mod
from scheduler.allocation.rounds import AllocationRound, run_round
from scheduler.booking.booking_requests import BookingRequest, RequestStatus, submit_request
from scheduler.booking.bookings import Booking, BookingStatus
from scheduler.jobs import make_scheduler, run_scheduled_round
from scheduler.shared.notifications import Notification

FAST = {"time_limit": 5, "workers": 1, "deterministic_time": 2.0}


def request(session, w, actor, hours: int, day_offset: int = 0, deadline_days: int = 1, **kw) -> BookingRequest:
    start = w.at(0) + timedelta(days=day_offset)
    req = BookingRequest(
        enterprise_id=actor.enterprise_id,
        instrument_id=w.xrd.id,
        duration_minutes=60 * hours,
        earliest_start=start,
        deadline=start + timedelta(days=deadline_days),
        **kw,
    )
    return submit_request(session, actor, req)


def test_round_places_what_fits_and_explains_the_rest(db, session, world):
    w = world
    a = request(session, w, w.member_a, 3)
    b = request(session, w, w.member_b, 3)
    c = request(session, w, w.member_a, 3)  # one day has room for two 3-h blocks (08:30–12:00, 13:30–17:30)
    session.commit()
    rnd = run_round(db.engine, SYSTEM, now=w.at(8) - timedelta(days=2), **FAST)
    assert (rnd.requests_considered, rnd.placed, rnd.unplaced) == (3, 2, 1)
    assert rnd.upper_bound is not None and rnd.objective <= rnd.upper_bound
    with db.session() as s:
        reqs = {r.id: r for r in s.exec(select(BookingRequest)).all()}
        statuses = sorted(str(reqs[x.id].status) for x in (a, b, c))
        assert statuses == ["allocated", "allocated", "unplaced"]
        loser = next(r for r in reqs.values() if r.status == RequestStatus.unplaced)
        assert loser.explanation[0]["code"] == "capacity_taken"
        placed_ids = {r.id for r in reqs.values() if r.status == RequestStatus.allocated}
        assert set(loser.explanation[0]["requests"]) <= placed_ids and loser.explanation[0]["requests"]
        bookings = s.exec(select(Booking)).all()
        assert {bk.request_id for bk in bookings} == placed_ids
        assert all(bk.status == BookingStatus.tentative and bk.source == "round" for bk in bookings)
        assert all(bk.operator_id for bk in bookings)  # operator_run requests got an operator
        assert s.exec(select(Notification).where(col(Notification.enterprise_id).is_not(None))).all()
        assert s.get(AllocationRound, rnd.id).inputs_digest == rnd.inputs_digest != ""


def test_no_window_is_explained(db, session, world):
    w = world
    r = request(session, w, w.member_a, 5)  # 5 h never fits in one opening period
    session.commit()
    run_round(db.engine, SYSTEM, now=w.at(8) - timedelta(days=2), **FAST)
    with db.session() as s:
        got = s.get(BookingRequest, r.id)
        assert got.status == RequestStatus.unplaced and got.explanation[0]["code"] == "no_window"


def test_round_never_moves_confirmed_bookings(db, session, world):
    w = world
    now = w.at(8) - timedelta(days=2)
    fixed = actions.book(
        session, w.manager, actions.BookingInput(w.xrd.id, w.at(9), w.at(11), "self_operated"), now=now
    )
    before = (fixed.start, fixed.end, fixed.status)
    request(session, w, w.member_a, 3)
    request(session, w, w.member_b, 3)
    session.commit()
    rnd = run_round(db.engine, SYSTEM, now=now, **FAST)
    assert rnd.placed == 1  # the morning is no longer long enough for 3 h
    with db.session() as s:
        again = s.get(Booking, fixed.id)
        assert (again.start, again.end, again.status) == before
        new = s.exec(select(Booking).where(Booking.source == "round")).one()
        assert new.start >= w.at(13, 30)


def test_a_round_that_fails_half_way_leaves_the_database_as_it_was(db, session, world, monkeypatch):
    w = world
    request(session, w, w.member_a, 2)
    request(session, w, w.member_b, 2)
    session.commit()

    def boom(*args, **kwargs):
        raise RuntimeError("mail server down")

    monkeypatch.setattr(rounds_mod, "_notify", boom)
    with pytest.raises(RuntimeError):
        run_round(db.engine, SYSTEM, now=w.at(8) - timedelta(days=2), **FAST)
    with db.session() as s:
        assert s.exec(select(Booking)).all() == []
        assert s.exec(select(AllocationRound)).all() == []
        assert {str(r.status) for r in s.exec(select(BookingRequest)).all()} == {"pending"}


def test_a_slot_taken_during_the_solve_is_explained_not_double_booked(db, session, world, monkeypatch):
    w = world
    r = request(session, w, w.member_a, 3)
    session.commit()
    now = w.at(8) - timedelta(days=2)
    real_solve = rounds_mod.solver.solve

    def solve_then_someone_books(problem, **kw):
        alloc = real_solve(problem, **kw)
        assert alloc.placements
        with db.session() as s:  # meanwhile the lab books the whole day, whatever slot the round chose
            for lo, hi in ((w.at(8, 30), w.at(12)), (w.at(13, 30), w.at(17, 30))):
                actions.book(s, w.manager, actions.BookingInput(w.xrd.id, lo, hi, "self_operated"), now=now)
            s.commit()
        return alloc

    monkeypatch.setattr(rounds_mod.solver, "solve", solve_then_someone_books)
    rnd = run_round(db.engine, SYSTEM, now=now, **FAST)
    assert rnd.placed == 0
    with db.session() as s:
        got = s.get(BookingRequest, r.id)
        assert got.status == RequestStatus.unplaced and got.explanation[0]["code"] == "capacity_taken"
        assert len(s.exec(select(Booking)).all()) == 2


def test_job_store_persists_one_job_and_the_job_runs_a_round(db, session, world, tmp_path):
    w = world
    request(session, w, w.member_a, 2)
    session.commit()
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    seen = []
    for _ in range(2):  # a restart re-registers the same jobs, never a second copy
        sched = make_scheduler(url, cron="0 18 * * *")
        sched.start(paused=True)
        jobs = {j.id: j for j in sched.get_jobs()}
        seen.append(sorted(jobs))
        assert jobs["allocation_round"].next_run_time.hour == 18
        sched.shutdown(wait=False)
    assert seen[0] == seen[1] and "allocation_round" in seen[0]
    round_id = run_scheduled_round(db.url, time_limit=3)
    with db.session() as s:
        assert s.get(AllocationRound, round_id).placed == 1
    assert run_scheduled_round(db.url, time_limit=3) != round_id  # safe to run twice: nothing left to place


def test_round_respects_a_lab_filled_by_existing_bookings(db, session, world):
    from fixtures import factories

    w = world
    now = w.at(8) - timedelta(days=2)
    room = factories.lab(session, factories.unit(session, "Bench Unit"), "One-bench lab", capacity=1)
    for inst in (w.xrd, w.sem):
        inst.lab_id = room.id
        session.add(inst)
    actions.book(session, w.manager, actions.BookingInput(w.sem.id, w.at(8, 30), w.at(12), "self_operated"), now=now)
    r = request(session, w, w.member_a, 3)
    session.commit()
    rnd = run_round(db.engine, SYSTEM, now=now, **FAST)
    assert rnd.placed == 1
    with db.session() as s:
        placed = s.exec(select(Booking).where(Booking.request_id == r.id)).one()
        assert placed.start >= w.at(13, 30)  # the morning's bench is taken


def test_a_valid_voucher_raises_the_weight_of_its_holders_requests(db, session, world):
    """Of requests that want a voucher, those a voucher can pay for weigh more."""
    from fixtures.voucher_presets import PRESETS
    from scheduler.allocation.round_problem import build_round_input
    from scheduler.money import vouchers as v

    w = world
    now = w.at(8) - timedelta(days=2)
    a = request(session, w, w.member_a, 3, funding="any_voucher")
    b = request(session, w, w.member_b, 3, funding="any_voucher")
    session.commit()
    before = {r.id: r.weight for r in build_round_input(session, now).problem.requests}
    prog = v.create_programme(
        session, w.admin,
        v.VoucherProgramme(name="2026 创新券", year=2026, total_budget_fen=10_000_000,
                           rules=PRESETS["shandong_jinan"].model_dump(mode="json")),
    )
    vch = v.issue_voucher(session, w.admin, prog.id, w.ent_b.id, "testing", 100_000)
    session.commit()
    after = {r.id: r.weight for r in build_round_input(session, now).problem.requests}
    assert after[b.id] == before[b.id] + 1 and after[a.id] == before[a.id]  # voucher_bonus 1.0
    vch.expires_at = a.earliest_start - timedelta(hours=1)  # expired before the request can start
    session.add(vch)
    session.commit()
    assert {r.id: r.weight for r in build_round_input(session, now).problem.requests} == before


def test_a_suspended_enterprises_request_holds_no_time_and_is_explained(db, session, world):
    """The solver is not given a request the write would refuse (its enterprise may not book at
    the round's time): the time it would have taken goes to another request."""
    w = world
    now = w.at(8) - timedelta(days=2)
    suspended = request(session, w, w.member_a, 3, priority=5)
    others = [request(session, w, w.member_b, 3) for _ in range(2)]  # the day holds two 3-h blocks
    w.ent_a.booking_suspended_until = now + timedelta(days=30)
    session.add(w.ent_a)
    session.commit()
    rnd = run_round(db.engine, SYSTEM, now=now, **FAST)
    assert (rnd.requests_considered, rnd.placed, rnd.unplaced) == (3, 2, 1)
    assert rnd.metrics["unplaced_reasons"] == {"enterprise_suspended": 1}
    with db.session() as s:
        got = s.get(BookingRequest, suspended.id)
        assert got.status == RequestStatus.unplaced
        (why,) = got.explanation
        assert why["code"] == "enterprise_suspended" and w.ent_a.name in why["message"]
        assert {s.get(BookingRequest, r.id).status for r in others} == {RequestStatus.allocated}
