"""The audit trail: one row per state change (who, when, what, before/after)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Field, Session, SQLModel

from .actor import Actor
from .db import json_field, utc_field, utcnow
from .ids import new_id


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: str = Field(default_factory=lambda: new_id("aud"), primary_key=True)
    at: datetime = utc_field(index=True)
    actor_user_id: str | None = Field(default=None, index=True)
    actor_role: str | None = None
    action: str = Field(index=True)
    entity: str = Field(index=True)
    entity_id: str = Field(index=True)
    before: dict[str, Any] | None = json_field(default_factory=lambda: None, nullable=True)
    after: dict[str, Any] | None = json_field(default_factory=lambda: None, nullable=True)


def snapshot(obj: SQLModel | None) -> dict[str, Any] | None:
    """A JSON-safe copy of a row's fields, for before/after."""
    if obj is None:
        return None
    return obj.model_dump(mode="json", warnings=False)


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(**row(actor, action, entity, entity_id, before, after))
    session.add(entry)
    return entry


def row(
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The audit row of one change as plain values (every column), for a bulk INSERT:
    :func:`record_many`, or a change that writes its rows together (``db.write_together``)."""
    return {
        "id": new_id("aud"),
        "at": at or utcnow(),
        "actor_user_id": actor.user_id,
        "actor_role": str(actor.role) if actor.role else None,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "before": before,
        "after": after,
    }


Change = tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None]
"""(action, entity, entity_id, before, after): one row of :func:`record_many`."""


def record_many(session: Session, actor: Actor, changes: list[Change]) -> list[str]:
    """:func:`record` for many changes at once (an allocation round's thousands): the same rows,
    written by one bulk INSERT in the session's transaction without building an object each;
    their ids, in order."""
    if not changes:
        return []
    at = utcnow()
    rows = [row(actor, action, entity, entity_id, before, after, at) for action, entity, entity_id, before, after in changes]
    session.execute(insert(AuditLog), rows)
    return [r["id"] for r in rows]

