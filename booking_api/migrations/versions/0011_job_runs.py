"""job runs: how often each process ran each scheduled job (issue 25, several workers)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 05:40:00

``job_run`` has one row per job and process (host, pid) with its run count and the last run's
outcome: it shows which process leads the jobs (the job leader's lease itself is a ``run_lock``
row named ``job_leader``) and that it is alive (the heartbeat job).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import instruments.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = instruments.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("job", S(length=100), nullable=False),
        sa.Column("host", S(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("first_at", T(timezone=True), nullable=False),
        sa.Column("last_at", T(timezone=True), nullable=False),
        sa.Column("last_outcome", S(), nullable=False),
        sa.PrimaryKeyConstraint("job", "host", "pid"),
    )


def downgrade() -> None:
    op.drop_table("job_run")
