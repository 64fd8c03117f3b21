"""calendar subscriptions (iCalendar feeds under a per-subscriber secret token)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import instruments.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_subscription",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "scope_kind",
            sa.Enum("instrument", "lab", "unit", "operator", "enterprise", name="scopekind"),
            nullable=False,
        ),
        sa.Column("scope_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("token_hint", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", instruments.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", instruments.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", instruments.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("calendar_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_subscription_scope_id"), ["scope_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calendar_subscription_token_hash"), ["token_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_calendar_subscription_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calendar_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_subscription_user_id"))
        batch_op.drop_index(batch_op.f("ix_calendar_subscription_token_hash"))
        batch_op.drop_index(batch_op.f("ix_calendar_subscription_scope_id"))
    op.drop_table("calendar_subscription")
    if op.get_bind().dialect.name == "postgresql":
        sa.Enum(name="scopekind").drop(op.get_bind(), checkfirst=True)
