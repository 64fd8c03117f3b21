"""Open-sharing indicators per instrument, per owner unit and per programme, for any period.

Everything is aggregated in the database (GROUP BY over ``usage_record`` joined to ``instrument``;
bookings for the no-show rate); Python only merges the few grouped rows. Counts are minutes and
fen (integers); ratios are exact ``Fraction``s, never floats. A usage record belongs to the period
in which it *started* ([start, end), UTC-stored); a booking to the period in which it starts.

Utilisation = effective minutes / quota minutes, the quota being 1,400 h a year for a general
instrument and 800 h for a special-purpose one by default (``Quota``: from a reward rule set, per
category or per instrument) and pro rata for a period shorter or longer than a year.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from instruments.inventory import Instrument
from instruments.units import OwnerUnit
from scheduler.booking.bookings import Booking, BookingStatus
from scheduler.sharing.usage import UsageRecord

YEAR_SECONDS = 365 * 24 * 3600


class Level(StrEnum):
    instrument = "instrument"
    unit = "unit"
    programme = "programme"


@dataclass(frozen=True)
class Quota:
    general_hours: int = 1400
    special_hours: int = 800
    special_categories: tuple[str, ...] = ()
    special_instrument_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scope:
    """Which instruments count: all, one region's units, one unit, some instruments, large ones only."""

    region: str | None = None
    owner_unit_id: str | None = None
    instrument_ids: tuple[str, ...] | None = None
    min_value_fen: int = 0


@dataclass
class Indicators:
    key: str
    name: str = ""
    owner_unit_id: str | None = None
    instruments: int = 0
    original_value_fen: int = 0
    quota_minutes: int = 0
    records: int = 0
    effective_minutes: int = 0
    external_minutes: int = 0
    samples: int = 0
    income_internal_fen: int = 0
    income_external_fen: int = 0
    voucher_fen: int = 0
    external_users: int = 0
    enterprises_served: int = 0
    rating_sum: int = 0
    rating_count: int = 0
    bookings_due: int = 0
    no_shows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def _ratio(a: int, b: int) -> Fraction:
        return Fraction(a, b) if b else Fraction(0)

    @property
    def utilisation(self) -> Fraction:
        return self._ratio(self.effective_minutes, self.quota_minutes)

    @property
    def sharing_rate(self) -> Fraction:
        return self._ratio(self.external_minutes, self.effective_minutes)

    @property
    def income_fen(self) -> int:
        return self.income_internal_fen + self.income_external_fen

    @property
    def voucher_share(self) -> Fraction:
        return self._ratio(self.voucher_fen, self.income_fen)

    @property
    def average_rating(self) -> Fraction:
        return self._ratio(self.rating_sum, self.rating_count)

    @property
    def no_show_rate(self) -> Fraction:
        return self._ratio(self.no_shows, self.bookings_due)

    def as_dict(self) -> dict[str, Any]:
        """Integers as they are; ratios as exact ``"p/q"`` strings plus a rounded decimal for people."""
        d = asdict(self)
        d.pop("extra")
        for name in ("utilisation", "sharing_rate", "voucher_share", "average_rating", "no_show_rate"):
            v: Fraction = getattr(self, name)
            d[name] = f"{v.numerator}/{v.denominator}"
            d[name + "_display"] = f"{float(v):.4f}"
        d["effective_hours"] = f"{self.effective_minutes / 60:.2f}"
        d["external_hours"] = f"{self.external_minutes / 60:.2f}"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Indicators:
        names = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(**{k: v for k, v in d.items() if k in names})


def _key(level: Level, inst: Any) -> Any:
    if level == Level.instrument:
        return inst.c.id
    if level == Level.unit:
        return inst.c.owner_unit_id
    return sa.literal("programme")


def _scoped_instruments(scope: Scope) -> Any:
    i = Instrument.__table__
    u = OwnerUnit.__table__
    q = sa.select(i.c.id, i.c.owner_unit_id, i.c.name, i.c.category, i.c.original_value_fen).select_from(
        i.join(u, u.c.id == i.c.owner_unit_id)
    )
    if scope.region:
        q = q.where(u.c.region == scope.region)
    if scope.owner_unit_id:
        q = q.where(i.c.owner_unit_id == scope.owner_unit_id)
    if scope.instrument_ids is not None:
        q = q.where(i.c.id.in_(scope.instrument_ids))
    if scope.min_value_fen:
        q = q.where(i.c.original_value_fen >= scope.min_value_fen)
    return q.subquery("inst")


