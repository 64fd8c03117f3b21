"""User accounts, roles, passwords and API tokens: the door. Tokens are random, shown once, stored
hashed (SHA-256: they carry 256 random bits); passwords are stored as Argon2 hashes (pwdlib), which
make guessing a stolen hash slow. A user without a password signs in with tokens only."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from functools import cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import bindparam, func
from sqlmodel import Field, Session, SQLModel, col, select

from instruments.actor import Actor, Role
from instruments.audit import record
from instruments.db import keep, utc_field, utcnow
from instruments.errors import InvalidInput, NotFound, Unauthorized
from instruments.ids import new_id
from scheduler.booking.enterprises import Enterprise
from scheduler.shared.mail_prefs import MailPreference, remember_account

TOKEN_PREFIX = "lsk_"
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 200
# Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): slow for a guesser with a stolen
# hash, cheap enough that sign-ins, demo builds and tests do not wait on it. Parameters live in each
# hash, so raising them later still verifies older hashes.
_hasher = PasswordHash((Argon2Hasher(memory_cost=19 * 1024, time_cost=2, parallelism=1),))


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: str = Field(default_factory=lambda: new_id("usr"), primary_key=True)
    name: str
    email: str = Field(unique=True, index=True)
    role: Role
    owner_unit_id: str | None = Field(default=None, foreign_key="owner_unit.id", index=True)
    enterprise_id: str | None = Field(default=None, foreign_key="enterprise.id", index=True)
    operator_id: str | None = Field(default=None, foreign_key="operator.id")
    active: bool = True
    password_hash: str | None = Field(default=None, exclude=True)
    created_at: datetime = utc_field(default_factory=utcnow)

    def actor(self) -> Actor:
        return Actor(
            user_id=self.id,
            role=self.role,
            owner_unit_id=self.owner_unit_id,
            enterprise_id=self.enterprise_id,
            operator_id=self.operator_id,
            name=self.name,
        )


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: str = Field(default_factory=lambda: new_id("tok"), primary_key=True)
    user_id: str = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(unique=True, index=True)
    label: str = ""
    created_at: datetime = utc_field(default_factory=utcnow)
    revoked_at: datetime | None = utc_field(nullable=True, default=None)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("not a password of anyone")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


SCOPE_FIELDS = {
    Role.lab_manager: "owner_unit_id",
    Role.enterprise_member: "enterprise_id",
    Role.operator: "operator_id",
}


def create_user(session: Session, actor: Actor, user: User) -> User:
    actor.require_admin()
    need = SCOPE_FIELDS.get(user.role)
    if need and not getattr(user, need):
        raise InvalidInput(f"A {str(user.role)} must be scoped: give {need}.", field=need)
    if session.exec(select(User).where(User.email == user.email)).first():
        raise InvalidInput(f"A user with e-mail {user.email} exists already.", field="email")
    session.add(user)
    session.flush()
    record(session, actor, "user.create", "user", user.id, after=user.model_dump(mode="json", warnings=False))
    return user


def check_password_rules(plain: str, field: str = "password") -> None:
    """A password is long enough to resist guessing and short enough to hash cheaply."""
    if len(plain) < PASSWORD_MIN_LENGTH:
        raise InvalidInput(f"A password needs at least {PASSWORD_MIN_LENGTH} characters.", field=field)
    if len(plain) > PASSWORD_MAX_LENGTH:
        raise InvalidInput(f"A password may have at most {PASSWORD_MAX_LENGTH} characters.", field=field)


def set_password(session: Session, actor: Actor, user: User, plain: str) -> User:
    """Set (or reset) a user's password: the user themself or a programme admin. Every browser
    session of the user ends (see ``browser_sessions.revoke_all``, called by the caller that owns
    them); the audit row records who set it, never the password."""
    if actor.user_id != user.id:
        actor.require_admin()
    check_password_rules(plain)
    user.password_hash = _hasher.hash(plain)
    session.add(user)
    record(session, actor, "user.password", "user", user.id, after={"by": "self" if actor.user_id == user.id else "admin"})
    return user


def verify_password(user: User | None, plain: str) -> bool:
    """Whether ``plain`` is this user's password. Without a user (unknown e-mail) a hash is still
    computed, so the answer takes as long as for a real account and does not reveal which e-mails exist."""
    if user is None or user.password_hash is None or not user.active:
        _hasher.verify(plain, _dummy_hash())
        return False
    return _hasher.verify(plain, user.password_hash)


def user_by_login(session: Session, username: str) -> User | None:
    """The user whose login name (their e-mail, compared without case or surrounding spaces) this is."""
    name = username.strip().lower()
    return session.exec(select(User).where(func.lower(User.email) == name)).first()


def issue_token(session: Session, user: User, label: str = "") -> tuple[ApiToken, str]:
    """Create a token; the plain text is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tok = ApiToken(user_id=user.id, token_hash=hash_token(plain), label=label)
    session.add(tok)
    session.flush()
    return tok, plain


@cache
def _token_lookup():  # noqa: ANN202 - a select
    """The token lookup, built once: every authenticated request runs it, and building a
    statement and its cache key anew each time costs more than running it."""
    return (
        select(ApiToken, User, Enterprise, MailPreference.language, MailPreference.opt_outs)
        .join(User, col(User.id) == ApiToken.user_id)
        .outerjoin(Enterprise, col(Enterprise.id) == User.enterprise_id)
        .outerjoin(MailPreference, col(MailPreference.user_id) == User.id)
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )


def authenticate(session: Session, plain: str) -> User:
    """The user behind an API token, in one query (token, user, the user's enterprise and mail
    preference joined); the user and their enterprise are kept in the session
    (``instruments.db.keep``), so a write naming them, or a booking rule reading the enterprise's
    standing, does not read them again, and the user's mail preference is remembered for the
    mail the request may send them (``mail_prefs.remember_account``: the booker of a new booking
    is its mail's recipient)."""
    found = session.exec(_token_lookup(), params={"token_hash": hash_token(plain)}).first()
    if found is None or found[0].revoked_at is not None:
        raise Unauthorized("The API token is unknown or revoked.")
    user, enterprise, language, opt_outs = found[1], found[2], found[3], found[4]
    if not user.active:
        raise Unauthorized("The account behind this token is disabled.")
    keep(session, user, *([enterprise] if enterprise is not None else []))
    remember_account(session, user, language, opt_outs)
    return user


def revoke_token(session: Session, actor: Actor, token_id: str) -> ApiToken:
    tok = session.get(ApiToken, token_id)
    if tok is None or (tok.user_id != actor.user_id and not actor.is_admin):
        raise NotFound(f"No token {token_id!r} of yours.")
    tok.revoked_at = utcnow()
    session.add(tok)
    record(session, actor, "token.revoke", "api_token", tok.id)
    return tok
