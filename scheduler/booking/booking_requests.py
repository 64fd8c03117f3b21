"""Booking requests: an enterprise asks for time (a specific instrument or any of a category)
between an earliest start and a deadline; allocation rounds or an instant booking answer them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field, Session, SQLModel, col, select

from instruments.actor import Actor, Role
from instruments.audit import record, snapshot
from instruments.db import json_field, utc_field, utcnow
from instruments.errors import Forbidden, InvalidInput, InvalidState, NotFound
from instruments.ids import new_id
from instruments.inventory import Instrument, ServiceMode, SharingMode
from instruments.policy import BookingPolicy, minutes_for_samples
from instruments.settings import get_settings
from scheduler.booking.bookings import Booking, BookingStatus


class RequestStatus(StrEnum):
    pending = "pending"  # waiting for an allocation round
    allocated = "allocated"  # a round placed it (tentative booking)
    booked = "booked"  # confirmed booking exists
    unplaced = "unplaced"  # a round could not place it; see explanation
    withdrawn = "withdrawn"
    expired = "expired"


OPEN_STATUSES = (RequestStatus.pending, RequestStatus.unplaced)


class Funding(StrEnum):
    """How a request will pay (checked by ``scheduler.money.request_funding``)."""

    cash = "cash"  # the enterprise pays the whole fee
    any_voucher = "any_voucher"  # any spendable voucher of the enterprise that can pay for it
    voucher = "voucher"  # the one voucher named by ``voucher_id``


class BookingRequest(SQLModel, table=True):
    __tablename__ = "booking_request"

    id: str = Field(default_factory=lambda: new_id("req"), primary_key=True)
    enterprise_id: str = Field(foreign_key="enterprise.id", index=True)
    user_id: str | None = Field(default=None, foreign_key="app_user.id")
    instrument_id: str | None = Field(default=None, foreign_key="instrument.id", index=True)
    category: str | None = Field(default=None, index=True)
    service_mode: ServiceMode = ServiceMode.operator_run
    duration_minutes: int = Field(gt=0, description="Instrument time (derived from samples when not given)")
    sample_count: int = Field(default=0, ge=0)
    earliest_start: datetime = utc_field()
    deadline: datetime = utc_field()
    preferred_start: datetime | None = utc_field(nullable=True, default=None)
    notes: str = ""
    priority: int = Field(default=0, ge=0, le=10)
    funding: Funding = Field(default=Funding.cash, description="cash, any_voucher or voucher (with voucher_id)")
    voucher_id: str | None = Field(default=None, index=True, description="The voucher asked for (funding voucher)")
    cash_fallback: bool = Field(
        default=False, description="With a voucher funding: may be placed paying cash when no voucher can fund it"
    )
    auto_book: bool = Field(
        default=False, description="Freed time that fits is booked at once instead of offered (see scheduler.time_offers)"
    )
    status: RequestStatus = Field(default=RequestStatus.pending, index=True)
    explanation: list[dict[str, Any]] = json_field(list)
    created_at: datetime = utc_field(default_factory=utcnow)


def submit_request(session: Session, actor: Actor, req: BookingRequest, now: datetime | None = None) -> BookingRequest:
    if actor.role == Role.enterprise_member:
        req.enterprise_id = actor.enterprise_id or ""
        req.user_id = actor.user_id
    elif not actor.is_admin:
        raise Forbidden("Only enterprise members (or a programme admin on their behalf) submit requests.")
    if not req.enterprise_id:
        raise InvalidInput("enterprise_id is required.", field="enterprise_id")
    for name in ("earliest_start", "deadline", "preferred_start"):
        value = getattr(req, name)
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a UTC offset, e.g. 2026-12-01T08:30:00+08:00.", field=name)
    if (req.instrument_id is None) == (req.category is None):
        raise InvalidInput("Give exactly one of instrument_id or category.", field="instrument_id")
    candidates = eligible_instruments(session, req)
    if not req.duration_minutes:
        if req.sample_count <= 0:
            raise InvalidInput("Give duration_minutes, or sample_count to derive it.", field="duration_minutes")
        policies = [session.get(BookingPolicy, i.id) or BookingPolicy(instrument_id=i.id) for i in candidates]
        req.duration_minutes = max((minutes_for_samples(p, req.sample_count) for p in policies), default=0)
    if req.deadline <= req.earliest_start:
        raise InvalidInput("deadline must be after earliest_start.", field="deadline")
    window = (req.deadline - req.earliest_start).total_seconds() / 60
    if window < req.duration_minutes:
        raise InvalidInput(
            f"The window from earliest_start to deadline is {int(window)} min, shorter than duration_minutes {req.duration_minutes}.",
            field="deadline",
        )
    if req.deadline <= (now or utcnow()):
        raise InvalidInput("deadline is already past.", field="deadline")
    if req.preferred_start is not None and not (req.earliest_start <= req.preferred_start <= req.deadline):
        raise InvalidInput("preferred_start must lie between earliest_start and deadline.", field="preferred_start")
    if req.instrument_id is not None and not candidates:
        inst = session.get(Instrument, req.instrument_id)
        if inst is None:
            raise NotFound(f"No instrument {req.instrument_id!r}.")
        raise InvalidInput(
            f"Instrument {inst.id} ({inst.name}) is not open to external users or does not offer {str(req.service_mode)}.",
            field="service_mode",
        )
    if req.category is not None and not candidates:
        raise InvalidInput(
            f"No instrument of category {req.category!r} offers {str(req.service_mode)} to external users.",
            field="category",
        )
    session.add(req)
    session.flush()
    record(session, actor, "request.submit", "booking_request", req.id, after=snapshot(req))
    return req


def eligible_instruments(session: Session, req: BookingRequest) -> list[Instrument]:
    q = select(Instrument).where(Instrument.sharing_mode == SharingMode.external)
    if req.instrument_id is not None:
        q = q.where(Instrument.id == req.instrument_id)
    else:
        q = q.where(Instrument.category == req.category)
    return eligible_among(list(session.exec(q).all()), req)


def external_instruments(session: Session) -> list[Instrument]:
    """Every instrument open to external users: what :func:`eligible_among` picks from for many
    requests (an allocation round), read in one statement."""
    return list(session.exec(select(Instrument).where(Instrument.sharing_mode == SharingMode.external)).all())


def eligible_among(instruments: list[Instrument], req: BookingRequest) -> list[Instrument]:
    """The instruments of ``instruments`` that can serve ``req`` (the predicate of
    :func:`eligible_instruments`, in the order given)."""
    return [
        i
        for i in instruments
        if i.sharing_mode == SharingMode.external
        and (i.id == req.instrument_id if req.instrument_id is not None else i.category == req.category)
        and str(req.service_mode) in i.service_modes
    ]


def get_request(session: Session, actor: Actor, request_id: str, lock: bool = False) -> BookingRequest:
    """The request, or NotFound; ``lock`` takes its row FOR UPDATE (a round may be answering it)."""
    req = session.get(BookingRequest, request_id, with_for_update=lock or None, populate_existing=lock)
    if req is None or not can_see_request(session, actor, req):
        raise NotFound(f"No booking request {request_id!r} that you can see.")
    return req


def can_see_request(session: Session, actor: Actor, req: BookingRequest) -> bool:
    if actor.is_admin:
        return True
    if actor.role == Role.enterprise_member:
        return actor.enterprise_id is not None and actor.enterprise_id == req.enterprise_id
    if actor.role == Role.lab_manager and actor.owner_unit_id:
        return any(i.owner_unit_id == actor.owner_unit_id for i in eligible_instruments(session, req))
    return False


def list_requests(
    session: Session, actor: Actor, status: RequestStatus | None, limit: int, offset: int
) -> list[BookingRequest]:
    q = select(BookingRequest)
    if actor.role == Role.enterprise_member and actor.enterprise_id:
        q = q.where(BookingRequest.enterprise_id == actor.enterprise_id)
    elif actor.role == Role.lab_manager and actor.owner_unit_id:
        unit_instruments = select(Instrument.id).where(Instrument.owner_unit_id == actor.owner_unit_id)
        unit_categories = select(Instrument.category).where(Instrument.owner_unit_id == actor.owner_unit_id)
        q = q.where(
            col(BookingRequest.instrument_id).in_(unit_instruments) | col(BookingRequest.category).in_(unit_categories)
        )
    elif not actor.is_admin:
        raise Forbidden("Your role cannot list booking requests.")
    if status is not None:
        q = q.where(BookingRequest.status == status)
    return list(session.exec(q.order_by(col(BookingRequest.created_at).desc()).offset(offset).limit(limit)).all())


def bookings_of(session: Session, requests: list[BookingRequest]) -> dict[str, str]:
    """The booking each request became (request id → booking id): the live one if there is one,
    else the latest (a cancelled booking still answers "what happened to my request")."""
    ids = [r.id for r in requests]
    if not ids:
        return {}
    rows = session.exec(select(Booking).where(col(Booking.request_id).in_(ids))).all()
    best: dict[str, Booking] = {}
    dead = {BookingStatus.cancelled, BookingStatus.no_show}
    for b in sorted(rows, key=lambda b: (b.status not in dead, b.created_at, b.id)):
        best[b.request_id or ""] = b
    return {rid: b.id for rid, b in best.items()}


def zone_of(session: Session, req: BookingRequest) -> str:
    """The zone a request's times are shown in: its instrument's, else the platform's."""
    inst = session.get(Instrument, req.instrument_id) if req.instrument_id else None
    return inst.timezone if inst else get_settings().default_timezone


