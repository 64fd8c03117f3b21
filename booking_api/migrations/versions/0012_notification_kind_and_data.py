"""notifications carry their facts structured: kind and data (issue 22)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:30:00

``notification.kind`` names what a message is about (``round_outcome``; '' for plain text) and
``notification.data`` holds its facts (instrument names, instants with their zone, request and
booking ids), so the web inbox says them in its reader's language. Existing rows get '' and {}.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", S(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("data", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("data")
        batch_op.drop_column("kind")
