"""Enterprises (the demand side): registered by the programme office."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import select

from instruments.actor import Role
from instruments.errors import Forbidden
from scheduler.booking.enterprises import Enterprise, EnterpriseKind, create_enterprise, get_enterprise

from ..deps import ActorDep, AdminDep, PageDep, SessionDep, commit

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


@router.get("", response_model=list[Enterprise], summary="List enterprises (programme admin)")
def list_all(session: SessionDep, actor: AdminDep, page: PageDep) -> list[Enterprise]:
    return list(session.exec(select(Enterprise).order_by(Enterprise.name).offset(page.offset).limit(page.limit)).all())


@router.get("/{enterprise_id}", response_model=Enterprise, summary="One enterprise (its members, programme admin)")
def get_one(enterprise_id: str, session: SessionDep, actor: ActorDep) -> Enterprise:
    if not (actor.is_admin or (actor.role == Role.enterprise_member and actor.enterprise_id == enterprise_id)):
        raise Forbidden("You may only read your own enterprise.")
    return get_enterprise(session, enterprise_id)
