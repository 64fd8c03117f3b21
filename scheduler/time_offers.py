"""Freed time goes to those waiting: offers of a cancelled, moved or no-show booking's time.

How it flows:

1. A booking action (``booking_actions``: cancel, move, no-show) queues the span it frees
   (``booking.freed_time``) in its own transaction.
2. :func:`run_offer_pass` (the ``time_offers`` job, every minute) takes each queued span in its own
   transaction: when the instrument's policy re-offers freed time (``reoffer_freed_time``), it
   finds the open requests the span fits (:func:`fits`: the request's window, service mode and
   funding; the slot found by the solver's ``place`` against the instrument's bookings as they are
   now, with opening hours, buffers, lead times, operators and the lab's capacity), ranks them by the
   weight an allocation round gives them (``round_problem``: priority, innovation points, waiting
   time, voucher funding) and offers the best one the slot (a notification and the ``time_offered``
   mail in each reader's language), valid for the policy's ``offer_minutes`` (at most until the
   slot starts). A request that allowed it (``auto_book``) is booked at once instead; if the
   booking rules refuse it now, the next request in line gets the time.
3. The enterprise accepts (:func:`accept_offer`): the slot is booked through the same booking
   service as an instant booking (every rule checked again, the request marked booked) and, for a
   voucher-funded request, a voucher reserved, all in one transaction. Two enterprises holding
   offers of overlapping time and accepting at once: the booking write locks the instrument's row
   (PostgreSQL) or the database's single writer (SQLite) orders them, and the database's no-overlap
   constraint has the last word: one booking, the other answer a 409, that offer then ``superseded``.
   Declining (:func:`decline_offer`) or letting it expire (the job) passes the time to the next
   request in line; an expired or superseded offer refuses to be accepted with a 409 saying so.

What an accepted offer does not use of its span is queued again as freed time.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, or_
from sqlmodel import Field, Session, SQLModel, col, select

import solver
from instruments.actor import SYSTEM, Actor, Role
from instruments.audit import record, snapshot
from instruments.availability import zone
from instruments.db import session_scope, utc_field, utcnow
from instruments.errors import Conflict, DomainError, Forbidden, InvalidState, NotFound
from instruments.ids import new_id
from instruments.inventory import BOOKABLE_STATUSES, Instrument, SharingMode
from instruments.policy import policy_of
from scheduler.allocation.round_problem import build_round_input
from scheduler.booking.booking_requests import OPEN_STATUSES, BookingRequest, Funding
from scheduler.booking.bookings import Booking
from scheduler.booking.freed_time import FreedCause, FreedTime, note_freed
from scheduler.booking_actions import BookingInput, book
from scheduler.money.request_funding import draft_booking, offers
from scheduler.money.vouchers import SPENDABLE, Voucher, locked, reservation_problems, reserve_for_booking
from scheduler.shared.mail_prefs import MailKind
from scheduler.shared.notifications import tell

log = logging.getLogger("labshare.offers")
ANSWER_TIME = timedelta(minutes=30)
"""An offered slot starts at least this long after the offer is made (time to answer before it)."""


class OfferStatus(StrEnum):
    offered = "offered"  # waiting for the enterprise's answer
    accepted = "accepted"  # booked (by the enterprise, or at once for an auto_book request)
    declined = "declined"
    expired = "expired"  # not answered in time
    superseded = "superseded"  # the time or the request was taken otherwise before an answer


class TimeOffer(SQLModel, table=True):
    __tablename__ = "time_offer"

    id: str = Field(default_factory=lambda: new_id("ofr"), primary_key=True)
    freed_id: str = Field(foreign_key="freed_time.id", index=True)
    instrument_id: str = Field(foreign_key="instrument.id", index=True)
    request_id: str = Field(foreign_key="booking_request.id", index=True)
    enterprise_id: str = Field(foreign_key="enterprise.id", index=True)
    start: datetime = utc_field()
    end: datetime = utc_field()
    span_start: datetime = utc_field()
    span_end: datetime = utc_field()
    status: str = Field(default=OfferStatus.offered, index=True, description="offered, accepted, declined, expired, superseded")
    expires_at: datetime = utc_field(index=True)
    created_at: datetime = utc_field(default_factory=utcnow)
    decided_at: datetime | None = utc_field(nullable=True, default=None)
    booking_id: str | None = Field(default=None, foreign_key="booking.id")
    auto_booked: bool = False


@dataclass
class Fit:
    """A waiting request the freed span fits: the slot ``place`` found for it, and its round weight."""

    request: BookingRequest
    start: datetime
    end: datetime
    weight: int
    order: int


def _waiting(session: Session, inst: Instrument, start: datetime, end: datetime, now: datetime,
             skip: set[str]) -> list[BookingRequest]:
    """Open requests for the instrument (or its category) in its service modes whose window meets
    the span, without an open offer of their own."""
    if inst.sharing_mode != SharingMode.external or inst.status not in BOOKABLE_STATUSES:
        return []
    q = select(BookingRequest).where(
        col(BookingRequest.status).in_(OPEN_STATUSES),
        BookingRequest.deadline > max(now, start),
        BookingRequest.earliest_start < end,
        or_(
            col(BookingRequest.instrument_id) == inst.id,
            (col(BookingRequest.instrument_id).is_(None)) & (col(BookingRequest.category) == inst.category),
        ),
    )
    held = select(TimeOffer.request_id).where(TimeOffer.status == OfferStatus.offered)
    q = q.where(col(BookingRequest.id).not_in(held)).order_by(col(BookingRequest.created_at), col(BookingRequest.id))
    return [r for r in session.exec(q).all() if r.id not in skip and str(r.service_mode) in inst.service_modes]


def fits(session: Session, inst: Instrument, start: datetime, end: datetime, now: datetime,
         skip: set[str] | None = None) -> list[Fit]:
    """The waiting requests ``[start, end)`` of ``inst`` fits, best first (highest round weight,
    then the earlier request); a slot starts no sooner than ``ANSWER_TIME`` from ``now``."""
    reqs = _waiting(session, inst, start, end, now, skip or set())
    if not reqs:
        return []
    inp = build_round_input(session, now, only=reqs)
    lo, hi = max(inp.minutes(start), inp.minutes(now + ANSWER_TIME)), inp.minutes(end)
    out = []
    for r in inp.problem.requests:
        if inst.id not in r.eligible:
            continue
        deadline = inp.problem.horizon_minutes if r.deadline is None else r.deadline
        narrowed = dataclasses.replace(r, eligible=[inst.id], release=max(r.release, lo), deadline=min(deadline, hi))
        for p in solver.place(inp.problem, [], narrowed, k=3):
            if r.funding == "voucher" and not r.cash_fallback and not _fundable(inp.problem, r, inst.id, p.start):
                continue
            slot = inp.at(p.start)
            out.append(Fit(inp.requests[r.id], slot, slot + timedelta(minutes=r.duration), r.weight, r.submitted or 0))
            break
    out.sort(key=lambda f: (-f.weight, f.order))
    return out


def _fundable(problem: solver.Problem, r: solver.Request, instrument: str, start: int) -> bool:
    """Some voucher of the round's view can pay for ``r`` on ``instrument`` starting at ``start``."""
    return any(
        v.pays.get(r.id, {}).get(instrument, 0) > 0 and (v.expires is None or start < v.expires)
        for v in problem.vouchers_of_request.get(r.id, [])
    )


