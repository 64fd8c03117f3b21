"""The mail outbox: one row per mail, written in the transaction of the event it tells about, and
a deliverer that sends due rows over SMTP.

Why an outbox: the event and its mail commit or roll back together, so a rolled-back booking
never mails anyone and a committed one always has its mail waiting, whatever happens to SMTP.

States: ``queued`` (waiting: due at ``next_attempt_at``; with no SMTP configured it simply
waits, readable in the app) → ``sending`` (claimed by one deliverer) → ``sent`` (``sent_at``),
or back to ``queued`` with exponential back-off after a failure, and ``failed`` after
``mail_max_attempts`` (``last_error`` says why; an admin may retry it).

Claiming: PostgreSQL picks due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and marks them
``sending`` with a fresh claim token in one short transaction; SQLite (one writer at a time)
marks each with a conditional ``UPDATE … WHERE status = 'queued'`` and keeps the rows whose
update counted. The result is written only by the claim token's holder, so two deliverers
never send one claimed row twice.

At-least-once, honestly: SMTP has no transaction shared with the database. A deliverer that
dies after the server accepted a mail but before it wrote ``sent`` leaves the row ``sending``;
once its lease (``mail_lease_seconds``) runs out the row is sent again. We prefer a possible
duplicate to a lost mail; the duplicate carries the same ``Message-ID`` (from the row's id), so
mail clients and the test sink recognise it. A crash before the send loses nothing either: the
row is still ``queued`` or ``sending`` and goes out when due.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Text, UniqueConstraint, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Column, Field, Session, SQLModel, col, select

from instruments.db import Rows, is_postgres, json_field, utc_field, utcnow
from instruments.errors import InvalidState, NotFound
from instruments.ids import new_id
from scheduler.shared.mail_prefs import MailKind, Recipient, recipients
from scheduler.shared.mail_templates import render

log = logging.getLogger("labshare.mail")


class MailStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class OutboxMail(SQLModel, table=True):
    __tablename__ = "outbox_mail"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_outbox_mail_idempotency_key"),)

    id: str = Field(default_factory=lambda: new_id("mail"), primary_key=True)
    idempotency_key: str = Field(description="event key + recipient: one event gives one mail per person")
    kind: str = Field(index=True)
    recipient: str
    user_id: str | None = Field(default=None, foreign_key="app_user.id", index=True)
    language: str
    subject: str
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))
    template: str = Field(description="the template it was rendered from (kind and language)")
    data: dict[str, Any] = json_field(dict)
    status: MailStatus = Field(default=MailStatus.queued, index=True)
    attempts: int = 0
    next_attempt_at: datetime = utc_field(default_factory=utcnow, index=True)
    claim_token: str | None = None
    claimed_at: datetime | None = utc_field(nullable=True, default=None)
    last_error: str = ""
    created_at: datetime = utc_field(default_factory=utcnow)
    sent_at: datetime | None = utc_field(nullable=True, default=None)


def enqueue(
    session: Session,
    kind: MailKind,
    key: str,
    data: dict[str, Any],
    *,
    user_id: str | None = None,
    enterprise_id: str | None = None,
    owner_unit_id: str | None = None,
    roles: tuple[str, ...] = (),
    to: list[Recipient] | None = None,
    now: datetime | None = None,
) -> list[OutboxMail]:
    """Write the mails of one event into ``session``'s transaction: one per recipient (see
    ``mail_prefs.recipients``), each rendered in the recipient's language. ``key`` names the
    event (``booking_created:bkg_…``); an event already in the outbox for a recipient is not
    written again, so a job that runs twice mails once: the rows go in with one ``INSERT … ON
    CONFLICT (idempotency_key) DO NOTHING RETURNING id`` (no lookup first, no race between two
    writers), and the mails returned are those really written."""
    rows = mail_rows(session, kind, key, data, user_id=user_id, enterprise_id=enterprise_id,
                     owner_unit_id=owner_unit_id, roles=roles, to=to, now=now)  # fmt: skip
    return [OutboxMail(**row) for row in _insert(session, rows)]


def mail_rows(
    session: Session,
    kind: MailKind | str,
    key: str,
    data: dict[str, Any],
    *,
    user_id: str | None = None,
    enterprise_id: str | None = None,
    owner_unit_id: str | None = None,
    roles: tuple[str, ...] = (),
    to: list[Recipient] | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The rows :func:`enqueue` writes for one event (its recipients looked up, each mail
    rendered), not yet written."""
    kind = MailKind(kind)
    people = (
        to
        if to is not None
        else recipients(session, kind, user_id=user_id, enterprise_id=enterprise_id, owner_unit_id=owner_unit_id, roles=roles)
    )
    return _rows(kind, key, data, people, now or utcnow())


