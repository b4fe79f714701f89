"""Environment labels (v1's Environment.label / Environment.get(label=)).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environment_labels",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("label", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("environment_labels")