def member_actor(req: BookingRequest) -> Actor:
    """Who books an ``auto_book`` request: its member, bound by every rule a member is."""
    return Actor(user_id=req.user_id, role=Role.enterprise_member, enterprise_id=req.enterprise_id, name="auto-book")


def offer_span(session: Session, freed: FreedTime, now: datetime) -> TimeOffer | None:
    """Offer the freed span to the best waiting request that has not had it yet (or book it for an
    ``auto_book`` request); None when the policy says not to or no request fits."""
    inst = session.get(Instrument, freed.instrument_id)
    if inst is None or not policy_of(session, inst.id).reoffer_freed_time:
        return None
    had = set(session.exec(select(TimeOffer.request_id).where(TimeOffer.freed_id == freed.id)).all())
    for fit in fits(session, inst, freed.start, freed.end, now, had):
        req = fit.request
        offer = TimeOffer(
            freed_id=freed.id,
            instrument_id=inst.id,
            request_id=req.id,
            enterprise_id=req.enterprise_id,
            start=fit.start,
            end=fit.end,
            span_start=freed.start,
            span_end=freed.end,
            expires_at=min(now + timedelta(minutes=policy_of(session, inst.id).offer_minutes), fit.start),
            created_at=now,
        )
        session.add(offer)
        session.flush()
        if not req.auto_book:
            _tell_offered(session, offer, inst, req)
            record(session, SYSTEM, "offer.make", "time_offer", offer.id, after=snapshot(offer))
            return offer
        try:
            with session.begin_nested():
                _book(session, member_actor(req), offer, req, inst, now)
                offer.auto_booked = True
                session.add(offer)
        except DomainError as exc:  # a rule refuses it now: the next request in line
            log.info("auto-booking %s for %s refused: %s", offer.id, req.id, exc)
            offer.status, offer.decided_at = OfferStatus.superseded, now
            session.add(offer)
            session.flush()
            continue
        record(session, SYSTEM, "offer.auto_book", "time_offer", offer.id, after=snapshot(offer))
        return offer
    return None