def rows_of(rows: list[dict[str, Any]]) -> Rows:
    """Mail ``rows`` for a caller writing them together with other rows
    (``instruments.db.write_together``), skipping an event already in the outbox for a recipient
    (``ON CONFLICT (idempotency_key) DO NOTHING``), as :func:`enqueue` does."""
    return Rows(OutboxMail.__table__, rows, skip_conflicts=("idempotency_key",))


@dataclass(frozen=True)
class MailEvent:
    """One event's mail for :func:`enqueue_many` (the arguments of :func:`enqueue`)."""

    kind: MailKind
    key: str
    data: dict[str, Any]
    user_id: str | None = None
    enterprise_id: str | None = None


def enqueue_many(session: Session, events: list[MailEvent], now: datetime | None = None) -> list[str]:
    """:func:`enqueue` for many events at once (an allocation round's mails to each requester):
    the recipients of each distinct (kind, user, enterprise) looked up once, every mail written by
    ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING`` many rows a statement, no object built
    for each. The same rows and the same idempotency as one :func:`enqueue` per event; returns
    the ids of the mails really written."""
    now = now or utcnow()
    people: dict[tuple[str, str | None, str | None], list[Recipient]] = {}
    rows: list[dict[str, Any]] = []
    for e in events:
        kind = MailKind(e.kind)
        who = (str(kind), e.user_id, e.enterprise_id)
        if who not in people:
            people[who] = recipients(session, kind, user_id=e.user_id, enterprise_id=e.enterprise_id)
        rows += _rows(kind, e.key, e.data, people[who], now)
    return [row["id"] for row in _insert(session, rows)]


def _rows(kind: MailKind, key: str, data: dict[str, Any], people: list[Recipient], now: datetime) -> list[dict[str, Any]]:
    """The rows (every column of ``outbox_mail``) of one event's mails, one per recipient, each
    rendered in the recipient's language."""
    due = min(now, utcnow())  # due at once, by the caller's clock and the real one
    rows: dict[str, dict[str, Any]] = {}
    for r in people:
        ikey = f"{key}:{r.address.lower()}"
        if ikey in rows:
            continue  # one person named twice
        msg = render(kind, r.language, data)
        rows[ikey] = {
            "id": new_id("mail"),
            "idempotency_key": ikey,
            "kind": str(kind),
            "recipient": r.address,
            "user_id": r.user_id,
            "language": r.language,
            "subject": msg.subject,
            "text_body": msg.text,
            "html_body": msg.html,
            "template": f"{r.language}/{kind}",
            "data": data,
            "status": MailStatus.queued,
            "attempts": 0,
            "next_attempt_at": due,
            "claim_token": None,
            "claimed_at": None,
            "last_error": "",
            "created_at": now,
            "sent_at": None,
        }
    return list(rows.values())


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write mail ``rows`` by ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING id``
    (many rows a statement); the rows returned are those really written (a key written before is
    skipped, as is a second row with the same key in ``rows``)."""
    if not rows:
        return []
    by_id = {row["id"]: row for row in rows}
    table = OutboxMail.__table__
    insert = postgresql_insert if is_postgres(session) else sqlite_insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(table.c.id)
    # executemany: SQLAlchemy sends the rows as multi-row INSERTs ("insertmanyvalues") and
    # gathers RETURNING of each, with the statement compiled once
    written = session.execute(stmt, rows).scalars().all() if len(rows) > 1 else session.execute(stmt.values(rows)).scalars().all()
    return [by_id[i] for i in written]


def already_told(session: Session, key: str) -> bool:
    """Whether any mail of event ``key`` is in the outbox (jobs use it to tell once)."""
    q = select(OutboxMail.id).where(col(OutboxMail.idempotency_key).startswith(f"{key}:", autoescape=True))
    return session.exec(q).first() is not None


# --- delivery ---------------------------------------------------------------------------------


def message_of(mail: OutboxMail, sender: str) -> EmailMessage:
    """The MIME message of an outbox row: text and HTML alternatives, a Message-ID fixed by the
    row's id (a re-send after a crash is recognisably the same mail)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.recipient
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.created_at)
    msg["Message-ID"] = f"<{mail.id}@labshare>"
    msg["X-Labshare-Kind"] = mail.kind
    msg.set_content(mail.text_body)
    msg.add_alternative(mail.html_body, subtype="html")
    msg["Content-Language"] = mail.language  # after the parts: set_content clears Content-* headers
    return msg


