"""request funding: how a booking request pays — cash, any voucher or one voucher (issue 24)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 05:30:00

``booking_request.funding`` (default ``cash``, what every existing request meant),
``voucher_id`` (the voucher asked for, with ``funding = 'voucher'``) and ``cash_fallback``.
A round reserves the voucher it places a request with; the reservation lives on the voucher row
and in the ledger, as for a voucher applied by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    funding = sa.Enum("cash", "any_voucher", "voucher", name="funding")
    funding.create(op.get_bind(), checkfirst=True)
    with op.batch_alter_table("booking_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("funding", funding, nullable=False, server_default="cash"))
        batch_op.add_column(sa.Column("voucher_id", S(), nullable=True))
        batch_op.add_column(sa.Column("cash_fallback", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f("ix_booking_request_voucher_id"), ["voucher_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("booking_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_request_voucher_id"))
        batch_op.drop_column("cash_fallback")
        batch_op.drop_column("voucher_id")
        batch_op.drop_column("funding")
    sa.Enum(name="funding").drop(op.get_bind(), checkfirst=True)
