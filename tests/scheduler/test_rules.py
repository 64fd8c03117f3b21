"""Every booking rule fails with its own code and a message a person can act on."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fixtures import factories
from instruments.errors import Conflict, PolicyViolation
from instruments.inventory import InstrumentStatus
from scheduler import booking_actions as actions
from scheduler.booking.bookings import BookingStatus


def attempt(session, w, actor, start, end, mode="operator_run", inst=None, now=None):
    data = actions.BookingInput((inst or w.xrd).id, start, end, mode)
    return actions.book(session, actor, data, now=now)


def violations(session, w, *args, **kw) -> dict[str, str]:
    with pytest.raises(PolicyViolation) as err:
        attempt(session, w, *args, **kw)
    session.rollback()
    return {v.code: v.message for v in err.value.violations}


def test_a_valid_booking_is_tentative_with_operator_and_price(session, world):
    w = world
    b = attempt(session, w, w.member_a, w.at(9), w.at(11))
    assert b.status == BookingStatus.tentative
    assert b.operator_id is not None
    assert b.price_fen == 2 * 20000


def test_instrument_under_repair(session, world):
    w = world
    w.xrd.status = InstrumentStatus.awaiting_repair
    session.add(w.xrd)
    session.flush()
    msg = violations(session, w, w.member_a, w.at(9), w.at(10))["instrument_unavailable"]
    assert "awaiting repair" in msg and "Powder XRD" in msg


def test_service_mode_not_offered(session, world):
    w = world
    msg = violations(session, w, w.member_a, w.at(9), w.at(10), mode="remote")["service_mode"]
    assert "does not offer remote" in msg and "operator_run" in msg


def test_suspended_enterprise(session, world):
    w = world
    w.ent_a.booking_suspended_until = w.at(9) + timedelta(days=30)
    session.add(w.ent_a)
    session.flush()
    assert "credit suspension" in violations(session, w, w.member_a, w.at(9), w.at(10))["enterprise_suspended"]


def test_start_in_the_past(session, world):
    w = world
    assert "in the past" in violations(session, w, w.member_a, w.at(9), w.at(10), now=w.at(12))["in_past"]


def test_off_grid_start(session, world):
    w = world
    msg = violations(session, w, w.member_a, w.at(9, 10), w.at(10))["slot_grid"]
    assert "09:10:00" in msg and "30-minute grid" in msg


def test_too_long_and_outside_hours_are_reported_together(session, world):
    w = world
    found = violations(session, w, w.member_a, w.at(8, 30), w.at(13, 30))
    assert "at most 4 h" in found["length"]
    assert "08:30–12:00, 13:30–17:30" in found["outside_opening_hours"]


def test_lead_time(session, world):
    w = world
    msg = violations(session, w, w.member_a, w.at(14), w.at(15), now=w.at(9))["lead_time"]
    assert "1 day(s) ahead" in msg and "earliest start now is" in msg


def test_too_far_ahead(session, world):
    w = world
    msg = violations(session, w, w.member_a, w.at(9), w.at(10), now=w.at(9) - timedelta(days=90))["too_far_ahead"]
    assert "at most 60 days ahead" in msg


def test_self_operation_needs_qualification(session, world):
    w = world
    msg = violations(session, w, w.member_a, w.at(9), w.at(10), mode="self_operated")["not_qualified"]
    assert "no qualification" in msg and "operator_run" in msg
    factories.qualify(session, w.member_a.user_id, w.xrd, date(2020, 1, 1), w.day - timedelta(days=1))
    msg = violations(session, w, w.member_a, w.at(9), w.at(10), mode="self_operated")["not_qualified"]
    assert "expired on" in msg
    factories.qualify(session, w.member_a.user_id, w.xrd, date(2020, 1, 1), w.day + timedelta(days=1))
    assert attempt(session, w, w.member_a, w.at(9), w.at(10), mode="self_operated").operator_id is None


def test_no_operator_free(session, world):
    w = world
    attempt(session, w, w.member_b, w.at(9), w.at(10), inst=w.sem)  # takes the only operator
    msg = violations(session, w, w.member_a, w.at(9), w.at(10))["no_operator"]
    assert "No operator" in msg


def test_future_booking_limit(session, world):
    w = world
    for h in (9, 10, 11):
        attempt(session, w, w.member_a, w.at(h), w.at(h + 1))
    msg = violations(session, w, w.member_a, w.at(14), w.at(15))["too_many_bookings"]
    assert "already holds 3 future bookings" in msg and "limit is 3" in msg


def test_overlap_is_a_conflict_naming_the_booking_to_who_may_see_it(session, world):
    w = world
    first = attempt(session, w, w.manager, w.at(9), w.at(11), mode="self_operated")  # holds no operator
    session.commit()
    with pytest.raises(Conflict) as err:  # not the enterprise's booking: its time only
        attempt(session, w, w.member_a, w.at(10), w.at(12), mode="operator_run")
    assert first.id not in err.value.detail and "another booking" in err.value.detail
    assert "booking" not in err.value.extra["conflicts"][0]
    assert err.value.extra["conflicts"][0]["yours"] is False
    with pytest.raises(Conflict) as err:  # the unit's own staff see which booking
        attempt(session, w, w.manager, w.at(10), w.at(12), mode="self_operated")
    assert first.id in err.value.detail
    assert err.value.extra["conflicts"][0]["booking"] == first.id


def test_buffers_keep_bookings_apart(session, world):
    w = world
    attempt(session, w, w.member_b, w.at(9), w.at(10), inst=w.sem)
    session.commit()
    with pytest.raises(Conflict):
        attempt(session, w, w.manager, w.at(10, 30), w.at(11), inst=w.sem)
    session.rollback()
    later = attempt(session, w, w.manager, w.at(11), w.at(12), inst=w.sem)
    assert later.blocked_start == w.at(10, 30) and later.blocked_end == w.at(12, 30)


def test_staff_are_exempt_from_lead_time_but_not_from_hours(session, world):
    w = world
    b = attempt(session, w, w.manager, w.at(14), w.at(15), now=w.at(9))
    assert b.status == BookingStatus.confirmed
    found = violations(session, w, w.manager, w.at(12), w.at(13), now=w.at(9))
    assert set(found) == {"outside_opening_hours"}


def test_lab_capacity(session, world):
    w = world
    room = factories.lab(session, factories.unit(session, "Bench Unit"), "Small lab", capacity=1)
    for inst in (w.xrd, w.sem):
        inst.lab_id = room.id
        session.add(inst)
    session.flush()
    attempt(session, w, w.manager, w.at(9), w.at(10), inst=w.sem, mode="self_operated")
    msg = violations(session, w, w.member_a, w.at(9, 30), w.at(10, 30))["lab_full"]
    assert "Small lab hosts at most 1 booking(s)" in msg
    assert attempt(session, w, w.member_a, w.at(10, 30), w.at(11, 30)).id
