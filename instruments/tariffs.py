"""Fees. Integer fen everywhere; the one rounding rule is named here."""

from __future__ import annotations

from .inventory import Instrument


def prorate_hourly_fen(rate_per_hour_fen: int, minutes: int) -> int:
    """Hourly fee for ``minutes`` of use, rounded half up to the fen (the platform's rule)."""
    return (rate_per_hour_fen * minutes + 30) // 60


def booking_price_fen(instrument: Instrument, minutes: int, samples: int = 0, external: bool = True) -> int:
    """Machine-time fee for the booked minutes plus the per-sample test fee."""
    hour = instrument.fee_hour_external_fen if external else instrument.fee_hour_internal_fen
    sample = instrument.fee_sample_external_fen if external else instrument.fee_sample_internal_fen
    return prorate_hourly_fen(hour, minutes) + sample * max(samples, 0)
