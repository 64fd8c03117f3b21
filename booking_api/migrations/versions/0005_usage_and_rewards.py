"""usage records, reward rule sets and frozen reward reports

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-22 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import instruments.db

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = instruments.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "usage_record",
        sa.Column("id", S(), nullable=False),
        sa.Column("instrument_id", S(), nullable=False),
        sa.Column("booking_id", S(), nullable=True),
        sa.Column("enterprise_id", S(), nullable=True),
        sa.Column("user_id", S(), nullable=True),
        sa.Column("user_name", S(), nullable=False),
        sa.Column(
            "source", sa.Enum("check_out", "operator_log", "walk_in", "csv_import", name="usagesource"), nullable=False
        ),
        sa.Column("service_mode", S(), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("started_at", T(timezone=True), nullable=False),
        sa.Column("ended_at", T(timezone=True), nullable=False),
        sa.Column("setup_minutes", sa.Integer(), nullable=False),
        sa.Column("measure_minutes", sa.Integer(), nullable=False),
        sa.Column("post_minutes", sa.Integer(), nullable=False),
        sa.Column("idle_minutes", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("voucher_fen", sa.BigInteger(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("notes", S(), nullable=False),
        sa.Column("import_batch", S(), nullable=True),
        sa.Column("created_at", T(timezone=True), nullable=False),
        sa.Column("created_by", S(), nullable=True),
        sa.ForeignKeyConstraint(["instrument_id"], ["instrument.id"]),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"]),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("booking_id"),
        sa.CheckConstraint("voucher_fen <= fee_fen", name="ck_usage_voucher_le_fee"),
        sa.CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="ck_usage_rating"),
    )
    with op.batch_alter_table("usage_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_record_instrument_id"), ["instrument_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_record_enterprise_id"), ["enterprise_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_record_started_at"), ["started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_record_import_batch"), ["import_batch"], unique=False)
        batch_op.create_index("ix_usage_record_instrument_started", ["instrument_id", "started_at"], unique=False)

    op.create_table(
        "reward_rule_set",
        sa.Column("id", S(), nullable=False),
        sa.Column("code", S(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", S(), nullable=False),
        sa.Column("region", S(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", T(timezone=True), nullable=False),
        sa.Column("created_by", S(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "version", name="uq_reward_rule_set_code_version"),
    )
    with op.batch_alter_table("reward_rule_set", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reward_rule_set_code"), ["code"], unique=False)

    op.create_table(
        "reward_report",
        sa.Column("id", S(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rule_set_id", S(), nullable=False),
        sa.Column("rule_set_code", S(), nullable=False),
        sa.Column("rule_set_version", sa.Integer(), nullable=False),
        sa.Column("period_start", T(timezone=True), nullable=False),
        sa.Column("period_end", T(timezone=True), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=True),
        sa.Column("total_reward_fen", sa.BigInteger(), nullable=False),
        sa.Column("digest", S(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("created_at", T(timezone=True), nullable=False),
        sa.Column("created_by", S(), nullable=True),
        sa.ForeignKeyConstraint(["rule_set_id"], ["reward_rule_set.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule_set_code", "year", "version", name="uq_reward_report_version"),
    )
    with op.batch_alter_table("reward_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reward_report_year"), ["year"], unique=False)
        batch_op.create_index(batch_op.f("ix_reward_report_rule_set_code"), ["rule_set_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_reward_report_digest"), ["digest"], unique=False)


def downgrade() -> None:
    op.drop_table("reward_report")
    op.drop_table("reward_rule_set")
    op.drop_table("usage_record")
    if op.get_bind().dialect.name == "postgresql":
        sa.Enum(name="usagesource").drop(op.get_bind(), checkfirst=True)