def _tell_offered(session: Session, offer: TimeOffer, inst: Instrument, req: BookingRequest) -> None:
    tell(
        session,
        MailKind.time_offered,
        f"time_offered:{offer.id}",
        offer_data(offer, inst),
        enterprise_id=offer.enterprise_id,
        user_id=req.user_id,
        link=f"/my/requests/{req.id}",
        now=offer.created_at,
    )


def offer_data(offer: TimeOffer, inst: Instrument) -> dict[str, Any]:
    """What the notification and mail of an offer say (plain JSON)."""
    return {
        "offer_id": offer.id,
        "request_id": offer.request_id,
        "instrument": inst.name,
        "tz": inst.timezone,
        "start": offer.start.isoformat(),
        "end": offer.end.isoformat(),
        "expires_at": offer.expires_at.isoformat(),
    }


def _book(session: Session, actor: Actor, offer: TimeOffer, req: BookingRequest, inst: Instrument,
          now: datetime) -> Booking:
    """Book the offered slot for the request (every booking rule, the request marked booked, its
    voucher reserved), mark the offer accepted and queue what is left of the span."""
    booking = book(
        session,
        actor,
        BookingInput(
            instrument_id=inst.id,
            start=offer.start,
            end=offer.end,
            service_mode=str(req.service_mode),
            sample_count=req.sample_count,
            notes=req.notes,
            enterprise_id=req.enterprise_id,
            request_id=req.id,
        ),
        now=now,
    )
    if req.funding != Funding.cash:
        voucher = _voucher_for(session, req, booking, inst, now)
        if voucher is not None:
            reserve_for_booking(session, actor, voucher, booking, inst)
        elif not req.cash_fallback:
            raise Conflict(
                f"No voucher of your enterprise can pay for request {req.id} on {inst.name} any more, "
                "and the request does not allow paying cash instead."
            )
    before = snapshot(offer)
    offer.status, offer.decided_at, offer.booking_id = OfferStatus.accepted, now, booking.id
    session.add(offer)
    session.flush()
    record(session, actor, "offer.accept", "time_offer", offer.id, before=before, after=snapshot(offer))
    freed = session.get(FreedTime, offer.freed_id)
    for a, b in ((offer.span_start, offer.start), (offer.end, offer.span_end)):
        if b - a >= timedelta(minutes=30):
            note_freed(session, inst.id, freed.booking_id if freed else None, a, b, FreedCause.remainder, now)
    return booking


