"""``Idempotency-Key`` for retryable writes: a retry with the same key never acts twice.

The key is *claimed* before the work, in a row of its own committed at once (state
``in_progress``); the work then runs in the request's transaction, which also marks the claim
``done`` with the answer, so the answer is stored exactly when the work commits. Hence:

- a retry after completion replays the stored answer (``Idempotent-Replayed: true``);
- a duplicate that arrives while the first is still working finds the claim and waits for it
  (polling, bounded by ``WAIT_SECONDS``, holding no transaction meanwhile), then replays its
  answer; if the first is still busy after that, 409 "still in progress", retry later;
- a first attempt that fails (any error, including a 4xx refusal) deletes its claim, so a retry
  can act (and gets its own, current answer);
- a claim left behind by a crashed process is taken over after ``STALE_AFTER``;
- the same key with another endpoint or another request body is refused (422), since replaying
  an answer to a different request would be wrong.

The database referees the claim (its primary key), so this holds across processes. Endpoints
call ``once`` before touching the database: it ends the request's read transaction first,
because on SQLite a writing request's transaction holds the write lock that the claim's own
transaction needs.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import JSON, Column, delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from instruments.actor import Actor
from instruments.db import utc_field, utcnow
from instruments.errors import Conflict, InvalidInput

from .deps import commit

T = TypeVar("T")
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="Retry with the same key: the first answer is replayed")
]

IN_PROGRESS = "in_progress"
DONE = "done"
WAIT_SECONDS = 20.0
"""How long a duplicate waits for the first attempt before answering 409 (bounded work)."""
STALE_AFTER = timedelta(minutes=15)
"""A claim this old whose work never finished belongs to a crashed process and may be taken over."""


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    user_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=200)
    endpoint: str
    state: str = Field(default=DONE, max_length=20, description="in_progress while the first attempt works")
    fingerprint: str = Field(default="", max_length=64, description="sha256 of the request body")
    status: int | None = None
    body: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = utc_field(default_factory=utcnow)


def fingerprint(request: Any) -> str:
    if request is None:
        return ""
    canonical = json.dumps(jsonable_encoder(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(rec: IdempotencyRecord) -> JSONResponse:
    return JSONResponse(rec.body, status_code=rec.status or 200, headers={"Idempotent-Replayed": "true"})


def _check(rec: IdempotencyRecord, key: str, endpoint: str, print_: str) -> None:
    if rec.endpoint != endpoint:
        raise InvalidInput(f"Idempotency-Key {key!r} was already used for {rec.endpoint}.", field="Idempotency-Key")
    if print_ and rec.fingerprint and rec.fingerprint != print_:
        raise InvalidInput(
            f"Idempotency-Key {key!r} was already used for a different request to {endpoint}; use a new key.",
            field="Idempotency-Key",
        )


def claim(engine: Engine, user_id: str, key: str, endpoint: str, print_: str = "") -> JSONResponse | None:
    """Claim ``key`` for this attempt (None: go ahead), or the stored answer of an earlier one."""
    deadline = time.monotonic() + WAIT_SECONDS
    pause = 0.01
    while True:
        with Session(engine, expire_on_commit=False) as s:
            rec = s.get(IdempotencyRecord, (user_id, key))
            if rec is None:
                s.add(
                    IdempotencyRecord(
                        user_id=user_id, key=key, endpoint=endpoint, state=IN_PROGRESS, fingerprint=print_
                    )
                )
                try:
                    s.commit()
                    return None
                except IntegrityError:  # another attempt claimed it a moment ago: look again
                    s.rollback()
                    continue
            _check(rec, key, endpoint, print_)
            if rec.state == DONE:
                return _replay(rec)
            now = utcnow()
            if now - rec.created_at > STALE_AFTER:
                taken = s.execute(
                    update(IdempotencyRecord)
                    .where(
                        IdempotencyRecord.user_id == user_id,
                        IdempotencyRecord.key == key,
                        IdempotencyRecord.state == IN_PROGRESS,
                        IdempotencyRecord.created_at == rec.created_at,
                    )
                    .values(created_at=now, fingerprint=print_)
                ).rowcount
                s.commit()
                if taken:
                    return None
                continue
            s.rollback()  # hold no transaction while waiting
        if time.monotonic() >= deadline:
            raise Conflict(
                f"A request with Idempotency-Key {key!r} is still in progress; retry in a moment to get its answer."
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def release(engine: Engine, user_id: str, key: str) -> None:
    """Drop an unfinished claim (the attempt failed), so that a retry can act."""
    with Session(engine) as s:
        s.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.state == IN_PROGRESS,
            )
        )
        s.commit()


def once(
    session: Session,
    actor: Actor,
    key: str | None,
    endpoint: str,
    act: Callable[[], T],
    status: int = 201,
    request: Any = None,
) -> T:
    """Run a retryable write at most once per key, commit, and remember its answer.

    ``request`` (the parsed body) is fingerprinted so that a key reused for another request is
    refused rather than answered with the first request's result."""
    if not key:
        out = act()
        commit(session)
        return out
    if len(key) > 200:
        raise InvalidInput("Idempotency-Key is at most 200 characters.", field="Idempotency-Key")
    user_id = actor.user_id or "system"
    session.commit()  # end the read transaction (on SQLite it holds the write lock the claim needs)
    engine = session.get_bind()
    if (hit := claim(engine, user_id, key, endpoint, fingerprint(request))) is not None:
        return hit  # type: ignore[return-value]
    try:
        out = act()
        rec = session.get(IdempotencyRecord, (user_id, key), with_for_update=True, populate_existing=True)
        if rec is None:  # pragma: no cover - only if someone deleted the claim under us
            raise Conflict(f"The claim of Idempotency-Key {key!r} vanished; retry.")
        rec.state, rec.status, rec.body = DONE, status, jsonable_encoder(out)
        session.add(rec)
        commit(session)
    except BaseException:
        session.rollback()
        release(engine, user_id, key)
        raise
    return out
