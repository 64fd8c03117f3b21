"""Putting supply online: owner units, labs, instruments and their published hours.

The API and the fixtures both go through these functions, so both check scope the same way and
leave the same audit trail.
"""

from __future__ import annotations

from sqlmodel import Session, select

from .actor import Actor
from .audit import record, snapshot
from .availability import AvailabilityException, OpeningRule, validate_exception, validate_rule, zone
from .errors import InvalidInput, NotFound
from .inventory import Instrument
from .policy import BookingPolicy
from .units import Lab, OwnerUnit


def get_instrument(session: Session, instrument_id: str, lock: bool = False) -> Instrument:
    """The instrument, or NotFound; ``lock`` takes the row FOR UPDATE (serialises its bookings)."""
    query = select(Instrument).where(Instrument.id == instrument_id)
    inst = session.exec(query.with_for_update() if lock else query).first()
    if inst is None:
        raise NotFound(f"No instrument {instrument_id!r}.")
    return inst


def create_unit(session: Session, actor: Actor, unit: OwnerUnit) -> OwnerUnit:
    actor.require_admin()
    zone(unit.timezone)
    session.add(unit)
    session.flush()
    record(session, actor, "owner_unit.create", "owner_unit", unit.id, after=snapshot(unit))
    return unit


def create_lab(session: Session, actor: Actor, lab: Lab) -> Lab:
    actor.require_unit_manager(lab.owner_unit_id)
    session.add(lab)
    session.flush()
    record(session, actor, "lab.create", "lab", lab.id, after=snapshot(lab))
    return lab


def check_lab(session: Session, lab_id: str | None, unit_id: str) -> None:
    if lab_id is None:
        return
    lab = session.get(Lab, lab_id)
    if lab is None or lab.owner_unit_id != unit_id:
        raise InvalidInput(f"Lab {lab_id!r} is not a lab of this owner unit.", field="lab_id")


def create_instrument(
    session: Session, actor: Actor, inst: Instrument, policy: BookingPolicy | None = None
) -> Instrument:
    if session.get(OwnerUnit, inst.owner_unit_id) is None:
        raise InvalidInput(f"No owner unit {inst.owner_unit_id!r}.", field="owner_unit_id")
    actor.require_unit_manager(inst.owner_unit_id)
    check_lab(session, inst.lab_id, inst.owner_unit_id)
    zone(inst.timezone)
    session.add(inst)
    session.flush()
    policy = policy or BookingPolicy(instrument_id=inst.id)
    policy.instrument_id = inst.id
    session.add(policy)
    record(session, actor, "instrument.create", "instrument", inst.id, after=snapshot(inst))
    return inst


def add_opening_rule(session: Session, actor: Actor, inst: Instrument, rule: OpeningRule) -> OpeningRule:
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    rule.instrument_id = inst.id
    validate_rule(rule)
    session.add(rule)
    session.flush()
    record(session, actor, "opening_rule.create", "opening_rule", rule.id, after=snapshot(rule))
    return rule


def add_exception(
    session: Session, actor: Actor, inst: Instrument, exc: AvailabilityException
) -> AvailabilityException:
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    exc.instrument_id = inst.id
    validate_exception(session, exc)
    session.add(exc)
    session.flush()
    record(session, actor, "exception.create", "availability_exception", exc.id, after=snapshot(exc))
    return exc
