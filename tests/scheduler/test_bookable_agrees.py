"""Bookable time and booking agree both ways, in random small worlds: every offered slot is
accepted by ``booking_actions.book`` and grid slots not offered are refused by it (each attempt
in a savepoint, rolled back; the world itself is rolled back after every example)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from instruments.availability import AvailabilityException, ExceptionKind
from instruments.errors import Conflict, DomainError
from instruments.inventory import Instrument
from instruments.policy import BookingPolicy
from instruments.staff import Operator, Qualification
from instruments.units import Lab
from instruments.workdays import CalendarOverride
from scheduler import booking_actions as actions
from scheduler.booking.bookable import bookable_time
from scheduler.booking.bookings import Booking, BookingStatus, flush_or_conflict
from scheduler.booking.enterprises import Enterprise
from tests.world import TZ

DAYS = 3
SAMPLE = 10

existing = st.tuples(
    st.integers(0, 1),  # instrument: xrd, sem
    st.integers(0, DAYS - 1),  # day of the window
    st.integers(0, 17),  # start: 08:30 + 30 min × n
    st.integers(1, 4),  # length in half hours
    st.sampled_from([0, 1, None]),  # enterprise a, b, none
    st.booleans(),  # run by the operator
)

worlds = st.fixed_dictionaries(
    {
        "inst": st.integers(0, 1),
        "mode": st.sampled_from(["operator_run", "self_operated"]),
        "actor": st.integers(0, 3),  # member a, member b, manager for a, manager for the unit
        "minutes": st.sampled_from([30, 60, 90, 120, 45]),
        "slot": st.sampled_from([30, 60]),
        "lead": st.sampled_from([0, 120, 1440, 2880]),
        "advance": st.sampled_from([1, 3, 60]),
        "max_future": st.sampled_from([0, 1, 3]),
        "lab": st.sampled_from([None, 1, 2]),
        "qualification": st.sampled_from(["none", "valid", "expires"]),
        "suspended": st.booleans(),
        "shift": st.sampled_from(["office", "midday", "none"]),
        "bookings": st.lists(existing, max_size=6),
        "blackout": st.none() | st.tuples(st.integers(0, 1), st.integers(0, DAYS - 1), st.integers(0, 16)),
        "holiday": st.none() | st.integers(0, DAYS - 1),
        "hours_before": st.sampled_from([0, 30, 72]),
    }
)


def _apply(s: Session, w, spec: dict) -> tuple[Instrument, list[Instrument]]:
    insts = [s.get(Instrument, w.xrd.id), s.get(Instrument, w.sem.id)]
    day = lambda i: w.day + timedelta(days=i)  # noqa: E731
    at = lambda i, n: datetime.combine(day(i), time(8, 30), TZ) + timedelta(minutes=30 * n)  # noqa: E731
    inst = insts[spec["inst"]]
    policy = s.get(BookingPolicy, inst.id)
    policy.slot_minutes = spec["slot"]
    policy.lead_minutes = {**policy.lead_minutes, spec["mode"]: spec["lead"]}
    policy.max_advance_days = spec["advance"]
    policy.max_future_bookings = spec["max_future"]
    s.add(policy)
    if spec["lab"] is not None:
        lab = Lab(owner_unit_id=inst.owner_unit_id, name="Shared lab", capacity=spec["lab"])
        s.add(lab)
        s.flush()
        for i in insts:
            i.lab_id = lab.id
            s.add(i)
    if spec["qualification"] != "none":
        expires = w.day if spec["qualification"] == "expires" else None
        s.add(
            Qualification(
                user_id=w.member_a.user_id, instrument_id=inst.id, granted_on=date(2020, 1, 1), expires_on=expires
            )
        )
    if spec["suspended"]:
        ent = s.get(Enterprise, w.ent_a.id)
        ent.booking_suspended_until = at(1, 0)
        s.add(ent)
    op = s.get(Operator, w.operator.operator_id)
    op.working_hours = {
        "office": op.working_hours,
        "midday": [{"rrule": "FREQ=DAILY", "start": "10:00", "end": "15:00"}],
        "none": [],
    }[spec["shift"]]
    s.add(op)
    if spec["blackout"] is not None:
        i, d, n = spec["blackout"]
        s.add(
            AvailabilityException(
                instrument_id=insts[i].id,
                kind=ExceptionKind.closed,
                start=at(d, n),
                end=at(d, n + 3),
                reason="maintenance",
            )
        )
    if spec["holiday"] is not None:
        s.add(CalendarOverride(day=day(spec["holiday"]), is_workday=False, name="closure"))
    s.flush()
    ents = [w.ent_a.id, w.ent_b.id]
    for i, d, n, length, e, by_op in spec["bookings"]:
        p = s.get(BookingPolicy, insts[i].id)
        start, end = at(d, n), at(d, n + length)
        b = Booking(
            instrument_id=insts[i].id,
            enterprise_id=ents[e] if e is not None else None,
            operator_id=op.id if by_op else None,
            service_mode="operator_run" if by_op else "self_operated",
            start=start,
            end=end,
            blocked_start=start - timedelta(minutes=p.setup_minutes),
            blocked_end=end + timedelta(minutes=p.cleanup_minutes),
            status=BookingStatus.confirmed,
            price_fen=0,
        )
        try:
            flush_or_conflict(s, b)
        except Conflict:
            pass
    return inst, insts


def _grid(lo: datetime, hi: datetime, step: int) -> list[datetime]:
    out, d = [], lo.date()
    while d <= hi.date():
        for m in range(0, 1440, step):
            t = datetime.combine(d, time(m // 60, m % 60), TZ)
            if lo <= t < hi:
                out.append(t)
        d += timedelta(days=1)
    return out


def _spread(items: list, n: int) -> list:
    if len(items) <= n:
        return items
    return [items[i * (len(items) - 1) // (n - 1)] for i in range(n)]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=worlds)
def test_offered_slots_book_and_the_rest_are_refused(db, world, spec):
    w = world
    actor = [w.member_a, w.member_b, w.manager, w.manager][spec["actor"]]
    enterprise_id = w.ent_a.id if spec["actor"] == 2 else None
    now = datetime.combine(w.day, time(8), TZ) - timedelta(hours=spec["hours_before"])
    lo = datetime.combine(w.day, time(0), TZ)
    hi = lo + timedelta(days=DAYS)
    with db.session() as s:
        try:
            inst, _ = _apply(s, w, spec)
            r = bookable_time(
                s, actor, inst.id, spec["mode"], duration_minutes=spec["minutes"], start=lo, end=hi,
                enterprise_id=enterprise_id, now=now,
            )  # fmt: skip
            length = timedelta(minutes=spec["minutes"])
            assert not (r.blocked and r.slots)
            offered = {s_ for s_, _ in r.slots}

            def attempt(t: datetime) -> str | None:
                sp = s.begin_nested()
                try:
                    data = actions.BookingInput(inst.id, t, t + length, spec["mode"], enterprise_id=enterprise_id)
                    actions.book(s, actor, data, now=now)
                    return None
                except DomainError as exc:
                    return type(exc).__name__ + ": " + str(exc)
                finally:
                    sp.rollback()

            for t in _spread(sorted(offered), 4 * SAMPLE):
                assert attempt(t) is None, f"offered {t} but refused: {attempt(t)}"
            rest = [t for t in _grid(lo, hi, spec["slot"]) if t not in offered]
            daytime = [t for t in rest if time(8) <= t.time() <= time(17, 30)]
            night = [t for t in rest if t not in daytime]
            for t in _spread(daytime, SAMPLE) + _spread(night, 2):
                assert attempt(t) is not None, (
                    f"{t} was not offered but books ({[c for c in r.closed if c.start <= t < c.end]})"
                )
        finally:
            s.rollback()
