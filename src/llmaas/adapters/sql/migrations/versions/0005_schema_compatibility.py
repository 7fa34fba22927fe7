"""Schema compatibility: which code versions may run on this database (rolling upgrades).

Every migration from now on adds a row naming the oldest code revision that still runs on the schema
it leaves (see ``llmaas.adapters.sql.schema``). This one is an expand migration itself: version 0004
of the code never reads the new table, so it may keep serving on it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "schema_compatibility",
        sa.Column("revision", sa.String(32), nullable=False),
        sa.Column("oldest_compatible", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_schema_compatibility")),
    )
    op.bulk_insert(table, [{"revision": revision, "oldest_compatible": down_revision}])


def downgrade() -> None:
    op.drop_table("schema_compatibility")