def compute(
    session: Session,
    start: datetime,
    end: datetime,
    level: Level | str = Level.instrument,
    scope: Scope | None = None,
    quota: Quota | None = None,
) -> list[Indicators]:
    """Indicators for [start, end), one row per instrument / unit / the programme, ordered by key."""
    level = Level(level)
    scope = scope or Scope()
    quota = quota or Quota()
    inst = _scoped_instruments(scope)
    key = _key(level, inst).label("k")
    groups = [] if level == Level.programme else [key]  # PostgreSQL refuses GROUP BY a constant
    factor = Fraction(int((end - start).total_seconds()), YEAR_SECONDS)
    special = sa.or_(
        inst.c.category.in_(list(quota.special_categories)),
        inst.c.id.in_(list(quota.special_instrument_ids)),
    )
    quota_minutes = sa.case((special, quota.special_hours * 60), else_=quota.general_hours * 60)

    # 1. the instruments themselves: count, value, quota
    base_rows = session.execute(
        sa.select(
            key,
            sa.func.count().label("n"),
            sa.func.coalesce(sa.func.sum(inst.c.original_value_fen), 0).label("value"),
            sa.func.coalesce(sa.func.sum(quota_minutes), 0).label("quota"),
            sa.func.min(inst.c.name).label("name"),
            sa.func.min(inst.c.owner_unit_id).label("unit"),
        ).group_by(*groups)
    ).all()
    out: dict[str, Indicators] = {}
    for r in base_rows:
        out[r.k] = Indicators(
            key=r.k,
            name=r.name if level == Level.instrument else "",
            owner_unit_id=r.unit if level != Level.programme else None,
            instruments=r.n,
            original_value_fen=int(r.value),
            quota_minutes=int(Fraction(int(r.quota)) * factor),
        )

    # 2. metered use
    u = UsageRecord.__table__
    eff = u.c.setup_minutes + u.c.measure_minutes + u.c.post_minutes
    ext = u.c.external
    zero = sa.literal(0)
    person = sa.func.coalesce(u.c.user_id, sa.func.nullif(u.c.user_name, ""), u.c.enterprise_id)
    usage_rows = session.execute(
        sa.select(
            key,
            sa.func.count().label("records"),
            sa.func.sum(eff).label("eff"),
            sa.func.sum(sa.case((ext, eff), else_=zero)).label("ext"),
            sa.func.sum(u.c.samples).label("samples"),
            sa.func.sum(sa.case((ext, zero), else_=u.c.fee_fen)).label("inc_int"),
            sa.func.sum(sa.case((ext, u.c.fee_fen), else_=zero)).label("inc_ext"),
            sa.func.sum(u.c.voucher_fen).label("voucher"),
            sa.func.count(sa.distinct(sa.case((ext, person)))).label("ext_users"),
            sa.func.count(sa.distinct(sa.case((ext, u.c.enterprise_id)))).label("ents"),
            sa.func.coalesce(sa.func.sum(u.c.rating), 0).label("rating_sum"),
            sa.func.count(u.c.rating).label("rating_n"),
        )
        .select_from(u.join(inst, inst.c.id == u.c.instrument_id))
        .where(u.c.started_at >= start, u.c.started_at < end)
        .group_by(*groups)
    ).all()
    for r in usage_rows:
        row = out[r.k]
        row.records = r.records
        row.effective_minutes = int(r.eff or 0)
        row.external_minutes = int(r.ext or 0)
        row.samples = int(r.samples or 0)
        row.income_internal_fen = int(r.inc_int or 0)
        row.income_external_fen = int(r.inc_ext or 0)
        row.voucher_fen = int(r.voucher or 0)
        row.external_users = r.ext_users
        row.enterprises_served = r.ents
        row.rating_sum = int(r.rating_sum)
        row.rating_count = r.rating_n

    # 3. bookings due in the period: completed, checked in, or no-show
    b = Booking.__table__
    due = (BookingStatus.completed.value, BookingStatus.checked_in.value, BookingStatus.no_show.value)
    booking_rows = session.execute(
        sa.select(
            key,
            sa.func.count().label("due"),
            sa.func.sum(sa.case((b.c.status == BookingStatus.no_show.value, 1), else_=0)).label("no_shows"),
        )
        .select_from(b.join(inst, inst.c.id == b.c.instrument_id))
        .where(b.c.start >= start, b.c.start < end, b.c.status.in_(due))
        .group_by(*groups)
    ).all()
    for r in booking_rows:
        out[r.k].bookings_due = r.due
        out[r.k].no_shows = int(r.no_shows or 0)

    if level == Level.unit and out:
        names = dict(
            session.execute(
                sa.select(OwnerUnit.__table__.c.id, OwnerUnit.__table__.c.name).where(
                    OwnerUnit.__table__.c.id.in_(list(out))
                )
            ).all()
        )
        for k, row in out.items():
            row.name = names.get(k, "")
    if level == Level.programme:
        if not out:
            out["programme"] = Indicators(key="programme")
        out["programme"].name = scope.region or "all units"
    return [out[k] for k in sorted(out)]
