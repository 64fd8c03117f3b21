"""When the database refuses an overlapping write, the answer is a Conflict and the session
stays usable (no half-failed flush left behind)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from instruments.errors import Conflict
from scheduler.booking.bookings import Booking, flush_or_conflict, write_new
from tests.world import raw_booking


def test_refused_insert_is_a_conflict_and_the_session_goes_on(db, world):
    w = world
    with db.session() as s:
        first = raw_booking(w, w.at(9), w.at(11))
        s.add(first)
        s.commit()
        late = raw_booking(w, w.at(10), w.at(12))
        with pytest.raises(Conflict) as err:
            flush_or_conflict(s, late, actor=w.admin)
        assert err.value.extra["conflicts"][0]["booking"] == first.id
        assert late not in s
        s.add(raw_booking(w, w.at(14), w.at(15)))
        s.commit()
        assert len(s.exec(select(Booking)).all()) == 2


def test_refused_insert_without_a_savepoint_is_the_same_conflict_and_ends_the_transaction(db, world):
    w = world
    with db.session() as s:
        first = raw_booking(w, w.at(9), w.at(11))
        s.add(first)
        s.commit()
        s.add(raw_booking(w, w.at(14), w.at(15)))  # pending: flushed before the write, rolled back with it
        late = raw_booking(w, w.at(10), w.at(12))
        with pytest.raises(Conflict) as err:
            write_new(s, late, [], actor=w.admin, savepoint=False)
        assert err.value.extra["conflicts"][0]["booking"] == first.id and first.id in err.value.detail
        s.rollback()
        assert [b.id for b in s.exec(select(Booking)).all()] == [first.id]


def test_refused_move_is_a_conflict_and_the_booking_keeps_its_time(db, world):
    w = world
    with db.session() as s:
        a, b = raw_booking(w, w.at(9), w.at(10)), raw_booking(w, w.at(10), w.at(11))
        s.add_all([a, b])
        s.commit()
        with pytest.raises(Conflict):
            flush_or_conflict(s, b, {"start": w.at(9, 30), "blocked_start": w.at(9, 30)})
        assert b.start == w.at(10)
        s.commit()
