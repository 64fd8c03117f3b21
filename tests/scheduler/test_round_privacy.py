"""A round's explanation is read by the requesting enterprise: when its slot was taken meanwhile,
the explanation says so without naming another enterprise's booking."""

from __future__ import annotations

from datetime import timedelta

import solver
from instruments.actor import SYSTEM
from instruments.policy import policy_of
from scheduler import booking_actions as actions
from scheduler.allocation.round_facts import RoundFacts
from scheduler.allocation.round_problem import RoundInput
from scheduler.allocation.rounds import _place
from scheduler.booking.booking_requests import BookingRequest, submit_request
from scheduler.booking.enterprises import Enterprise


def _place_now(session, inp, req, p, now, inst):
    """``rounds._place`` as the round calls it: the rules' facts read now, no voucher."""
    users = {req.user_id} if req.user_id else set()
    facts = RoundFacts.load(session, {inst.id: inst}, inp.t0 - timedelta(days=1), inp.horizon_end + timedelta(days=1), now, users)
    ent = session.get(Enterprise, req.enterprise_id)
    booking, _, why = _place(session, SYSTEM, inp, req, p, now, inst, policy_of(session, inst.id), ent, facts, {})
    return booking, why


def _b_asks_for_the_xrd(session, w, now):
    """Enterprise B's request for 2 h on the XRD within two days, and the round's input frame."""
    req = submit_request(
        session,
        w.member_b,
        BookingRequest(
            enterprise_id="",
            instrument_id=w.xrd.id,
            duration_minutes=120,
            earliest_start=w.at(0),
            deadline=w.at(0) + timedelta(days=2),
        ),
        now=now,
    )
    session.commit()
    inp = RoundInput(t0=w.at(0), horizon_end=w.at(0) + timedelta(days=2), problem=None, requests={}, instruments={})
    return req, inp


def test_a_slot_taken_during_the_round_is_explained_without_the_other_booking(session, world):
    w = world
    now = w.at(8) - timedelta(days=2)
    taken = actions.book(
        session, w.member_a, actions.BookingInput(w.xrd.id, w.at(9), w.at(11), "operator_run"), now=now
    )
    req, inp = _b_asks_for_the_xrd(session, w, now)
    booking, why = _place_now(session, inp, req, solver.Placement(req.id, w.xrd.id, 10 * 60), now, w.xrd)
    assert booking is None
    assert why[0]["code"] == "capacity_taken"
    assert taken.id not in why[0]["message"] and "another booking" in why[0]["message"]


def test_a_slot_refused_by_another_rule_is_explained_not_a_server_error(session, world):
    """A placement refused at write time by a rule other than an overlap (here: outside opening
    hours, before dawn) is explained with that rule's message; nothing collided, so none is named."""
    w = world
    now = w.at(8) - timedelta(days=2)
    req, inp = _b_asks_for_the_xrd(session, w, now)
    booking, why = _place_now(session, inp, req, solver.Placement(req.id, w.xrd.id, 3 * 60), now, w.xrd)
    assert booking is None
    assert why[0]["code"] != "capacity_taken" and "no longer free" in why[0]["message"]
    assert "collides" not in why[0]["message"]
