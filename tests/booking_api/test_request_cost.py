"""What a request costs the database: listing bookings takes the same statements for 3 rows as for
30 (no query per row; one for the page besides the token lookup), an instant booking the same for the second booking of an instrument as for
the tenth (the first fills the worker's cache of opening facts), and the token lookup stays one
statement that still refuses a disabled account."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from booking_api.accounts import User
from fixtures import factories
from instruments import fact_cache
from instruments.audit import AuditLog
from instruments.db import read_engine_of
from scheduler.shared.notifications import Notification
from scheduler.shared.outbox import OutboxMail
from tests.booking_api.conftest import auth
from tests.world import next_workday, raw_booking

API = "/api/v1"


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent over ``engine`` or its read engine while the block runs."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        seen.append(statement)

    engines = {engine, read_engine_of(engine)}
    for e in engines:
        event.listen(e, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        for e in engines:
            event.remove(e, "before_cursor_execute", note)


def _add_bookings(session, world, first: int, count: int) -> None:  # noqa: ANN001
    for k in range(first, first + count):
        start = world.at(9) + timedelta(days=k)
        session.add(raw_booking(world, start, start + timedelta(hours=1), enterprise_id=world.ent_a.id))
    session.commit()


def _list(client, world, who: str) -> int:  # noqa: ANN001
    r = client.get(f"{API}/bookings", params={"limit": 500}, headers=auth(world, who))
    assert r.status_code == 200, r.text
    return len(r.json())


@pytest.mark.parametrize("who", ["admin", "member_a", "manager"])
def test_listing_bookings_takes_the_same_statements_for_3_rows_as_for_30(client, world, session, db, who):
    _add_bookings(session, world, 0, 3)
    with statements(db.engine) as few:
        assert _list(client, world, who) == 3
    _add_bookings(session, world, 3, 27)
    with statements(db.engine) as many:
        assert _list(client, world, who) == 30
    assert len(many) == len(few), many
    # the token with its user, then one statement for the page: the bookings with their zones and
    # vouchers (SQLite adds its BEGIN and the request's end)
    assert len(many) == (2 if db.backend == "postgresql" else 4), many


def test_pages_of_bookings_sharing_start_times_neither_repeat_nor_skip_one(client, world, session):
    """Bookings of several instruments at the same times: the listing's order breaks ties by id,
    so consecutive pages add up to every booking once, each with its own price split."""
    for k in range(12):
        start = world.at(9) + timedelta(days=k // 3)
        b = raw_booking(world, start, start + timedelta(hours=1), enterprise_id=world.ent_a.id)
        b.instrument_id = (world.xrd, world.sem, world.other)[k % 3].id
        b.price_fen = 100 * k
        session.add(b)
    session.commit()
    seen = []
    for offset in range(0, 12, 5):
        r = client.get(f"{API}/bookings", params={"limit": 5, "offset": offset}, headers=auth(world, "admin"))
        assert r.status_code == 200, r.text
        seen += r.json()
    assert len(seen) == 12 and len({b["id"] for b in seen}) == 12
    assert [b["start"] for b in seen] == sorted(b["start"] for b in seen)
    assert sorted(b["price_split"]["enterprise_fen"] for b in seen) == [100 * k for k in range(12)]
    assert all(b["start"].endswith("+08:00") and b["price_split"]["voucher_fen"] == 0 for b in seen)


def _book(client, world, day: int):  # noqa: ANN001, ANN202
    """Book 09:00–10:00 on the ``day``-th working day a week or more apart (holidays skipped)."""
    d = world.day
    for _ in range(day):
        d = next_workday(d, 7)
    start = world.at(9, day=d)
    body = {"instrument_id": world.xrd.id, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
            "service_mode": "operator_run"}  # fmt: skip
    return client.post(f"{API}/bookings", json=body, headers=auth(world, "manager"))


def test_an_instant_booking_costs_the_same_statements_however_many_bookings_exist(client, world, session, db):
    # a migrated database has the calendar's version token (migration 0018 seeds it); the suite's
    # emptied tables have none until an override is written, and without it nothing is cached
    fact_cache.bump(session, calendar=True)
    session.commit()
    counts = []
    for day in range(4):
        with statements(db.engine) as seen:
            r = _book(client, world, day)
        assert r.status_code == 201, r.text
        counts.append(len(seen))
    # the first booking fills this worker's cache: the instrument's opening rules and exceptions,
    # and the calendar overrides (3 statements); later bookings read them from the cache
    assert counts[0] == counts[1] + 3, counts
    assert len(set(counts[1:])) == 1, counts
    # the token with its user and their mail preference, locks (labs, instruments with the cache's
    # version tokens, operators), the rule facts (qualification, counts, collisions), the write and
    # its audit (no SAVEPOINT around the write: the request ends on a refusal anyway), and the
    # "booking created" note with its mail (the booker is its recipient, read with the token; the
    # outbox row): 11 on PostgreSQL (17 before the cache, the preference read with the token and the
    # savepoint's going), 13 on SQLite (its BEGIN IMMEDIATE and COMMIT are sent)
    assert counts[1] <= (11 if db.backend == "postgresql" else 13), counts


def test_the_token_lookup_is_one_statement_and_refuses_a_disabled_account(client, world, session, db):
    with statements(db.engine) as seen:
        assert client.get(f"{API}/me", headers=auth(world, "member_b")).status_code == 200
    assert sum("api_token" in s for s in seen) == 1
    user = session.get(User, world.member_b.user_id)
    user.active = False
    session.add(user)
    session.commit()
    assert client.get(f"{API}/me", headers=auth(world, "member_b")).status_code == 401
    body = {"instrument_id": world.xrd.id, "start": world.at(9).isoformat(), "end": world.at(10).isoformat()}
    assert client.post(f"{API}/bookings", json=body, headers=auth(world, "member_b")).status_code == 401


def test_a_members_self_operated_booking_is_five_statements_on_postgresql(client, world, session, db):
    """An enterprise member booking self-operated: the token; the labs and the instrument locked
    (no operator is locked: none works in this mode); the counts, the member's qualifications and
    the collisions in one statement; the booking written with its audit row, note and mail in one
    statement. SQLite sends the last as one INSERT a table, and its BEGIN and COMMIT."""
    fact_cache.bump(session, calendar=True)
    factories.qualify(session, world.member_a.user_id, world.xrd, world.day - timedelta(days=30))
    session.commit()
    counts, ids = [], []
    for day in range(3):
        start = world.at(9, day=next_workday(world.day, 7 * day) if day else world.day)
        body = {"instrument_id": world.xrd.id, "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(), "service_mode": "self_operated"}  # fmt: skip
        with statements(db.engine) as seen:
            r = client.post(f"{API}/bookings", json=body, headers=auth(world, "member_a"))
        assert r.status_code == 201, r.text
        counts.append(seen)
        ids.append(r.json()["id"])
    assert not any(re.search(r"\bFROM operator\b", s) for s in counts[2]), counts[2]
    writes = [s for s in counts[2] if "INSERT" in s.upper()]
    if db.backend == "postgresql":
        assert len(counts[2]) == 5, [s[:90] for s in counts[2]]
        assert len(writes) == 1 and all(t in writes[0] for t in ("booking", "audit_log", "notification", "outbox_mail"))
    else:
        assert len(writes) == 4, writes
    session.expire_all()
    for booking_id in ids:  # every row written together is there
        assert session.query(AuditLog).filter_by(entity_id=booking_id, action="booking.create").count() == 1
        assert session.query(Notification).filter(Notification.link.endswith(booking_id)).count() == 1
        assert session.query(OutboxMail).filter_by(idempotency_key=f"booking_created:{booking_id}:created:a@t.cn").count() == 1


def test_an_unqualified_member_is_refused_from_the_same_counts_statement(client, world, session, db):
    start = world.at(9)
    body = {"instrument_id": world.xrd.id, "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "service_mode": "self_operated"}  # fmt: skip
    r = client.post(f"{API}/bookings", json=body, headers=auth(world, "member_b"))
    assert r.status_code == 422, r.text
    assert [v["code"] for v in r.json()["violations"]] == ["not_qualified"], r.json()
    assert not any(session.query(Notification).filter(Notification.enterprise_id == world.ent_b.id))  # nothing written


def test_collisions_read_with_several_qualifications_are_each_named_once_in_order(client, world, session):
    """The one statement joins qualifications and collisions (rows: their product): two
    qualifications (one expired) and two bookings in the way still give each booking once, by
    start, and the valid qualification still counts."""
    factories.qualify(session, world.member_a.user_id, world.xrd, world.day - timedelta(days=400), world.day - timedelta(days=40))
    factories.qualify(session, world.member_a.user_id, world.xrd, world.day - timedelta(days=30))
    later = raw_booking(world, world.at(10), world.at(11), enterprise_id=world.ent_a.id)
    earlier = raw_booking(world, world.at(9), world.at(10), enterprise_id=world.ent_a.id)
    session.add_all([later, earlier])
    session.commit()
    body = {"instrument_id": world.xrd.id, "start": world.at(9, 30).isoformat(), "end": world.at(10, 30).isoformat(),
            "service_mode": "self_operated"}  # fmt: skip
    r = client.post(f"{API}/bookings", json=body, headers=auth(world, "member_a"))
    assert r.status_code == 409, r.text
    assert [c["booking"] for c in r.json()["conflicts"]] == [earlier.id, later.id]
    free = {**body, "start": world.at(14).isoformat(), "end": world.at(15).isoformat()}
    assert client.post(f"{API}/bookings", json=free, headers=auth(world, "member_a")).status_code == 201
