"""Request-scoped dependencies: the database session and the acting user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from instruments.actor import Actor, Role
from instruments.db import read_engine_of
from instruments.errors import Conflict, Forbidden, Unauthorized

from .accounts import authenticate

_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer lsk_…`")


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session (on PostgreSQL one transaction for the whole request, the token
    lookup included). A GET (HEAD, OPTIONS) only reads: it gets the read engine, which on SQLite takes no write lock
    (``instruments.db.get_read_engine``); a writing method gets the engine whose SQLite
    transactions take the write lock at BEGIN.

    Async, though the session is used from the thread pool: making a session does no I/O (it
    connects at its first statement), and a request that committed holds no connection any more,
    so only a transaction still open at the end (a read, a refusal) is rolled back in the pool.
    That spares a write two hops to the thread pool."""
    engine = request.app.state.engine
    if request.method in READ_METHODS:
        engine = read_engine_of(engine)
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)  # a ROLLBACK: a round trip, off the event loop
        else:
            session.close()


def commit(session: Session) -> None:
    """End the request's transaction; a constraint the database enforces becomes a 409."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"The change conflicts with existing data: {exc.orig}") from exc


SessionDep = Annotated[Session, Depends(get_session)]


def optional_actor(
    session: SessionDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor | None:
    if creds is None:
        return None
    actor = authenticate(session, creds.credentials).actor()
    if session.get_bind().dialect.name == "sqlite":
        # a writing request's SQLite transaction holds the write lock from its first statement, and
        # some work runs in sessions of its own (a round): end the lookup's transaction. PostgreSQL
        # reads take no locks, so its lookup stays in the request's one transaction (no round trip).
        session.commit()
    return actor


async def require_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    """Async (no I/O in it): FastAPI runs it on the event loop, not with a hop to the thread pool."""
    if actor is None:
        raise Unauthorized("Send an API token: Authorization: Bearer lsk_…")
    return actor


async def require_admin(actor: Annotated[Actor, Depends(require_actor)]) -> Actor:
    if actor.role != Role.programme_admin:
        raise Forbidden("Only a programme admin may do this.")
    return actor


ActorDep = Annotated[Actor, Depends(require_actor)]
MaybeActorDep = Annotated[Actor | None, Depends(optional_actor)]
AdminDep = Annotated[Actor, Depends(require_admin)]


class Page:
    """Pagination parameters shared by every list endpoint."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=500, description="Items per page")] = 50,
        offset: Annotated[int, Query(ge=0, description="Items to skip")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


PageDep = Annotated[Page, Depends()]
