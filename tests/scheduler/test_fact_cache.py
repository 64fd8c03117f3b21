"""The worker's cache of opening rules, exceptions and calendar overrides (``instruments.fact_cache``)
is never stale: a change committed by another worker (another engine and session, the same
database), through the catalogue's service or the calendar API, is seen by the very next booking;
a transaction sees its own uncommitted change; without a version row nothing is cached."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, delete, event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from instruments import catalogue, fact_cache
from instruments.availability import AvailabilityException, ExceptionKind, OpeningRule
from instruments.errors import PolicyViolation
from scheduler import booking_actions as actions
from tests.booking_api.conftest import auth
from tests.world import next_workday


def _book(session: Session, w, start, end):  # noqa: ANN001, ANN202
    b = actions.book(session, w.manager, actions.BookingInput(w.xrd.id, start, end, "operator_run"))
    session.commit()
    return b


def _refusals(session: Session, w, start, end) -> set[str]:  # noqa: ANN001
    with pytest.raises(PolicyViolation) as err:
        actions.book(session, w.manager, actions.BookingInput(w.xrd.id, start, end, "operator_run"))
    session.rollback()
    return {v.code for v in err.value.violations}


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


@pytest.fixture
def worker2(db) -> Iterator[Session]:  # noqa: ANN001
    """Another worker's session: an engine of its own on the same database."""
    engine = create_engine(db.url)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


def _closure(w, day, lo: int, hi: int) -> AvailabilityException:  # noqa: ANN001
    return AvailabilityException(
        instrument_id=w.xrd.id,
        kind=ExceptionKind.closed,
        start=w.at(lo, day=day),
        end=w.at(hi, day=day),
        reason="maintenance",
    )


def test_a_closure_another_worker_adds_refuses_the_next_booking_and_its_removal_allows_it(session, world, worker2, db):
    w = world
    fact_cache.bump(session, [w.xrd.id], calendar=True)  # as migration 0018 seeds them (the suite empties tables)
    session.commit()
    d = w.day
    _book(session, w, w.at(9, day=d), w.at(10, day=d))  # fills the cache
    with statements(db.engine) as seen:
        _book(session, w, w.at(10, day=d), w.at(11, day=d))
    assert not [s for s in seen if "opening_rule" in s or "availability_exception" in s or "calendar_override" in s]

    inst2 = worker2.get(type(w.xrd), w.xrd.id)
    exc = catalogue.add_exception(worker2, w.manager, inst2, _closure(w, d, 13, 17))
    worker2.commit()
    assert "outside_opening_hours" in _refusals(session, w, w.at(14, day=d), w.at(15, day=d))

    catalogue.remove_exception(worker2, w.manager, inst2, exc.id)
    worker2.commit()
    assert _book(session, w, w.at(14, day=d), w.at(15, day=d)).id


def test_a_closure_changed_after_its_session_expired_it_refuses_the_next_booking(session, world, db):
    w = world
    fact_cache.bump(session, [w.xrd.id], calendar=True)
    session.commit()
    d = next_workday(w.day, 7)
    with Session(db.engine) as writer:  # expires its rows on commit
        exc = _closure(w, d, 16, 17)
        writer.add(exc)
        writer.commit()
        _book(session, w, w.at(9, day=d), w.at(10, day=d))  # fills the cache with the short closure
        exc.start = w.at(13, day=d)  # set on an expired row: its instrument id is not loaded
        writer.commit()
    assert "outside_opening_hours" in _refusals(session, w, w.at(14, day=d), w.at(15, day=d))


def test_a_closure_another_worker_edits_is_seen_by_the_next_booking(session, world, worker2):
    w = world
    fact_cache.bump(session, [w.xrd.id], calendar=True)
    session.commit()
    d = next_workday(w.day, 7)
    inst2 = worker2.get(type(w.xrd), w.xrd.id)
    exc = catalogue.add_exception(worker2, w.manager, inst2, _closure(w, d, 16, 17))
    worker2.commit()
    _book(session, w, w.at(9, day=d), w.at(10, day=d))  # fills the cache with the short closure
    catalogue.update_exception(worker2, w.manager, inst2, exc.id, {"start": w.at(13, day=d)})
    worker2.commit()
    assert "outside_opening_hours" in _refusals(session, w, w.at(14, day=d), w.at(15, day=d))
    catalogue.update_exception(worker2, w.manager, inst2, exc.id, {"start": w.at(15, day=d)})  # and back, shorter
    worker2.commit()
    assert _book(session, w, w.at(14, day=d), w.at(15, day=d)).id


