"""Allocation rounds (programme admins) and the notifications they leave."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlmodel import col, select

from instruments.actor import Role
from instruments.db import utcnow
from instruments.errors import Forbidden, NotFound
from scheduler.allocation.rounds import AllocationRound, latest_rounds, run_round
from scheduler.shared.notifications import Notification

from ..deps import ActorDep, AdminDep, PageDep, SessionDep, commit

router = APIRouter(prefix="/api/v1", tags=["allocation"])


class RoundIn(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"time_limit": 30, "seed": 0}]}}
    time_limit: float = Field(default=30.0, gt=0, le=300, description="Seconds the solver may use")
    workers: int = Field(default=2, ge=1, le=8)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    max_share_bp: int | None = Field(
        default=None,
        ge=1,
        le=10000,
        description="Fairness: no enterprise gets more than this share (basis points, 5000 = 50 %) of the time placed "
        "on contested instruments (those requests of two or more enterprises compete for); omit for no limit",
    )


@router.post(
    "/rounds",
    response_model=AllocationRound,
    status_code=201,
    summary="Run an allocation round now (programme admin): places all open requests at once",
    responses={409: {"description": "A round is already running; try again when it has finished"}},
)
def create_round(body: RoundIn, request: Request, actor: AdminDep) -> AllocationRound:
    return run_round(
        request.app.state.engine,
        actor,
        time_limit=body.time_limit,
        workers=body.workers,
        seed=body.seed,
        triggered_by=actor.user_id or "",
        max_share_bp=body.max_share_bp,
    )


@router.get("/rounds", response_model=list[AllocationRound], summary="Past rounds with their metrics (programme admin)")
def list_rounds(session: SessionDep, actor: AdminDep, page: PageDep) -> list[AllocationRound]:
    return latest_rounds(session, page.limit, page.offset)


@router.get("/rounds/{round_id}", response_model=AllocationRound, summary="One round (programme admin)")
def get_round(round_id: str, session: SessionDep, actor: AdminDep) -> AllocationRound:
    rnd = session.get(AllocationRound, round_id)
    if rnd is None:
        raise NotFound(f"No allocation round {round_id!r}.")
    return rnd


def _mine(actor):  # noqa: ANN202 - a select
    q = select(Notification)
    if actor.role == Role.enterprise_member and actor.enterprise_id:
        return q.where(Notification.enterprise_id == actor.enterprise_id)
    if actor.role == Role.lab_manager and actor.owner_unit_id:
        return q.where(Notification.owner_unit_id == actor.owner_unit_id)
    if actor.is_admin:
        return q
    raise Forbidden("Your role has no notifications.")


@router.get(
    "/notifications",
    response_model=list[Notification],
    tags=["notifications"],
    summary="Your notifications, newest first",
)
def list_notifications(session: SessionDep, actor: ActorDep, page: PageDep, unread: bool = False) -> list[Notification]:
    q = _mine(actor)
    if unread:
        q = q.where(col(Notification.read_at).is_(None))
    return list(
        session.exec(q.order_by(col(Notification.created_at).desc()).offset(page.offset).limit(page.limit)).all()
    )


@router.post(
    "/notifications/{notification_id}/read", response_model=Notification, tags=["notifications"], summary="Mark as read"
)
def mark_read(notification_id: str, session: SessionDep, actor: ActorDep) -> Notification:
    note = session.exec(_mine(actor).where(Notification.id == notification_id)).first()
    if note is None:
        raise NotFound(f"No notification {notification_id!r} of yours.")
    note.read_at = note.read_at or utcnow()
    session.add(note)
    commit(session)
    return note
