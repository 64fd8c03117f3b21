"""Enterprises (the demand side): registered by the programme office."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from instruments.actor import Role
from instruments.errors import Forbidden
from instruments.settings import get_settings
from scheduler.booking import enterprise_standing as standing_svc
from scheduler.booking import innovation_points as points_svc
from scheduler.booking.enterprises import Enterprise, EnterpriseKind, create_enterprise, get_enterprise
from scheduler.sharing.usage import check_csv_size, decode_csv

from ..bodies import read_capped
from ..deps import ActorDep, AdminDep, PageDep, SessionDep, commit
from ..timefields import ApiDatetime

router = APIRouter(prefix="/api/v1/enterprises", tags=["enterprises"])


class EnterpriseIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "苏州纳微新材料有限公司",
                    "credit_code": "91320594MA1MXXXX0X",
                    "kind": "tech_sme",
                    "controller_group": "纳微集团",
                    "innovation_points": 115,
                }
            ]
        }
    }
    name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(description="18-character unified social credit code, with its check character")
    kind: EnterpriseKind = EnterpriseKind.tech_sme
    controller_group: str | None = None
    innovation_points: int = Field(default=100, ge=0, le=1000)
    region: str = ""
    contact_email: str = ""


@router.post("", response_model=Enterprise, status_code=201, summary="Register an enterprise (programme admin)")
def create(body: EnterpriseIn, session: SessionDep, actor: AdminDep) -> Enterprise:
    ent = create_enterprise(session, actor, Enterprise(**body.model_dump()))
    commit(session)
    return ent


@router.get("", response_model=list[Enterprise], summary="List enterprises by name (programme admin)")
def list_all(
    session: SessionDep,
    actor: AdminDep,
    page: PageDep,
    q: Annotated[str, Query(max_length=100, description="A part of the name or of the credit code")] = "",
    standing: standing_svc.Standing | None = None,
) -> list[Enterprise]:
    return standing_svc.list_enterprises(session, actor, q, standing, page.limit, page.offset)


class SuspendIn(BaseModel):
    until: ApiDatetime = Field(description="When booking is allowed again")
    reason: str = Field(min_length=1, max_length=500)


@router.post("/{enterprise_id}/verify", response_model=Enterprise, summary="Verify a registration (programme admin)")
def verify(enterprise_id: str, session: SessionDep, actor: AdminDep) -> Enterprise:
    ent = standing_svc.verify(session, actor, enterprise_id)
    commit(session)
    return ent


@router.post(
    "/{enterprise_id}/suspend", response_model=Enterprise, summary="Suspend an enterprise's booking (programme admin)"
)
def suspend(enterprise_id: str, body: SuspendIn, session: SessionDep, actor: AdminDep) -> Enterprise:
    ent = standing_svc.suspend(session, actor, enterprise_id, body.until, body.reason)
    commit(session)
    return ent


@router.post("/{enterprise_id}/restore", response_model=Enterprise, summary="End a suspension now (programme admin)")
def restore(enterprise_id: str, session: SessionDep, actor: AdminDep) -> Enterprise:
    ent = standing_svc.restore(session, actor, enterprise_id)
    commit(session)
    return ent


class PointsRow(BaseModel):
    credit_code: str = Field(description="18-character unified social credit code")
    points: int = Field(ge=0, le=points_svc.MAX_POINTS, description="创新积分")


class PointsIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"source": "市科技局 2026 年创新积分名单 (2026-11-30)", "rows": [{"credit_code": "91320594MA1MXXXX0X", "points": 118}]}
            ]
        }
    }
    source: str = Field(min_length=1, max_length=200, description="The list the points come from (audited)")
    rows: list[PointsRow] = Field(min_length=1, max_length=points_svc.MAX_ROWS)


class PointsChange(BaseModel):
    enterprise_id: str
    credit_code: str
    before: int
    after: int


class PointsOut(BaseModel):
    source: str
    rows: int
    updated: int
    unchanged: int
    changes: list[PointsChange]


@router.post(
    "/innovation-points",
    response_model=PointsOut,
    summary="Import innovation points (创新积分) by credit code (programme admin); all rows or none, audited",
)
def import_points(body: PointsIn, session: SessionDep, actor: AdminDep) -> PointsOut:
    rows = [(r.credit_code, r.points) for r in body.rows]
    out = PointsOut(**vars(points_svc.import_points(session, actor, rows, body.source)))
    commit(session)
    return out


@router.post(
    "/innovation-points.csv",
    response_model=PointsOut,
    summary="Import innovation points from a CSV (body: text/csv; columns credit_code, points); all rows or none",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": "统一社会信用代码,创新积分\n91320594MA1MXXXX0X,118\n"}
            },
        }
    },
)
async def import_points_csv(request: Request, session: SessionDep, actor: AdminDep, source: str) -> PointsOut:
    raw = await read_capped(request, get_settings().usage_import_max_bytes, check_csv_size)
    rows = points_svc.parse_points_csv(decode_csv(raw))
    out = PointsOut(**vars(points_svc.import_points(session, actor, rows, source)))
    commit(session)
    return out


@router.get("/{enterprise_id}", response_model=Enterprise, summary="One enterprise (its members, programme admin)")
def get_one(enterprise_id: str, session: SessionDep, actor: ActorDep) -> Enterprise:
    if not (actor.is_admin or (actor.role == Role.enterprise_member and actor.enterprise_id == enterprise_id)):
        raise Forbidden("You may only read your own enterprise.")
    return get_enterprise(session, enterprise_id)