def may_act_for(actor: Actor, req: BookingRequest) -> bool:
    """Whether ``actor`` may change the request's fate: its enterprise's members, and programme
    admins (who may also submit on an enterprise's behalf). Lab managers see the requests their
    instruments could serve, but a request is the enterprise's to keep or withdraw."""
    return actor.is_admin or (actor.role == Role.enterprise_member and actor.enterprise_id == req.enterprise_id)


def withdraw_request(session: Session, actor: Actor, request_id: str) -> BookingRequest:
    req = get_request(session, actor, request_id, lock=True)
    if not may_act_for(actor, req):
        raise Forbidden(
            f"Only the members of the enterprise that submitted request {req.id} (or a programme admin) may withdraw it."
        )
    if req.status not in OPEN_STATUSES:
        raise InvalidState(
            f"Request {req.id} is {str(req.status)}; only pending or unplaced requests can be withdrawn."
        )
    before = snapshot(req)
    req.status = RequestStatus.withdrawn
    session.add(req)
    record(session, actor, "request.withdraw", "booking_request", req.id, before=before, after=snapshot(req))
    return req


def request_to_fulfil(
    session: Session,
    actor: Actor,
    request_id: str,
    enterprise_id: str | None,
    instrument: Instrument,
    service_mode: str,
) -> BookingRequest:
    """The open request a new booking answers, locked FOR UPDATE (after the instrument) so that
    two bookings cannot both fulfil it. A booking fulfils only a request the actor can see, of the
    booking's own enterprise, for the booked instrument (or its category) and service mode;
    anything else is refused as invalid input naming ``request_id``, before anything is written.
    The other enterprise is never named."""
    req = session.get(BookingRequest, request_id, with_for_update=True, populate_existing=True)
    if req is None or not can_see_request(session, actor, req):
        raise InvalidInput(f"No booking request {request_id!r} that you can see.", field="request_id")
    if enterprise_id is None or req.enterprise_id != enterprise_id:
        raise InvalidInput(
            f"Request {req.id} was submitted by another enterprise; a booking fulfils only a request of the enterprise it is for.",
            field="request_id",
        )
    if req.instrument_id is not None and req.instrument_id != instrument.id:
        wanted = session.get(Instrument, req.instrument_id)
        raise InvalidInput(
            f"Request {req.id} asks for {wanted.name if wanted else req.instrument_id}, not {instrument.name}; "
            "book that instrument or leave request_id out.",
            field="request_id",
        )
    if req.category is not None and req.category != instrument.category:
        raise InvalidInput(
            f"Request {req.id} asks for a {req.category} instrument; {instrument.name} is {instrument.category}.",
            field="request_id",
        )
    if str(req.service_mode) != str(service_mode):
        raise InvalidInput(
            f"Request {req.id} asks for {str(req.service_mode)}, not {service_mode}.", field="request_id"
        )
    if req.status not in OPEN_STATUSES:
        raise InvalidState(f"Request {req.id} is {str(req.status)}; it already has an answer.")
    return req
