"""Published availability: opening rules, exceptions/blackouts, the national calendar, free time;
and bookable time (the slots that pass every booking rule for the one who asks)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import select

from instruments.audit import record, snapshot
from instruments.availability import (
    AvailabilityException,
    ExceptionKind,
    OpeningRule,
    zone,
)
from instruments.catalogue import (
    add_exception,
    add_opening_rule,
    get_instrument,
    remove_exception,
    remove_opening_rule,
    update_exception,
    update_opening_rule,
)
from instruments.errors import InvalidInput, NotFound
from instruments.inventory import Instrument
from instruments.settings import get_settings
from instruments.workdays import CalendarOverride, WorkCalendar
from scheduler.booking.bookable import bookable_time
from scheduler.booking.free_time import free_time

from ..deps import ActorDep, AdminDep, MaybeActorDep, SessionDep, commit
from ..schemas import BusyOut, Interval
from ..timefields import ApiDate, ApiDatetime
from ..wall_clock import LocalTime

router = APIRouter(prefix="/api/v1", tags=["availability"])


class RuleIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
                    "start_time": "08:30",
                    "end_time": "12:00",
                    "valid_from": "2026-01-01",
                }
            ]
        }
    }
    rrule: str = Field(min_length=1, max_length=500, description="RFC 5545 RRULE value")
    start_time: LocalTime
    end_time: LocalTime
    valid_from: date
    valid_until: date | None = None
    follows_holidays: bool = Field(default=True, description="Closed on public holidays, open on 调休 make-up workdays")
    label: str = ""


class RulePatch(BaseModel):
    """The fields of an opening rule to change; those not sent stay. ``valid_until: null`` makes
    the rule open-ended; no other field may be null."""

    model_config = {"json_schema_extra": {"examples": [{"end_time": "12:30", "label": "winter hours"}]}}
    rrule: str = Field(default=None, min_length=1, max_length=500, description="RFC 5545 RRULE value")
    start_time: LocalTime = None
    end_time: LocalTime = None
    valid_from: date = None
    valid_until: date | None = None
    follows_holidays: bool = None
    label: str = None


class OpeningRuleOut(BaseModel):
    """An opening rule as served: its times are local wall-clock "HH:MM" (``wall_clock``)."""

    id: str
    instrument_id: str
    rrule: str
    start_time: LocalTime
    end_time: LocalTime
    valid_from: date
    valid_until: date | None
    follows_holidays: bool
    label: str


class ExceptionIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "closed",
                    "start": "2026-12-07T08:00:00+08:00",
                    "end": "2026-12-09T18:00:00+08:00",
                    "title": "Maintenance",
                    "reason": "annual maintenance",
                }
            ]
        }
    }
    kind: ExceptionKind = ExceptionKind.closed
    start: ApiDatetime
    end: ApiDatetime
    title: str = Field(default="", max_length=200, description="Shown publicly: 'Closed: <title>'")
    reason: str = Field(default="", max_length=500)


class ExceptionPatch(BaseModel):
    """The fields of a closure or extra opening to change; those not sent stay (none may be null)."""

    model_config = {"json_schema_extra": {"examples": [{"end": "2026-12-09T13:00:00+08:00", "title": "Maintenance"}]}}
    kind: ExceptionKind = None
    start: ApiDatetime = None
    end: ApiDatetime = None
    title: str = Field(default=None, max_length=200, description="Shown publicly: 'Closed: <title>'")
    reason: str = Field(default=None, max_length=500)


class AvailabilityOut(BaseModel):
    instrument_id: str
    timezone: str
    start: datetime
    end: datetime
    open: list[Interval]
    free: list[Interval]
    busy: list[BusyOut]
    warnings: list[str]


class ClosedOut(BaseModel):
    """Time in the window where no slot may start, and why."""

    start: datetime
    end: datetime
    reason: str = Field(
        description="outside_opening_hours | holiday | blackout | booked | too_short, or the code of the booking "
        "rule that refuses a start here (lead_time, too_far_ahead, no_operator, lab_full, not_qualified, in_past)"
    )
    message: str


class RefusalOut(BaseModel):
    code: str = Field(description="The booking rule's stable code")
    message: str
    field: str | None = None


class BookableOut(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "instrument_id": "ins_a1b2c3d4e5f6",
                    "timezone": "Asia/Shanghai",
                    "service_mode": "operator_run",
                    "duration_minutes": 120,
                    "start": "2026-12-07T09:00:00+08:00",
                    "end": "2027-01-04T09:00:00+08:00",
                    "slots": [{"start": "2026-12-08T09:00:00+08:00", "end": "2026-12-08T11:00:00+08:00"}],
                    "closed": [
                        {
                            "start": "2026-12-07T09:00:00+08:00",
                            "end": "2026-12-07T17:30:00+08:00",
                            "reason": "lead_time",
                            "message": "operator_run bookings of Powder XRD must be made 1 day(s) ahead; "
                            "the earliest start now is 2026-12-08 09:00.",
                        }
                    ],
                    "blocked": [],
                    "warnings": [],
                }
            ]
        }
    }
    instrument_id: str
    timezone: str
    service_mode: str
    duration_minutes: int
    start: datetime
    end: datetime
    slots: list[Interval] = Field(description="Bookings [start, end) that every booking rule accepts now")
    closed: list[ClosedOut]
    blocked: list[RefusalOut] = Field(description="Refusals that apply to every slot (then there are no slots)")
    warnings: list[str]


class OverrideIn(BaseModel):
    day: ApiDate
    is_workday: bool
    name: str = ""


class DayOut(BaseModel):
    day: date
    kind: str
    name: str | None


def _managed_instrument(session, actor, instrument_id: str) -> Instrument:
    inst = get_instrument(session, instrument_id)
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    return inst


@router.get(
    "/instruments/{instrument_id}/opening-rules", response_model=list[OpeningRuleOut], summary="Opening rules (public)"
)
def list_rules(instrument_id: str, session: SessionDep) -> list[OpeningRule]:
    get_instrument(session, instrument_id)
    return list(session.exec(select(OpeningRule).where(OpeningRule.instrument_id == instrument_id)).all())


@router.post(
    "/instruments/{instrument_id}/opening-rules",
    response_model=OpeningRuleOut,
    status_code=201,
    summary="Publish an opening rule (lab manager)",
)
def create_rule(instrument_id: str, body: RuleIn, session: SessionDep, actor: ActorDep) -> OpeningRule:
    inst = _managed_instrument(session, actor, instrument_id)
    rule = add_opening_rule(session, actor, inst, OpeningRule(instrument_id=inst.id, **body.model_dump()))
    commit(session)
    return rule


@router.patch(
    "/instruments/{instrument_id}/opening-rules/{rule_id}",
    response_model=OpeningRuleOut,
    summary="Change an opening rule (lab manager): checked as a new one is",
)
def patch_rule(instrument_id: str, rule_id: str, body: RulePatch, session: SessionDep, actor: ActorDep) -> OpeningRule:
    inst = _managed_instrument(session, actor, instrument_id)
    rule = update_opening_rule(session, actor, inst, rule_id, body.model_dump(exclude_unset=True))
    commit(session)
    return rule


@router.delete(
    "/instruments/{instrument_id}/opening-rules/{rule_id}",
    status_code=204,
    summary="Delete an opening rule (lab manager)",
)
def delete_rule(instrument_id: str, rule_id: str, session: SessionDep, actor: ActorDep) -> Response:
    inst = _managed_instrument(session, actor, instrument_id)
    remove_opening_rule(session, actor, inst, rule_id)
    commit(session)
    return Response(status_code=204)


@router.get(
    "/instruments/{instrument_id}/exceptions",
    response_model=list[AvailabilityException],
    summary="Exceptions and blackouts (public)",
)
def list_exceptions(instrument_id: str, session: SessionDep) -> list[AvailabilityException]:
    get_instrument(session, instrument_id)
    q = select(AvailabilityException).where(AvailabilityException.instrument_id == instrument_id)
    return list(session.exec(q.order_by(AvailabilityException.start)).all())


@router.post(
    "/instruments/{instrument_id}/exceptions",
    response_model=AvailabilityException,
    status_code=201,
    summary="Add an exception: a maintenance blackout/closure or an extra opening (lab manager)",
)
def create_exception(
    instrument_id: str, body: ExceptionIn, session: SessionDep, actor: ActorDep
) -> AvailabilityException:
    inst = _managed_instrument(session, actor, instrument_id)
    exc = add_exception(session, actor, inst, AvailabilityException(instrument_id=inst.id, **body.model_dump()))
    commit(session)
    return exc


@router.patch(
    "/instruments/{instrument_id}/exceptions/{exception_id}",
    response_model=AvailabilityException,
    summary="Change a closure or extra opening (lab manager): it may overlap its own old times, never another",
)
def patch_exception(
    instrument_id: str, exception_id: str, body: ExceptionPatch, session: SessionDep, actor: ActorDep
) -> AvailabilityException:
    inst = _managed_instrument(session, actor, instrument_id)
    exc = update_exception(session, actor, inst, exception_id, body.model_dump(exclude_unset=True))
    commit(session)
    return exc


@router.delete(
    "/instruments/{instrument_id}/exceptions/{exception_id}",
    status_code=204,
    summary="Delete an exception (lab manager)",
)
def delete_exception(instrument_id: str, exception_id: str, session: SessionDep, actor: ActorDep) -> Response:
    inst = _managed_instrument(session, actor, instrument_id)
    remove_exception(session, actor, inst, exception_id)
    commit(session)
    return Response(status_code=204)


@router.get(
    "/instruments/{instrument_id}/availability",
    response_model=AvailabilityOut,
    summary="Open, free and busy time over a range (public; your own bookings shown in full)",
)
def availability(
    instrument_id: str,
    session: SessionDep,
    actor: MaybeActorDep,
    start: ApiDatetime | None = Query(default=None, description="Default: now"),
    end: ApiDatetime | None = Query(default=None, description="Default: start + 14 days"),
) -> AvailabilityOut:
    inst = get_instrument(session, instrument_id)

    tz = zone(inst.timezone)
    if start is None:
        today = datetime.now(tz).date()
        start = datetime.combine(today, time(0), tz)
    end = end or start + timedelta(days=14)
    ft = free_time(session, inst.id, start, end, actor, get_settings().max_availability_days)
    busy = [
        BusyOut(
            start=b.start.astimezone(tz), end=b.end.astimezone(tz), booking_id=b.id, status=str(b.status), yours=True
        )
        if visible
        else BusyOut(start=b.start.astimezone(tz), end=b.end.astimezone(tz))
        for b, visible in ft.busy
    ]
    return AvailabilityOut(
        instrument_id=inst.id,
        timezone=ft.timezone,
        start=ft.start,
        end=ft.end,
        open=[Interval(start=s, end=e) for s, e in ft.open],
        free=[Interval(start=s, end=e) for s, e in ft.free],
        busy=busy,
        warnings=ft.warnings,
    )


@router.get(
    "/instruments/{instrument_id}/bookable",
    response_model=BookableOut,
    summary="Slots you could book now: every booking rule applied for you (sign-in required)",
)
def bookable(
    instrument_id: str,
    session: SessionDep,
    actor: ActorDep,
    service_mode: str = Query(min_length=1, max_length=40, description="e.g. operator_run, self_operated"),
    duration_minutes: int | None = Query(default=None, ge=1, le=31 * 1440, description="Or give sample_count"),
    sample_count: int | None = Query(
        default=None, ge=1, le=10000, description="Converted to instrument time by the booking policy"
    ),
    start: ApiDatetime | None = Query(default=None, description="Default: now"),
    end: ApiDatetime | None = Query(default=None, description="Default: start + 28 days"),
    enterprise_id: str | None = Query(
        default=None, max_length=64, description="Lab managers: the enterprise the booking would be for"
    ),
) -> BookableOut:
    """For an enterprise member (or a lab manager booking for ``enterprise_id``): the start
    times whose booking ``POST /bookings`` would accept now, the closed time with its reason, and
    the refusals that apply to every slot (not qualified, suspended, limit reached)."""
    bt = bookable_time(
        session,
        actor,
        instrument_id,
        service_mode,
        duration_minutes=duration_minutes,
        sample_count=sample_count,
        start=start,
        end=end,
        enterprise_id=enterprise_id,
        max_days=get_settings().max_availability_days,
    )
    return BookableOut(
        instrument_id=bt.instrument.id,
        timezone=bt.timezone,
        service_mode=bt.service_mode,
        duration_minutes=bt.duration_minutes,
        start=bt.start,
        end=bt.end,
        slots=[Interval(start=s, end=e) for s, e in bt.slots],
        closed=[ClosedOut(start=c.start, end=c.end, reason=c.reason, message=c.message) for c in bt.closed],
        blocked=[RefusalOut(code=v.code, message=v.message, field=v.field) for v in bt.blocked],
        warnings=bt.warnings,
    )


@router.get(
    "/calendar/days",
    response_model=list[DayOut],
    tags=["calendar"],
    summary="Working days, weekends, public holidays and 调休 make-up workdays (public)",
)
def calendar_days(session: SessionDep, response: Response, start: ApiDate, end: ApiDate) -> list[DayOut]:
    if end < start:
        raise InvalidInput("end must not be before start.", field="end")
    if (end - start).days > 400:
        raise InvalidInput("Ask for at most 400 days at a time.", field="end")
    cal = WorkCalendar.load(session, start, end)
    out = []
    d = start
    while d <= end:
        out.append(DayOut(day=d, kind=cal.kind(d).value, name=cal.holiday_name(d)))
        d += timedelta(days=1)
    if cal.warnings:
        response.headers["Warning"] = (
            '299 labshare "'
            + " | ".join(w.replace('"', "'") for w in cal.warnings).encode("ascii", "replace").decode()
            + '"'
        )
    return out


@router.get(
    "/calendar/overrides",
    response_model=list[CalendarOverride],
    tags=["calendar"],
    summary="Calendar overrides (public)",
)
def list_overrides(session: SessionDep) -> list[CalendarOverride]:
    return list(session.exec(select(CalendarOverride).order_by(CalendarOverride.day)).all())


@router.put(
    "/calendar/overrides/{day}",
    response_model=CalendarOverride,
    tags=["calendar"],
    summary="Declare a closure or a make-up workday (programme admin)",
)
def put_override(day: ApiDate, body: OverrideIn, session: SessionDep, actor: AdminDep) -> CalendarOverride:
    if body.day != day:
        raise InvalidInput("The day in the path and in the body differ.", field="day")
    row = session.get(CalendarOverride, day)
    before = snapshot(row)
    if row is None:
        row = CalendarOverride(**body.model_dump())
    else:
        row.is_workday, row.name = body.is_workday, body.name
    session.add(row)
    record(
        session,
        actor,
        "calendar_override.put",
        "calendar_override",
        day.isoformat(),
        before=before,
        after=snapshot(row),
    )
    commit(session)
    return row


@router.delete(
    "/calendar/overrides/{day}", status_code=204, tags=["calendar"], summary="Remove an override (programme admin)"
)
def delete_override(day: date, session: SessionDep, actor: AdminDep) -> Response:
    row = session.get(CalendarOverride, day)
    if row is None:
        raise NotFound(f"No override on {day}.")
    record(session, actor, "calendar_override.delete", "calendar_override", day.isoformat(), before=snapshot(row))
    session.delete(row)
    commit(session)
    return Response(status_code=204)
