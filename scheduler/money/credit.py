"""Complaints and credit: no-shows, late cancellations and confirmed fraud become credit events;
thresholds (policy as data) suspend booking for a while or blacklist. Red list = good standing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from pydantic import Field as PField
from sqlmodel import Field, Session, SQLModel, col, func, select

from instruments.actor import Actor, Role
from instruments.audit import record, snapshot
from instruments.db import utc_field, utcnow
from instruments.errors import Forbidden, InvalidInput, InvalidState, NotFound
from instruments.ids import new_id
from instruments.settings import get_settings
from scheduler.booking.bookings import Booking, BookingStatus, get_visible
from scheduler.booking.enterprises import Enterprise

FOREVER = timedelta(days=365 * 100)


class CreditRules(BaseModel):
    """Thresholds (presets from published facility rules: 3 no-shows → banned 1 month)."""

    window_days: int = PField(default=365, ge=1)
    no_show_limit: int = PField(default=3, ge=1)
    no_show_suspension_days: int = PField(default=30, ge=1)
    late_cancel_limit: int = PField(default=5, ge=1)
    late_cancel_suspension_days: int = PField(default=14, ge=1)
    red_list_min_completed: int = PField(default=3, ge=1)


DEFAULT_RULES = CreditRules()


class CreditKind(StrEnum):
    no_show = "no_show"
    late_cancel = "late_cancel"
    fraud = "fraud"
    suspension = "suspension"


class CreditEvent(SQLModel, table=True):
    __tablename__ = "credit_event"

    id: str = Field(default_factory=lambda: new_id("cre"), primary_key=True)
    enterprise_id: str = Field(foreign_key="enterprise.id", index=True)
    kind: CreditKind = Field(index=True)
    booking_id: str | None = Field(default=None, foreign_key="booking.id")
    at: datetime = utc_field(default_factory=utcnow, index=True)
    note: str = ""


class ComplaintStatus(StrEnum):
    open = "open"
    resolved = "resolved"
    dismissed = "dismissed"  # looked into and found without ground (the reason says why)


class Complaint(SQLModel, table=True):
    __tablename__ = "complaint"

    id: str = Field(default_factory=lambda: new_id("cmp"), primary_key=True)
    booking_id: str = Field(foreign_key="booking.id", index=True)
    enterprise_id: str = Field(foreign_key="enterprise.id", index=True)
    text: str
    status: ComplaintStatus = Field(default=ComplaintStatus.open, index=True)
    resolution: str = ""
    created_at: datetime = utc_field(default_factory=utcnow)
    resolved_at: datetime | None = utc_field(nullable=True, default=None)


def note_event(
    session: Session,
    actor: Actor,
    enterprise_id: str,
    kind: CreditKind,
    booking_id: str | None = None,
    note: str = "",
    now: datetime | None = None,
    rules: CreditRules = DEFAULT_RULES,
) -> CreditEvent:
    """Record a credit event and apply the thresholds it may cross."""
    now = now or utcnow()
    ev = CreditEvent(enterprise_id=enterprise_id, kind=kind, booking_id=booking_id, at=now, note=note)
    session.add(ev)
    session.flush()
    record(session, actor, f"credit.{kind}", "enterprise", enterprise_id, after=snapshot(ev))
    ent = session.get(Enterprise, enterprise_id)
    if ent is None:
        return ev
    since = now - timedelta(days=rules.window_days)
    limits = {
        CreditKind.no_show: (rules.no_show_limit, rules.no_show_suspension_days),
        CreditKind.late_cancel: (rules.late_cancel_limit, rules.late_cancel_suspension_days),
    }
    until = None
    if kind == CreditKind.fraud:
        until = now + FOREVER
    elif kind in limits:
        limit, days = limits[kind]
        count = session.exec(
            select(func.count())
            .select_from(CreditEvent)
            .where(CreditEvent.enterprise_id == enterprise_id, CreditEvent.kind == kind, CreditEvent.at > since)
        ).one()
        if count >= limit and count % limit == 0:
            until = now + timedelta(days=days)
    if until is not None and (ent.booking_suspended_until is None or ent.booking_suspended_until < until):
        before = snapshot(ent)
        ent.booking_suspended_until = until
        session.add(ent)
        session.add(
            CreditEvent(
                enterprise_id=enterprise_id,
                kind=CreditKind.suspension,
                at=now,
                note=f"after {kind}: booking suspended until {until.date()}",
            )
        )
        record(session, actor, "enterprise.suspend", "enterprise", ent.id, before=before, after=snapshot(ent))
    return ev


def confirm_fraud(
    session: Session, actor: Actor, enterprise_id: str, voucher_ids: list[str], note: str, now: datetime | None = None
) -> CreditEvent:
    """Confirmed fraud: blacklist the enterprise, void the vouchers involved, claw money back."""
    from scheduler.money.revocation import revoke  # fraud voids the enterprise's vouchers

    actor.require_admin()
    if session.get(Enterprise, enterprise_id) is None:
        raise NotFound(f"No enterprise {enterprise_id!r}.")
    if not note.strip():
        raise InvalidInput("Describe the finding.", field="note")
    for vid in voucher_ids:
        revoke(session, actor, vid, f"fraud: {note}", fraud=True)
    return note_event(session, actor, enterprise_id, CreditKind.fraud, note=note, now=now)


def file_complaint(session: Session, actor: Actor, booking_id: str, text: str) -> Complaint:
    booking, _ = get_visible(session, actor, booking_id)
    if actor.role != Role.enterprise_member or booking.enterprise_id != actor.enterprise_id:
        raise Forbidden("Only the booking enterprise files a complaint about it.")
    if not text.strip():
        raise InvalidInput("Say what went wrong.", field="text")
    c = Complaint(booking_id=booking.id, enterprise_id=booking.enterprise_id, text=text.strip())
    session.add(c)
    session.flush()
    record(session, actor, "complaint.file", "complaint", c.id, after=snapshot(c))
    return c


def complaints_of(session: Session, actor: Actor) -> list[Complaint]:
    """An enterprise member's complaints (their enterprise's), newest first; all for programme admins."""
    q = select(Complaint)
    if actor.role == Role.enterprise_member and actor.enterprise_id:
        q = q.where(Complaint.enterprise_id == actor.enterprise_id)
    elif not actor.is_admin:
        raise Forbidden("Only enterprise members and programme admins list complaints.")
    return list(session.exec(q.order_by(col(Complaint.created_at).desc(), col(Complaint.id))).all())


def list_complaints(
    session: Session,
    actor: Actor,
    status: ComplaintStatus | None = None,
    enterprise_id: str | None = None,
    owner_unit_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Complaint]:
    """Complaints, oldest open first then newest: programme admins all; a lab manager those about
    bookings at their own unit's instruments; an enterprise member their enterprise's."""
    q = select(Complaint)
    if actor.role == Role.enterprise_member and actor.enterprise_id:
        if enterprise_id and enterprise_id != actor.enterprise_id:
            raise Forbidden("An enterprise member sees only their own enterprise's complaints.")
        enterprise_id = actor.enterprise_id
    elif actor.role == Role.lab_manager and actor.owner_unit_id:
        if owner_unit_id and owner_unit_id != actor.owner_unit_id:
            raise Forbidden("A lab manager sees only the complaints about their own unit.")
        owner_unit_id = actor.owner_unit_id
    elif not actor.is_admin:
        raise Forbidden("Only enterprise members, lab managers and programme admins list complaints.")
    if status:
        q = q.where(Complaint.status == status)
    if enterprise_id:
        q = q.where(Complaint.enterprise_id == enterprise_id)
    if owner_unit_id:
        from instruments.inventory import Instrument  # the unit of a booking is its instrument's

        q = q.where(
            col(Complaint.booking_id).in_(
                select(Booking.id)
                .join(Instrument, Instrument.id == Booking.instrument_id)
                .where(Instrument.owner_unit_id == owner_unit_id)
            )
        )
    opened_first = (Complaint.status != ComplaintStatus.open,)
    q = q.order_by(*opened_first, col(Complaint.created_at).desc(), col(Complaint.id))
    return list(session.exec(q.offset(offset).limit(limit)).all())


def resolve_complaint(
    session: Session,
    actor: Actor,
    complaint_id: str,
    resolution: str,
    dismiss: bool = False,
    now: datetime | None = None,
) -> Complaint:
    """Close an open complaint with the office's words: resolved (it had ground, and what was
    done) or dismissed (``dismiss``: why it had none)."""
    actor.require_admin()
    c = session.get(Complaint, complaint_id)
    if c is None:
        raise NotFound(f"No complaint {complaint_id!r}.")
    if c.status != ComplaintStatus.open:
        raise InvalidState(f"Complaint {c.id} is already {c.status}.")
    if not resolution.strip():
        if dismiss:
            raise InvalidInput("Say why the complaint is dismissed.", field="resolution")
        raise InvalidInput("Say how it was resolved.", field="resolution")
    before = snapshot(c)
    c.status = ComplaintStatus.dismissed if dismiss else ComplaintStatus.resolved
    c.resolution, c.resolved_at = resolution.strip(), now or utcnow()
    session.add(c)
    action = "complaint.dismiss" if dismiss else "complaint.resolve"
    record(session, actor, action, "complaint", c.id, before=before, after=snapshot(c))
    return c


def lift_suspension(
    session: Session, actor: Actor, enterprise_id: str, reason: str, now: datetime | None = None
) -> Enterprise:
    """Take an enterprise off the black list (its booking suspension ends now), saying why (an
    appeal upheld, a mistaken no-show). The credit events stay: they still count against the red
    list and towards the next threshold; the reason is in the audit log."""
    actor.require_admin()
    now = now or utcnow()
    ent = session.get(Enterprise, enterprise_id)
    if ent is None:
        raise NotFound(f"No enterprise {enterprise_id!r}.")
    if ent.booking_suspended_until is None or ent.booking_suspended_until <= now:
        raise InvalidState(f"{ent.name} is not suspended.")
    if not reason.strip():
        raise InvalidInput("Say why the suspension is lifted.", field="reason")
    before = snapshot(ent)
    ent.booking_suspended_until = None
    session.add(ent)
    record(
        session,
        actor,
        "enterprise.unsuspend",
        "enterprise",
        ent.id,
        before=before,
        after={**snapshot(ent), "reason": reason.strip()},
    )
    return ent


def black_list(session: Session, now: datetime | None = None) -> list[Enterprise]:
    now = now or utcnow()
    return list(
        session.exec(
            select(Enterprise)
            .where(col(Enterprise.booking_suspended_until).is_not(None), Enterprise.booking_suspended_until > now)
            .order_by(Enterprise.name)
        ).all()
    )


def red_list(session: Session, now: datetime | None = None, rules: CreditRules = DEFAULT_RULES) -> list[Enterprise]:
    """Good standing: enough completed bookings in the window and no credit event at all."""
    now = now or utcnow()
    since = now - timedelta(days=rules.window_days)
    done = (
        select(Booking.enterprise_id)
        .where(Booking.status == BookingStatus.completed, Booking.end > since, col(Booking.enterprise_id).is_not(None))
        .group_by(Booking.enterprise_id)
        .having(func.count() >= rules.red_list_min_completed)
    )
    bad = select(CreditEvent.enterprise_id).where(CreditEvent.at > since)
    return list(
        session.exec(
            select(Enterprise)
            .where(col(Enterprise.id).in_(done), col(Enterprise.id).not_in(bad))
            .order_by(Enterprise.name)
        ).all()
    )


# --- what the public may see ---------------------------------------------------------------------


class Standing(StrEnum):
    good = "good"  # on the red list
    suspended = "suspended"  # booking suspended for a while (no-shows, late cancellations)
    blacklisted = "blacklisted"  # confirmed fraud: suspended for good


@dataclass(frozen=True)
class PublicStanding:
    """One line of a public credit list: the enterprise's name and standing, and the local day a
    suspension ends. Nothing else: credit codes, controller groups, contacts, innovation points
    and ids are for programme admins (``GET /enterprises``), not for the public."""

    name: str
    standing: Standing
    until: date | None = None


def public_red_list(session: Session, now: datetime | None = None) -> list[PublicStanding]:
    return [PublicStanding(e.name, Standing.good) for e in red_list(session, now)]


def public_black_list(session: Session, now: datetime | None = None) -> list[PublicStanding]:
    """Suspended and blacklisted enterprises; ``until`` is the last local day of a suspension
    (none for a blacklisting, which does not end)."""
    ents = black_list(session, now)
    frauds = set(
        session.exec(
            select(CreditEvent.enterprise_id).where(
                CreditEvent.kind == CreditKind.fraud, col(CreditEvent.enterprise_id).in_([e.id for e in ents])
            )
        ).all()
    )
    tz = ZoneInfo(get_settings().default_timezone)
    return [
        PublicStanding(e.name, Standing.blacklisted)
        if e.id in frauds
        else PublicStanding(e.name, Standing.suspended, e.booking_suspended_until.astimezone(tz).date())
        for e in ents
    ]
