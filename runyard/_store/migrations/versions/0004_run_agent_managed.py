"""An explicit flag on runs that the agent runs (submitted scripts).

Before it, "the run's definition has a snapshot_id" stood for it; existing rows are set
from that.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("agent_managed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    runs = sa.table(
        "runs",
        sa.column("run_id", sa.String()),
        sa.column("definition", sa.JSON()),
        sa.column("agent_managed", sa.Boolean()),
    )
    bind = op.get_bind()
    managed = [
        row.run_id
        for row in bind.execute(sa.select(runs.c.run_id, runs.c.definition))
        if isinstance(row.definition, dict) and "snapshot_id" in row.definition
    ]
    for start in range(0, len(managed), 500):
        chunk = managed[start : start + 500]
        bind.execute(runs.update().where(runs.c.run_id.in_(chunk)).values(agent_managed=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("agent_managed")
