"""Owner units (the service providers) and their labs."""

from __future__ import annotations

from typing import Any

from sqlmodel import Field, SQLModel

from .db import json_field
from .ids import new_id


class OwnerUnit(SQLModel, table=True):
    """A university, institute or public platform that owns instruments: its public page."""

    __tablename__ = "owner_unit"

    id: str = Field(default_factory=lambda: new_id("unit"), primary_key=True)
    name: str = Field(index=True)
    name_en: str = ""
    kind: str = Field(default="university", description="university | institute | platform | enterprise")
    region: str = ""
    address: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    website: str = ""
    profile: str = Field(default="", description="Public introduction of the unit")
    management_rules: str = Field(default="", description="The unit's open-sharing management rules")
    news: list[dict[str, Any]] = json_field(list)
    service_cases: list[dict[str, Any]] = json_field(list)
    controller_group: str | None = Field(
        default=None, description="Actual controller, used to refuse related-party vouchers"
    )
    timezone: str = "Asia/Shanghai"


class Lab(SQLModel, table=True):
    __tablename__ = "lab"

    id: str = Field(default_factory=lambda: new_id("lab"), primary_key=True)
    owner_unit_id: str = Field(foreign_key="owner_unit.id", index=True)
    name: str
    building: str = ""
    room: str = ""
    address: str = ""
    capacity: int = Field(default=1, ge=1, description="Simultaneous users the lab can host")
