"""Enterprises: the demand side (科技型中小企业, 高企, incubated teams…)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, Session, SQLModel, select

from instruments.actor import Actor, Role
from instruments.audit import record, snapshot
from instruments.db import utc_field
from instruments.errors import Conflict, Forbidden, InvalidInput, NotFound
from instruments.ids import new_id
from instruments.inventory import Instrument
from scheduler.booking import credit_code


class EnterpriseKind(StrEnum):
    tech_sme = "tech_sme"  # 科技型中小企业
    high_tech = "high_tech"  # 高新技术企业
    incubated_team = "incubated_team"
    maker = "maker"
    other = "other"


class Enterprise(SQLModel, table=True):
    __tablename__ = "enterprise"

    id: str = Field(default_factory=lambda: new_id("ent"), primary_key=True)
    name: str = Field(index=True)
    credit_code: str = Field(unique=True, index=True, min_length=18, max_length=18)
    kind: EnterpriseKind = EnterpriseKind.tech_sme
    controller_group: str | None = Field(
        default=None, index=True, description="Actual controller: enterprises sharing one share an annual voucher cap"
    )
    innovation_points: int = Field(default=100, ge=0, description="创新积分, used as a priority weight")
    region: str = ""
    contact_email: str = ""
    booking_suspended_until: datetime | None = utc_field(nullable=True, default=None)
    verified_at: datetime | None = utc_field(
        nullable=True, default=None
    )  # the programme office checked the registration (``enterprise_standing.verify``)
    verified_by: str = Field(default="", description="User id of the programme office member who verified it")

    def suspended_at(self, now: datetime) -> bool:
        """Whether a credit suspension bars the enterprise from booking at ``now``."""
        return self.booking_suspended_until is not None and self.booking_suspended_until > now


def create_enterprise(session: Session, actor: Actor, enterprise: Enterprise) -> Enterprise:
    actor.require_admin()
    enterprise.credit_code = credit_code.normalise(enterprise.credit_code)
    why = credit_code.problem(enterprise.credit_code)
    if why:
        raise InvalidInput(f"Invalid credit_code: {why}.", field="credit_code")
    existing = session.exec(select(Enterprise).where(Enterprise.credit_code == enterprise.credit_code)).first()
    if existing:
        raise Conflict(
            f"An enterprise with credit code {enterprise.credit_code} is already registered ({existing.id}).",
            conflicts=[{"enterprise": existing.id}],
        )
    session.add(enterprise)
    session.flush()
    record(session, actor, "enterprise.create", "enterprise", enterprise.id, after=snapshot(enterprise))
    return enterprise


def get_enterprise(session: Session, enterprise_id: str) -> Enterprise:
    ent = session.get(Enterprise, enterprise_id)
    if ent is None:
        raise NotFound(f"No enterprise {enterprise_id!r}.")
    return ent


def booking_for(session: Session, actor: Actor, instrument: Instrument, enterprise_id: str | None) -> Enterprise | None:
    """The enterprise a booking by ``actor`` is for: an enterprise member's own; the one a lab
    manager of the instrument's unit names (or none, for the unit's own use). Anyone else may
    not book the instrument."""
    if actor.role == Role.enterprise_member:
        enterprise_id = actor.enterprise_id
    elif not actor.manages_unit(instrument.owner_unit_id):
        raise Forbidden("Only enterprise members, or the lab managers of this instrument's unit, can book it.")
    if not enterprise_id:
        return None
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound(f"No enterprise {enterprise_id!r}.")
    return enterprise
