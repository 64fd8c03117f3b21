"""Response shapes shared by several routers. Times are ISO 8601 in the instrument's zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json
from sqlalchemy import Row

from scheduler.booking.bookings import Booking
from scheduler.money.price_split import PriceSplit, VoucherShare


class VoucherShareOut(BaseModel):
    """One voucher's part of a booking's price (integer fen)."""

    voucher_id: str
    code: str
    status: str
    face_value_fen: int
    pays_fen: int = Field(description="What the voucher pays of this booking's price")
    lapses_fen: int = Field(
        description="Face value the booking leaves unused: a voucher pays for one booking, the rest lapses "
        "back to the programme when the service completes"
    )
    expires_at: datetime
    refusals: list[dict[str, str]] = Field(
        default=[], description="Why this voucher cannot pay for this booking (code and message); empty if it can"
    )

    @classmethod
    def of(cls, s: VoucherShare, tz: str) -> VoucherShareOut:
        return cls.model_validate(cls.data(s, tz))

    @staticmethod
    def data(s: VoucherShare, tz: str) -> dict[str, Any]:
        """The share as plain values, its expiry in ``tz``."""
        return {**vars(s), "expires_at": s.expires_at.astimezone(ZoneInfo(tz))}


PRICE_SPLIT_EXAMPLE = {
    "price_fen": 120000,
    "voucher_fen": 60000,
    "enterprise_fen": 60000,
    "lapsed_fen": 440000,
    "vouchers": [
        {
            "voucher_id": "vch_9z8y7x6w5v4u",
            "code": "TJ2026A0000000017X",
            "status": "reserved",
            "face_value_fen": 500000,
            "pays_fen": 60000,
            "lapses_fen": 440000,
            "expires_at": "2027-06-30T00:00:00+08:00",
            "refusals": [],
        }
    ],
}


class PriceSplitOut(BaseModel):
    """Who pays what: price = voucher_fen + enterprise_fen (integer fen)."""

    model_config = ConfigDict(json_schema_extra={"examples": [PRICE_SPLIT_EXAMPLE]})

    price_fen: int
    voucher_fen: int = Field(description="What the voucher(s) pay")
    enterprise_fen: int = Field(description="What the enterprise pays itself")
    lapsed_fen: int = Field(description="Face value of the voucher(s) used here that this booking leaves unused")
    vouchers: list[VoucherShareOut]

    @classmethod
    def of(cls, s: PriceSplit, tz: str) -> PriceSplitOut:
        return cls.model_validate(cls.data(s, tz))

    @staticmethod
    def data(s: PriceSplit, tz: str) -> dict[str, Any]:
        """The split as plain values, the vouchers' expiry in ``tz``."""
        return {
            "price_fen": s.price_fen,
            "voucher_fen": s.voucher_fen,
            "enterprise_fen": s.enterprise_fen,
            "lapsed_fen": s.lapsed_fen,
            "vouchers": [VoucherShareOut.data(v, tz) for v in s.vouchers],
        }


class BookingOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "bkg_4k2m9x0q7h1c",
                    "instrument_id": "ins_a1b2c3d4e5f6",
                    "enterprise_id": "ent_0p9o8i7u6y5t",
                    "service_mode": "operator_run",
                    "start": "2026-12-01T09:00:00+08:00",
                    "end": "2026-12-01T11:00:00+08:00",
                    "status": "confirmed",
                    "price_fen": 120000,
                    "voucher_id": "vch_9z8y7x6w5v4u",
                    "price_split": PRICE_SPLIT_EXAMPLE,
                    "sample_count": 0,
                    "sequence": 0,
                }
            ]
        }
    )

    id: str
    instrument_id: str
    enterprise_id: str | None
    request_id: str | None
    operator_id: str | None
    service_mode: str
    start: datetime
    end: datetime
    status: str
    price_fen: int
    voucher_id: str | None = Field(default=None, description="The voucher paying for this booking (null: none)")
    price_split: PriceSplitOut = Field(description="The price, what the voucher pays, what the enterprise pays")
    sample_count: int
    notes: str
    source: str
    sequence: int
    created_at: datetime
    updated_at: datetime
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str

    @classmethod
    def of(cls, b: Booking, tz: str, split: PriceSplit) -> BookingOut:
        """The answer for booking ``b``, its times in ``tz``."""
        return cls.model_validate(cls.data(b, tz, split))

    @staticmethod
    def data(b: Booking | Row, tz: str, split: PriceSplit) -> dict[str, Any]:
        """The answer as plain values, keyed in the model's field order (``b``: a booking, or a
        listing's row whose first columns are ``BOOKING_COLUMNS``, in that order). A listing
        answers hundreds of these, written by ``as_json`` without building or validating a model
        per row; the keys' order makes that JSON read exactly as the model's."""
        z = ZoneInfo(tz)
        data = dict(_BLANK)
        pairs = zip(_BOOKING_FIELDS, b, strict=False) if isinstance(b, Row) else ((k, getattr(b, k)) for k in _BOOKING_FIELDS)
        data.update(pairs)  # a row may carry more columns after these (e.g. the zone)
        for k in _TIMES:
            if data[k] is not None:
                data[k] = data[k].astimezone(z)
        data["status"] = str(data["status"])
        data["service_mode"] = str(data["service_mode"])
        data["price_split"] = PriceSplitOut.data(split, tz)
        data["voucher_id"] = split.vouchers[0].voucher_id if split.vouchers else None
        return data


_BOOKING_FIELDS = tuple(k for k in BookingOut.model_fields if k not in ("price_split", "voucher_id"))
_BLANK = dict.fromkeys(BookingOut.model_fields)
_TIMES = ("start", "end", "created_at", "updated_at", "checked_in_at", "checked_out_at", "cancelled_at")

BOOKING_COLUMNS = _BOOKING_FIELDS
"""The booking's columns an answer reads, in the order ``BookingOut.data`` takes them from a row."""


def as_json(answers: list[dict[str, Any]]) -> bytes:
    """Plain answers (``BookingOut.data`` and the like, built from database rows whose types are
    known) written as JSON by pydantic's core, without validating them again: the same bytes as
    the response model writes for them (keys in the model's order; datetimes, strings and numbers
    written by the same serializer), for a fraction of the cost of validating hundreds of rows
    (``tests/booking_api/test_booking_listing_json.py`` holds the two to the same bytes)."""
    return to_json(answers)


class Interval(BaseModel):
    start: datetime
    end: datetime


class BusyOut(BaseModel):
    """Busy time: in full for the asker's own bookings, anonymous otherwise."""

    start: datetime
    end: datetime
    booking_id: str | None = None
    status: str | None = None
    yours: bool = False