def _voucher_for(session: Session, req: BookingRequest, booking: Booking, inst: Instrument,
                 now: datetime) -> Voucher | None:
    """The voucher that pays for the booked request: the one it names, else the first spendable
    voucher of the enterprise (expiring first) that the programme lets pay for it; locked."""
    candidates = [o.voucher.id for o in offers(session, [req], {req.id: [inst]}, now)]
    for vid in candidates:
        v = locked(session, vid)
        if v.status not in SPENDABLE or v.holder_enterprise_id != req.enterprise_id or v.expires_at <= booking.start:
            continue
        if not reservation_problems(session, v, draft_booking(req, inst, booking.start, booking.end), inst)[0]:
            return v
    return None


def can_see_offer(actor: Actor, offer: TimeOffer, inst: Instrument | None) -> bool:
    if actor.is_admin:
        return True
    if actor.role == Role.enterprise_member:
        return actor.enterprise_id is not None and actor.enterprise_id == offer.enterprise_id
    if actor.role == Role.lab_manager:
        return inst is not None and actor.owner_unit_id == inst.owner_unit_id
    return False


def get_offer(session: Session, actor: Actor, offer_id: str, lock: bool = False) -> TimeOffer:
    offer = (
        session.get(TimeOffer, offer_id, with_for_update=True, populate_existing=True)
        if lock
        else session.get(TimeOffer, offer_id)
    )
    if offer is None or not can_see_offer(actor, offer, session.get(Instrument, offer.instrument_id)):
        raise NotFound(f"No offer {offer_id!r} that you can see.")
    return offer


def list_offers(session: Session, actor: Actor, status: OfferStatus | None = None, request_id: str | None = None,
                limit: int = 50, offset: int = 0) -> list[TimeOffer]:
    """The offers the actor may see, newest first: an enterprise's own; a lab manager's, on the
    unit's instruments; all for programme admins."""
    q = select(TimeOffer)
    if actor.role == Role.enterprise_member and actor.enterprise_id:
        q = q.where(TimeOffer.enterprise_id == actor.enterprise_id)
    elif actor.role == Role.lab_manager and actor.owner_unit_id:
        q = q.where(
            col(TimeOffer.instrument_id).in_(select(Instrument.id).where(Instrument.owner_unit_id == actor.owner_unit_id))
        )
    elif not actor.is_admin:
        raise Forbidden("Your role has no offers of freed time.")
    if status is not None:
        q = q.where(TimeOffer.status == status)
    if request_id is not None:
        q = q.where(TimeOffer.request_id == request_id)
    q = q.order_by(col(TimeOffer.created_at).desc(), col(TimeOffer.id)).offset(offset).limit(limit)
    return list(session.exec(q).all())


def _answerable(session: Session, actor: Actor, offer_id: str, now: datetime) -> TimeOffer:
    """The offer, locked, if the actor may answer it and it is still open; else a clear refusal."""
    offer = get_offer(session, actor, offer_id, lock=True)
    if not (actor.is_admin or (actor.role == Role.enterprise_member and actor.enterprise_id == offer.enterprise_id)):
        raise Forbidden("Only the enterprise the time was offered to (or a programme admin) may answer the offer.")
    if offer.status == OfferStatus.offered and offer.expires_at <= now:
        raise InvalidState(f"Offer {offer.id} expired at {_local(offer, session)}; the time has passed to the next request.")
    if offer.status != OfferStatus.offered:
        why = {
            OfferStatus.accepted: "it was already accepted",
            OfferStatus.declined: "it was declined",
            OfferStatus.expired: "it expired before an answer and the time went to the next request",
            OfferStatus.superseded: "the time or the request was taken otherwise first",
        }.get(OfferStatus(offer.status), offer.status)
        raise InvalidState(f"Offer {offer.id} is {offer.status}: {why}.")
    return offer


def _local(offer: TimeOffer, session: Session) -> str:
    inst = session.get(Instrument, offer.instrument_id)
    tz = zone(inst.timezone) if inst else None
    return f"{offer.expires_at.astimezone(tz):%Y-%m-%d %H:%M}" + (f" ({inst.timezone})" if inst else "")


