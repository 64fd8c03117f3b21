"""A per-instrument booking policy: the numbers the booking rules read (policy as data).

Presets reproduce published facility rules (e.g. ShanghaiTech: self-operation ≥ 3 days ahead,
sample submission ≥ 7 days; cancel ≥ 24 h before start).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Field, Session, SQLModel

from .db import json_field

DAY = 24 * 60


class BookingPolicy(SQLModel, table=True):
    __tablename__ = "booking_policy"

    instrument_id: str = Field(foreign_key="instrument.id", primary_key=True)
    slot_minutes: int = Field(default=30, ge=1, le=1440, description="Start/end on this grid")
    min_minutes: int = Field(default=30, ge=1)
    max_minutes: int = Field(default=8 * 60, ge=1)
    lead_minutes: dict[str, int] = json_field(lambda: {"self_operated": 0, "guided": 0, "operator_run": 0, "remote": 0})
    max_advance_days: int = Field(default=90, ge=1, description="How far ahead one may book")
    cancel_cutoff_minutes: int = Field(
        default=DAY, ge=0, description="Enterprise cancels at least this long before start"
    )
    setup_minutes: int = Field(default=0, ge=0)
    cleanup_minutes: int = Field(default=0, ge=0)
    max_future_bookings: int = Field(default=5, ge=0, description="Live future bookings per enterprise")
    auto_confirm: bool = Field(default=False, description="Instant bookings start confirmed, not tentative")
    no_show_grace_minutes: int = Field(default=30, ge=0)
    minutes_per_sample: int = Field(
        default=30, ge=1, description="Instrument time one sample takes (requests by sample count)"
    )
    reoffer_freed_time: bool = Field(
        default=True, description="Offer time freed by a cancellation, move or no-show to the requests waiting for it"
    )
    offer_minutes: int = Field(default=120, ge=1, le=7 * DAY, description="How long such an offer holds")


PRESETS: dict[str, dict[str, Any]] = {
    # ShanghaiTech-style large-instrument centre rules.
    "shanghaitech": {
        "slot_minutes": 30,
        "min_minutes": 30,
        "max_minutes": 8 * 60,
        "lead_minutes": {"self_operated": 3 * DAY, "guided": 3 * DAY, "operator_run": 7 * DAY, "remote": 3 * DAY},
        "cancel_cutoff_minutes": DAY,
        "max_future_bookings": 5,
        "no_show_grace_minutes": 30,
    },
    # A permissive default for open platforms.
    "open_platform": {
        "slot_minutes": 30,
        "min_minutes": 30,
        "max_minutes": 10 * 60,
        "lead_minutes": {"self_operated": 0, "guided": 0, "operator_run": DAY, "remote": 0},
        "cancel_cutoff_minutes": DAY,
        "max_future_bookings": 10,
    },
}


def policy_from_preset(instrument_id: str, preset: str, **overrides: Any) -> BookingPolicy:
    values = {**PRESETS[preset], **overrides}
    return BookingPolicy(instrument_id=instrument_id, **values)


def minutes_for_samples(policy: BookingPolicy, samples: int) -> int:
    """Instrument time for ``samples`` samples, rounded up to the slot grid."""
    raw = policy.minutes_per_sample * samples
    step = policy.slot_minutes
    return max(step, -(-raw // step) * step)


def lead_minutes_for(policy: BookingPolicy, service_mode: str) -> int:
    return int(policy.lead_minutes.get(service_mode, 0))


def policy_of(session: Session, instrument_id: str) -> BookingPolicy:
    """The instrument's booking policy; an instrument without one gets the defaults."""
    return session.get(BookingPolicy, instrument_id) or BookingPolicy(instrument_id=instrument_id)
