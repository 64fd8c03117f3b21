"""The database engine, sessions, and the column types every table shares.

Times are stored in UTC: ``timestamptz`` on PostgreSQL; on SQLite a fixed-format UTC text, so that
comparisons in SQL (and in the no-overlap trigger) are correct. Python only ever sees aware
datetimes.

On SQLite every transaction of ``get_engine``'s engine starts with ``BEGIN IMMEDIATE``: writes are
serialised by the database, which is what makes the booking write path safe without PostgreSQL's
exclusion constraint. Work that only reads (HTTP GETs, calendar feeds) uses ``get_read_engine``
instead: on SQLite an engine of its own whose transactions begin deferred (in WAL mode a reader
takes no lock: it neither waits for the writer nor holds it up) and whose connections are
``query_only``, so a read path that tried to write fails loudly instead of racing the writers; on
PostgreSQL (MVCC snapshots, row locks only where asked) the same engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, bindparam, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import Table
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, create_engine

from . import references


class UTCDateTime(TypeDecorator):
    """Aware datetime in, aware UTC datetime out; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; attach a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_field(*, nullable: bool = False, index: bool = False, default: Any = ..., default_factory: Any = None) -> Any:
    kwargs: dict[str, Any] = {}
    if default is not ...:
        kwargs["default"] = default
    if default_factory is not None:
        kwargs["default_factory"] = default_factory
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index), **kwargs)


def json_field(default_factory: Any = list, nullable: bool = False) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=nullable))


MAX_FEN = 10**15
"""Upper bound for any money input (10 trillion RMB): keeps every sum inside BIGINT."""


def fen_field(default: int = 0, **kw: Any) -> Any:
    """Money: integer fen, stored as BIGINT (an instrument's value passes 2^31 fen)."""
    return Field(default=default, ge=0, sa_type=BigInteger, **kw)


def utcnow() -> datetime:
    return datetime.now(UTC)


_WRITER_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=30000", "PRAGMA journal_mode=WAL")
_READER_PRAGMAS = ("PRAGMA busy_timeout=30000", "PRAGMA query_only=ON")


def _sqlite_setup(engine: Engine, pragmas: tuple[str, ...], begin: str) -> None:
    """Each new connection runs ``pragmas``; each transaction starts with ``begin`` (emitted by us:
    ``BEGIN IMMEDIATE`` takes the write lock at once, a deferred ``BEGIN`` none until it writes)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_connection.cursor()
        for pragma in pragmas:
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def _normal(url: str) -> str:
    return "postgresql+psycopg://" + url[len("postgresql://") :] if url.startswith("postgresql://") else url


@lru_cache(maxsize=16)
def get_read_engine(url: str) -> Engine:
    """The engine for work that only reads (see the module): never takes SQLite's write lock."""
    url = _normal(url)
    if not url.startswith("sqlite"):
        return get_engine(url)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, max_overflow=20)
    _sqlite_setup(engine, _READER_PRAGMAS, "BEGIN")
    return engine


def read_engine_of(engine: Engine) -> Engine:
    """``get_read_engine`` for the database ``engine`` (from ``get_engine``) is connected to."""
    return get_read_engine(engine.url.render_as_string(hide_password=False)) if engine.dialect.name == "sqlite" else engine


def keep(session: Session, *rows: Any) -> None:
    """Hold ``rows`` for the life of ``session``. The identity map holds loaded rows weakly, so a
    row a service loaded and dropped (the token's user, the locked instrument and lab) is
    otherwise read again by the next ``session.get`` of it (the reference check before a flush,
    the answer's time zone): kept, that get is answered from memory."""
    session.info.setdefault("kept", []).extend(rows)


@lru_cache(maxsize=16)
def get_engine(url: str) -> Engine:
    url = _normal(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _sqlite_setup(engine, _WRITER_PRAGMAS, "BEGIN IMMEDIATE")
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    return engine


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


@dataclass(frozen=True)
class Rows:
    """New rows of one table, all with the same columns, for :func:`write_together`.
    ``skip_conflicts``: the unique columns whose clash skips a row (``ON CONFLICT (…) DO
    NOTHING``) instead of failing the write."""

    table: Table
    rows: list[dict[str, Any]]
    skip_conflicts: tuple[str, ...] = ()


def write_together(session: Session, parts: list[Rows]) -> None:
    """Insert the rows written alongside a change (its audit row, its note, its mails) in the
    session's transaction with one round trip where the database allows: on PostgreSQL one
    statement, each table's INSERT but the last a data-modifying CTE (they see one snapshot and
    succeed or fail together), built once per shape with bind parameters; elsewhere one INSERT a
    table. The rows must not depend on each other (no foreign key from one to another): the CTEs
    run in no set order."""
    parts = [p for p in parts if p.rows]
    if not parts:
        return
    if not is_postgres(session):
        for p in parts:
            stmt = sqlite_insert(p.table)
            if p.skip_conflicts:
                stmt = stmt.on_conflict_do_nothing(index_elements=list(p.skip_conflicts))
            session.execute(stmt, p.rows)
        return
    shape = tuple((p.table.name, len(p.rows), tuple(p.rows[0]), p.skip_conflicts) for p in parts)
    params = {f"w{k}_{i}_{c}": v for k, p in enumerate(parts) for i, row in enumerate(p.rows) for c, v in row.items()}
    session.execute(_together(shape), params)


@lru_cache(maxsize=64)
def _together(shape: tuple[tuple[str, int, tuple[str, ...], tuple[str, ...]], ...]) -> Insert:
    """The statement of :func:`write_together` for one shape ((table, rows, columns, conflict
    columns) a part): built once, so neither the statement nor its cache key is made again for
    every change that writes rows of that shape."""
    inserts = []
    for k, (name, count, columns, skip) in enumerate(shape):
        table = SQLModel.metadata.tables[name]
        values = [{c: bindparam(f"w{k}_{i}_{c}", type_=table.c[c].type) for c in columns} for i in range(count)]
        stmt = postgresql_insert(table).values(values[0] if count == 1 else values)
        inserts.append(stmt.on_conflict_do_nothing(index_elements=list(skip)) if skip else stmt)
    *rest, last = inserts
    return last.add_cte(*(stmt.cte(f"written_{k}") for k, stmt in enumerate(rest))) if rest else last


references.install()  # every session refuses an unknown id naming the field, before the database does


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
