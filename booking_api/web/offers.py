"""Offers of freed time on the member's pages: the request's page and the inbox show each offer
(the slot, until when it holds, its state) with Accept and Decline buttons while it is open.
Accepting books the slot through the same service as ``POST /api/v1/offers/{id}/accept``; a
refusal (expired, taken first, a booking rule) is said in the reader's language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from instruments.actor import Actor
from instruments.db import utcnow
from instruments.errors import Conflict, DomainError, InvalidState, NotFound, PolicyViolation
from instruments.inventory import Instrument
from scheduler.time_offers import OfferStatus, TimeOffer, decline_offer, get_offer, list_offers

from ..deps import SessionDep
from ..routers.offers import answer_with_accept
from .enterprise import Gettext, gettext, span, when
from .error_pages import error_page, not_found_page
from .refusals import say_all
from .roles import MemberDep
from .signin import check_csrf

router = APIRouter(include_in_schema=False)


def status_word(_: Gettext, status: str) -> str:
    return {
        OfferStatus.offered: _("open: waiting for your answer"),
        OfferStatus.accepted: _("accepted: booked"),
        OfferStatus.declined: _("declined"),
        OfferStatus.expired: _("expired"),
        OfferStatus.superseded: _("no longer available"),
    }.get(OfferStatus(status), status)


def offer_view(_: Gettext, session: Session, o: TimeOffer, now=None) -> dict:  # noqa: ANN001
    """What the pages show of one offer."""
    inst = session.get(Instrument, o.instrument_id)
    tz = inst.timezone if inst else "Asia/Shanghai"
    is_open = o.status == OfferStatus.offered and o.expires_at > (now or utcnow())
    return {
        "id": o.id,
        "request_id": o.request_id,
        "instrument": inst.name if inst else o.instrument_id,
        "when": span(o.start, o.end, tz),
        "until": f"{when(o.expires_at, tz)} ({tz})",
        "status": status_word(_, o.status) if is_open or o.status != OfferStatus.offered else _("expired"),
        "open": is_open,
        "booking_id": o.booking_id,
        "auto": o.auto_booked,
    }


def offers_of_request(_: Gettext, session: Session, actor: Actor, request_id: str) -> list[dict]:
    return [offer_view(_, session, o) for o in list_offers(session, actor, request_id=request_id, limit=20)]


def offers_by_id(_: Gettext, session: Session, actor: Actor, ids: list[str]) -> dict[str, dict]:
    """The offers the inbox's messages name, by id (those the actor may see)."""
    out = {}
    for oid in dict.fromkeys(ids):
        try:
            out[oid] = offer_view(_, session, get_offer(session, actor, oid))
        except NotFound:
            continue
    return out


def _back(target: str, request_id: str) -> str:
    return "/my/notifications" if target == "inbox" else f"/my/requests/{request_id}"


def _refusal(_: Gettext, exc: DomainError, lang: str) -> str:
    if isinstance(exc, InvalidState):
        return _("This offer is no longer open: it expired, was answered already, or the time was taken first.")
    if isinstance(exc, PolicyViolation) or getattr(exc, "violations", None):
        lines = say_all(getattr(exc, "violations", []), lang)
        if isinstance(exc, Conflict):
            return _("Another booking took this time first; the offer is closed.")
        return _("The booking rules refuse this time now: {why}").format(why=" ".join(lines))
    if isinstance(exc, Conflict):
        return _("Another booking took this time first; the offer is closed.")
    return _("The offer could not be accepted.")


@router.post("/my/offers/{offer_id}/accept")
def accept(
    request: Request,
    offer_id: str,
    session: SessionDep,
    actor: MemberDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    check_csrf(request, csrf)
    _ = gettext(request)
    try:
        offer = get_offer(session, actor, offer_id)
        request_id = offer.request_id
        answer_with_accept(session, actor, offer_id, utcnow())
    except NotFound:
        session.rollback()
        return not_found_page(request)
    except DomainError as exc:
        session.rollback()
        return error_page(request, exc.status, _refusal(_, exc, request.state.lang))
    return RedirectResponse(_back(back, request_id), status_code=303)


@router.post("/my/offers/{offer_id}/decline")
def decline(
    request: Request,
    offer_id: str,
    session: SessionDep,
    actor: MemberDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    check_csrf(request, csrf)
    _ = gettext(request)
    try:
        offer = decline_offer(session, actor, offer_id, utcnow())
    except NotFound:
        session.rollback()
        return not_found_page(request)
    except DomainError as exc:
        session.rollback()
        return error_page(request, exc.status, _refusal(_, exc, request.state.lang))
    request_id = offer.request_id
    session.commit()
    return RedirectResponse(_back(back, request_id), status_code=303)
