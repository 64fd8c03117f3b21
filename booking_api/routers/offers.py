"""Offers of freed time: a cancelled, moved or no-show booking's time offered to a waiting request
(``scheduler.time_offers``); the enterprise accepts (books it) or declines (it goes to the next)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import Session

from instruments.db import utcnow
from instruments.errors import Conflict
from instruments.inventory import Instrument
from scheduler.time_offers import OfferStatus, TimeOffer, accept_offer, decline_offer, get_offer, list_offers, mark_lost

from ..deps import ActorDep, PageDep, SessionDep, commit

router = APIRouter(prefix="/api/v1/offers", tags=["offers"])


class OfferOut(BaseModel):
    """An offer; its times in the instrument's zone, with the offset."""

    id: str
    request_id: str
    enterprise_id: str
    instrument_id: str
    instrument_name: str
    start: datetime = Field(description="The offered slot's start")
    end: datetime
    span_start: datetime = Field(description="The freed time the slot was found in")
    span_end: datetime
    status: str = Field(description="offered, accepted, declined, expired or superseded")
    expires_at: datetime = Field(description="Until when it can be accepted")
    created_at: datetime
    decided_at: datetime | None
    booking_id: str | None = Field(description="The booking an accepted offer became")
    auto_booked: bool = Field(description="Booked at once, as the request allowed (auto_book)")


def offer_out(session: Session, o: TimeOffer) -> OfferOut:
    inst = session.get(Instrument, o.instrument_id)
    z = ZoneInfo(inst.timezone if inst else "Asia/Shanghai")
    data = o.model_dump()
    for k in ("start", "end", "span_start", "span_end", "expires_at", "created_at", "decided_at"):
        if data[k] is not None:
            data[k] = data[k].astimezone(z)
    return OfferOut.model_validate({**data, "instrument_name": inst.name if inst else o.instrument_id})


@router.get("", response_model=list[OfferOut], summary="Offers of freed time you may see (your enterprise's), newest first")
def list_(
    session: SessionDep, actor: ActorDep, page: PageDep, status: OfferStatus | None = None, request_id: str | None = None
) -> list[OfferOut]:
    return [offer_out(session, o) for o in list_offers(session, actor, status, request_id, page.limit, page.offset)]


@router.get("/{offer_id}", response_model=OfferOut, summary="One offer")
def get_one(offer_id: str, session: SessionDep, actor: ActorDep) -> OfferOut:
    return offer_out(session, get_offer(session, actor, offer_id))


def answer_with_accept(session: Session, actor, offer_id: str, now: datetime) -> TimeOffer:  # noqa: ANN001
    """Accept in the caller's transaction and commit; a 409 (expired, taken meanwhile) rolls it
    back and closes the offer in a transaction of its own before it is raised."""
    try:
        offer = accept_offer(session, actor, offer_id, now)
        commit(session)
        return offer
    except Conflict:
        session.rollback()
        mark_lost(session, offer_id, now)
        session.commit()
        raise


@router.post(
    "/{offer_id}/accept",
    response_model=OfferOut,
    summary="Accept: book the offered slot (every booking rule checked again; a voucher-funded request reserves its voucher)",
    responses={409: {"description": "The offer expired, was superseded, or another booking took the time first"}},
)
def accept(offer_id: str, session: SessionDep, actor: ActorDep) -> OfferOut:
    offer = answer_with_accept(session, actor, offer_id, utcnow())
    return offer_out(session, offer)


@router.post(
    "/{offer_id}/decline",
    response_model=OfferOut,
    summary="Decline: the time is offered to the next request in line",
    responses={409: {"description": "The offer is no longer open"}},
)
def decline(offer_id: str, session: SessionDep, actor: ActorDep) -> OfferOut:
    offer = decline_offer(session, actor, offer_id, utcnow())
    out = offer_out(session, offer)
    commit(session)
    return out
