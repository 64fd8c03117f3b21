"""Putting supply online: owner units, labs, instruments and their published hours.

The API and the fixtures both go through these functions, so both check scope the same way and
leave the same audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlmodel import Session, select

from .actor import Actor
from .audit import record, snapshot
from .availability import AvailabilityException, OpeningRule, validate_exception, validate_rule, zone
from .errors import InvalidInput, NotFound
from .inventory import Instrument, InstrumentStatus
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


def update_instrument(session: Session, actor: Actor, inst: Instrument, changes: dict[str, Any]) -> Instrument:
    """Apply ``changes`` (field → value; ``None`` leaves a field as it is, except ``lab_id``)."""
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    if "lab_id" in changes:
        check_lab(session, changes["lab_id"], inst.owner_unit_id)
    before = snapshot(inst)
    for k, v in changes.items():
        if v is not None or k == "lab_id":
            setattr(inst, k, v)
    session.add(inst)
    session.flush()
    record(session, actor, "instrument.update", "instrument", inst.id, before=before, after=snapshot(inst))
    return inst


RETIRED = InstrumentStatus.awaiting_scrapping
"""A retired instrument stays in the catalogue (its bookings and usage keep their history) with
the NRII status 待报废, which no booking accepts."""


def retire_instrument(session: Session, actor: Actor, inst: Instrument) -> Instrument:
    """Take an instrument out of service for good: status ``awaiting_scrapping``."""
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    before = snapshot(inst)
    inst.status = RETIRED
    session.add(inst)
    session.flush()
    record(session, actor, "instrument.retire", "instrument", inst.id, before=before, after=snapshot(inst))
    return inst


def check_policy(values: dict[str, Any]) -> None:
    """The booking policy's numbers agree with each other (each is range-checked where it is read)."""
    if values["max_minutes"] < values["min_minutes"]:
        raise InvalidInput("max_minutes must be at least min_minutes.", field="max_minutes")
    if values["min_minutes"] % values["slot_minutes"]:
        raise InvalidInput("min_minutes must be a multiple of slot_minutes.", field="min_minutes")
    if any(v < 0 for v in values.get("lead_minutes", {}).values()):
        raise InvalidInput("lead times cannot be negative.", field="lead_minutes")


def set_policy(session: Session, actor: Actor, inst: Instrument, values: dict[str, Any]) -> BookingPolicy:
    """Replace the instrument's booking policy by ``values`` (checked by ``check_policy``)."""
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    check_policy(values)
    policy = session.get(BookingPolicy, inst.id)
    before = snapshot(policy)
    if policy is None:
        policy = BookingPolicy(instrument_id=inst.id, **values)
    else:
        for k, v in values.items():
            setattr(policy, k, v)
    session.add(policy)
    session.flush()
    record(session, actor, "policy.update", "booking_policy", inst.id, before=before, after=snapshot(policy))
    return policy


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


def own_row(session: Session, model: type[Any], row_id: str, inst: Instrument, what: str) -> Any:
    """The instrument's opening rule or exception ``row_id`` (``model``); NotFound naming
    ``what`` if there is none, or it is another instrument's."""
    row = session.get(model, row_id)
    if row is None or row.instrument_id != inst.id:
        raise NotFound(f"No {what} {row_id!r} on this instrument.")
    return row


def remove_opening_rule(session: Session, actor: Actor, inst: Instrument, rule_id: str) -> None:
    """Delete one of the instrument's opening rules (NotFound if it has no such rule)."""
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    rule = own_row(session, OpeningRule, rule_id, inst, "opening rule")
    record(session, actor, "opening_rule.delete", "opening_rule", rule.id, before=snapshot(rule))
    session.delete(rule)
    session.flush()


def remove_exception(session: Session, actor: Actor, inst: Instrument, exception_id: str) -> None:
    """Delete one of the instrument's exceptions (NotFound if it has no such exception)."""
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    exc = own_row(session, AvailabilityException, exception_id, inst, "exception")
    record(session, actor, "exception.delete", "availability_exception", exc.id, before=snapshot(exc))
    session.delete(exc)
    session.flush()


RULE_FIELDS = frozenset({"rrule", "start_time", "end_time", "valid_from", "valid_until", "follows_holidays", "label"})
EXCEPTION_FIELDS = frozenset({"kind", "start", "end", "title", "reason"})


def _unknown(changes: dict[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(changes) - allowed)
    if extra:
        raise InvalidInput(f"These fields cannot be changed: {', '.join(extra)}.", field=extra[0])


def _edit(
    session: Session,
    actor: Actor,
    row: Any,
    fields: frozenset[str],
    changes: dict[str, Any],
    check: Callable[[Any], object],
    action: str,
    entity: str,
) -> None:
    """Change ``fields`` of ``row`` in place as ``changes`` say. The row as it would read
    afterwards (every other column as it is: id, instrument, source) is built apart and checked
    (``check``) before the row is touched, so a refused edit leaves nothing pending in the
    session; then one audit row (``action``) with before and after."""
    before = snapshot(row)
    candidate = type(row)(**{**row.model_dump(), **changes})
    check(candidate)
    for k in fields:
        setattr(row, k, getattr(candidate, k))
    session.add(row)
    session.flush()
    record(session, actor, action, entity, row.id, before=before, after=snapshot(row))


def update_opening_rule(
    session: Session, actor: Actor, inst: Instrument, rule_id: str, changes: dict[str, Any]
) -> OpeningRule:
    """Change one of the instrument's opening rules (``changes``: field → new value, any of
    ``RULE_FIELDS``; ``valid_until`` may become None), checked as a new one is
    (``validate_rule``); NotFound if the instrument has no such rule."""
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    _unknown(changes, RULE_FIELDS)
    rule = own_row(session, OpeningRule, rule_id, inst, "opening rule")
    _edit(session, actor, rule, RULE_FIELDS, changes, validate_rule, "opening_rule.update", "opening_rule")
    return rule


def update_exception(
    session: Session, actor: Actor, inst: Instrument, exception_id: str, changes: dict[str, Any]
) -> AvailabilityException:
    """Change one of the instrument's closures or extra openings (``changes``: any of
    ``EXCEPTION_FIELDS``), checked as a new one is (``validate_exception``: it may overlap its own
    old times, never another exception); NotFound if the instrument has no such exception. Its
    ``source`` stays: an edited ``ics`` closure is still one (a re-import of the file skips it only
    while its times are unchanged)."""
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    _unknown(changes, EXCEPTION_FIELDS)
    exc = own_row(session, AvailabilityException, exception_id, inst, "exception")
    check = partial(validate_exception, session)
    _edit(session, actor, exc, EXCEPTION_FIELDS, changes, check, "exception.update", "availability_exception")
    return exc
