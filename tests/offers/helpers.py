"""A freed slot and the requests waiting for it, on the test world's XRD."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from instruments.actor import Actor
from scheduler import booking_actions as actions
from scheduler.booking.booking_requests import BookingRequest
from scheduler.booking.bookings import LIVE, Booking
from scheduler.money.request_funding import submit_funded_request
from scheduler.time_offers import TimeOffer
from tests.world import World


def now_of(w: World) -> datetime:
    """Two days before the world's working day, 09:00 local: every test passes this explicitly."""
    return w.at(9) - timedelta(days=2)


def booked(session: Session, w: World, actor: Actor, hh: int, hours: int = 2) -> Booking:
    return actions.book(
        session,
        actor,
        actions.BookingInput(w.xrd.id, w.at(hh), w.at(hh + hours), "self_operated"),
        now=now_of(w),
    )


def waiting(session: Session, w: World, actor: Actor, hours: int = 2, priority: int = 0, **kw) -> BookingRequest:
    """A self-operated XRD request over the world's whole day."""
    req = BookingRequest(
        enterprise_id=actor.enterprise_id or "",
        instrument_id=w.xrd.id,
        service_mode="self_operated",
        duration_minutes=60 * hours,
        earliest_start=w.at(9),
        deadline=w.at(17),
        priority=priority,
        **kw,
    )
    return submit_funded_request(session, actor, req, now=now_of(w))


def offers_of(session: Session) -> list[TimeOffer]:
    session.expire_all()
    return list(session.exec(select(TimeOffer).order_by(col(TimeOffer.created_at), col(TimeOffer.id))).all())


def live(session: Session) -> list[Booking]:
    session.expire_all()
    return list(session.exec(select(Booking).where(col(Booking.status).in_(LIVE))).all())
