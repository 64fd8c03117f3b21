"""a complaint may be dismissed, not only resolved (issue 23, the programme office's credit page)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 08:30:00

``complaint.status`` gains ``dismissed``: the programme office looked into it and found no ground
(its reason is in ``resolution``, as a resolution's words are). On PostgreSQL the enum type gets
the value; SQLite stores the name as text and needs nothing. Downgrading turns dismissed
complaints into resolved ones (their reason kept) and drops the value.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE complaintstatus ADD VALUE IF NOT EXISTS 'dismissed'")


def downgrade() -> None:
    op.execute("UPDATE complaint SET status = 'resolved' WHERE status = 'dismissed'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE complaintstatus RENAME TO complaintstatus_old")
        op.execute("CREATE TYPE complaintstatus AS ENUM ('open', 'resolved')")
        op.execute("ALTER TABLE complaint ALTER COLUMN status TYPE complaintstatus USING status::text::complaintstatus")
        op.execute("DROP TYPE complaintstatus_old")
