"""Every table of the platform, imported once so SQLModel.metadata is complete (migrations, tests)."""

from __future__ import annotations

from sqlmodel import SQLModel

from instruments import audit, availability, fact_cache, inventory, policy, run_lock, staff, units, workdays  # noqa: F401
from scheduler import (
    jobs,  # noqa: F401 - job_run
    time_offers,  # noqa: F401 - time_offer
)
from scheduler.allocation import rounds  # noqa: F401
from scheduler.booking import booking_requests, bookings, enterprises, freed_time  # noqa: F401
from scheduler.calendars import calendar_feeds  # noqa: F401
from scheduler.money import credit, ledger, proof_files, redemption, vouchers  # noqa: F401
from scheduler.shared import mail_prefs, notifications, outbox  # noqa: F401
from scheduler.sharing import rewards, usage  # noqa: F401

from . import accounts, browser_sessions, idempotency  # noqa: F401

metadata = SQLModel.metadata
