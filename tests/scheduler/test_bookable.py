"""Bookable time offers exactly the slots the booking rules accept, and says why the rest is closed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from fixtures import factories
from instruments.availability import AvailabilityException, ExceptionKind
from instruments.errors import Forbidden, InvalidInput
from instruments.policy import BookingPolicy
from instruments.workdays import CalendarOverride
from scheduler import booking_actions as actions
from scheduler.booking.bookable import bookable_time


def now_of(w) -> datetime:
    return w.at(8) - timedelta(days=7)


def offer(session, w, actor=None, mode="operator_run", minutes=60, inst=None, now=None, days=1, **kw):
    return bookable_time(
        session,
        actor or w.member_a,
        (inst or w.xrd).id,
        mode,
        duration_minutes=None if "sample_count" in kw else minutes,
        start=w.at(0),
        end=w.at(0) + timedelta(days=days),
        now=now or now_of(w),
        **kw,
    )


def starts(result) -> list[str]:
    return [f"{s:%H:%M}" for s, _ in result.slots]


def reasons(result) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for c in result.closed:
        out.setdefault(c.reason, []).append((f"{c.start:%H:%M}", f"{c.end:%H:%M}"))
    return out


def book(session, w, actor, start, end, mode="operator_run", inst=None, now=None):
    data = actions.BookingInput((inst or w.xrd).id, start, end, mode)
    return actions.book(session, actor, data, now=now or now_of(w))


def test_a_free_day_offers_every_grid_start_that_fits_an_opening_period(session, world):
    w = world
    r = offer(session, w)
    assert starts(r) == ["08:30", "09:00", "09:30", "10:00", "10:30", "11:00"] + [
        "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30",
    ]  # fmt: skip
    assert all(e - s == timedelta(hours=1) for s, e in r.slots)
    assert all(s.utcoffset() == timedelta(hours=8) for s, _ in r.slots)
    assert reasons(r)["too_short"] == [("11:30", "12:00"), ("17:00", "17:30")]
    assert ("12:00", "13:30") in reasons(r)["outside_opening_hours"]
    assert r.blocked == []


def test_notice_period(session, world):
    w = world
    r = offer(session, w, now=w.at(10) - timedelta(days=1))  # operator_run: 24 h ahead
    assert starts(r)[0] == "10:00"
    assert reasons(r)["lead_time"] == [("08:30", "10:00")]
    closed = next(c for c in r.closed if c.reason == "lead_time")
    assert "1 day(s) ahead" in closed.message and "earliest start now is" in closed.message


def test_no_operator_free_but_self_operation_still_possible(session, world):
    w = world
    book(session, w, w.member_b, w.at(9), w.at(10), inst=w.sem)  # takes the only operator
    r = offer(session, w)
    assert "08:30" not in starts(r) and "09:30" not in starts(r) and "10:00" in starts(r)
    assert reasons(r)["no_operator"] == [("08:30", "10:00")]
    factories.qualify(session, w.member_a.user_id, w.xrd, date(2020, 1, 1))
    assert "08:30" in starts(offer(session, w, mode="self_operated"))


def test_operator_shift(session, world):
    w = world
    from instruments.staff import Operator

    op = session.get(Operator, w.operator.operator_id)
    op.working_hours = [{"rrule": "FREQ=DAILY", "start": "13:00", "end": "16:00"}]
    session.add(op)
    session.flush()
    r = offer(session, w)
    assert starts(r) == ["13:30", "14:00", "14:30", "15:00"]
    assert reasons(r)["no_operator"][0] == ("08:30", "11:30")


def test_lab_full(session, world):
    w = world
    room = factories.lab(session, factories.unit(session, "Bench Unit"), "Small lab", capacity=1)
    for inst in (w.xrd, w.sem):
        inst.lab_id = room.id
        session.add(inst)
    session.flush()
    book(session, w, w.manager, w.at(9), w.at(10), inst=w.sem, mode="self_operated")
    r = offer(session, w)
    assert reasons(r)["lab_full"] == [("08:30", "10:00")]
    assert "Small lab" in next(c.message for c in r.closed if c.reason == "lab_full")
    assert starts(r)[0] == "10:00"


def test_holiday_is_closed_by_name(session, world):
    w = world
    session.add(CalendarOverride(day=w.day, is_workday=False, name="Test closure day"))
    session.flush()
    r = offer(session, w)
    assert r.slots == []
    assert [(c.reason, c.message) for c in r.closed] == [
        ("holiday", f"Powder XRD is closed on {w.day:%Y-%m-%d}: Test closure day.")
    ]


def test_blackout_is_closed_with_its_reason(session, world):
    w = world
    session.add(
        AvailabilityException(
            instrument_id=w.xrd.id, kind=ExceptionKind.closed, start=w.at(8), end=w.at(12), reason="annual maintenance"
        )
    )
    session.flush()
    r = offer(session, w)
    assert starts(r)[0] == "13:30"
    blackout = [c for c in r.closed if c.reason == "blackout"]
    assert [(f"{c.start:%H:%M}", f"{c.end:%H:%M}") for c in blackout] == [("08:00", "12:00")]
    assert "annual maintenance" in blackout[0].message


def test_booked_time_is_labelled_without_naming_the_booking(session, world):
    w = world
    other = book(session, w, w.manager, w.at(9), w.at(10), mode="self_operated", inst=w.sem)
    r = offer(session, w, inst=w.sem, mode="operator_run")  # set-up and clean-up buffers of 30 min
    assert reasons(r)["booked"] == [("08:30", "11:00")]
    assert all(other.id not in c.message for c in r.closed)
    assert starts(r)[0] == "11:00"


def test_not_qualified_is_one_refusal_and_no_slots(session, world):
    w = world
    r = offer(session, w, mode="self_operated")
    assert r.slots == [] and [v.code for v in r.blocked] == ["not_qualified"]
    assert "training" in r.blocked[0].message


def test_qualification_expiring_within_the_window(session, world):
    w = world
    factories.qualify(session, w.member_a.user_id, w.xrd, date(2020, 1, 1), w.day)
    r = offer(session, w, mode="self_operated", days=7)
    assert r.slots and all(s.date() <= w.day for s, _ in r.slots)
    assert r.blocked == [] and "not_qualified" in reasons(r)


def test_future_booking_limit_blocks_every_slot(session, world):
    w = world
    for h in (9, 10, 11):
        book(session, w, w.member_a, w.at(h), w.at(h + 1))
    r = offer(session, w)
    assert r.slots == [] and [v.code for v in r.blocked] == ["too_many_bookings"]
    assert "limit is 3" in r.blocked[0].message


def test_advance_window(session, world):
    w = world
    session.get(BookingPolicy, w.xrd.id).max_advance_days = 7
    session.flush()
    r = offer(session, w)  # now is 08:00 a week before: at most 7 days ahead
    assert starts(r) == []
    assert {c.reason for c in r.closed} >= {"too_far_ahead"}


def test_suspended_enterprise(session, world):
    w = world
    w.ent_a.booking_suspended_until = w.at(9) + timedelta(days=30)
    session.add(w.ent_a)
    session.flush()
    r = offer(session, w)
    assert r.slots == [] and [v.code for v in r.blocked] == ["enterprise_suspended"]


def test_length_and_grid_are_refusals_for_every_slot(session, world):
    w = world
    assert [v.code for v in offer(session, w, minutes=300).blocked] == ["length"]
    assert [v.code for v in offer(session, w, minutes=45).blocked] == ["slot_grid"]


def test_sample_count_uses_the_policy(session, world):
    w = world
    r = offer(session, w, sample_count=3)  # 30 min a sample
    assert r.duration_minutes == 90 and r.slots[0][1] - r.slots[0][0] == timedelta(minutes=90)


def test_lab_manager_for_an_enterprise_is_exempt_from_notice(session, world):
    w = world
    now = w.at(8)
    assert starts(offer(session, w, now=now)) == []
    r = offer(session, w, actor=w.manager, now=now, enterprise_id=w.ent_a.id)
    assert starts(r)[0] == "08:30"
    with pytest.raises(Forbidden):
        offer(session, w, actor=w.other_manager, now=now)


def test_bad_input(session, world):
    w = world
    with pytest.raises(InvalidInput):
        bookable_time(session, w.member_a, w.xrd.id, "operator_run", now=now_of(w))
    with pytest.raises(InvalidInput):
        offer(session, w, days=100)
    with pytest.raises(InvalidInput):
        bookable_time(
            session, w.member_a, w.xrd.id, "operator_run", duration_minutes=60,
            start=datetime.combine(w.day, time(9)), now=now_of(w),
        )  # fmt: skip


def test_every_offered_slot_books(session, world):
    w = world
    book(session, w, w.member_b, w.at(9), w.at(10), inst=w.sem)
    r = offer(session, w, days=3)
    assert r.slots
    for s, e in r.slots:
        sp = session.begin_nested()
        book(session, w, w.member_a, s, e)
        sp.rollback()


def test_a_public_holiday_of_the_national_calendar_is_named(session, world):
    from instruments.workdays import WorkCalendar

    w = world
    new_year = date(2027, 1, 1)  # a Friday, a public holiday
    name = WorkCalendar().holiday_name(new_year)
    assert name
    start = datetime.combine(new_year, time(0), w.at(0).tzinfo)
    r = bookable_time(
        session, w.member_a, w.xrd.id, "operator_run", duration_minutes=60,
        start=start, end=start + timedelta(days=1), now=start - timedelta(days=10),
    )  # fmt: skip
    assert r.slots == []
    assert [(c.reason, c.message) for c in r.closed] == [("holiday", f"Powder XRD is closed on 2027-01-01: {name}.")]


def test_work_per_answer_is_bounded(session, world):
    w = world
    policy = session.get(BookingPolicy, w.xrd.id)
    policy.slot_minutes = 1
    session.add(policy)
    session.flush()
    assert len(offer(session, w).slots) > 300  # a day on the 1-minute grid is fine
    with pytest.raises(InvalidInput) as err:
        offer(session, w, days=92)
    assert "shorter window" in str(err.value)
