"""Ingested offsets of a run's other metric spools: a distributed run's ranks after the
first each write their own spool (a spool has one writer).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spool_offsets",
        sa.Column("run_id", sa.String(255), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("spool", sa.String(64), primary_key=True),
        sa.Column("offset", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("spool_offsets")
