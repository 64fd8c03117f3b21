"""Operators and qualifications, managed by each unit's lab managers."""

from __future__ import annotations

from datetime import date, time

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, field_validator
from sqlmodel import select

from instruments import staffing
from instruments.catalogue import get_instrument
from instruments.errors import InvalidInput, NotFound
from instruments.inventory import Instrument
from instruments.recurrence import require_a_day
from instruments.staff import Operator, Qualification
from instruments.units import OwnerUnit

from ..accounts import User
from ..deps import ActorDep, PageDep, SessionDep, commit
from ..wall_clock import LocalTime

router = APIRouter(prefix="/api/v1", tags=["staff"])


class Shift(BaseModel):
    rrule: str = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    start: LocalTime
    end: LocalTime

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, v: str) -> str:
        require_a_day(v, date(2000, 1, 1))  # working_rules start on that day
        return v


class OperatorIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    email: str = ""
    working_hours: list[Shift] = [Shift(start=time(8, 30), end=time(17, 30))]
    instrument_ids: list[str] = []


class OperatorOut(BaseModel):
    operator: Operator
    instrument_ids: list[str]


class InstrumentIdsIn(BaseModel):
    instrument_ids: list[str] = Field(max_length=500, description="Every instrument the operator may run")


class InstrumentIdIn(BaseModel):
    instrument_id: str


class WorkingHoursIn(BaseModel):
    working_hours: list[Shift] = Field(max_length=50)


class QualificationIn(BaseModel):
    user_id: str
    instrument_id: str
    granted_on: date
    expires_on: date | None = None


def _unit(session, unit_id: str) -> OwnerUnit:
    unit = session.get(OwnerUnit, unit_id)
    if unit is None:
        raise NotFound(f"No owner unit {unit_id!r}.")
    return unit


@router.post(
    "/owner-units/{unit_id}/operators",
    response_model=OperatorOut,
    status_code=201,
    summary="Add an operator (lab manager)",
)
def create_operator(unit_id: str, body: OperatorIn, session: SessionDep, actor: ActorDep) -> OperatorOut:
    unit = _unit(session, unit_id)
    actor.require_unit_manager(unit.id, unit.name)
    for iid in body.instrument_ids:
        inst = session.get(Instrument, iid)
        if inst is None or inst.owner_unit_id != unit.id:
            raise InvalidInput(f"Instrument {iid!r} is not an instrument of {unit.name}.", field="instrument_ids")
    op = staffing.create_operator(
        session,
        actor,
        unit.id,
        body.name,
        body.email,
        [(s.rrule, s.start, s.end) for s in body.working_hours],
        body.instrument_ids,
    )
    commit(session)
    return OperatorOut(operator=op, instrument_ids=staffing.instruments_of(session, [op.id])[op.id])


@router.get(
    "/owner-units/{unit_id}/operators", response_model=list[OperatorOut], summary="The unit's operators (lab manager)"
)
def list_operators(unit_id: str, session: SessionDep, actor: ActorDep, page: PageDep) -> list[OperatorOut]:
    unit = _unit(session, unit_id)
    actor.require_unit_manager(unit.id, unit.name)
    q = select(Operator).where(Operator.owner_unit_id == unit.id).order_by(Operator.name, Operator.id)
    ops = session.exec(q.offset(page.offset).limit(page.limit)).all()
    links = staffing.instruments_of(session, [o.id for o in ops])
    return [OperatorOut(operator=o, instrument_ids=links[o.id]) for o in ops]


@router.put(
    "/operators/{operator_id}/instruments",
    response_model=OperatorOut,
    summary="Set which instruments an existing operator may run (lab manager)",
)
def put_operator_instruments(
    operator_id: str, body: InstrumentIdsIn, session: SessionDep, actor: ActorDep
) -> OperatorOut:
    op = staffing.get_operator(session, actor, operator_id)
    ids = staffing.set_instruments(session, actor, op, body.instrument_ids)
    commit(session)
    return OperatorOut(operator=op, instrument_ids=ids)


@router.post(
    "/operators/{operator_id}/instruments",
    response_model=OperatorOut,
    summary="Give an existing operator one more instrument to run (lab manager)",
)
def add_operator_instrument(
    operator_id: str, body: InstrumentIdIn, session: SessionDep, actor: ActorDep
) -> OperatorOut:
    op = staffing.get_operator(session, actor, operator_id)
    ids = staffing.add_instrument(session, actor, op, body.instrument_id)
    commit(session)
    return OperatorOut(operator=op, instrument_ids=ids)


@router.delete(
    "/operators/{operator_id}/instruments/{instrument_id}",
    response_model=OperatorOut,
    summary="Take an operator off one instrument (lab manager)",
)
def remove_operator_instrument(
    operator_id: str, instrument_id: str, session: SessionDep, actor: ActorDep
) -> OperatorOut:
    op = staffing.get_operator(session, actor, operator_id)
    ids = staffing.remove_instrument(session, actor, op, instrument_id)
    commit(session)
    return OperatorOut(operator=op, instrument_ids=ids)


@router.put(
    "/operators/{operator_id}/working-hours",
    response_model=OperatorOut,
    summary="Replace an operator's working hours (lab manager)",
)
def put_working_hours(operator_id: str, body: WorkingHoursIn, session: SessionDep, actor: ActorDep) -> OperatorOut:
    op = staffing.get_operator(session, actor, operator_id)
    staffing.set_working_hours(session, actor, op, [(s.rrule, s.start, s.end) for s in body.working_hours])
    commit(session)
    return OperatorOut(operator=op, instrument_ids=staffing.instruments_of(session, [op.id])[op.id])


@router.post(
    "/qualifications",
    response_model=Qualification,
    status_code=201,
    summary="Qualify a user for self-operation (lab manager)",
)
def create_qualification(body: QualificationIn, session: SessionDep, actor: ActorDep) -> Qualification:
    inst = session.get(Instrument, body.instrument_id)
    if inst is None:
        raise InvalidInput(f"No instrument {body.instrument_id!r}.", field="instrument_id")
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    if session.get(User, body.user_id) is None:
        raise InvalidInput(f"No user {body.user_id!r}.", field="user_id")
    q = staffing.grant_qualification(session, actor, body.user_id, inst, body.granted_on, body.expires_on)
    commit(session)
    return q


@router.get(
    "/instruments/{instrument_id}/qualifications",
    response_model=list[Qualification],
    summary="Who is qualified (lab manager)",
)
def list_qualifications(instrument_id: str, session: SessionDep, actor: ActorDep) -> list[Qualification]:
    inst = get_instrument(session, instrument_id)
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    return list(session.exec(select(Qualification).where(Qualification.instrument_id == inst.id)).all())


@router.delete("/qualifications/{qualification_id}", status_code=204, summary="Withdraw a qualification (lab manager)")
def delete_qualification(qualification_id: str, session: SessionDep, actor: ActorDep) -> Response:
    staffing.revoke_qualification(session, actor, qualification_id)
    commit(session)
    return Response(status_code=204)
