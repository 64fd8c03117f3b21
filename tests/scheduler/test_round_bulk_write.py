"""The round's bulk writer (``rounds._write``): the rules run for each placement against facts
read once after the locks, and those facts include the round's own earlier placements; the
bookings go in together, and when the database refuses one (its overlap constraint), the others
are still written and the refused one is explained."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

import solver
from instruments.actor import SYSTEM
from instruments.db import session_scope
from scheduler.allocation import rounds as rounds_mod
from scheduler.allocation.round_facts import RoundFacts
from scheduler.allocation.round_problem import build_round_input
from scheduler.booking.booking_requests import BookingRequest, RequestStatus
from scheduler.booking.bookings import Booking
from tests.scheduler.test_rounds import request


def _two_at_nine(db, session, w):
    """Two requests for the XRD and a solver answer placing both at 09:00 (one the checker would
    refuse: the writer must not trust it)."""
    a = request(session, w, w.member_a, 2)
    b = request(session, w, w.member_b, 2)
    session.commit()
    now = w.at(8) - timedelta(days=2)
    with db.session() as s:
        inp = build_round_input(s, now)
        s.commit()
    nine = inp.minutes(w.at(9))
    alloc = solver.Allocation(
        [solver.Placement(a.id, w.xrd.id, nine), solver.Placement(b.id, w.xrd.id, nine)], 2, None, "FEASIBLE"
    )
    return a, b, inp, alloc, now


def _outcome(db, a, b):
    with db.session() as s:
        got = {r.id: r for r in s.exec(select(BookingRequest)).all()}
        return got[a.id], got[b.id], s.exec(select(Booking)).all()


def test_a_placement_colliding_with_an_earlier_one_of_the_round_is_explained(db, session, world):
    w = world
    a, b, inp, alloc, now = _two_at_nine(db, session, w)
    with session_scope(db.engine) as s:
        rnd = rounds_mod._write(s, SYSTEM, inp, alloc, now, now, "test")
    assert (rnd.placed, rnd.unplaced) == (1, 1)
    ra, rb, bookings = _outcome(db, a, b)
    placed, left = (ra, rb) if ra.status == RequestStatus.allocated else (rb, ra)
    assert left.status == RequestStatus.unplaced and left.explanation[0]["code"] == "capacity_taken"
    assert "no longer free" in left.explanation[0]["message"]
    assert [bk.request_id for bk in bookings] == [placed.id]


def test_an_overlap_only_the_database_sees_leaves_the_others_written(db, session, world, monkeypatch):
    """Rules blind to the round's own placements (``RoundFacts.add`` does nothing here): both
    pass, the insert of both together is refused by the database's overlap constraint, and one
    at a time the first goes in and the second is explained as ``capacity_taken``."""
    w = world
    a, b, inp, alloc, now = _two_at_nine(db, session, w)
    monkeypatch.setattr(RoundFacts, "add", lambda self, booking: None)
    with session_scope(db.engine) as s:
        rnd = rounds_mod._write(s, SYSTEM, inp, alloc, now, now, "test")
    assert (rnd.placed, rnd.unplaced) == (1, 1)
    ra, rb, bookings = _outcome(db, a, b)
    placed, left = (ra, rb) if ra.status == RequestStatus.allocated else (rb, ra)
    assert left.status == RequestStatus.unplaced and left.explanation[0]["code"] == "capacity_taken"
    assert "during the round" in left.explanation[0]["message"]
    assert [bk.request_id for bk in bookings] == [placed.id]
    assert rnd.metrics["outcomes"]["placed"] == {placed.id: bookings[0].id}
