"""A small platform for tests: two owner units, instruments, an operator, two enterprises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from fixtures import factories
from instruments.actor import Actor, Role
from instruments.inventory import Instrument
from instruments.workdays import DayKind, WorkCalendar
from scheduler.booking.bookings import Booking, BookingStatus
from scheduler.booking.enterprises import Enterprise

TZ = ZoneInfo("Asia/Shanghai")

POLICY = {
    "slot_minutes": 30,
    "min_minutes": 30,
    "max_minutes": 240,
    "lead_minutes": {"operator_run": 24 * 60, "self_operated": 0},
    "cancel_cutoff_minutes": 24 * 60,
    "max_future_bookings": 3,
    "max_advance_days": 60,
}


@dataclass
class World:
    xrd: Instrument
    sem: Instrument  # same unit, with buffers
    other: Instrument  # another unit's instrument
    ent_a: Enterprise
    ent_b: Enterprise
    admin: Actor
    manager: Actor
    other_manager: Actor
    member_a: Actor
    member_b: Actor
    operator: Actor
    tokens: dict[str, str]
    day: date  # a working day a few days ahead

    def at(self, hh: int, mm: int = 0, day: date | None = None) -> datetime:
        return datetime.combine(day or self.day, time(hh, mm), TZ)


def next_workday(after: date, min_days: int = 3) -> date:
    cal = WorkCalendar()
    d = after + timedelta(days=min_days)
    while cal.kind(d) != DayKind.workday:
        d += timedelta(days=1)
    return d


def build_world(session: Session, today: date | None = None) -> World:
    today = today or datetime.now(TZ).date()
    u1 = factories.unit(session, "Haihe University Analysis Centre")
    u2 = factories.unit(session, "Binhai Institute")
    xrd = factories.instrument(
        session, u1, "Powder XRD", "XRD", policy=POLICY, fee_hour_external_fen=20000, fee_sample_external_fen=15000
    )
    sem = factories.instrument(
        session, u1, "FE-SEM", "SEM", policy={**POLICY, "setup_minutes": 30, "cleanup_minutes": 30}
    )
    other = factories.instrument(session, u2, "XPS", "XPS", policy=POLICY)
    op = factories.operator(session, u1, "Operator Zhang", [xrd, sem])
    ent_a = factories.enterprise(session, "Ruike Materials", 1, group="Ruike")
    ent_b = factories.enterprise(session, "Nawei Powders", 2)
    tokens = {}
    _, tokens["admin"], admin = factories.user(session, Role.programme_admin, "Admin", "admin@t.cn")
    _, tokens["manager"], manager = factories.user(session, Role.lab_manager, "Mgr", "m1@t.cn", owner_unit_id=u1.id)
    _, tokens["other_manager"], other_manager = factories.user(
        session, Role.lab_manager, "Mgr2", "m2@t.cn", owner_unit_id=u2.id
    )
    _, tokens["member_a"], member_a = factories.user(
        session, Role.enterprise_member, "A", "a@t.cn", enterprise_id=ent_a.id
    )
    _, tokens["member_b"], member_b = factories.user(
        session, Role.enterprise_member, "B", "b@t.cn", enterprise_id=ent_b.id
    )
    _, tokens["operator"], operator = factories.user(session, Role.operator, "Zhang", "op@t.cn", operator_id=op.id)
    session.commit()
    return World(
        xrd,
        sem,
        other,
        ent_a,
        ent_b,
        admin,
        manager,
        other_manager,
        member_a,
        member_b,
        operator,
        tokens,
        next_workday(today),
    )


def raw_booking(w: World, start: datetime, end: datetime, enterprise_id: str | None = None) -> Booking:
    """A confirmed self-operated booking on the XRD, built without the booking rules (to test
    what the database itself refuses)."""
    return Booking(
        instrument_id=w.xrd.id,
        enterprise_id=enterprise_id,
        service_mode="self_operated",
        start=start,
        end=end,
        blocked_start=start,
        blocked_end=end,
        status=BookingStatus.confirmed,
    )
