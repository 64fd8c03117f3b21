"""Which days are working days in mainland China: public holidays and 调休 make-up workdays.

The national schedule comes from the maintained ``holidays`` library (country ``CN``), never a
hand-typed list. The State Council publishes each year's schedule around November, so the library
may not know next year yet. Such a year degrades to a *stated default*, with a warning: the
statutory holiday dates as the library estimates them, and no make-up workdays. Programme admins
override any single day (a closure, or a make-up workday) with a ``CalendarOverride`` row; an
override always wins over the library.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

import holidays
from sqlmodel import Field, Session, SQLModel, select

from . import fact_cache


class DayKind(StrEnum):
    workday = "workday"
    weekend = "weekend"
    holiday = "holiday"
    makeup_workday = "makeup_workday"  # a weekend day worked in exchange for a holiday (调休)


class CalendarOverride(SQLModel, table=True):
    """A programme admin's correction of the national calendar for one day."""

    __tablename__ = "calendar_override"

    day: date = Field(primary_key=True)
    is_workday: bool = Field(description="True: a (make-up) working day; False: a closure/holiday")
    name: str = ""


class OverrideFacts(NamedTuple):
    """What ``WorkCalendar`` reads of a ``CalendarOverride`` (kept in the per-worker cache)."""

    day: date
    is_workday: bool
    name: str


def _all_overrides(session: Session) -> tuple[OverrideFacts, ...] | None:
    """Every calendar override from the per-worker cache (``fact_cache``), or None when this
    transaction has not read the calendar's version."""

    def load() -> tuple[OverrideFacts, ...]:
        o = CalendarOverride
        rows = session.exec(select(o.day, o.is_workday, o.name).order_by(o.day)).all()
        return tuple(OverrideFacts(*row) for row in rows)

    return fact_cache.cached(session, fact_cache.CALENDAR, "", load)


@lru_cache(maxsize=64)
def _library_year(year: int) -> tuple[dict[date, str], frozenset[date], bool]:
    cal = holidays.country_holidays("CN", years=year)
    days = {d: name for d, name in cal.items() if d.year == year}
    workdays = frozenset(d for d in getattr(cal, "weekend_workdays", set()) if d.year == year)
    # The official schedule of a year always moves some weekend days to workdays; a year with none
    # is one the library only estimates.
    return days, workdays, bool(workdays)


def library_version() -> str:
    return getattr(holidays, "__version__", "?")


class WorkCalendar:
    """The national working-day calendar with the platform's overrides applied."""

    def __init__(self, overrides: dict[date, CalendarOverride | OverrideFacts] | None = None) -> None:
        self.overrides = overrides or {}
        self.warnings: list[str] = []

    @classmethod
    def load(cls, session: Session, start: date, end: date) -> WorkCalendar:
        cached = _all_overrides(session)
        if cached is not None:
            return cls({r.day: r for r in cached if start <= r.day <= end})
        rows = session.exec(
            select(CalendarOverride).where(CalendarOverride.day >= start, CalendarOverride.day <= end)
        ).all()
        return cls({r.day: r for r in rows})

    def _year(self, year: int) -> tuple[dict[date, str], frozenset[date]]:
        days, workdays, known = _library_year(year)
        if not known and not any(d.year == year for d in self.overrides):
            msg = (
                f"The {year} public-holiday schedule is not yet in the holiday library "
                f"(holidays {library_version()}); using the statutory holiday dates it estimates "
                f"and no 调休 make-up workdays. A programme admin can enter closures and make-up "
                f"workdays as calendar overrides."
            )
            if msg not in self.warnings:
                self.warnings.append(msg)
        return days, workdays

    def kind(self, day: date) -> DayKind:
        override = self.overrides.get(day)
        weekend = day.weekday() >= 5
        if override is not None:
            if override.is_workday:
                return DayKind.makeup_workday if weekend else DayKind.workday
            return DayKind.holiday
        days, workdays = self._year(day.year)
        if day in workdays:
            return DayKind.makeup_workday
        if day in days:
            return DayKind.holiday
        return DayKind.weekend if weekend else DayKind.workday

    def holiday_name(self, day: date) -> str | None:
        override = self.overrides.get(day)
        if override is not None:
            return override.name or None
        return self._year(day.year)[0].get(day)
