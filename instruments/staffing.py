"""Managing a unit's operators: which instruments each may run (an existing operator can be given
another instrument, or taken off one), their working hours, and qualifications with their expiry.
One home for the API (``booking_api/routers/staff.py``) and the lab manager's console, so both
check scope the same way and leave the same audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time

from sqlmodel import Session, select

from .actor import Actor
from .audit import record, snapshot
from .errors import InvalidInput, NotFound
from .inventory import Instrument
from .recurrence import require_a_day
from .staff import Operator, OperatorInstrument, Qualification

SHIFTS_FROM = date(2000, 1, 1)
"""Working hours are read as rules valid from this day (``scheduler.booking.operators.working_rules``)."""


def get_operator(session: Session, actor: Actor, operator_id: str) -> Operator:
    """The operator, if ``actor`` manages its unit; NotFound otherwise (another unit's operator is
    answered as if it did not exist)."""
    op = session.get(Operator, operator_id)
    if op is None or not actor.manages_unit(op.owner_unit_id):
        raise NotFound(f"No operator {operator_id!r} in your unit.")
    return op


def instruments_of(session: Session, operator_ids: Iterable[str]) -> dict[str, list[str]]:
    """Each operator's instrument ids (sorted)."""
    ids = list(operator_ids)
    out: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.exec(select(OperatorInstrument).where(OperatorInstrument.operator_id.in_(ids))).all()  # type: ignore[attr-defined]
    for li in rows:
        out[li.operator_id].append(li.instrument_id)
    return {k: sorted(v) for k, v in out.items()}


def _unit_instrument(session: Session, op: Operator, instrument_id: str) -> Instrument:
    inst = session.get(Instrument, instrument_id)
    if inst is None or inst.owner_unit_id != op.owner_unit_id:
        raise InvalidInput(f"Instrument {instrument_id!r} is not an instrument of this unit.", field="instrument_ids")
    return inst


def set_instruments(session: Session, actor: Actor, op: Operator, instrument_ids: Iterable[str]) -> list[str]:
    """Replace the instruments ``op`` may run by ``instrument_ids`` (all of the operator's unit)."""
    actor.require_unit_manager(op.owner_unit_id)
    wanted = sorted(set(instrument_ids))
    for iid in wanted:
        _unit_instrument(session, op, iid)
    before = instruments_of(session, [op.id])[op.id]
    for li in session.exec(select(OperatorInstrument).where(OperatorInstrument.operator_id == op.id)).all():
        if li.instrument_id not in wanted:
            session.delete(li)
    for iid in wanted:
        if iid not in before:
            session.add(OperatorInstrument(operator_id=op.id, instrument_id=iid))
    session.flush()
    if before != wanted:
        record(
            session,
            actor,
            "operator.instruments",
            "operator",
            op.id,
            before={"instrument_ids": before},
            after={"instrument_ids": wanted},
        )
    return wanted


def add_instrument(session: Session, actor: Actor, op: Operator, instrument_id: str) -> list[str]:
    """Give ``op`` one more instrument to run (no change if it already runs it)."""
    return set_instruments(session, actor, op, [*instruments_of(session, [op.id])[op.id], instrument_id])


def remove_instrument(session: Session, actor: Actor, op: Operator, instrument_id: str) -> list[str]:
    """Take ``op`` off one instrument; NotFound if it does not run it."""
    current = instruments_of(session, [op.id])[op.id]
    if instrument_id not in current:
        raise NotFound(f"Operator {op.id!r} does not run instrument {instrument_id!r}.")
    return set_instruments(session, actor, op, [i for i in current if i != instrument_id])


def shifts(entries: Iterable[tuple[str, time, time]]) -> list[dict[str, str]]:
    """Working hours as stored, each (RRULE, start, end) checked: a rule that yields a day, an end
    after its start (a shift cannot cross midnight)."""
    out = []
    for rrule, start, end in entries:
        text = rrule.strip().removeprefix("RRULE:").upper()
        require_a_day(text, SHIFTS_FROM)
        if end <= start:
            raise InvalidInput("A shift's end must be after its start.", field="working_hours")
        out.append({"rrule": text, "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")})
    return out


def create_operator(
    session: Session,
    actor: Actor,
    owner_unit_id: str,
    name: str,
    email: str,
    entries: Iterable[tuple[str, time, time]],
    instrument_ids: Iterable[str] = (),
) -> Operator:
    """A new operator of the unit, with working hours (see ``shifts``) and instruments to run."""
    actor.require_unit_manager(owner_unit_id)
    op = Operator(owner_unit_id=owner_unit_id, name=name, email=email, working_hours=shifts(entries))
    session.add(op)
    session.flush()
    record(session, actor, "operator.create", "operator", op.id, after=snapshot(op))
    set_instruments(session, actor, op, instrument_ids)
    return op


def set_working_hours(
    session: Session, actor: Actor, op: Operator, entries: Iterable[tuple[str, time, time]]
) -> Operator:
    """Replace ``op``'s working hours (see ``shifts``)."""
    actor.require_unit_manager(op.owner_unit_id)
    before = snapshot(op)
    op.working_hours = shifts(entries)
    session.add(op)
    session.flush()
    record(session, actor, "operator.working_hours", "operator", op.id, before=before, after=snapshot(op))
    return op


def grant_qualification(
    session: Session, actor: Actor, user_id: str, inst: Instrument, granted_on: date, expires_on: date | None
) -> Qualification:
    """Qualify a user (whose existence the caller has checked) to operate ``inst`` themselves."""
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    if expires_on is not None and expires_on < granted_on:
        raise InvalidInput("expires_on must not be before granted_on.", field="expires_on")
    q = Qualification(user_id=user_id, instrument_id=inst.id, granted_on=granted_on, expires_on=expires_on)
    session.add(q)
    session.flush()
    record(session, actor, "qualification.create", "qualification", q.id, after=snapshot(q))
    return q


def revoke_qualification(session: Session, actor: Actor, qualification_id: str) -> None:
    """Withdraw a qualification of one of the actor's unit's instruments (NotFound otherwise)."""
    q = session.get(Qualification, qualification_id)
    inst = session.get(Instrument, q.instrument_id) if q else None
    if q is None or inst is None or not actor.manages_unit(inst.owner_unit_id):
        raise NotFound(f"No qualification {qualification_id!r} in your unit.")
    record(session, actor, "qualification.delete", "qualification", q.id, before=snapshot(q))
    session.delete(q)
    session.flush()
