"""Reads take no write lock on SQLite: readers and a writer do not wait for each other, an HTTP GET
answers while a write transaction is open, and the read engine refuses to write. On PostgreSQL
the read engine is the app's engine (MVCC readers never lock)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from booking_api.app import create_app
from fixtures import factories
from instruments.db import get_engine, read_engine_of
from instruments.units import OwnerUnit
from tests.booking_api.conftest import auth


def _names(session: Session) -> set[str]:
    return {u.name for u in session.exec(select(OwnerUnit)).all()}


def test_two_readers_and_a_writer_do_not_block_each_other(db):
    if db.backend != "sqlite":
        assert read_engine_of(db.engine) is db.engine
        return
    reader = read_engine_of(db.engine)
    assert reader is not db.engine
    with Session(db.engine) as s:
        factories.unit(s, "Before")
        s.commit()
    with Session(reader) as r1, Session(reader) as r2:
        assert _names(r1) == {"Before"} and _names(r2) == {"Before"}  # both read transactions open
        with Session(get_engine(db.url)) as w:  # BEGIN IMMEDIATE: waits only for another writer
            factories.unit(w, "After")
            w.commit()
        assert _names(r1) == {"Before"}  # a reader keeps its snapshot
        r2.commit()
        assert _names(r2) == {"Before", "After"}  # a new read transaction sees the write
        with Session(get_engine(db.url)) as w:  # and writes go on while r1 still reads
            factories.unit(w, "Later")
            w.commit()


def test_the_read_engine_refuses_to_write(db):
    if db.backend != "sqlite":
        assert read_engine_of(db.engine) is db.engine  # PostgreSQL reads share the app's engine
        return
    with Session(read_engine_of(db.engine)) as s, pytest.raises(OperationalError, match="readonly"):
        factories.unit(s, "Nope")
        s.commit()


def test_a_get_answers_while_a_write_transaction_is_open(db, world):
    with TestClient(create_app(db.url), raise_server_exceptions=False) as client:
        with Session(db.engine) as writer:
            factories.unit(writer, "Being written")
            writer.flush()  # holds SQLite's write lock until the end of the block
            r = client.get("/api/v1/bookings", headers=auth(world, "member_a"))
            assert r.status_code == 200 and r.json() == []
            assert client.get(f"/api/v1/instruments/{world.xrd.id}").status_code == 200
            writer.rollback()