def test_an_opening_rule_removed_by_another_worker_closes_the_instrument(session, world, worker2):
    w = world
    fact_cache.bump(session, [w.xrd.id], calendar=True)
    session.commit()
    d = next_workday(w.day, 7)
    _book(session, w, w.at(9, day=d), w.at(10, day=d))
    inst2 = worker2.get(type(w.xrd), w.xrd.id)
    for rule in worker2.exec(select(OpeningRule).where(OpeningRule.instrument_id == w.xrd.id)).all():
        catalogue.remove_opening_rule(worker2, w.manager, inst2, rule.id)
    worker2.commit()
    assert "outside_opening_hours" in _refusals(session, w, w.at(10, day=d), w.at(11, day=d))


def test_a_calendar_closure_put_through_the_api_refuses_the_next_booking(client, session, world):
    w = world
    fact_cache.bump(session, [w.xrd.id], calendar=True)
    session.commit()
    d = next_workday(w.day, 7)
    _book(session, w, w.at(9, day=d), w.at(10, day=d))  # the calendar's facts cached
    put = client.put(
        f"/api/v1/calendar/overrides/{d}",
        json={"day": str(d), "is_workday": False, "name": "停电"},
        headers=auth(w, "admin"),
    )
    assert put.status_code == 200, put.text
    assert "outside_opening_hours" in _refusals(session, w, w.at(10, day=d), w.at(11, day=d))
    assert client.delete(f"/api/v1/calendar/overrides/{d}", headers=auth(w, "admin")).status_code == 204
    assert _book(session, w, w.at(10, day=d), w.at(11, day=d)).id


def test_a_transaction_sees_its_own_closure_before_it_commits(session, world):
    w = world
    fact_cache.bump(session, [w.xrd.id], calendar=True)
    session.commit()
    d = w.day
    actions.book(session, w.manager, actions.BookingInput(w.xrd.id, w.at(9, day=d), w.at(10, day=d), "operator_run"))
    # the same transaction: its lock statement read the tokens and the cache is warm; the closure is
    # pending (not flushed), written straight through the ORM, not through the catalogue
    session.add(_closure(w, d, 13, 17))
    assert "outside_opening_hours" in _refusals(session, w, w.at(14, day=d), w.at(15, day=d))


def test_without_a_version_row_nothing_is_cached_and_the_answer_is_the_same(session, world, db):
    w = world
    session.exec(delete(fact_cache.FactVersion))
    session.commit()
    d = w.day
    _book(session, w, w.at(9, day=d), w.at(10, day=d))
    with statements(db.engine) as seen:
        _book(session, w, w.at(10, day=d), w.at(11, day=d))
    assert [s for s in seen if "FROM opening_rule" in s]  # read from the database, every time
    session.exec(delete(fact_cache.FactVersion))  # the closure's own token removed too
    session.add(_closure(w, d, 13, 17))
    session.commit()
    session.exec(delete(fact_cache.FactVersion))
    session.commit()
    assert "outside_opening_hours" in _refusals(session, w, w.at(14, day=d), w.at(15, day=d))


def test_the_cached_and_the_uncached_answers_agree(session, world):
    """Clear-and-compare: the same attempts, once from a cold cache and once warm, refuse alike."""
    w = world
    fact_cache.bump(session, [w.xrd.id], calendar=True)
    session.commit()
    d = w.day
    catalogue.add_exception(session, w.manager, w.xrd, _closure(w, d, 13, 15))
    session.commit()
    slots = [(h, h + 1) for h in range(7, 19)]

    def answers(cold: bool) -> list[set[str]]:
        out = []
        for lo, hi in slots:
            start = w.at(lo, day=d) + timedelta(days=7)  # a week later: the closure is not there
            if cold:
                fact_cache.clear()
            try:
                actions.book(
                    session, w.manager, actions.BookingInput(w.xrd.id, w.at(lo, day=d), w.at(hi, day=d), "operator_run")
                )
                out.append(set())
            except PolicyViolation as err:
                out.append({v.code for v in err.violations})
            session.rollback()
            try:
                actions.book(
                    session,
                    w.manager,
                    actions.BookingInput(w.xrd.id, start, start + timedelta(hours=1), "operator_run"),
                )
                out.append(set())
            except PolicyViolation as err:
                out.append({v.code for v in err.violations})
            session.rollback()
        return out

    cold = answers(cold=True)
    warm = answers(cold=False)
    assert cold == warm
    assert "outside_opening_hours" in cold[2 * 6] and cold[2 * 2] == set()  # 13:00 closed, 09:00 open
