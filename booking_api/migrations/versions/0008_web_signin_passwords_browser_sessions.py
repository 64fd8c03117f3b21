"""web sign-in: a user's Argon2 password hash, browser sessions (issue 22)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 04:00:00

``app_user.password_hash`` is nullable: existing users keep signing in with API tokens until an
admin gives them a password. ``browser_session`` holds one row per sign-in (the cookie's hash,
its CSRF token, expiry and revocation), so logout and a password change end it on the server.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import instruments.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = instruments.db.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", S(), nullable=True))
    op.create_table(
        "browser_session",
        sa.Column("id", S(), nullable=False),
        sa.Column("user_id", S(), nullable=False),
        sa.Column("token_hash", S(), nullable=False),
        sa.Column("csrf_token", S(), nullable=False),
        sa.Column("created_at", T(timezone=True), nullable=False),
        sa.Column("expires_at", T(timezone=True), nullable=False),
        sa.Column("revoked_at", T(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("browser_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_browser_session_token_hash"), ["token_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_browser_session_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("browser_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_browser_session_user_id"))
        batch_op.drop_index(batch_op.f("ix_browser_session_token_hash"))
    op.drop_table("browser_session")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("password_hash")
