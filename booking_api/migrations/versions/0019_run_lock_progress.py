"""a run lock's progress: how far the locked work has got, for any process to show

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 15:10:00

An allocation round started from the programme office's page runs in one server process; with
several workers the page's polls reach the others too. The run writes its phase and latest figures
into its lock row (``run_lock.progress``), so every process can show them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run_lock") as batch:
        batch.add_column(sa.Column("progress", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_lock") as batch:
        batch.drop_column("progress")
