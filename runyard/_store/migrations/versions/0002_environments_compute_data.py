"""Environments, compute targets, datastores and datasets (issue 4).

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from runyard._store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("definition_json", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_time", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "compute_targets",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("compute_type", sa.String(64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("provisioning_state", sa.String(32), nullable=False),
        sa.Column("created_time", UTCDateTime(), nullable=False),
        sa.Column("modified_time", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "datastores",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("datastore_type", sa.String(64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_time", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("version", sa.Integer()),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_time", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_datasets_name_version"),
    )


def downgrade() -> None:
    for table in ("datasets", "datastores", "compute_targets", "environments"):
        op.drop_table(table)
