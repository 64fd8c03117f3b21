"""Operators (staff who run instruments) and user qualifications for self-operation."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel

from .db import json_field
from .ids import new_id


class Operator(SQLModel, table=True):
    """Staff of an owner unit (a user account with role operator points here). ``working_hours`` holds opening-rule-like entries:
    ``{"rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "start": "08:30", "end": "17:30"}``."""

    __tablename__ = "operator"

    id: str = Field(default_factory=lambda: new_id("opr"), primary_key=True)
    owner_unit_id: str = Field(foreign_key="owner_unit.id", index=True)
    name: str
    email: str = ""
    working_hours: list[dict[str, str]] = json_field(
        lambda: [{"rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "start": "08:30", "end": "17:30"}]
    )


class OperatorInstrument(SQLModel, table=True):
    """Which instruments an operator may run."""

    __tablename__ = "operator_instrument"

    operator_id: str = Field(foreign_key="operator.id", primary_key=True)
    instrument_id: str = Field(foreign_key="instrument.id", primary_key=True)


class Qualification(SQLModel, table=True):
    """A user is trained and qualified to operate an instrument themselves, until ``expires_on``."""

    __tablename__ = "qualification"

    id: str = Field(default_factory=lambda: new_id("qual"), primary_key=True)
    user_id: str = Field(foreign_key="app_user.id", index=True)
    instrument_id: str = Field(foreign_key="instrument.id", index=True)
    granted_on: date
    expires_on: date | None = None

    def valid_on(self, day: date) -> bool:
        return self.granted_on <= day and (self.expires_on is None or day <= self.expires_on)
