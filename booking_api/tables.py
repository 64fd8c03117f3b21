"""Every table of the platform, imported once so SQLModel.metadata is complete (migrations, tests)."""

from __future__ import annotations

from sqlmodel import SQLModel

from instruments import audit, availability, inventory, policy, run_lock, staff, units, workdays  # noqa: F401

from . import accounts, idempotency  # noqa: F401

metadata = SQLModel.metadata
