"""mail outbox and per-user mail preferences (issue 24, part 3)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 05:30:00

``outbox_mail`` holds one row per mail, written in the transaction of its event and sent by the
delivery job (unique ``idempotency_key``: one event gives one mail per recipient);
``mail_preference`` holds a user's mail language and opt-outs.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import instruments.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = instruments.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "outbox_mail",
        sa.Column("id", S(), nullable=False),
        sa.Column("idempotency_key", S(), nullable=False),
        sa.Column("kind", S(), nullable=False),
        sa.Column("recipient", S(), nullable=False),
        sa.Column("user_id", S(), nullable=True),
        sa.Column("language", S(), nullable=False),
        sa.Column("subject", S(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("template", S(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.Enum("queued", "sending", "sent", "failed", name="mailstatus"), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", T(timezone=True), nullable=False),
        sa.Column("claim_token", S(), nullable=True),
        sa.Column("claimed_at", T(timezone=True), nullable=True),
        sa.Column("last_error", S(), nullable=False),
        sa.Column("created_at", T(timezone=True), nullable=False),
        sa.Column("sent_at", T(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_mail_idempotency_key"),
    )
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_mail_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_mail_next_attempt_at"), ["next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_mail_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_mail_user_id"), ["user_id"], unique=False)
    op.create_table(
        "mail_preference",
        sa.Column("user_id", S(), nullable=False),
        sa.Column("language", S(), nullable=False),
        sa.Column("opt_outs", sa.JSON(), nullable=False),
        sa.Column("updated_at", T(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("mail_preference")
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_mail_user_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_mail_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_mail_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_mail_kind"))
    op.drop_table("outbox_mail")
    sa.Enum(name="mailstatus").drop(op.get_bind(), checkfirst=True)
