"""In-platform notifications (what a round decided, a booking that moved…), read via the API and
the web inbox. ``subject``/``body`` are the platform's English text; ``kind`` and ``data`` carry the
same facts structured (instrument names, instants with their zone, request and booking ids), so a
page can say them in its reader's language."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, Session, SQLModel

from instruments.db import json_field, utc_field, utcnow
from instruments.ids import new_id


class Notification(SQLModel, table=True):
    __tablename__ = "notification"

    id: str = Field(default_factory=lambda: new_id("ntf"), primary_key=True)
    enterprise_id: str | None = Field(default=None, foreign_key="enterprise.id", index=True)
    owner_unit_id: str | None = Field(default=None, foreign_key="owner_unit.id", index=True)
    subject: str
    body: str = ""
    link: str = ""
    created_at: datetime = utc_field(default_factory=utcnow, index=True)
    read_at: datetime | None = utc_field(nullable=True, default=None)
    kind: str = Field(default="", description="What the message is about, e.g. round_outcome ('' for plain text)")
    data: dict[str, Any] = json_field(dict)


def notify(
    session: Session,
    subject: str,
    body: str = "",
    *,
    enterprise_id: str | None = None,
    owner_unit_id: str | None = None,
    link: str = "",
    kind: str = "",
    data: dict[str, Any] | None = None,
) -> Notification:
    note = Notification(
        enterprise_id=enterprise_id,
        owner_unit_id=owner_unit_id,
        subject=subject,
        body=body,
        link=link,
        kind=kind,
        data=data or {},
    )
    session.add(note)
    return note
