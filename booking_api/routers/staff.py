"""Operators and qualifications, managed by each unit's lab managers."""

from __future__ import annotations

from datetime import date, time

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator
from sqlmodel import select

from instruments.audit import record, snapshot
from instruments.catalogue import get_instrument
from instruments.errors import InvalidInput, NotFound
from instruments.inventory import Instrument
from instruments.recurrence import require_a_day
from instruments.staff import Operator, OperatorInstrument, Qualification
from instruments.units import OwnerUnit

from ..accounts import User
from ..deps import ActorDep, SessionDep, commit
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
    for s in body.working_hours:
        if s.end <= s.start:
            raise InvalidInput("A shift's end must be after its start.", field="working_hours")
    op = Operator(
        owner_unit_id=unit.id,
        name=body.name,
        email=body.email,
        working_hours=[
            {"rrule": s.rrule, "start": s.start.strftime("%H:%M"), "end": s.end.strftime("%H:%M")}
            for s in body.working_hours
        ],
    )
    session.add(op)
    session.flush()
    for iid in body.instrument_ids:
        inst = session.get(Instrument, iid)
        if inst is None or inst.owner_unit_id != unit.id:
            raise InvalidInput(f"Instrument {iid!r} is not an instrument of {unit.name}.", field="instrument_ids")
        session.add(OperatorInstrument(operator_id=op.id, instrument_id=iid))
    record(session, actor, "operator.create", "operator", op.id, after=snapshot(op))
    commit(session)
    return OperatorOut(operator=op, instrument_ids=body.instrument_ids)


@router.get(
    "/owner-units/{unit_id}/operators", response_model=list[OperatorOut], summary="The unit's operators (lab manager)"
)
def list_operators(unit_id: str, session: SessionDep, actor: ActorDep) -> list[OperatorOut]:
    unit = _unit(session, unit_id)
    actor.require_unit_manager(unit.id, unit.name)
    ops = session.exec(select(Operator).where(Operator.owner_unit_id == unit.id).order_by(Operator.name)).all()
    links = session.exec(
        select(OperatorInstrument).where(OperatorInstrument.operator_id.in_([o.id for o in ops]))
    ).all()
    return [
        OperatorOut(operator=o, instrument_ids=[li.instrument_id for li in links if li.operator_id == o.id])
        for o in ops
    ]


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
    if body.expires_on is not None and body.expires_on < body.granted_on:
        raise InvalidInput("expires_on must not be before granted_on.", field="expires_on")
    q = Qualification(**body.model_dump())
    session.add(q)
    session.flush()
    record(session, actor, "qualification.create", "qualification", q.id, after=snapshot(q))
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
