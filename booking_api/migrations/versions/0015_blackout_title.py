"""a blackout's public title beside its reason (issue 23, the lab manager's console)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:40:00

``availability_exception.title`` is what the public instrument page shows ("Closed: maintenance");
``reason`` stays the longer why. Existing rows get '' (the page then shows the reason as before).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("availability_exception", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title", S(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("availability_exception", schema=None) as batch_op:
        batch_op.drop_column("title")
