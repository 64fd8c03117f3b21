"""freed time goes to those waiting: the freed-time queue, offers, and their settings (issue 24)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 09:00:00

``freed_time`` queues the span a cancellation, move or no-show frees (written in the booking
action's transaction, handled by the ``time_offers`` job); ``time_offer`` is the offer of such a
span to a waiting request (offered / accepted / declined / expired / superseded). The booking
policy says whether an instrument re-offers freed time (``reoffer_freed_time``, on) and how long an
offer holds (``offer_minutes``, 120); a request may ask to be booked at once (``auto_book``, off).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import instruments.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = instruments.db.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("booking_policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reoffer_freed_time", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("offer_minutes", sa.Integer(), nullable=False, server_default="120"))
    with op.batch_alter_table("booking_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_book", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "freed_time",
        sa.Column("id", S(), nullable=False),
        sa.Column("instrument_id", S(), nullable=False),
        sa.Column("booking_id", S(), nullable=True),
        sa.Column("start", T(), nullable=False),
        sa.Column("end", T(), nullable=False),
        sa.Column("cause", S(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("handled_at", T(), nullable=True),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"]),
        sa.ForeignKeyConstraint(["instrument_id"], ["instrument.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_freed_time_instrument_id"), "freed_time", ["instrument_id"], unique=False)
    op.create_index(op.f("ix_freed_time_booking_id"), "freed_time", ["booking_id"], unique=False)
    op.create_index(op.f("ix_freed_time_handled_at"), "freed_time", ["handled_at"], unique=False)
    op.create_table(
        "time_offer",
        sa.Column("id", S(), nullable=False),
        sa.Column("freed_id", S(), nullable=False),
        sa.Column("instrument_id", S(), nullable=False),
        sa.Column("request_id", S(), nullable=False),
        sa.Column("enterprise_id", S(), nullable=False),
        sa.Column("start", T(), nullable=False),
        sa.Column("end", T(), nullable=False),
        sa.Column("span_start", T(), nullable=False),
        sa.Column("span_end", T(), nullable=False),
        sa.Column("status", S(), nullable=False),
        sa.Column("expires_at", T(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("decided_at", T(), nullable=True),
        sa.Column("booking_id", S(), nullable=True),
        sa.Column("auto_booked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"]),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"]),
        sa.ForeignKeyConstraint(["freed_id"], ["freed_time.id"]),
        sa.ForeignKeyConstraint(["instrument_id"], ["instrument.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["booking_request.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("freed_id", "instrument_id", "request_id", "enterprise_id", "status", "expires_at"):
        op.create_index(op.f(f"ix_time_offer_{column}"), "time_offer", [column], unique=False)


def downgrade() -> None:
    for column in ("freed_id", "instrument_id", "request_id", "enterprise_id", "status", "expires_at"):
        op.drop_index(op.f(f"ix_time_offer_{column}"), table_name="time_offer")
    op.drop_table("time_offer")
    for column in ("handled_at", "booking_id", "instrument_id"):
        op.drop_index(op.f(f"ix_freed_time_{column}"), table_name="freed_time")
    op.drop_table("freed_time")
    with op.batch_alter_table("booking_request", schema=None) as batch_op:
        batch_op.drop_column("auto_book")
    with op.batch_alter_table("booking_policy", schema=None) as batch_op:
        batch_op.drop_column("offer_minutes")
        batch_op.drop_column("reoffer_freed_time")
