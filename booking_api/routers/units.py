"""Owner units' public pages and their labs."""

from __future__ import annotations

from datetime import date as date_
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import func, select

from instruments import catalogue
from instruments import unit_page as pages
from instruments.errors import NotFound
from instruments.inventory import Instrument
from instruments.units import Lab, OwnerUnit

from ..deps import ActorDep, AdminDep, PageDep, SessionDep, commit

router = APIRouter(prefix="/api/v1/owner-units", tags=["owner units"])


class UnitIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "华东理工大学分析测试中心",
                    "name_en": "ECUST Analysis and Testing Centre",
                    "kind": "university",
                    "region": "上海",
                    "profile": "Open analytical platform with 60 large instruments.",
                }
            ]
        }
    }
    name: str = Field(min_length=1, max_length=200)
    name_en: str = ""
    kind: str = Field(default="university", pattern="^(university|institute|platform|enterprise)$")
    region: str = ""
    address: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    website: str = ""
    profile: str = ""
    management_rules: str = ""
    news: list[dict[str, Any]] = []
    service_cases: list[dict[str, Any]] = []
    controller_group: str | None = None
    timezone: str = "Asia/Shanghai"


class UnitPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    name_en: str | None = None
    address: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    website: str | None = None
    profile: str | None = None
    management_rules: str | None = None
    news: list[dict[str, Any]] | None = None
    service_cases: list[dict[str, Any]] | None = None


class LabIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    building: str = ""
    room: str = ""
    address: str = ""
    capacity: int = Field(default=1, ge=1, le=1000)


class UnitPage(BaseModel):
    unit: OwnerUnit
    labs: list[Lab]
    instrument_count: int


def _unit(session, unit_id: str) -> OwnerUnit:
    unit = session.get(OwnerUnit, unit_id)
    if unit is None:
        raise NotFound(f"No owner unit {unit_id!r}.")
    return unit


@router.get("", response_model=list[OwnerUnit], summary="List owner units (public)")
def list_units(session: SessionDep, page: PageDep, q: str | None = None) -> list[OwnerUnit]:
    query = select(OwnerUnit)
    if q:
        query = query.where(OwnerUnit.name.contains(q) | OwnerUnit.name_en.contains(q))
    return list(session.exec(query.order_by(OwnerUnit.name).offset(page.offset).limit(page.limit)).all())


@router.get("/{unit_id}", response_model=UnitPage, summary="An owner unit's public page (public)")
def get_unit(unit_id: str, session: SessionDep) -> UnitPage:
    unit = _unit(session, unit_id)
    labs = list(session.exec(select(Lab).where(Lab.owner_unit_id == unit_id).order_by(Lab.name)).all())
    count = session.exec(select(func.count()).select_from(Instrument).where(Instrument.owner_unit_id == unit_id)).one()
    return UnitPage(unit=unit, labs=labs, instrument_count=count)


@router.post("", response_model=OwnerUnit, status_code=201, summary="Register an owner unit (programme admin)")
def create_unit(body: UnitIn, session: SessionDep, actor: AdminDep) -> OwnerUnit:
    unit = catalogue.create_unit(session, actor, OwnerUnit(**body.model_dump()))
    commit(session)
    return unit


@router.patch("/{unit_id}", response_model=OwnerUnit, summary="Edit the unit's page (its lab managers)")
def patch_unit(unit_id: str, body: UnitPatch, session: SessionDep, actor: ActorDep) -> OwnerUnit:
    unit = _unit(session, unit_id)
    actor.require_unit_manager(unit.id, unit.name)
    pages.update(session, actor, unit, body.model_dump(exclude_unset=True))
    commit(session)
    return unit


@router.post("/{unit_id}/labs", response_model=Lab, status_code=201, summary="Add a lab (the unit's lab managers)")
def create_lab(unit_id: str, body: LabIn, session: SessionDep, actor: ActorDep) -> Lab:
    unit = _unit(session, unit_id)
    actor.require_unit_manager(unit.id, unit.name)
    lab = catalogue.create_lab(session, actor, Lab(owner_unit_id=unit.id, **body.model_dump()))
    commit(session)
    return lab


class ItemIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "title": "新增场发射扫描电镜",
                    "html": "<p>本中心新增一台 <strong>FE-SEM</strong>，<a href='https://example.cn'>详见</a>。</p>",
                    "date": "2026-12-01",
                }
            ]
        }
    }
    title: str = Field(min_length=1, max_length=pages.MAX_TITLE)
    html: str = Field(
        default="", max_length=pages.MAX_BODY, description="Simple formatting and links; the rest is removed"
    )
    date: date_ | None = Field(default=None, description="Shown with the item (default: today)")
    url: str = Field(default="", max_length=500, description="An http(s) link to read more")


class Item(BaseModel):
    id: str
    title: str
    date: str
    html: str
    url: str


def _list_items(kind: pages.Kind):
    def list_items(unit_id: str, session: SessionDep, page: PageDep) -> list[Item]:
        listed = pages.items(_unit(session, unit_id), kind)
        return [Item(**i) for i in listed[page.offset : page.offset + page.limit]]

    return list_items


def _publish_item(kind: pages.Kind):
    def publish_item(unit_id: str, body: ItemIn, session: SessionDep, actor: ActorDep) -> Item:
        item = pages.publish(session, actor, _unit(session, unit_id), kind, body.title, body.html, body.date, body.url)
        commit(session)
        return Item(**item)

    return publish_item


def _remove_item(kind: pages.Kind):
    def remove_item(unit_id: str, item_id: str, session: SessionDep, actor: ActorDep) -> None:
        pages.remove(session, actor, _unit(session, unit_id), kind, item_id)
        commit(session)

    return remove_item


for _kind, _words in (("news", "news items"), ("cases", "open-service cases")):  # one fixed path per list
    router.add_api_route(
        f"/{{unit_id}}/{_kind}",
        _list_items(_kind),
        methods=["GET"],
        response_model=list[Item],
        summary=f"The unit's {_words}, newest first (public)",
        name=f"list_{_kind}",
    )
    router.add_api_route(
        f"/{{unit_id}}/{_kind}",
        _publish_item(_kind),
        methods=["POST"],
        response_model=Item,
        status_code=201,
        summary=f"Publish one of the unit's {_words} (its lab managers; the HTML is sanitised)",
        name=f"publish_{_kind}",
    )
    router.add_api_route(
        f"/{{unit_id}}/{_kind}/{{item_id}}",
        _remove_item(_kind),
        methods=["DELETE"],
        status_code=204,
        summary=f"Remove one of the unit's {_words} (its lab managers)",
        name=f"remove_{_kind}",
    )
