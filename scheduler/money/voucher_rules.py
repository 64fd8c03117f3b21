"""A voucher programme's rules as a validated document (policy as data; presets in fixtures).

Shares are basis points (1/10,000) so that every computation stays in integers; the one rounding
rule: the voucher's part of a fee rounds *down* to the fen and the enterprise pays the rest.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator


class VoucherType(BaseModel):
    code: str = Field(min_length=1, max_length=40, examples=["testing"])
    name: str = Field(min_length=1, max_length=100, examples=["检验检测券"])
    face_value_fen: int | None = Field(default=None, ge=1, description="Default face value when issuing")
    service_modes: list[str] | None = Field(default=None, description="Service modes it may pay for (None = all)")
    categories: list[str] | None = Field(default=None, description="Instrument categories it may pay for (None = all)")


class QuarterWindow(BaseModel):
    """Claims for quarter ``quarter`` (the quarter the service was completed) are filed from
    ``opens`` to ``closes`` (MM-DD, inclusive), in the following period."""

    quarter: int = Field(ge=1, le=4)
    opens: str = Field(pattern=r"^\d\d-\d\d$", examples=["04-01"])
    closes: str = Field(pattern=r"^\d\d-\d\d$", examples=["04-30"])

    @field_validator("opens", "closes")
    @classmethod
    def _a_day_of_every_year(cls, value: str) -> str:
        # the windows are placed in every year (``window_at``), so the day must exist in every
        # year: checked against a common year, which refuses 02-30 and also 02-29
        try:
            date.fromisoformat(f"2001-{value}")
        except ValueError:
            raise ValueError(
                f"{value} is not a day of every year; give MM-DD (02-29 is refused: it does not exist every year)"
            ) from None
        return value


class RedemptionCalendar(BaseModel):
    kind: Literal["quarterly", "monthly"] = "quarterly"
    quarterly: list[QuarterWindow] = []
    monthly_days: tuple[int, int] = Field(default=(1, 15), description="Day range each month (monthly kind)")

    @field_validator("monthly_days")
    @classmethod
    def _days_of_a_month(cls, value: tuple[int, int]) -> tuple[int, int]:
        lo, hi = value
        if not 1 <= lo <= hi <= 31:
            raise ValueError(f"{lo}–{hi} is not a day range of a month; give two days 1 ≤ first ≤ last ≤ 31")
        return value

    def window_at(self, day: date) -> str | None:
        """Label of the window open on ``day`` (e.g. '2026Q2' or '2026-05'), or None."""
        if self.kind == "monthly":
            lo, hi = self.monthly_days
            return f"{day:%Y-%m}" if lo <= day.day <= hi else None
        for w in self.quarterly:
            for year in (day.year - 1, day.year):
                opens = date.fromisoformat(f"{year}-{w.opens}")
                closes = date.fromisoformat(f"{year if w.closes >= w.opens else year + 1}-{w.closes}")
                if opens <= day <= closes:
                    return f"{opens.year if w.quarter != 4 else opens.year - (1 if opens.month < 4 else 0)}Q{w.quarter}"
        return None

    def next_opening(self, day: date) -> date | None:
        for k in range(0, 400):
            d = day + timedelta(days=k)
            if self.window_at(d):
                return d
        return None


class ProgrammeRules(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "share_bp": 5000,
                    "per_enterprise_year_cap_fen": 50_000_000,
                    "transferable": False,
                }
            ]
        }
    }
    voucher_types: list[VoucherType] = Field(
        default_factory=lambda: [VoucherType(code="testing", name="检验检测券")], min_length=1
    )
    share_bp: int = Field(default=5000, ge=0, le=10000, description="Share of the fee a voucher pays (basis points)")
    local_extra_bp: int = Field(default=0, ge=0, le=10000, description="Extra share when the provider is local")
    local_region_prefix: str = Field(default="", description="Providers whose region starts with this are local")
    full_coverage_below_fen: int = Field(default=0, ge=0, description="Orders below this fee are covered in full")
    per_order_cap_fen: int | None = Field(default=None, ge=0)
    per_enterprise_year_cap_fen: int | None = Field(default=None, ge=0)
    per_group_year_cap_fen: int | None = Field(default=None, ge=0)
    validity_days: int = Field(default=365, ge=1, le=3 * 366, description="A voucher expires this long after issue")
    transferable: bool = False
    excluded_service_modes: list[str] = []
    redemption: RedemptionCalendar = RedemptionCalendar(
        kind="quarterly",
        quarterly=[
            QuarterWindow(quarter=1, opens="04-01", closes="04-30"),
            QuarterWindow(quarter=2, opens="07-01", closes="07-31"),
            QuarterWindow(quarter=3, opens="10-01", closes="10-31"),
            QuarterWindow(quarter=4, opens="01-01", closes="01-31"),
        ],
    )
    provider_bonus_bp: int = Field(default=0, ge=0, le=10000, description="Bonus on the redeemed amount")
    bonus_local_only: bool = False

    @model_validator(mode="after")
    def _caps(self) -> ProgrammeRules:
        if self.per_group_year_cap_fen is not None and self.per_enterprise_year_cap_fen is not None:
            if self.per_group_year_cap_fen < self.per_enterprise_year_cap_fen:
                raise ValueError("per_group_year_cap_fen must be at least per_enterprise_year_cap_fen")
        codes = [t.code for t in self.voucher_types]
        if len(set(codes)) != len(codes):
            raise ValueError("voucher type codes must be unique")
        return self

    def voucher_type(self, code: str) -> VoucherType | None:
        return next((t for t in self.voucher_types if t.code == code), None)

    def coverage_bp(self, price_fen: int, local: bool) -> int:
        if self.full_coverage_below_fen and price_fen < self.full_coverage_below_fen:
            return 10000
        return min(10000, self.share_bp + (self.local_extra_bp if local else 0))

    def voucher_part_fen(self, price_fen: int, local: bool, face_fen: int) -> int:
        """The voucher's part of a fee: share rounded down, within face value and per-order cap."""
        part = price_fen * self.coverage_bp(price_fen, local) // 10000
        caps = [face_fen] + ([self.per_order_cap_fen] if self.per_order_cap_fen is not None else [])
        return max(0, min([part, *caps]))

    def bonus_fen(self, amount_fen: int, local: bool) -> int:
        if self.bonus_local_only and not local:
            return 0
        return amount_fen * self.provider_bonus_bp // 10000


def expiry_for(rules: ProgrammeRules, issued: datetime) -> datetime:
    return issued + timedelta(days=rules.validity_days)
