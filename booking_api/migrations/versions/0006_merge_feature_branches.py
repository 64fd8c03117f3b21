"""merge calendar, vouchers and usage branches

Revision ID: 0006
Revises: 0003, 0004, 0005
Create Date: 2026-11-22 06:56:42.003003
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | tuple[str, ...] | None = ("0003", "0004", "0005")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
