"""idempotency claims (in progress / done, request fingerprint), named run locks, one reward
report per rule set and digest

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:00:00

``idempotency_record`` rows are now written *before* the work (state ``in_progress``, no answer
yet), so ``status`` and ``body`` become nullable; existing rows are finished answers (``done``).
``run_lock`` holds one row per running exclusive job (an allocation round). Reward reports get
a unique (rule_set_code, digest): concurrent runs once froze the same content twice; such
duplicates are identical by construction (the digest covers inputs, rules and results), so the
upgrade keeps the first version of each and drops the later copies.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import instruments.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = instruments.db.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", S(length=20), nullable=False, server_default="done"))
        batch_op.add_column(sa.Column("fingerprint", S(length=64), nullable=False, server_default=""))
        batch_op.alter_column("status", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("body", existing_type=sa.JSON(), nullable=True)
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.alter_column("state", server_default=None, existing_type=S(length=20), existing_nullable=False)
        batch_op.alter_column("fingerprint", server_default=None, existing_type=S(length=64), existing_nullable=False)

    op.create_table(
        "run_lock",
        sa.Column("name", S(length=100), nullable=False),
        sa.Column("token", S(length=40), nullable=False),
        sa.Column("holder", S(), nullable=False),
        sa.Column("acquired_at", T(timezone=True), nullable=False),
        sa.Column("expires_at", T(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )

    op.execute(
        """
        DELETE FROM reward_report
        WHERE EXISTS (
            SELECT 1 FROM reward_report AS first
            WHERE first.rule_set_code = reward_report.rule_set_code
              AND first.digest = reward_report.digest
              AND (first.year < reward_report.year
                   OR (first.year = reward_report.year AND first.version < reward_report.version))
        )
        """
    )
    with op.batch_alter_table("reward_report", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_reward_report_digest", ["rule_set_code", "digest"])


def downgrade() -> None:
    with op.batch_alter_table("reward_report", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reward_report_digest", type_="unique")
    op.drop_table("run_lock")
    op.execute("DELETE FROM idempotency_record WHERE state <> 'done'")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.alter_column("body", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("status", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("state")
