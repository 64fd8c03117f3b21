"""Every table of the platform, imported once so SQLModel.metadata is complete (migrations, tests)."""

from __future__ import annotations

from sqlmodel import SQLModel

from instruments import audit, availability, inventory, policy, staff, units, workdays  # noqa: F401
from scheduler import booking_requests, bookings, calendar_feeds, credit, enterprises, ledger, notifications, redemption, rounds, vouchers  # noqa: F401
from scheduler import rewards, usage  # noqa: F401 - usage metering, year-end rewards

from . import accounts, idempotency  # noqa: F401

metadata = SQLModel.metadata
