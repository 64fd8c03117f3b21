"""The instrument catalogue (public) and its management by lab managers."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_validator
from sqlmodel import func, select

from instruments import catalogue, search
from instruments.availability import zone
from instruments.categories import category_of
from instruments.db import MAX_FEN, utcnow
from instruments.inventory import Instrument, InstrumentStatus, ServiceMode, SharingMode
from instruments.policy import BookingPolicy, policy_of
from instruments.units import Lab, OwnerUnit
from scheduler.booking.free_time import MAX_BOOKABLE_WITHIN_DAYS, free_within

from ..deps import ActorDep, PageDep, SessionDep, commit

router = APIRouter(prefix="/api/v1", tags=["instruments"])


class InstrumentIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "owner_unit_id": "unit_0a1b2c3d4e5f",
                    "lab_id": "lab_0a1b2c3d4e5f",
                    "name": "600 MHz 核磁共振波谱仪",
                    "name_en": "600 MHz NMR spectrometer",
                    "category_code": "0303",
                    "category": "NMR",
                    "manufacturer": "Bruker",
                    "model": "AVANCE NEO 600",
                    "country_of_origin": "DE",
                    "original_value_fen": 850000000,
                    "service_modes": ["operator_run", "self_operated"],
                    "fee_hour_external_fen": 60000,
                    "fee_hour_internal_fen": 30000,
                }
            ]
        }
    }
    owner_unit_id: str
    lab_id: str | None = None
    name: str = Field(min_length=1, max_length=200)
    name_en: str = ""
    internal_code: str = ""
    category_code: str = ""
    category: str = Field(min_length=1, max_length=100)
    manufacturer: str = ""
    model: str = ""
    country_of_origin: str = ""
    start_of_use: date | None = None
    original_value_fen: int = Field(default=0, ge=0, le=MAX_FEN)
    key_specs: str = ""
    main_functions: str = ""
    disciplines: str = ""
    location: str = ""
    contact: str = ""
    sharing_rules: str = ""
    sharing_mode: SharingMode = SharingMode.external
    status: InstrumentStatus = InstrumentStatus.normal
    service_modes: list[ServiceMode] = Field(default=[ServiceMode.operator_run], min_length=1)
    fee_hour_internal_fen: int = Field(default=0, ge=0, le=MAX_FEN)
    fee_hour_external_fen: int = Field(default=0, ge=0, le=MAX_FEN)
    fee_sample_internal_fen: int = Field(default=0, ge=0, le=MAX_FEN)
    fee_sample_external_fen: int = Field(default=0, ge=0, le=MAX_FEN)
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        zone(v)
        return v


class InstrumentPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    name_en: str | None = None
    lab_id: str | None = None
    key_specs: str | None = None
    main_functions: str | None = None
    location: str | None = None
    contact: str | None = None
    sharing_rules: str | None = None
    sharing_mode: SharingMode | None = None
    status: InstrumentStatus | None = None
    service_modes: list[ServiceMode] | None = Field(default=None, min_length=1)
    fee_hour_internal_fen: int | None = Field(default=None, ge=0, le=MAX_FEN)
    fee_hour_external_fen: int | None = Field(default=None, ge=0, le=MAX_FEN)
    fee_sample_internal_fen: int | None = Field(default=None, ge=0, le=MAX_FEN)
    fee_sample_external_fen: int | None = Field(default=None, ge=0, le=MAX_FEN)


class PolicyIn(BaseModel):
    slot_minutes: int = Field(default=30, ge=1, le=1440)
    min_minutes: int = Field(default=30, ge=1, le=10080)
    max_minutes: int = Field(default=480, ge=1, le=10080)
    lead_minutes: dict[ServiceMode, Annotated[int, Field(ge=0, le=525600)]] = {}
    max_advance_days: int = Field(default=90, ge=1, le=730)
    cancel_cutoff_minutes: int = Field(default=1440, ge=0, le=525600)
    setup_minutes: int = Field(default=0, ge=0, le=1440)
    cleanup_minutes: int = Field(default=0, ge=0, le=1440)
    max_future_bookings: int = Field(default=5, ge=0, le=10000)
    auto_confirm: bool = False
    no_show_grace_minutes: int = Field(default=30, ge=0, le=1440)
    minutes_per_sample: int = Field(default=30, ge=1, le=1440)
    reoffer_freed_time: bool = Field(
        default=True, description="Offer time a cancellation, move or no-show frees to the requests waiting for it"
    )
    offer_minutes: int = Field(default=120, ge=1, le=10080, description="How long such an offer holds")


class InstrumentDetail(BaseModel):
    instrument: Instrument
    policy: BookingPolicy
    owner_unit_name: str
    lab: Lab | None


class CategoryOut(BaseModel):
    category: str
    category_code: str
    name_zh: str = Field(default="", description="The category's Chinese name (empty if not in the category table)")
    name_en: str = Field(default="", description="The category's English name (empty if not in the category table)")
    instruments: int


@router.get(
    "/instruments", response_model=list[Instrument], tags=["instruments"], summary="Search the catalogue (public)"
)
def list_instruments(
    session: SessionDep,
    page: PageDep,
    category: str | None = Query(
        default=None,
        description="Category name or code, or its Chinese or English name, any case (nmr, 0303, 核磁共振波谱)",
    ),
    owner_unit_id: str | None = None,
    service_mode: ServiceMode | None = None,
    status: InstrumentStatus | None = None,
    min_fee_hour_fen: Annotated[
        int | None, Query(ge=0, le=MAX_FEN, description="Lowest external hourly fee, fen")
    ] = None,
    max_fee_hour_fen: Annotated[
        int | None, Query(ge=0, le=MAX_FEN, description="Highest external hourly fee, fen")
    ] = None,
    bookable_within_days: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_BOOKABLE_WITHIN_DAYS,
            description=(
                "Only instruments with free time (of at least their shortest booking, after their notice period) "
                "within this many days. Approximate: opening hours, holidays, blackouts and bookings only; "
                "operators, lab capacity and qualification are checked when booking"
            ),
        ),
    ] = None,
    q: str | None = Query(
        default=None,
        max_length=200,
        description=(
            "Words in Chinese or English, any case, over name, English name, model, manufacturer, category "
            "(with common synonyms: 电镜, electron microscope, 核磁, 质谱, mass spec) and owner unit. "
            "Best match first: exact name or model, name prefix, category, then mentions."
        ),
    ),
) -> list[Instrument]:
    rows = search.search(
        session,
        q=q,
        category=category,
        owner_unit_id=owner_unit_id,
        service_mode=service_mode,
        status=status,
        min_fee_hour_fen=min_fee_hour_fen,
        max_fee_hour_fen=max_fee_hour_fen,
    )
    if bookable_within_days:
        mode = service_mode.value if service_mode else None
        rows = free_within(session, rows, utcnow(), bookable_within_days, mode)
    return rows[page.offset : page.offset + page.limit]


@router.get("/categories", response_model=list[CategoryOut], summary="Instrument categories with counts (public)")
def list_categories(session: SessionDep) -> list[CategoryOut]:
    rows = session.exec(
        select(Instrument.category, func.min(Instrument.category_code), func.count())
        .group_by(Instrument.category)
        .order_by(Instrument.category)
    ).all()
    out = []
    for c, code, n in rows:
        known = category_of(c)
        names = {"name_zh": known.name_zh, "name_en": known.name_en} if known else {}
        out.append(CategoryOut(category=c, category_code=code or "", instruments=n, **names))
    return out


@router.get(
    "/instruments/{instrument_id}",
    response_model=InstrumentDetail,
    summary="One instrument with its booking policy (public)",
)
def get_instrument(instrument_id: str, session: SessionDep) -> InstrumentDetail:
    inst = catalogue.get_instrument(session, instrument_id)
    unit = session.get(OwnerUnit, inst.owner_unit_id)
    lab = session.get(Lab, inst.lab_id) if inst.lab_id else None
    return InstrumentDetail(
        instrument=inst, policy=policy_of(session, inst.id), owner_unit_name=unit.name if unit else "", lab=lab
    )


@router.post(
    "/instruments", response_model=Instrument, status_code=201, summary="Put an instrument online (lab manager)"
)
def create_instrument(body: InstrumentIn, session: SessionDep, actor: ActorDep) -> Instrument:
    data = body.model_dump()
    data["service_modes"] = [m.value for m in body.service_modes]
    inst = catalogue.create_instrument(session, actor, Instrument(**data))
    commit(session)
    return inst


@router.patch(
    "/instruments/{instrument_id}", response_model=Instrument, summary="Edit an instrument (its unit's lab managers)"
)
def patch_instrument(instrument_id: str, body: InstrumentPatch, session: SessionDep, actor: ActorDep) -> Instrument:
    inst = catalogue.get_instrument(session, instrument_id)
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    changes = body.model_dump(exclude_unset=True)
    if changes.get("service_modes") is not None:
        changes["service_modes"] = [m.value for m in body.service_modes or []]
    catalogue.update_instrument(session, actor, inst, changes)
    commit(session)
    return inst


@router.post(
    "/instruments/{instrument_id}/retire",
    response_model=Instrument,
    summary="Retire an instrument: status awaiting_scrapping, no more bookings (its unit's lab managers)",
)
def retire_instrument(instrument_id: str, session: SessionDep, actor: ActorDep) -> Instrument:
    inst = catalogue.get_instrument(session, instrument_id)
    catalogue.retire_instrument(session, actor, inst)
    commit(session)
    return inst


@router.get("/instruments/{instrument_id}/policy", response_model=BookingPolicy, summary="Booking policy (public)")
def get_policy(instrument_id: str, session: SessionDep) -> BookingPolicy:
    return policy_of(session, catalogue.get_instrument(session, instrument_id).id)


@router.put(
    "/instruments/{instrument_id}/policy", response_model=BookingPolicy, summary="Set the booking policy (lab manager)"
)
def put_policy(instrument_id: str, body: PolicyIn, session: SessionDep, actor: ActorDep) -> BookingPolicy:
    inst = catalogue.get_instrument(session, instrument_id)
    actor.require_unit_manager(inst.owner_unit_id, f"the unit that owns {inst.name}")
    data = body.model_dump()
    data["lead_minutes"] = {m.value: int(v) for m, v in body.lead_minutes.items()}
    policy = catalogue.set_policy(session, actor, inst, data)
    commit(session)
    return policy
