"""the version tokens of the per-worker booking-facts cache (issue 25)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 12:00:00

``fact_version`` holds one random token per cached fact set: ("instrument", id) for an
instrument's opening rules and availability exceptions, ("calendar", "") for the calendar
overrides. Every write of those tables gives the set a new token in its transaction
(``instruments.fact_cache``); a booking reads the tokens in its lock statement and reads the facts
from its worker's cache while the token is unchanged. Seeded with a token for every instrument and
the calendar, so existing data is cached from the first booking; a missing row only means "not
cached".
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    table = op.create_table(
        "fact_version",
        sa.Column("kind", S(), nullable=False),
        sa.Column("ref", S(), nullable=False),
        sa.Column("token", S(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "ref"),
    )
    ids = [r[0] for r in op.get_bind().execute(sa.text("SELECT id FROM instrument")).all()]
    rows = [{"kind": "calendar", "ref": "", "token": secrets.token_hex(8)}]
    rows += [{"kind": "instrument", "ref": i, "token": secrets.token_hex(8)} for i in ids]
    op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("fact_version")
