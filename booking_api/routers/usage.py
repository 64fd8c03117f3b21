"""Usage records (metered use) and open-sharing indicators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from instruments.errors import Forbidden, InvalidInput
from instruments.inventory import ServiceMode
from instruments.settings import get_settings
from scheduler.sharing import indicators as ind
from scheduler.sharing import usage as usage_svc
from scheduler.sharing.usage import UsageRecord, UsageSource

from ..bodies import read_capped
from ..deps import ActorDep, PageDep, SessionDep, commit
from ..timefields import ApiDatetime

router = APIRouter(prefix="/api/v1", tags=["usage"])


class UsageIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "instrument_id": "ins_a1b2c3d4e5f6",
                    "started_at": "2026-03-02T09:00:00+08:00",
                    "ended_at": "2026-03-02T12:00:00+08:00",
                    "setup_minutes": 15,
                    "measure_minutes": 120,
                    "post_minutes": 30,
                    "idle_minutes": 15,
                    "samples": 4,
                    "service_mode": "operator_run",
                    "external": True,
                    "enterprise_id": "ent_a1b2c3d4e5f6",
                    "fee_fen": 80000,
                    "source": "walk_in",
                }
            ]
        }
    }
    instrument_id: str
    started_at: ApiDatetime
    ended_at: ApiDatetime
    setup_minutes: int = Field(default=0, ge=0, le=100_000)
    measure_minutes: int = Field(default=0, ge=0, le=100_000)
    post_minutes: int = Field(default=0, ge=0, le=100_000)
    idle_minutes: int = Field(default=0, ge=0, le=100_000, description="Recorded, never counted as effective")
    samples: int = Field(default=0, ge=0, le=1_000_000)
    service_mode: ServiceMode = ServiceMode.operator_run
    external: bool = True
    enterprise_id: str | None = None
    booking_id: str | None = None
    user_name: str = Field(default="", max_length=200)
    fee_fen: int = Field(default=0, ge=0, le=10**15)
    voucher_fen: int = Field(default=0, ge=0, le=10**15)
    rating: int | None = Field(default=None, ge=1, le=5)
    source: UsageSource = Field(default=UsageSource.operator_log, description="operator_log or walk_in")
    notes: str = Field(default="", max_length=2000)


class RatingIn(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"rating": 5}]}}
    rating: int = Field(ge=1, le=5)


class ImportOut(BaseModel):
    batch: str
    instrument_id: str
    imported: int
    effective_minutes: int
    fee_fen: int
    digest: str
    already_imported: bool


@router.post(
    "/usage", response_model=UsageRecord, status_code=201, summary="Record a session (operator log or walk-in)"
)
def create_usage(body: UsageIn, session: SessionDep, actor: ActorDep) -> UsageRecord:
    if body.source not in (UsageSource.operator_log, UsageSource.walk_in):
        raise InvalidInput("source is operator_log or walk_in here.", field="source")
    u = usage_svc.record_usage(session, actor, UsageRecord(**body.model_dump(mode="python")))
    commit(session)
    return u


@router.get("/usage", response_model=list[UsageRecord], summary="Usage records you may see, oldest first")
def list_usage(
    session: SessionDep,
    actor: ActorDep,
    page: PageDep,
    instrument_id: str | None = None,
    start: ApiDatetime | None = None,
    end: ApiDatetime | None = None,
) -> list[UsageRecord]:
    return usage_svc.list_usage(session, actor, instrument_id, start, end, page.limit, page.offset)


@router.post("/usage/{usage_id}/rating", response_model=UsageRecord, summary="Rate a session 1–5 (the user served)")
def rate_usage(usage_id: str, body: RatingIn, session: SessionDep, actor: ActorDep) -> UsageRecord:
    u = usage_svc.rate(session, actor, usage_id, body.rating)
    commit(session)
    return u


@router.post(
    "/instruments/{instrument_id}/usage/import",
    response_model=ImportOut,
    status_code=201,
    summary="Import a usage log CSV (body: text/csv); all rows or none, errors by row and column",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "started_at,ended_at,measure_minutes,samples,user_type,fee_yuan\n"
                    "2026-03-02T09:00,2026-03-02T11:00,110,2,external,400.00\n",
                }
            },
        }
    },
)
async def import_usage(instrument_id: str, request: Request, session: SessionDep, actor: ActorDep) -> ImportOut:
    raw = await read_capped(request, get_settings().usage_import_max_bytes, usage_svc.check_csv_size)
    text = usage_svc.decode_csv(raw)
    result = usage_svc.import_csv(session, actor, instrument_id, text, request.headers.get("x-filename", ""))
    commit(session)
    return ImportOut(**result.__dict__)


@router.get("/usage/csv-columns", summary="The columns a usage CSV may have", response_model=dict[str, str])
def csv_columns() -> dict[str, str]:
    return usage_svc.CSV_COLUMNS


@router.get(
    "/indicators",
    summary="Open-sharing indicators for a period (per instrument, unit or programme), computed in the database",
    tags=["rewards"],
)
def indicators(
    session: SessionDep,
    actor: ActorDep,
    start: ApiDatetime,
    end: ApiDatetime,
    level: ind.Level = ind.Level.instrument,
    region: str | None = None,
    owner_unit_id: str | None = None,
    min_value_fen: Annotated[int, Query(ge=0, le=10**15)] = 0,
    quota_general_hours: Annotated[int, Query(gt=0, le=8784)] = 1400,
    quota_special_hours: Annotated[int, Query(gt=0, le=8784)] = 800,
    special_category: Annotated[
        list[str] | None, Query(description="Categories with the special-purpose quota")
    ] = None,
) -> list[dict[str, Any]]:
    if end <= start:
        raise InvalidInput("end must be after start.", field="end")
    if not actor.is_admin:
        if actor.role is None or not actor.owner_unit_id or not actor.manages_unit(actor.owner_unit_id):
            raise Forbidden("Only programme admins and lab managers can read indicators.")
        if owner_unit_id not in (None, actor.owner_unit_id) or level == ind.Level.programme:
            raise Forbidden("Lab managers see their own unit's indicators only.")
        owner_unit_id = actor.owner_unit_id
    rows = ind.compute(
        session,
        start,
        end,
        level,
        ind.Scope(region=region, owner_unit_id=owner_unit_id, min_value_fen=min_value_fen),
        ind.Quota(quota_general_hours, quota_special_hours, tuple(special_category or ())),
    )
    return [r.as_dict() for r in rows]
