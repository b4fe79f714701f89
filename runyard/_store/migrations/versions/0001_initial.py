"""The whole schema of the first release.

Revision ID: 0001
Revises:
Create Date: 2025-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from runyard._store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("created_time", UTCDateTime(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("last_run_number", sa.Integer(), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(255), primary_key=True),
        sa.Column("experiment_id", sa.String(36), sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("experiment_name", sa.String(255), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("run_type", sa.String(128), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("parent_run_id", sa.String(255), sa.ForeignKey("runs.run_id")),
        sa.Column("display_name", sa.Text()),
        sa.Column("description", sa.Text()),
        sa.Column("created_time", UTCDateTime(), nullable=False),
        sa.Column("start_time", UTCDateTime()),
        sa.Column("end_time", UTCDateTime()),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("runtime", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON()),
        sa.Column("spool_offset", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("experiment_id", "number", name="uq_runs_experiment_number"),
    )
    op.create_index("ix_runs_parent", "runs", ["parent_run_id"])
    op.create_table(
        "metric_series",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(255), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("vtype", sa.SmallInteger()),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("run_id", "name", name="uq_metric_series_run_name"),
    )
    op.create_table(
        "metric_points",
        sa.Column("series_id", sa.Integer(), sa.ForeignKey("metric_series.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True),
        sa.Column("vtype", sa.SmallInteger(), nullable=False),
        sa.Column("num", sa.Float(precision=53)),
        sa.Column("ival", sa.BigInteger()),
        sa.Column("txt", sa.Text()),
        sa.Column("time", sa.Float(precision=53), nullable=False),
        sa.Column("step", sa.BigInteger()),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "model_names",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("last_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(255), sa.ForeignKey("model_names.name"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("created_time", UTCDateTime(), nullable=False),
        sa.Column("artifact_prefix", sa.Text(), nullable=False),
        sa.Column("model_path", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("run_id", sa.String(255)),
        sa.Column("experiment_name", sa.String(255)),
        sa.Column("model_framework", sa.String(64)),
        sa.Column("model_framework_version", sa.String(64)),
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])


def downgrade() -> None:
    for table in (
        "model_versions",
        "model_names",
        "metric_points",
        "metric_series",
        "runs",
        "experiments",
    ):
        op.drop_table(table)