def claim_due(
    engine: Engine,
    now: datetime,
    limit: int = 20,
    lease: timedelta = timedelta(minutes=10),
    max_attempts: int | None = None,
) -> list[OutboxMail]:
    """Claim up to ``limit`` due mails for this deliverer (``sending``, a fresh claim token each).
    A ``sending`` row whose lease ran out (its deliverer died) is due again, unless that was its
    last attempt: then it is ``failed``, for an admin to look at and retry."""
    due = (col(OutboxMail.status) == MailStatus.queued) & (col(OutboxMail.next_attempt_at) <= now)
    stale = (col(OutboxMail.status) == MailStatus.sending) & (col(OutboxMail.claimed_at) <= now - lease)
    claimed: list[OutboxMail] = []
    with Session(engine, expire_on_commit=False) as session:
        q = select(OutboxMail.id, OutboxMail.status, OutboxMail.claim_token).where(due | stale)
        q = q.order_by(OutboxMail.next_attempt_at, OutboxMail.id).limit(limit)
        if is_postgres(session):
            q = q.with_for_update(skip_locked=True)
        for mail_id, status, token in session.exec(q).all():
            new = secrets.token_hex(8)
            guard = (col(OutboxMail.id) == mail_id) & (col(OutboxMail.status) == status)
            if token is not None:
                guard &= col(OutboxMail.claim_token) == token
            if status == MailStatus.sending and max_attempts is not None:
                res = session.execute(
                    update(OutboxMail)
                    .where(guard, col(OutboxMail.attempts) >= max_attempts)
                    .values(
                        status=MailStatus.failed,
                        claim_token=None,
                        last_error="The deliverer stopped during the last attempt; the server may or may not have it.",
                    )
                )
                if res.rowcount == 1:
                    continue
            res = session.execute(
                update(OutboxMail)
                .where(guard)
                .values(status=MailStatus.sending, claim_token=new, claimed_at=now, attempts=OutboxMail.attempts + 1)
            )
            if res.rowcount == 1:
                claimed.append(mail_id)
        session.commit()
        rows = session.exec(select(OutboxMail).where(col(OutboxMail.id).in_(claimed)).order_by(OutboxMail.id)).all()
        return list(rows)


def _finish(engine: Engine, mail: OutboxMail, **values: Any) -> bool:
    """Write a claimed mail's result, only while this deliverer still holds its claim."""
    with Session(engine) as session:
        res = session.execute(
            update(OutboxMail)
            .where(col(OutboxMail.id) == mail.id, col(OutboxMail.claim_token) == mail.claim_token)
            .values(claim_token=None, **values)
        )
        session.commit()
        return res.rowcount == 1


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: base, 2×base, 4×base, …"""
    return timedelta(seconds=base_seconds * 2 ** max(0, attempts - 1))


def deliver_due(
    engine: Engine,
    send: Callable[[EmailMessage], None],
    now: datetime,
    *,
    sender: str,
    max_attempts: int,
    backoff_seconds: int,
    lease_seconds: int = 600,
    limit: int = 20,
) -> dict[str, int]:
    """One pass of the deliverer: claim due mails, send each with ``send`` (raises on failure),
    and record sent, retry later (exponential back-off) or failed after ``max_attempts``."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    for mail in claim_due(engine, now, limit, timedelta(seconds=lease_seconds), max_attempts):
        try:
            send(message_of(mail, sender))
        except Exception as exc:  # any SMTP or network failure: the row says why
            error = f"{type(exc).__name__}: {exc}"[:1000]
            if mail.attempts >= max_attempts:
                _finish(engine, mail, status=MailStatus.failed, last_error=error)
                counts["failed"] += 1
                log.warning("mail %s to %s failed for good after %s attempts: %s", mail.id, mail.recipient, mail.attempts, error)
            else:
                wait = backoff(mail.attempts, backoff_seconds)
                _finish(engine, mail, status=MailStatus.queued, last_error=error, next_attempt_at=now + wait)
                counts["retry"] += 1
            continue
        if _finish(engine, mail, status=MailStatus.sent, sent_at=now, last_error=""):
            counts["sent"] += 1
    return counts


# --- what people and admins read --------------------------------------------------------------


def list_mail(
    session: Session,
    *,
    status: MailStatus | None = None,
    user_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[OutboxMail]:
    q = select(OutboxMail)
    if status is not None:
        q = q.where(OutboxMail.status == status)
    if user_id is not None:
        q = q.where(OutboxMail.user_id == user_id)
    q = q.order_by(col(OutboxMail.created_at).desc(), col(OutboxMail.id).desc()).offset(offset).limit(limit)
    return list(session.exec(q).all())


def retry(session: Session, mail_id: str, now: datetime | None = None) -> OutboxMail:
    """Put a failed mail back in the queue, due now, with a fresh count of attempts."""
    mail = session.get(OutboxMail, mail_id, with_for_update=True)
    if mail is None:
        raise NotFound(f"No mail {mail_id!r} in the outbox.")
    if mail.status != MailStatus.failed:
        raise InvalidState(f"Mail {mail.id} is {mail.status}; only failed mail can be retried.")
    mail.status, mail.attempts, mail.next_attempt_at = MailStatus.queued, 0, now or utcnow()
    session.add(mail)
    session.flush()
    return mail
