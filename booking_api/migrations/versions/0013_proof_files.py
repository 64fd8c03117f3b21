"""proof files: redemption proofs (contract, invoice, payment proof, service record) stored by the
platform (issue 23, the lab manager's console)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 08:40:00

``proof_file`` holds the bytes of each uploaded PDF, JPEG or PNG with its name, the content type
judged from its first bytes, size, SHA-256, owner unit and uploader; a claim item's ``proofs``
names one as ``"proof-file:<id>"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import instruments.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = instruments.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "proof_file",
        sa.Column("id", S(), nullable=False),
        sa.Column("owner_unit_id", S(), nullable=False),
        sa.Column("uploaded_by", S(), nullable=True),
        sa.Column("name", S(length=200), nullable=False),
        sa.Column("content_type", S(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", S(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", T(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_unit_id"], ["owner_unit.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proof_file_owner_unit_id", "proof_file", ["owner_unit_id"])
    op.create_index("ix_proof_file_sha256", "proof_file", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_proof_file_sha256", table_name="proof_file")
    op.drop_index("ix_proof_file_owner_unit_id", table_name="proof_file")
    op.drop_table("proof_file")
