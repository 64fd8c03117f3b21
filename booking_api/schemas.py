"""Response shapes shared by several routers. Times are ISO 8601 in the instrument's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from scheduler.booking.bookings import Booking


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
    def of(cls, b: Booking, tz: str) -> BookingOut:
        z = ZoneInfo(tz)
        data = b.model_dump()
        for k in ("start", "end", "created_at", "updated_at", "checked_in_at", "checked_out_at", "cancelled_at"):
            if data[k] is not None:
                data[k] = data[k].astimezone(z)
        data["status"] = str(b.status)
        return cls.model_validate(data)


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
