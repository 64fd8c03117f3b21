"""enterprises carry their verification by the programme office (issue 23, office console)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 08:40:00

``enterprise.verified_at`` is when the programme office checked a registration against the
business registry (null: not yet), ``enterprise.verified_by`` who did. Existing rows are not
verified.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import instruments.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("enterprise", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_at", instruments.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("verified_by", S(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("enterprise", schema=None) as batch_op:
        batch_op.drop_column("verified_by")
        batch_op.drop_column("verified_at")
