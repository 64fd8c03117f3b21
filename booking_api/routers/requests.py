"""Booking requests: ask for time on an instrument or any instrument of a category."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from instruments.inventory import ServiceMode
from scheduler.allocation.suggestions import suggest
from scheduler.booking.booking_requests import (
    BookingRequest,
    Funding,
    RequestStatus,
    bookings_of,
    get_request,
    list_requests,
    withdraw_request,
    zone_of,
)
from scheduler.money.request_funding import submit_funded_request

from ..deps import ActorDep, PageDep, SessionDep, commit
from ..idempotency import IdempotencyKey, once
from ..timefields import ApiDatetime

router = APIRouter(prefix="/api/v1/requests", tags=["requests"])


class RequestIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "category": "NMR",
                    "service_mode": "operator_run",
                    "duration_minutes": 120,
                    "sample_count": 4,
                    "earliest_start": "2026-12-01T08:00:00+08:00",
                    "deadline": "2026-12-12T18:00:00+08:00",
                    "preferred_start": "2026-12-03T09:00:00+08:00",
                    "notes": "1H and 13C spectra of four samples",
                    "funding": "any_voucher",
                    "cash_fallback": False,
                }
            ]
        }
    }
    instrument_id: str | None = None
    category: str | None = None
    service_mode: ServiceMode = ServiceMode.operator_run
    duration_minutes: int | None = Field(
        default=None, gt=0, le=7 * 24 * 60, description="Instrument time; omit to derive it from sample_count"
    )
    sample_count: int = Field(default=0, ge=0, le=10000)
    earliest_start: ApiDatetime
    deadline: ApiDatetime
    preferred_start: ApiDatetime | None = None
    notes: str = Field(default="", max_length=2000)
    priority: int = Field(default=0, ge=0, le=10)
    enterprise_id: str | None = Field(default=None, description="Programme admins only: on behalf of")
    funding: Funding = Field(
        default=Funding.cash,
        description="How it pays: cash; any_voucher (any spendable voucher of the enterprise that can pay for it); "
        "voucher (the one named by voucher_id). An allocation round reserves the voucher it places the request with.",
    )
    voucher_id: str | None = Field(default=None, description="With funding 'voucher': the voucher that pays")
    cash_fallback: bool = Field(
        default=False,
        description="With a voucher funding: place it paying cash when no voucher can fund it (default: stay unplaced)",
    )
    auto_book: bool = Field(
        default=False,
        description="When a cancellation, move or no-show frees time that fits, book it at once instead of "
        "offering it (GET /offers) for you to accept",
    )


class InstrumentRef(BaseModel):
    id: str
    name: str


class ReasonOut(BaseModel):
    """Why a round did not place a request: a stable code, a message in people's terms, and what
    it concerns (older reasons may carry only code and message)."""

    code: str = Field(
        description="no_window, operator_unavailable, voucher_budget, capacity_taken, not_selected, no_voucher, "
        "voucher_taken, voucher_expires, voucher_cap, or a booking rule's code when the slot a round found failed a rule"
    )
    message: str
    instruments: list[InstrumentRef] = []
    start: datetime | None = Field(default=None, description="Start of the time looked at, local with offset")
    end: datetime | None = Field(default=None, description="End of the time looked at, local with offset")
    timezone: str | None = None
    requests: list[str] = Field(default=[], description="Other requests of the round that hold the time")


class RequestOut(BaseModel):
    """A request; its times in its instrument's zone (else the platform's), with the offset."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "req_5t6y7u8i9o0p",
                    "enterprise_id": "ent_0p9o8i7u6y5t",
                    "instrument_id": None,
                    "category": "NMR",
                    "service_mode": "operator_run",
                    "duration_minutes": 120,
                    "sample_count": 4,
                    "earliest_start": "2026-12-01T08:00:00+08:00",
                    "deadline": "2026-12-12T18:00:00+08:00",
                    "preferred_start": None,
                    "notes": "1H and 13C spectra of four samples",
                    "priority": 0,
                    "funding": "any_voucher",
                    "voucher_id": None,
                    "cash_fallback": False,
                    "status": "unplaced",
                    "booking_id": None,
                    "explanation": [
                        {
                            "code": "no_window",
                            "message": "No free window of 120 minutes (with set-up and clean-up) on 600 MHz 超导核磁"
                            "共振波谱仪 between 2026-12-01 08:00 and 2026-12-12 18:00 (Asia/Shanghai): the opening "
                            "hours there are closed or already booked. Widen the window or choose another instrument.",
                            "instruments": [{"id": "ins_a1b2c3d4e5f6", "name": "600 MHz 超导核磁共振波谱仪"}],
                            "start": "2026-12-01T08:00:00+08:00",
                            "end": "2026-12-12T18:00:00+08:00",
                            "timezone": "Asia/Shanghai",
                            "requests": [],
                        }
                    ],
                    "created_at": "2026-11-23T10:15:00+08:00",
                }
            ]
        }
    }

    id: str
    enterprise_id: str
    instrument_id: str | None
    category: str | None
    service_mode: str
    duration_minutes: int
    sample_count: int
    earliest_start: datetime
    deadline: datetime
    preferred_start: datetime | None
    notes: str
    priority: int
    funding: str
    voucher_id: str | None
    cash_fallback: bool
    auto_book: bool = False
    status: str
    booking_id: str | None = Field(description="The booking this request became (null until one is placed)")
    explanation: list[ReasonOut] = Field(description="Why a round could not place it (empty otherwise)")
    created_at: datetime


