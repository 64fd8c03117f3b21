"""Per-worker cache of the slow-changing facts a booking reads — an instrument's opening rules and
availability exceptions, and the calendar overrides (调休, closures) — checked against a version
token that every write of those tables changes in the writing transaction.

Why: an instant booking read these three tables on every attempt, three round trips of the
seventeen the booking made, although they change a few times a year per instrument. The booking
already reads its instrument in one locking statement (``scheduler.booking.resource_locks``);
that statement now also returns the instrument's token and the calendar's token (scalar
subqueries on ``fact_version``), so checking the cache costs no round trip.

Correctness: the token is a fresh random string per write, never a counter, so no two states of
any database (a test database emptied and refilled, two databases in one process) share one. Every
ORM write of ``opening_rule``, ``availability_exception`` or ``calendar_override`` — the catalogue's
functions, the unit console's hours page, the ics import, the calendar-override API, fixtures —
passes through one flush hook that calls ``bump`` in the same transaction, so the next booking on
any worker reads the new token in its lock statement and loads the facts afresh. A writer that
bypasses the ORM (Core ``insert``/``delete`` on those tables, a data migration) must call ``bump``
itself. A token is trusted only in the transaction that read it (``note``); a missing
``fact_version`` row (an emptied table, rows written before migration 0018 seeded them) means
"not cached": the facts are read from the database as before. The cache holds plain tuples, never
ORM rows, so it is shared by threads and sessions safely.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import ScalarSelect, event, inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel, select

INSTRUMENT = "instrument"
CALENDAR = "calendar"
_INSTRUMENT_TABLES = frozenset({"opening_rule", "availability_exception"})
_CALENDAR_TABLES = frozenset({"calendar_override"})
_MAX_ENTRIES = 2048

T = TypeVar("T")


class FactVersion(SQLModel, table=True):
    """The current version token of one cached fact set: ("instrument", id) or ("calendar", "")."""

    __tablename__ = "fact_version"

    kind: str = Field(primary_key=True)
    ref: str = Field(default="", primary_key=True)
    token: str


def new_token() -> str:
    return secrets.token_hex(8)


def instrument_token(instrument_id: Any) -> ScalarSelect:
    """The instrument's token as a scalar subquery (``instrument_id``: a column or a value)."""
    return (
        select(FactVersion.token)
        .where(FactVersion.kind == INSTRUMENT, FactVersion.ref == instrument_id)
        .scalar_subquery()
    )


def calendar_token() -> ScalarSelect:
    """The calendar overrides' token as a scalar subquery."""
    return select(FactVersion.token).where(FactVersion.kind == CALENDAR, FactVersion.ref == "").scalar_subquery()


# --- tokens read in this transaction ----------------------------------------------------------


def _tokens(session: Session) -> dict[tuple[str, str], str]:
    """The tokens read in the session's current transaction (a fresh dict in a new one)."""
    txn = session.get_transaction()
    held = session.info.get("fact_tokens")
    if held is None or held[0] is not txn:
        held = (txn, {})
        session.info["fact_tokens"] = held
    return held[1]


def note(session: Session, kind: str, ref: str, token: str | None) -> None:
    """Remember a token read in this transaction (None: no row, nothing to trust)."""
    tokens = _tokens(session)
    if token is None:
        tokens.pop((kind, ref), None)
    else:
        tokens[(kind, ref)] = token


# --- the cache ---------------------------------------------------------------------------------

_cache: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
_lock = threading.Lock()


def cached(session: Session, kind: str, ref: str, load: Callable[[], T]) -> T | None:
    """The facts of (kind, ref) as of the token read in this transaction, loaded by ``load`` on a
    miss; None when no token was read (the caller then queries as it always did). Pending ORM
    changes are flushed first, as the query the cache replaces would have (the flush bumps the
    token and so turns the cache off for this transaction's own changes)."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    token = _tokens(session).get((kind, ref))
    if token is None:
        return None
    key = (kind, ref, token)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = load()  # read in this transaction, after the token: as new as the token or newer
    with _lock:
        _cache[key] = value
        while len(_cache) > _MAX_ENTRIES:
            _cache.popitem(last=False)
    return value


def clear() -> None:
    """Forget every cached fact set (tests; a worker never needs it)."""
    with _lock:
        _cache.clear()


# --- writers -----------------------------------------------------------------------------------


def bump(session: Session | OrmSession, instrument_ids: Iterable[str] = (), calendar: bool = False) -> None:
    """Give the instruments' facts (and the calendar's, if ``calendar``) a new token, in the
    session's transaction. Every write of the cached tables must call it (ORM writes do, through
    the flush hook below)."""
    keys = [(INSTRUMENT, i) for i in sorted(set(instrument_ids))] + ([(CALENDAR, "")] if calendar else [])
    if not keys:
        return
    conn = session.connection()
    ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(FactVersion.__table__)  # type: ignore[attr-defined]
    stmt = ins.values([{"kind": k, "ref": r, "token": new_token()} for k, r in keys])
    conn.execute(stmt.on_conflict_do_update(index_elements=["kind", "ref"], set_={"token": stmt.excluded.token}))
    tokens = _tokens(session)  # type: ignore[arg-type]
    for key in keys:  # this transaction sees its own change: no cache for it
        tokens.pop(key, None)


def _touched(session: OrmSession) -> tuple[set[str], bool]:
    instruments: set[str] = set()
    calendar = False
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(type(obj), "__tablename__", None)
        if table in _CALENDAR_TABLES:
            calendar = True
        elif table in _INSTRUMENT_TABLES:
            hist = inspect(obj).attrs.instrument_id.history  # the old instrument too, if it moved
            # the current value read through the attribute: it loads if expired (a row changed after
            # a commit expired it), where the history alone would be empty
            instruments.update(i for i in (*hist.added, *hist.deleted, obj.instrument_id) if i)
    return instruments, calendar


@event.listens_for(OrmSession, "before_flush")
def _bump_on_flush(session: OrmSession, _flush_context: Any, _instances: Any) -> None:
    instruments, calendar = _touched(session)
    if instruments or calendar:
        bump(session, instruments, calendar)


__all__ = ["FactVersion", "bump", "cached", "calendar_token", "clear", "instrument_token", "note"]
