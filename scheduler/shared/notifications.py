"""In-platform notifications (what a round decided, a booking that moved…), read via the API and
the web inbox, and the e-mail each event sends. ``subject``/``body`` are the platform's text;
``kind`` and ``data`` carry the same facts structured (instrument names, instants with their zone,
request and booking ids), so a page can say them in its reader's language; a ``kind`` that is a
``MailKind`` also writes the event's mails into the outbox (``scheduler/shared/outbox.py``) in the
caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, Session, SQLModel

from instruments.db import Rows, json_field, utc_field, utcnow
from instruments.ids import new_id
from scheduler.shared.mail_prefs import DEFAULT_LANGUAGE, MailKind
from scheduler.shared.mail_templates import render


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
    kind: MailKind | str | None = None,
    key: str | None = None,
    data: dict[str, Any] | None = None,
    user_id: str | None = None,
    roles: tuple[str, ...] = (),
    now: datetime | None = None,
) -> Notification:
    """An in-app note; with a mail ``kind`` (and the event's ``key`` and ``data``) also its mails,
    to ``user_id`` if given, else the enterprise's members, the unit's lab managers, or ``roles``.
    Any other ``kind`` (e.g. ``round_outcome``) only labels the note's structured ``data``."""
    note = Notification(**_note_row(subject, body, enterprise_id, owner_unit_id, link, kind, data))
    session.add(note)
    if kind in set(MailKind):  # a mail kind (enum or its string): also mailed
        from scheduler.shared.outbox import enqueue

        enqueue(
            session,
            kind,
            key or f"{kind}:{note.id}",
            data or {},
            user_id=user_id,
            enterprise_id=enterprise_id,
            owner_unit_id=owner_unit_id,
            roles=roles,
            now=now,
        )
    return note


def tell(
    session: Session,
    kind: MailKind,
    key: str,
    data: dict[str, Any],
    *,
    enterprise_id: str | None = None,
    owner_unit_id: str | None = None,
    user_id: str | None = None,
    roles: tuple[str, ...] = (),
    link: str = "",
    now: datetime | None = None,
) -> Notification:
    """An event told in the app (in the platform's language) and by mail (in each reader's)."""
    words = render(kind, DEFAULT_LANGUAGE, data)
    return notify(
        session,
        words.subject,
        words.text,
        enterprise_id=enterprise_id,
        owner_unit_id=owner_unit_id,
        link=link,
        kind=kind,
        key=key,
        data=data,
        user_id=user_id,
        roles=roles,
        now=now,
    )


def told_rows(
    session: Session,
    kind: MailKind,
    key: str,
    data: dict[str, Any],
    *,
    enterprise_id: str | None = None,
    user_id: str | None = None,
    link: str = "",
    now: datetime | None = None,
) -> list[Rows]:
    """What :func:`tell` writes (the note and its mails, the same rows), for the caller to write
    together with its other rows (``instruments.db.write_together``): the instant booking writes
    its audit row, note and mail in one round trip."""
    from scheduler.shared.outbox import mail_rows, rows_of

    words = render(kind, DEFAULT_LANGUAGE, data)
    note = _note_row(words.subject, words.text, enterprise_id, None, link, kind, data)
    mails = mail_rows(session, kind, key, data, user_id=user_id, enterprise_id=enterprise_id, now=now)
    return [Rows(Notification.__table__, [note]), rows_of(mails)]


def _note_row(
    subject: str,
    body: str,
    enterprise_id: str | None,
    owner_unit_id: str | None,
    link: str,
    kind: MailKind | str | None,
    data: dict[str, Any] | None,
) -> dict[str, Any]:
    """A note's row as plain values (every column): the one :func:`notify` adds, and the one
    :func:`told_rows` gives for writing together."""
    return {
        "id": new_id("ntf"),
        "enterprise_id": enterprise_id,
        "owner_unit_id": owner_unit_id,
        "subject": subject,
        "body": body,
        "link": link,
        "created_at": utcnow(),
        "read_at": None,
        "kind": str(kind or ""),
        "data": data or {},
    }
