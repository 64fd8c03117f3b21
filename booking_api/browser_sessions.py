"""Signed-in browser sessions: one row per sign-in, found by the hash of the random value in the
session cookie, so logging out, changing or resetting a password and an admin disabling a user
end it on the server (a stolen cookie stops working), not only in the browser. Each session
carries its own CSRF token, which every form of a signed-in page sends back."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import Field, Session, SQLModel, select

from instruments.actor import Actor
from instruments.audit import record
from instruments.db import utc_field, utcnow
from instruments.ids import new_id

from .accounts import User


class BrowserSession(SQLModel, table=True):
    __tablename__ = "browser_session"

    id: str = Field(default_factory=lambda: new_id("ses"), primary_key=True)
    user_id: str = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(unique=True, index=True)
    csrf_token: str
    created_at: datetime = utc_field(default_factory=utcnow)
    expires_at: datetime = utc_field()
    revoked_at: datetime | None = utc_field(nullable=True, default=None)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def open_session(session: Session, user: User, lifetime: timedelta, now: datetime) -> tuple[BrowserSession, str]:
    """Start a session for a user who has just proven their password; the cookie value is returned
    once and only its hash is stored."""
    plain = secrets.token_urlsafe(32)
    row = BrowserSession(
        user_id=user.id, token_hash=_hash(plain), csrf_token=secrets.token_urlsafe(24), created_at=now, expires_at=now + lifetime
    )
    session.add(row)
    session.flush()
    record(session, user.actor(), "session.open", "browser_session", row.id)
    return row, plain


def find_session(session: Session, plain: str, now: datetime) -> tuple[BrowserSession, User] | None:
    """The live session behind a cookie value and its (active) user; None when unknown, expired,
    revoked, or the user is disabled."""
    row = session.exec(select(BrowserSession).where(BrowserSession.token_hash == _hash(plain))).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return row, user


def close_session(session: Session, actor: Actor, row: BrowserSession, now: datetime) -> None:
    """Log out: this session ends."""
    row.revoked_at = now
    session.add(row)
    record(session, actor, "session.close", "browser_session", row.id)


def revoke_all(session: Session, actor: Actor, user_id: str, now: datetime) -> int:
    """End every live session of a user (a password was changed or reset); how many ended."""
    rows = session.exec(
        select(BrowserSession).where(BrowserSession.user_id == user_id, BrowserSession.revoked_at.is_(None))  # type: ignore[union-attr]
    ).all()
    for row in rows:
        row.revoked_at = now
        session.add(row)
    if rows:
        record(session, actor, "session.revoke_all", "user", user_id, after={"sessions": len(rows)})
    return len(rows)