def accept_offer(session: Session, actor: Actor, offer_id: str, now: datetime | None = None) -> TimeOffer:
    """Book the offered slot (one transaction, the caller's). A 409 when the offer is no longer open
    or the time was taken meanwhile; then the caller may :func:`mark_lost` it."""
    now = now or utcnow()
    offer = _answerable(session, actor, offer_id, now)
    req = session.get(BookingRequest, offer.request_id)
    inst = session.get(Instrument, offer.instrument_id)
    if req is None or inst is None:
        raise NotFound(f"No offer {offer_id!r} that you can see.")
    _book(session, actor, offer, req, inst, now)
    return offer


def mark_lost(session: Session, offer_id: str, now: datetime) -> TimeOffer | None:
    """After an accept refused with a 409 (and rolled back): an offer still open is marked expired
    (its time passed) or superseded (its time or request was taken). Its own transaction."""
    offer = session.get(TimeOffer, offer_id, with_for_update=True, populate_existing=True)
    if offer is None or offer.status != OfferStatus.offered:
        return None
    offer.status = OfferStatus.expired if offer.expires_at <= now else OfferStatus.superseded
    offer.decided_at = now
    session.add(offer)
    record(session, SYSTEM, f"offer.{offer.status}", "time_offer", offer.id, after=snapshot(offer))
    return offer


def decline_offer(session: Session, actor: Actor, offer_id: str, now: datetime | None = None) -> TimeOffer:
    """Decline: the time goes to the next request in line (same transaction)."""
    now = now or utcnow()
    offer = _answerable(session, actor, offer_id, now)
    before = snapshot(offer)
    offer.status, offer.decided_at = OfferStatus.declined, now
    session.add(offer)
    session.flush()
    record(session, actor, "offer.decline", "time_offer", offer.id, before=before, after=snapshot(offer))
    freed = session.get(FreedTime, offer.freed_id)
    if freed is not None:
        offer_span(session, freed, now)
    return offer


def expire_due(session: Session, now: datetime) -> int:
    """Close every open offer past its time, or whose request is no longer waiting, and pass each
    span on to the next request in line. The number of offers closed."""
    rows = session.exec(
        select(TimeOffer)
        .where(TimeOffer.status == OfferStatus.offered)
        .order_by(col(TimeOffer.expires_at), col(TimeOffer.id))
        .with_for_update()
    ).all()
    closed = 0
    for offer in rows:
        req = session.get(BookingRequest, offer.request_id)
        if offer.expires_at <= now:
            offer.status = OfferStatus.expired
        elif req is None or req.status not in OPEN_STATUSES:
            offer.status = OfferStatus.superseded
        else:
            continue
        offer.decided_at = now
        session.add(offer)
        session.flush()
        record(session, SYSTEM, f"offer.{offer.status}", "time_offer", offer.id, after=snapshot(offer))
        closed += 1
        freed = session.get(FreedTime, offer.freed_id)
        if freed is not None and freed.end > now:
            offer_span(session, freed, now)
    return closed


def run_offer_pass(engine: Engine, now: datetime | None = None) -> dict[str, int]:
    """One run of the job: expire due offers (their spans to the next in line), then offer each
    queued freed span, each in its own transaction (one that fails is logged and stays queued)."""
    now = now or utcnow()
    with session_scope(engine) as session:
        expired = expire_due(session, now)
    with session_scope(engine) as session:
        queued = list(
            session.exec(
                select(FreedTime.id).where(col(FreedTime.handled_at).is_(None)).order_by(col(FreedTime.created_at), col(FreedTime.id))
            ).all()
        )
    made = booked = 0
    for fid in queued:
        try:
            with session_scope(engine) as session:
                freed = session.get(FreedTime, fid, with_for_update=True, populate_existing=True)
                if freed is None or freed.handled_at is not None:
                    continue
                offer = offer_span(session, freed, now) if freed.end > now else None
                freed.handled_at = now
                session.add(freed)
                if offer is not None:
                    made += 1
                    booked += offer.status == OfferStatus.accepted
        except Exception:
            log.exception("offering freed time %s failed; it stays queued for the next run", fid)
    return {"expired": expired, "offered": made - booked, "booked": booked, "spans": len(queued)}
