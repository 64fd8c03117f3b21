"""What the programme office does to a registered enterprise besides registering it: find it
(a name or credit code, verified or not, suspended or not, with paging), verify the registration
(checked against the business registry by a person: who and when are kept) and suspend or restore
its booking by hand (the credit rules suspend on their own in ``money.credit``; this is the
office's own decision, with its reason). Every change is audited with its before and after."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, or_, select

from instruments.actor import Actor
from instruments.audit import record, snapshot
from instruments.db import utcnow
from instruments.errors import InvalidInput, InvalidState, NotFound
from scheduler.booking.enterprises import Enterprise


class Standing(StrEnum):
    """A filter of the office's list."""

    unverified = "unverified"
    verified = "verified"
    suspended = "suspended"


def list_enterprises(
    session: Session,
    actor: Actor,
    text: str = "",
    standing: Standing | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> list[Enterprise]:
    """Enterprises by name; ``text`` matches a part of the name or of the credit code."""
    actor.require_admin()
    now = now or utcnow()
    q = select(Enterprise)
    if text.strip():
        like = f"%{text.strip()}%"
        q = q.where(or_(col(Enterprise.name).ilike(like), col(Enterprise.credit_code).ilike(like.upper())))
    if standing == Standing.unverified:
        q = q.where(col(Enterprise.verified_at).is_(None))
    elif standing == Standing.verified:
        q = q.where(col(Enterprise.verified_at).is_not(None))
    elif standing == Standing.suspended:
        q = q.where(col(Enterprise.booking_suspended_until).is_not(None), col(Enterprise.booking_suspended_until) > now)
    return list(session.exec(q.order_by(Enterprise.name, Enterprise.id).offset(offset).limit(limit)).all())


def _locked(session: Session, enterprise_id: str) -> Enterprise:
    ent = session.exec(select(Enterprise).where(Enterprise.id == enterprise_id).with_for_update()).first()
    if ent is None:
        raise NotFound(f"No enterprise {enterprise_id!r}.")
    return ent


def verify(session: Session, actor: Actor, enterprise_id: str, now: datetime | None = None) -> Enterprise:
    """Mark the registration as checked by the programme office (once: verifying again refuses)."""
    actor.require_admin()
    ent = _locked(session, enterprise_id)
    if ent.verified_at is not None:
        raise InvalidState(f"{ent.name} was already verified on {ent.verified_at.date()}.")
    before = snapshot(ent)
    ent.verified_at, ent.verified_by = now or utcnow(), actor.user_id or ""
    session.add(ent)
    session.flush()
    record(session, actor, "enterprise.verify", "enterprise", ent.id, before=before, after=snapshot(ent))
    return ent


def suspend(
    session: Session, actor: Actor, enterprise_id: str, until: datetime, reason: str, now: datetime | None = None
) -> Enterprise:
    """Stop the enterprise booking until ``until`` (the booking rules refuse it meanwhile); the
    reason is kept in the audit record."""
    actor.require_admin()
    now = now or utcnow()
    if not reason.strip():
        raise InvalidInput("Give the reason for the suspension.", field="reason")
    if until <= now:
        raise InvalidInput("The suspension must end in the future.", field="until")
    ent = _locked(session, enterprise_id)
    before = snapshot(ent)
    ent.booking_suspended_until = until
    session.add(ent)
    session.flush()
    after = {**(snapshot(ent) or {}), "reason": reason.strip()}
    record(session, actor, "enterprise.suspend", "enterprise", ent.id, before=before, after=after)
    return ent


def restore(session: Session, actor: Actor, enterprise_id: str, now: datetime | None = None) -> Enterprise:
    """End a suspension now."""
    actor.require_admin()
    now = now or utcnow()
    ent = _locked(session, enterprise_id)
    if ent.booking_suspended_until is None or ent.booking_suspended_until <= now:
        raise InvalidState(f"{ent.name} is not suspended.")
    before = snapshot(ent)
    ent.booking_suspended_until = now
    session.add(ent)
    session.flush()
    record(session, actor, "enterprise.restore", "enterprise", ent.id, before=before, after=snapshot(ent))
    return ent
