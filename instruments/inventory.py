"""Instruments: the national NRII record fields, status, sharing mode, service modes and tariff."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlmodel import Field, SQLModel

from .db import fen_field, json_field
from .ids import new_id

LARGE_INSTRUMENT_FEN = 50_000_000
"""A 'large instrument' nationally: original value ≥ 500,000 RMB (regions may use less)."""


class InstrumentStatus(StrEnum):
    normal = "normal"
    standby = "standby"
    remote_service = "remote_service"
    occasional_fault = "occasional_fault"
    frequent_fault = "frequent_fault"
    awaiting_repair = "awaiting_repair"
    awaiting_scrapping = "awaiting_scrapping"


BOOKABLE_STATUSES = {
    InstrumentStatus.normal,
    InstrumentStatus.standby,
    InstrumentStatus.remote_service,
    InstrumentStatus.occasional_fault,
}


class SharingMode(StrEnum):
    external = "external"  # open to outside users
    internal = "internal"  # only the owner unit's own users
    none = "none"


class ServiceMode(StrEnum):
    self_operated = "self_operated"  # 占用共享: trained and qualified users only
    guided = "guided"  # 技术共享
    operator_run = "operator_run"  # 委托共享: staff run the samples
    remote = "remote"


OPERATOR_MODES = {ServiceMode.operator_run, ServiceMode.guided}
"""Service modes in which an operator's working time is a second resource."""


class Instrument(SQLModel, table=True):
    __tablename__ = "instrument"

    id: str = Field(default_factory=lambda: new_id("ins"), primary_key=True)
    owner_unit_id: str = Field(foreign_key="owner_unit.id", index=True)
    lab_id: str | None = Field(default=None, foreign_key="lab.id", index=True)
    name: str = Field(index=True)
    name_en: str = ""
    internal_code: str = ""
    category_code: str = Field(default="", index=True, description="NRII category code, e.g. 0303")
    category: str = Field(default="", index=True, description="Category name, e.g. 'NMR'")
    manufacturer: str = ""
    model: str = ""
    country_of_origin: str = ""
    start_of_use: date | None = None
    original_value_fen: int = fen_field()
    key_specs: str = ""
    main_functions: str = ""
    disciplines: str = ""
    location: str = ""
    contact: str = ""
    sharing_rules: str = ""
    sharing_mode: SharingMode = SharingMode.external
    status: InstrumentStatus = InstrumentStatus.normal
    service_modes: list[str] = json_field(lambda: [ServiceMode.operator_run.value])
    fee_hour_internal_fen: int = fen_field()
    fee_hour_external_fen: int = fen_field()
    fee_sample_internal_fen: int = fen_field()
    fee_sample_external_fen: int = fen_field()
    timezone: str = "Asia/Shanghai"

    @property
    def is_large(self) -> bool:
        return self.original_value_fen >= LARGE_INSTRUMENT_FEN
