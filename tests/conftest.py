"""Test databases: every test that takes ``db`` runs on SQLite and, when TEST_DATABASE_URL is
set, on PostgreSQL too. With LABSHARE_REQUIRE_POSTGRES=1 (CI) a skipped PostgreSQL test fails
the run. Each xdist worker gets its own databases; tables are emptied after every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from booking_api.migrate import upgrade
from booking_api.tables import metadata
from instruments.db import get_engine

# the suite hammers one app per test (hypothesis); rate limits are tested with apps of their own
os.environ.setdefault("LABSHARE_RATE_LIMIT_ENABLED", "false")
# apps made by tests run no scheduled jobs; the tests of the job leader turn them on themselves
os.environ.setdefault("LABSHARE_RUN_JOBS", "false")
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("LABSHARE_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgresql"]


@dataclass
class Db:
    backend: str
    url: str
    engine: Engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def clean(self) -> None:
        # DELETE, children before parents, not TRUNCATE: on PostgreSQL a TRUNCATE of every table
        # gives each a new file and cost about 0.3 s per test, a DELETE of the few rows a test
        # leaves about 5 ms (one round trip for all the tables)
        names = [t.name for t in reversed(metadata.sorted_tables)]
        with self.engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(text("; ".join(f'DELETE FROM "{n}"' for n in names)))
            else:
                for n in names:
                    conn.execute(text(f'DELETE FROM "{n}"'))


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_admin(statement: str) -> None:
    base = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


def _pg_database() -> tuple[str, str]:
    """A database of this test process's own (several test runs may share one server)."""
    base = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{base.database}_{_worker()}_{os.getpid()}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{name}"')
    return name, base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Db]]:
    dbs: dict[str, Db] = {}
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade(sqlite_url)
    dbs["sqlite"] = Db("sqlite", sqlite_url, get_engine(sqlite_url))
    name = None
    if PG_URL:
        name, url = _pg_database()
        upgrade(url)
        dbs["postgresql"] = Db("postgresql", url, get_engine(url))
    yield dbs
    for d in dbs.values():
        d.engine.dispose()
    if name:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, _databases: dict[str, Db]) -> Iterator[Db]:
    backend = request.param
    if backend not in _databases:
        if REQUIRE_PG:
            pytest.fail("TEST_DATABASE_URL is not set but LABSHARE_REQUIRE_POSTGRES=1: PostgreSQL tests must run.")
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    d = _databases[backend]
    d.clean()
    yield d
    d.clean()


@pytest.fixture
def session(db: Db) -> Iterator[Session]:
    with db.session() as s:
        yield s


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not REQUIRE_PG:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    pg_skips = [r for r in skipped if "postgresql" in getattr(r, "nodeid", "")]
    if pg_skips:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"FAILED: {len(pg_skips)} PostgreSQL test(s) were skipped in CI.", red=True)


@pytest.fixture
def world(db: Db, session: Session):  # noqa: ANN201
    from tests.world import build_world

    return build_world(session)


@pytest.fixture
def client(db: Db):  # noqa: ANN201
    from fastapi.testclient import TestClient

    from tests.routed_app import app_for

    with TestClient(app_for(db.url), raise_server_exceptions=False) as c:
        yield c
