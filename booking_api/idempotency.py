"""``Idempotency-Key`` for retryable writes: a retry with the same key replays the first answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel

from instruments.actor import Actor
from instruments.db import utc_field, utcnow
from instruments.errors import InvalidInput

from .deps import commit

T = TypeVar("T")
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="Retry with the same key: the first answer is replayed")
]


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    user_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=200)
    endpoint: str
    status: int
    body: Any = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = utc_field(default_factory=utcnow)


def replay(session: Session, actor: Actor, key: str | None, endpoint: str) -> JSONResponse | None:
    if not key:
        return None
    if len(key) > 200:
        raise InvalidInput("Idempotency-Key is at most 200 characters.", field="Idempotency-Key")
    rec = session.get(IdempotencyRecord, (actor.user_id or "system", key))
    if rec is None:
        return None
    if rec.endpoint != endpoint:
        raise InvalidInput(f"Idempotency-Key {key!r} was already used for {rec.endpoint}.", field="Idempotency-Key")
    return JSONResponse(rec.body, status_code=rec.status, headers={"Idempotent-Replayed": "true"})


def remember(session: Session, actor: Actor, key: str | None, endpoint: str, status: int, body: Any) -> None:
    if key:
        session.add(
            IdempotencyRecord(
                user_id=actor.user_id or "system",
                key=key,
                endpoint=endpoint,
                status=status,
                body=jsonable_encoder(body),
            )
        )


def once(session: Session, actor: Actor, key: str | None, endpoint: str, act: Callable[[], T], status: int = 201) -> T:
    """Run a retryable write at most once per key, commit, and remember its answer."""
    if (hit := replay(session, actor, key, endpoint)) is not None:
        return hit  # type: ignore[return-value]
    out = act()
    remember(session, actor, key, endpoint, status, out)
    commit(session)
    return out
