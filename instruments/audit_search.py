"""Finding rows of the audit trail: by who acted, what they did (an action or its prefix, e.g.
``voucher.`` for every voucher action), on which kind of thing (and which one) and when
([since, until), timezone-aware), newest first, a page at a time. The one query behind
``GET /api/v1/audit`` and the programme office's audit page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from instruments.audit import AuditLog


@dataclass(frozen=True)
class AuditFilter:
    actor_user_ids: Sequence[str] | None = None  # None: anyone; empty: no one matches
    action: str | None = None  # exact, or a prefix when it ends with "."
    entity: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for at in (self.since, self.until):
            if at is not None and at.tzinfo is None:
                raise ValueError("audit search times must be timezone-aware")


def _where(q, f: AuditFilter):  # noqa: ANN001, ANN202 - a select in, the same out
    if f.actor_user_ids is not None:
        q = q.where(col(AuditLog.actor_user_id).in_(list(f.actor_user_ids)))
    if f.action:
        q = q.where(
            col(AuditLog.action).startswith(f.action) if f.action.endswith(".") else AuditLog.action == f.action
        )
    if f.entity:
        q = q.where(AuditLog.entity == f.entity)
    if f.entity_id:
        q = q.where(AuditLog.entity_id == f.entity_id)
    if f.since is not None:
        q = q.where(AuditLog.at >= f.since)
    if f.until is not None:
        q = q.where(AuditLog.at < f.until)
    return q


def search(session: Session, f: AuditFilter, limit: int = 50, offset: int = 0) -> list[AuditLog]:
    q = _where(select(AuditLog), f).order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
    return list(session.exec(q.offset(offset).limit(limit)).all())


def count(session: Session, f: AuditFilter) -> int:
    return int(session.exec(_where(select(func.count()).select_from(AuditLog), f)).one())


def kinds(session: Session) -> tuple[list[str], list[str]]:
    """The actions and entity kinds the trail holds (for the filters' choices)."""
    actions = session.exec(select(AuditLog.action).distinct().order_by(AuditLog.action).limit(500)).all()
    entities = session.exec(select(AuditLog.entity).distinct().order_by(AuditLog.entity).limit(200)).all()
    return list(actions), list(entities)