def _outs(session, rows: list[BookingRequest]) -> list[RequestOut]:
    booked = bookings_of(session, rows)
    out = []
    for r in rows:
        z = ZoneInfo(zone_of(session, r))
        data = {
            **r.model_dump(),
            "status": str(r.status),
            "service_mode": str(r.service_mode),
            "funding": str(r.funding),
        }
        for k in ("earliest_start", "deadline", "preferred_start", "created_at"):
            if data[k] is not None:
                data[k] = data[k].astimezone(z)
        out.append(RequestOut.model_validate({**data, "booking_id": booked.get(r.id)}))
    return out


def _out(session, r: BookingRequest) -> RequestOut:
    return _outs(session, [r])[0]


@router.post("", response_model=RequestOut, status_code=201, summary="Submit a booking request (enterprise member)")
def submit(
    body: RequestIn,
    session: SessionDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> RequestOut:
    req = BookingRequest(**{**body.model_dump(), "enterprise_id": body.enterprise_id or ""})
    return once(
        session,
        actor,
        idempotency_key,
        "POST /requests",
        lambda: _out(session, submit_funded_request(session, actor, req)),
        request=body,
    )


@router.get("", response_model=list[RequestOut], summary="Your requests (scoped by role)")
def list_(session: SessionDep, actor: ActorDep, page: PageDep, status: RequestStatus | None = None) -> list[RequestOut]:
    return _outs(session, list_requests(session, actor, status, page.limit, page.offset))


@router.get("/{request_id}", response_model=RequestOut, summary="One request")
def get_one(request_id: str, session: SessionDep, actor: ActorDep) -> RequestOut:
    return _out(session, get_request(session, actor, request_id))


class SuggestionOut(BaseModel):
    instrument_id: str
    instrument_name: str
    start: datetime
    end: datetime
    operator_id: str | None
    price_fen: int = Field(description="The slot's fee before vouchers (GET /vouchers/quote gives the split)")


@router.get(
    "/{request_id}/suggestions",
    response_model=list[SuggestionOut],
    summary="Best free slots for this request now, best first (book one with POST /bookings and request_id)",
)
def suggestions(
    request_id: str, session: SessionDep, actor: ActorDep, k: int = Query(default=5, ge=1, le=20)
) -> list[SuggestionOut]:
    return [SuggestionOut(**vars(s)) for s in suggest(session, actor, request_id, k)]


@router.post("/{request_id}/withdraw", response_model=RequestOut, summary="Withdraw a pending request")
def withdraw(request_id: str, session: SessionDep, actor: ActorDep) -> RequestOut:
    req = withdraw_request(session, actor, request_id)
    out = _out(session, req)
    commit(session)
    return out
