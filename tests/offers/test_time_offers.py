"""Freed time goes to those waiting: a cancellation, move or no-show queues the time it frees, and
one run of the offers job offers it to the best waiting request (the round's weight), books it at
once for a request that allows it, passes it on when an offer expires or is declined."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from instruments.errors import InvalidState
from instruments.policy import BookingPolicy
from scheduler import booking_actions as actions
from scheduler.booking.booking_requests import RequestStatus
from scheduler.booking.freed_time import FreedTime
from scheduler.jobs import run_time_offers
from scheduler.money.revocation import revoke
from scheduler.shared.notifications import Notification
from scheduler.shared.outbox import OutboxMail
from scheduler.time_offers import OfferStatus, accept_offer, decline_offer

from .helpers import booked, live, now_of, offers_of, waiting


def _cancelled_slot(session, w, **request_kw):  # noqa: ANN001, ANN003, ANN202
    """A booking of ent A on the XRD 10:00–12:00, two waiting requests of ent B (the second more
    urgent), then the booking cancelled by the lab; returns (low, high)."""
    b = booked(session, w, w.member_a, 10)
    low = waiting(session, w, w.member_b, priority=0)
    high = waiting(session, w, w.member_b, priority=5, **request_kw)
    session.commit()
    actions.cancel(session, w.manager, b.id, "maintenance", now=now_of(w))
    session.commit()
    return low, high


def test_cancelling_queues_the_freed_span_in_the_same_transaction(db, session, w):
    b = booked(session, w, w.member_a, 10)
    session.commit()
    actions.cancel(session, w.manager, b.id, now=now_of(w))
    session.rollback()  # the cancellation is undone: nothing is queued
    assert session.exec(select(FreedTime)).all() == []
    actions.cancel(session, w.manager, b.id, now=now_of(w))
    session.commit()
    (row,) = session.exec(select(FreedTime)).all()
    assert (row.start, row.end, row.cause, row.handled_at) == (w.at(10), w.at(12), "cancelled", None)


def test_a_cancelled_slot_is_offered_to_the_best_waiting_request_within_one_job_run(db, session, w):
    low, high = _cancelled_slot(session, w)
    done = run_time_offers(db.url, now=now_of(w))
    assert done == {"expired": 0, "offered": 1, "booked": 0, "spans": 1}
    (offer,) = offers_of(session)
    assert (offer.request_id, offer.status) == (high.id, OfferStatus.offered)
    assert (offer.start, offer.end) == (w.at(10), w.at(12))
    assert offer.expires_at == now_of(w) + timedelta(minutes=120)
    note = session.exec(select(Notification).where(Notification.kind == "time_offered")).one()
    assert note.enterprise_id == w.ent_b.id and note.data["offer_id"] == offer.id
    assert session.exec(select(OutboxMail).where(OutboxMail.kind == "time_offered")).all()
    assert session.get(FreedTime, offer.freed_id).handled_at is not None
    session.rollback()  # end the read (SQLite: one writer at a time)
    assert run_time_offers(db.url, now=now_of(w))["spans"] == 0  # handled once


def test_accepting_books_the_slot_and_marks_the_request_booked(db, session, w):
    _, high = _cancelled_slot(session, w)
    run_time_offers(db.url, now=now_of(w))
    (offer,) = offers_of(session)
    accept_offer(session, w.member_b, offer.id, now=now_of(w) + timedelta(minutes=5))
    session.commit()
    (offer,) = offers_of(session)
    assert offer.status == OfferStatus.accepted and offer.booking_id
    (b,) = live(session)
    assert (b.id, b.request_id, b.enterprise_id, b.start, b.end) == (offer.booking_id, high.id, w.ent_b.id, w.at(10), w.at(12))
    assert session.get(type(high), high.id).status == RequestStatus.booked
    with pytest.raises(InvalidState, match="already accepted"):
        accept_offer(session, w.member_b, offer.id, now=now_of(w) + timedelta(minutes=6))


def test_an_expired_offer_hands_the_time_to_the_next_request(db, session, w):
    low, high = _cancelled_slot(session, w)
    run_time_offers(db.url, now=now_of(w))
    later = now_of(w) + timedelta(minutes=121)
    with pytest.raises(InvalidState, match="expired"):
        accept_offer(session, w.member_b, offers_of(session)[0].id, now=later)
    session.rollback()
    done = run_time_offers(db.url, now=later)
    assert done["expired"] == 1
    first, second = offers_of(session)
    assert (first.request_id, first.status) == (high.id, OfferStatus.expired)
    assert (second.request_id, second.status) == (low.id, OfferStatus.offered)
    assert second.expires_at == later + timedelta(minutes=120)


def test_declining_hands_the_time_to_the_next_request(db, session, w):
    low, high = _cancelled_slot(session, w)
    run_time_offers(db.url, now=now_of(w))
    decline_offer(session, w.member_b, offers_of(session)[0].id, now=now_of(w))
    session.commit()
    by_request = {o.request_id: o.status for o in offers_of(session)}
    assert by_request == {high.id: OfferStatus.declined, low.id: OfferStatus.offered}


def test_a_request_that_allows_it_is_booked_at_once(db, session, w):
    _, high = _cancelled_slot(session, w, auto_book=True)
    done = run_time_offers(db.url, now=now_of(w))
    assert (done["booked"], done["offered"]) == (1, 0)
    (offer,) = offers_of(session)
    assert offer.status == OfferStatus.accepted and offer.auto_booked
    (b,) = live(session)
    assert b.request_id == high.id and b.id == offer.booking_id and b.user_id == high.user_id


def test_an_instrument_that_does_not_reoffer_keeps_the_time_free(db, session, w):
    pol = session.get(BookingPolicy, w.xrd.id)
    pol.reoffer_freed_time = False
    session.add(pol)
    session.commit()
    _cancelled_slot(session, w)
    assert run_time_offers(db.url, now=now_of(w))["offered"] == 0
    assert offers_of(session) == []


def test_a_move_offers_the_old_time_and_a_request_too_long_for_it_is_passed_over(db, session, w):
    b = booked(session, w, w.member_a, 10, hours=1)
    too_long = waiting(session, w, w.member_b, hours=2, priority=9)
    fits = waiting(session, w, w.member_b, hours=1)
    session.commit()
    actions.move(session, w.manager, b.id, w.at(15), w.at(16), now=now_of(w))
    session.commit()
    run_time_offers(db.url, now=now_of(w))
    offers = offers_of(session)
    # 10:00–11:00 is the freed span: the two-hour request does not fit in it
    assert [(o.request_id, o.start, o.end) for o in offers] == [(fits.id, w.at(10), w.at(11))]
    assert too_long.id not in {o.request_id for o in offers}


def test_a_no_show_offers_the_rest_of_its_time(db, session, w):
    w_now = w.at(10, 30)  # the booking 10:00–12:00 was not checked in by 10:30
    b = booked(session, w, w.member_a, 10)
    actions.confirm(session, w.manager, b.id)
    fits = waiting(session, w, w.member_b, hours=1)
    session.commit()
    actions.mark_no_show(session, w.manager, b.id, now=w_now)
    session.commit()
    (row,) = session.exec(select(FreedTime)).all()
    assert (row.start, row.end, row.cause) == (w_now, w.at(12), "no_show")
    session.rollback()
    run_time_offers(db.url, now=w_now)
    (offer,) = offers_of(session)
    # half an hour to answer: the slot starts at 11:00, and the offer holds until then
    assert (offer.request_id, offer.start, offer.end) == (fits.id, w.at(11), w.at(12))
    assert offer.expires_at == w.at(11)


def _voucher_of(session, w, ent):  # noqa: ANN001, ANN202
    from fixtures.voucher_presets import PRESETS
    from scheduler.money import vouchers as v

    prog = v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(
            name="2026 创新券", year=2026, total_budget_fen=10_000_000,
            rules=PRESETS["shandong_jinan"].model_dump(mode="json"),
        ),
    )
    return v.issue_voucher(session, w.admin, prog.id, ent.id, "testing", 100_000, now=now_of(w) - timedelta(days=1))


def test_accepting_for_a_voucher_funded_request_reserves_its_voucher_in_the_same_transaction(db, session, w):
    from scheduler.money.vouchers import Voucher, VoucherStatus

    voucher = _voucher_of(session, w, w.ent_b)
    session.commit()
    _, high = _cancelled_slot(session, w, funding="any_voucher")
    run_time_offers(db.url, now=now_of(w))
    (offer,) = offers_of(session)
    assert offer.request_id == high.id
    accept_offer(session, w.member_b, offer.id, now=now_of(w))
    session.commit()
    session.expire_all()
    v = session.get(Voucher, voucher.id)
    (b,) = live(session)
    assert (v.status, v.booking_id) == (VoucherStatus.reserved, b.id) and v.reserved_fen > 0


def test_a_voucher_only_request_without_a_voucher_that_pays_is_not_offered_the_time(db, session, w):
    voucher = _voucher_of(session, w, w.ent_b)
    session.commit()
    low, high = _cancelled_slot(session, w, funding="voucher", voucher_id=voucher.id)
    revoke(session, w.admin, voucher.id, "testing")
    session.commit()
    run_time_offers(db.url, now=now_of(w))
    offers = offers_of(session)
    assert [o.request_id for o in offers] == [low.id]  # the cash request gets it, not the unfundable one
