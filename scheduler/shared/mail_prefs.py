"""Who receives which mail, in which language: the kinds of mail, a user's language and opt-outs,
and the addresses an event goes to.

A preference row belongs to a user account (``app_user``, the door's table): this room reads the
account's address through a lightweight table construct instead of importing ``booking_api``, so
imports keep flowing one way. A user without a row gets the platform default: zh-CN, every kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, String, cast, column, select, table, text
from sqlmodel import Field, Session, SQLModel

from instruments.db import json_field, utc_field, utcnow
from instruments.errors import InvalidInput


class MailKind(StrEnum):
    booking_created = "booking_created"
    booking_confirmed = "booking_confirmed"
    booking_moved = "booking_moved"
    booking_cancelled = "booking_cancelled"
    booking_no_show = "booking_no_show"
    booking_reminder = "booking_reminder"
    request_placed = "request_placed"
    request_unplaced = "request_unplaced"
    time_offered = "time_offered"
    voucher_issued = "voucher_issued"
    voucher_expiring = "voucher_expiring"
    voucher_lapsed = "voucher_lapsed"
    redemption_window_open = "redemption_window_open"
    claim_decided = "claim_decided"
    batch_paid = "batch_paid"
    report_published = "report_published"


MANDATORY = frozenset({MailKind.booking_cancelled, MailKind.booking_no_show, MailKind.claim_decided})
"""Kinds a person cannot opt out of: they change what the person owes or may do."""

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


class MailPreference(SQLModel, table=True):
    __tablename__ = "mail_preference"

    user_id: str = Field(foreign_key="app_user.id", primary_key=True)
    language: str = DEFAULT_LANGUAGE
    opt_outs: list[str] = json_field(list)
    updated_at: datetime = utc_field(default_factory=utcnow)


_user = table(
    "app_user",
    column("id", String),
    column("email", String),
    column("role", String),
    column("enterprise_id", String),
    column("owner_unit_id", String),
    column("active", Boolean),
)


@dataclass(frozen=True)
class Recipient:
    address: str
    language: str
    user_id: str | None = None


def remember_account(session: Session, user: Any, language: str | None, opt_outs: list[str] | None) -> None:
    """Remember, for this session, an account read with its mail preference (the API token's
    user, ``booking_api.accounts.authenticate``; ``language``/``opt_outs`` None: no preference
    row): ``recipients`` naming that user then needs no query. ``user`` is the session's own
    (kept) row, so its address and state are read as they are when the mail is written; changing
    the preference in the session forgets it (``set_preferences``)."""
    session.info.setdefault("mail_accounts", {})[user.id] = (user, language, opt_outs)


def _remembered(session: Session, kind: MailKind, user_id: str) -> list[Recipient] | None:
    known = session.info.get("mail_accounts", {}).get(user_id)
    if known is None:
        return None
    user, language, opt_outs = known
    if not user.active or not user.email or (kind not in MANDATORY and str(kind) in (opt_outs or [])):
        return []
    return [Recipient(user.email, language or DEFAULT_LANGUAGE, user.id)]


def preferences(session: Session, user_id: str) -> MailPreference:
    """The user's preference (a default one, not stored, if they never set any)."""
    return session.get(MailPreference, user_id) or MailPreference(user_id=user_id)


def set_preferences(
    session: Session, user_id: str, language: str | None = None, opt_outs: list[str] | None = None
) -> MailPreference:
    """Change a user's language and/or opt-outs; refuses unknown kinds and mandatory ones."""
    session.info.get("mail_accounts", {}).pop(user_id, None)
    pref = session.get(MailPreference, user_id, with_for_update=True) or MailPreference(user_id=user_id)
    if language is not None:
        if language not in LANGUAGES:
            raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}.", field="language")
        pref.language = language
    if opt_outs is not None:
        known = {str(k) for k in MailKind}
        unknown = sorted(set(opt_outs) - known)
        if unknown:
            raise InvalidInput(
                f"Unknown mail kind(s): {', '.join(unknown)}; the kinds are: {', '.join(sorted(known))}.",
                field="opt_outs",
            )
        fixed = sorted(set(opt_outs) & {str(k) for k in MANDATORY})
        if fixed:
            raise InvalidInput(
                f"These mails cannot be turned off, because they change what you owe or may do: {', '.join(fixed)}.",
                field="opt_outs",
            )
        pref.opt_outs = sorted(set(opt_outs))
    pref.updated_at = utcnow()
    session.add(pref)
    session.flush()
    return pref


def recipients(
    session: Session,
    kind: MailKind,
    *,
    user_id: str | None = None,
    enterprise_id: str | None = None,
    owner_unit_id: str | None = None,
    roles: tuple[str, ...] = (),
) -> list[Recipient]:
    """The active accounts an event is addressed to, minus those who opted out of ``kind``: the
    named user if there is one, else the enterprise's members or the unit's lab managers, else the
    holders of ``roles`` platform-wide. An enterprise without accounts is reached at its contact
    address, in the default language. A named user the session read with their preference
    (``remember_account``) is answered without a query."""
    if user_id and (known := _remembered(session, kind, user_id)) is not None:
        return known
    role = cast(_user.c.role, String)  # an enum type on PostgreSQL, compared as text
    pref = MailPreference.__table__.c
    q = (
        select(_user.c.id, _user.c.email, pref.language, pref.opt_outs)
        .select_from(_user.outerjoin(MailPreference.__table__, pref.user_id == _user.c.id))
        .where(_user.c.active.is_(True))
    )
    if user_id:
        q = q.where(_user.c.id == user_id)
    elif enterprise_id:
        q = q.where(_user.c.enterprise_id == enterprise_id, role == "enterprise_member")
    elif owner_unit_id:
        q = q.where(_user.c.owner_unit_id == owner_unit_id, role == "lab_manager")
    elif roles:
        q = q.where(role.in_(roles))
    else:
        return []
    rows = list(session.execute(q.order_by(_user.c.id)).all())
    if not rows and enterprise_id and not user_id:
        contact = session.execute(
            text("SELECT contact_email FROM enterprise WHERE id = :e"), {"e": enterprise_id}
        ).scalar()
        return [Recipient(contact, DEFAULT_LANGUAGE)] if contact else []
    out = []
    for uid, email, language, opt_outs in rows:  # the preference joined in: one statement for everyone
        if kind not in MANDATORY and str(kind) in (opt_outs or []):
            continue
        if email:
            out.append(Recipient(email, language or DEFAULT_LANGUAGE, uid))
    return out
