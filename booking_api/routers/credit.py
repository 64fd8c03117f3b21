"""Complaints, credit events and the red and black lists."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, Field

from scheduler.booking.enterprises import Enterprise
from scheduler.money import credit as svc

from ..deps import ActorDep, AdminDep, PageDep, SessionDep, commit

router = APIRouter(prefix="/api/v1", tags=["credit"])


class ComplaintIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class ResolutionIn(BaseModel):
    resolution: str = Field(min_length=1, max_length=4000)


class FraudIn(BaseModel):
    enterprise_id: str
    voucher_ids: list[str] = []
    note: str = Field(min_length=1, max_length=2000)


@router.post(
    "/bookings/{booking_id}/complaints",
    response_model=svc.Complaint,
    status_code=201,
    tags=["bookings"],
    summary="Complain about a booking's service (the booking enterprise)",
)
def file_complaint(booking_id: str, body: ComplaintIn, session: SessionDep, actor: ActorDep) -> svc.Complaint:
    c = svc.file_complaint(session, actor, booking_id, body.text)
    commit(session)
    return c


@router.post(
    "/complaints/{complaint_id}/resolve", response_model=svc.Complaint, summary="Resolve a complaint (programme admin)"
)
def resolve(complaint_id: str, body: ResolutionIn, session: SessionDep, actor: AdminDep) -> svc.Complaint:
    c = svc.resolve_complaint(session, actor, complaint_id, body.resolution)
    commit(session)
    return c


@router.post(
    "/complaints/{complaint_id}/dismiss",
    response_model=svc.Complaint,
    summary="Dismiss a complaint found without ground, saying why (programme admin)",
)
def dismiss(complaint_id: str, body: ResolutionIn, session: SessionDep, actor: AdminDep) -> svc.Complaint:
    c = svc.resolve_complaint(session, actor, complaint_id, body.resolution, dismiss=True)
    commit(session)
    return c


@router.get(
    "/complaints",
    response_model=list[svc.Complaint],
    summary="Complaints, open ones first (programme admins: all; lab managers: about their unit; members: their own)",
)
def list_complaints(
    session: SessionDep,
    actor: ActorDep,
    page: PageDep,
    status: svc.ComplaintStatus | None = None,
    enterprise_id: str | None = None,
    owner_unit_id: str | None = None,
) -> list[svc.Complaint]:
    return svc.list_complaints(session, actor, status, enterprise_id, owner_unit_id, page.limit, page.offset)


@router.post(
    "/credit/fraud",
    response_model=svc.CreditEvent,
    status_code=201,
    summary="Record confirmed fraud: blacklist, void the vouchers involved, claw money back (programme admin)",
)
def fraud(body: FraudIn, session: SessionDep, actor: AdminDep) -> svc.CreditEvent:
    ev = svc.confirm_fraud(session, actor, body.enterprise_id, body.voucher_ids, body.note)
    commit(session)
    return ev


class LiftIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.post(
    "/credit/black-list/{enterprise_id}/lift",
    response_model=Enterprise,
    summary="Take an enterprise off the black list: its booking suspension ends now, with a reason (programme admin)",
)
def lift(enterprise_id: str, body: LiftIn, session: SessionDep, actor: AdminDep) -> Enterprise:
    ent = svc.lift_suspension(session, actor, enterprise_id, body.reason)
    commit(session)
    return ent


class StandingOut(BaseModel):
    """A public credit list shows names and standing only (programme admins read the full
    enterprise records at ``GET /enterprises``)."""

    model_config = {
        "json_schema_extra": {
            "examples": [{"name": "苏州纳微新材料有限公司", "standing": "suspended", "until": "2027-01-15"}]
        }
    }
    name: str
    standing: svc.Standing
    until: date | None = Field(
        default=None, description="Last day (local) of a suspension; null on the red list and for a blacklisting"
    )


def _public(rows: list[svc.PublicStanding]) -> list[StandingOut]:
    return [StandingOut(name=r.name, standing=r.standing, until=r.until) for r in rows]


@router.get("/credit/red-list", response_model=list[StandingOut], summary="Enterprises in good standing (public)")
def red_list(session: SessionDep) -> list[StandingOut]:
    return _public(svc.public_red_list(session))


@router.get(
    "/credit/black-list", response_model=list[StandingOut], summary="Suspended or blacklisted enterprises (public)"
)
def black_list(session: SessionDep) -> list[StandingOut]:
    return _public(svc.public_black_list(session))
