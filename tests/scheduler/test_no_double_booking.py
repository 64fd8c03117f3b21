"""No two live bookings of one instrument overlap: checked by rules, and refused by the database
itself (PostgreSQL exclusion constraint; SQLite trigger on a serialised write path)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from instruments.errors import DomainError
from scheduler import booking_actions as actions
from scheduler.booking.bookings import LIVE, Booking, BookingStatus


def live_overlaps(session: Session) -> list[tuple[str, str]]:
    rows = session.exec(select(Booking).where(col(Booking.status).in_(LIVE))).all()
    bad = []
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if (
                a.instrument_id == b.instrument_id
                and a.blocked_start < b.blocked_end
                and b.blocked_start < a.blocked_end
            ):
                bad.append((a.id, b.id))
    return bad


op = st.one_of(
    st.tuples(st.just("book"), st.integers(0, 2), st.integers(0, 17), st.integers(1, 6), st.booleans()),
    st.tuples(st.just("move"), st.integers(0, 50), st.integers(0, 17), st.integers(1, 6), st.booleans()),
    st.tuples(st.just("cancel"), st.integers(0, 50), st.just(0), st.just(0), st.booleans()),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=12))
def test_random_book_move_cancel_never_double_books(db, world, ops):
    w = world
    now = w.at(8) - timedelta(days=2)
    actors = [w.member_a, w.member_b, w.manager]
    with db.session() as s:
        for table in ("time_offer", "freed_time", "booking"):  # freed time and its offers name bookings
            s.exec(text(f"DELETE FROM {table}"))
        s.commit()
        ids: list[str] = []
        for kind, who, slot, length, use_sem in ops:
            inst = w.sem if use_sem else w.xrd
            start = w.at(8, 30) + timedelta(minutes=30 * slot)
            end = start + timedelta(minutes=30 * length)
            try:
                if kind == "book":
                    b = actions.book(
                        s,
                        actors[who],
                        actions.BookingInput(inst.id, start, end, "self_operated" if who == 2 else "operator_run"),
                        now=now,
                    )
                    ids.append(b.id)
                elif kind == "move" and ids:
                    actions.move(s, w.manager, ids[who % len(ids)], start, end, now=now)
                elif kind == "cancel" and ids:
                    actions.cancel(s, w.manager, ids[who % len(ids)], now=now)
                s.commit()
            except DomainError:
                s.rollback()
        assert live_overlaps(s) == []


def _raw_booking(w, start, end, status=BookingStatus.confirmed) -> Booking:
    return Booking(
        instrument_id=w.xrd.id,
        service_mode="self_operated",
        start=start,
        end=end,
        blocked_start=start,
        blocked_end=end,
        status=status,
    )


def test_database_refuses_an_overlapping_insert_that_skips_the_rules(db, world):
    w = world
    with db.session() as s:
        s.add(_raw_booking(w, w.at(9), w.at(11)))
        s.commit()
        s.add(_raw_booking(w, w.at(10), w.at(12)))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        # touching intervals are fine (half-open), and cancelled bookings hold no time
        s.add(_raw_booking(w, w.at(11), w.at(12)))
        s.add(_raw_booking(w, w.at(9), w.at(10), status=BookingStatus.cancelled))
        s.commit()


def test_database_refuses_an_update_into_overlap(db, world):
    w = world
    with db.session() as s:
        a, b = _raw_booking(w, w.at(9), w.at(10)), _raw_booking(w, w.at(10), w.at(11))
        s.add_all([a, b])
        s.commit()
        b.start, b.blocked_start = w.at(9, 30), w.at(9, 30)
        s.add(b)
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        # reviving a cancelled booking into taken time is refused too
        c = _raw_booking(w, w.at(9), w.at(10), status=BookingStatus.cancelled)
        s.add(c)
        s.commit()
        c.status = BookingStatus.confirmed
        s.add(c)
        with pytest.raises(IntegrityError):
            s.commit()


def _race(db, world, clients: int, attempt) -> tuple[list, list]:
    barrier = threading.Barrier(clients)
    wins, losses = [], []
    lock = threading.Lock()

    def run(i: int) -> None:
        with db.session() as s:
            barrier.wait()
            try:
                result = attempt(s, i)
                s.commit()
                with lock:
                    wins.append((i, result))
            except (DomainError, IntegrityError) as exc:
                s.rollback()
                with lock:
                    losses.append((i, exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return wins, losses


SLOTS = [(9, 0), (10, 30), (14, 0), (15, 30)]


def test_twenty_concurrent_clients_one_winner_per_slot(db, world):
    """20 clients book through the service at once; each of 4 slots is wanted by 5 of them, at
    start times shifted by 0 or 30 min so that every pair wanting one slot overlaps."""
    w = world
    now = w.at(8) - timedelta(days=2)

    def attempt(s: Session, i: int) -> int:
        hh, mm = SLOTS[i % 4]
        start = w.at(hh, mm) + timedelta(minutes=30 * (i // 4 % 2))
        actions.book(
            s, w.manager, actions.BookingInput(w.xrd.id, start, start + timedelta(hours=1), "self_operated"), now=now
        )
        return i % 4

    wins, losses = _race(db, world, 20, attempt)
    assert sorted(slot for _, slot in wins) == [0, 1, 2, 3]
    assert len(losses) == 16
    assert all(isinstance(e, DomainError) and e.status == 409 for _, e in losses)
    with db.session() as s:
        assert live_overlaps(s) == []


def test_twenty_concurrent_raw_inserts_the_database_alone_decides(db, world):
    """Bypass every Python check and lock: the exclusion constraint / trigger picks one winner."""
    w = world

    def attempt(s: Session, i: int) -> int:
        start = w.at(9) + timedelta(minutes=30 * (i % 2))
        s.add(_raw_booking(w, start, start + timedelta(hours=1)))
        s.flush()
        return i

    wins, losses = _race(db, world, 20, attempt)
    assert len(wins) == 1 and len(losses) == 19
    with db.session() as s:
        assert live_overlaps(s) == []
