"""Bookings: instant booking of a free slot, and the life of a booking."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlmodel import col

from instruments.inventory import Instrument, ServiceMode
from scheduler import booking_actions as actions
from scheduler.booking.bookings import Booking, BookingStatus, get_visible, visible_query
from scheduler.money.price_split import VOUCHER_COLUMNS, share_from, split_of, splits_of, unpaid
from scheduler.money.vouchers import Voucher

from ..deps import ActorDep, PageDep, SessionDep, commit
from ..idempotency import IdempotencyKey, once
from ..schemas import BOOKING_COLUMNS, BookingOut, as_json
from ..timefields import ApiDatetime

router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"])


class BookingIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "instrument_id": "ins_a1b2c3d4e5f6",
                    "start": "2026-12-01T09:00:00+08:00",
                    "end": "2026-12-01T11:00:00+08:00",
                    "service_mode": "operator_run",
                    "sample_count": 2,
                    "notes": "XRD of two powders",
                }
            ]
        }
    }
    instrument_id: str
    start: ApiDatetime
    end: ApiDatetime
    service_mode: ServiceMode = ServiceMode.operator_run
    sample_count: int = Field(default=0, ge=0, le=10000)
    notes: str = Field(default="", max_length=2000)
    enterprise_id: str | None = Field(default=None, description="Lab managers booking on behalf of an enterprise")
    request_id: str | None = Field(default=None, description="The request this booking answers")


class MoveIn(BaseModel):
    start: ApiDatetime
    end: ApiDatetime


class CancelIn(BaseModel):
    reason: str = Field(default="", max_length=500)


def _out(session, b: Booking, new: bool = False) -> dict:
    """The answer for one booking as plain values, validated and written once by the route's
    response model (``new``: made in this request, so no voucher pays for it yet)."""
    inst = session.get(Instrument, b.instrument_id)
    split = unpaid(b) if new else splits_of(session, [b])[b.id]
    return BookingOut.data(b, inst.timezone if inst else "Asia/Shanghai", split)


@router.post(
    "",
    response_model=BookingOut,
    status_code=201,
    summary="Book a free slot now (checked against every rule)",
    responses={
        409: {"description": "The slot collides with another booking (named)"},
        422: {"description": "Policy rules failed (each listed with a code and message)"},
    },
)
def create(
    body: BookingIn,
    session: SessionDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:  # validated and written by the response model
    data = actions.BookingInput(**{**body.model_dump(), "service_mode": body.service_mode.value})
    return once(
        session,
        actor,
        idempotency_key,
        "POST /bookings",
        # the request's transaction ends with a refusal anyway: no SAVEPOINT around the write
        lambda: _out(session, actions.book(session, actor, data, savepoint=False), new=True),
        request=body,
    )


@router.get("", response_model=list[BookingOut], summary="Bookings you may see (own, your unit's, or all for admins)")
def list_(
    session: SessionDep,
    actor: ActorDep,
    page: PageDep,
    instrument_id: str | None = None,
    status: BookingStatus | None = None,
    start: ApiDatetime | None = None,
    end: ApiDatetime | None = None,
) -> Response:  # the response model still documents the answer (OpenAPI) and ``as_json`` writes it
    q = visible_query(actor)
    if instrument_id:
        q = q.where(Booking.instrument_id == instrument_id)
    if status:
        q = q.where(Booking.status == status)
    if start:
        q = q.where(Booking.end > start)
    if end:
        q = q.where(Booking.start < end)
    q = q.order_by(col(Booking.start), col(Booking.id)).offset(page.offset).limit(page.limit)
    # one statement: plain Core rows (no ORM loading) of the columns the answer reads, each with its
    # instrument's zone from the join the visibility already makes and its voucher's columns (a
    # voucher names one booking, ``voucher.booking_id`` is unique: the outer join adds no row, and
    # pages stay pages); the answers are written straight to JSON bytes: for a page of hundreds,
    # building, validating and writing a model per row cost more than the query
    v = Voucher.__table__.c
    q = q.outerjoin(Voucher, col(Voucher.booking_id) == col(Booking.id))
    columns = [Booking.__table__.c[k] for k in BOOKING_COLUMNS]
    paying = [v[k].label(f"voucher_{k}") for k in VOUCHER_COLUMNS]
    rows = session.connection().execute(q.with_only_columns(*columns, col(Instrument.timezone), *paying)).all()
    n = len(columns) + 1  # where a row's voucher columns begin
    answers = [
        BookingOut.data(r, r.timezone, split_of(r.price_fen, [share_from(*r[n:])] if r[n] is not None else []))
        for r in rows
    ]
    return Response(as_json(answers), media_type="application/json")


@router.get("/{booking_id}", response_model=BookingOut, summary="One booking (404 if it is not yours to see)")
def get_one(booking_id: str, session: SessionDep, actor: ActorDep) -> BookingOut:
    booking, inst = get_visible(session, actor, booking_id)
    return BookingOut.of(booking, inst.timezone, splits_of(session, [booking])[booking.id])


def _done(session, booking: Booking) -> dict:
    out = _out(session, booking)
    commit(session)
    return out


@router.post("/{booking_id}/confirm", response_model=BookingOut, summary="Confirm a tentative booking (lab manager)")
def confirm(booking_id: str, session: SessionDep, actor: ActorDep) -> dict:
    return _done(session, actions.confirm(session, actor, booking_id))


@router.post(
    "/{booking_id}/reject", response_model=BookingOut, summary="Turn a tentative booking down (lab manager)"
)
def reject(booking_id: str, session: SessionDep, actor: ActorDep, body: CancelIn | None = None) -> dict:
    return _done(session, actions.reject(session, actor, booking_id, body.reason if body else ""))


@router.post("/{booking_id}/move", response_model=BookingOut, summary="Move a booking (lab manager; the booking enterprise until the cancellation cut-off)")
def move(booking_id: str, body: MoveIn, session: SessionDep, actor: ActorDep) -> dict:
    return _done(session, actions.move(session, actor, booking_id, body.start, body.end))


@router.post(
    "/{booking_id}/cancel",
    response_model=BookingOut,
    summary="Cancel (enterprise within the cut-off; lab manager any time)",
)
def cancel(booking_id: str, session: SessionDep, actor: ActorDep, body: CancelIn | None = None) -> dict:
    return _done(session, actions.cancel(session, actor, booking_id, body.reason if body else ""))


@router.post("/{booking_id}/check-in", response_model=BookingOut, summary="Record arrival")
def check_in(booking_id: str, session: SessionDep, actor: ActorDep) -> dict:
    return _done(session, actions.check_in(session, actor, booking_id))


@router.post(
    "/{booking_id}/check-out", response_model=BookingOut, summary="Record the end of use; the booking is completed"
)
def check_out(booking_id: str, session: SessionDep, actor: ActorDep) -> dict:
    return _done(session, actions.check_out(session, actor, booking_id))


@router.post("/{booking_id}/no-show", response_model=BookingOut, summary="Mark a no-show (lab manager)")
def no_show(booking_id: str, session: SessionDep, actor: ActorDep) -> dict:
    return _done(session, actions.mark_no_show(session, actor, booking_id))
