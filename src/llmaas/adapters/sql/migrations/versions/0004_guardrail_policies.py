"""Guardrail policies: a nullable ``guardrail_policy`` on tiers, organizations and API keys.

NULL inherits (key <- organization <- tier <- the server's default, ``block``), so every existing row
keeps the server's behaviour and nothing needs backfilling.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("tiers", "organizations", "api_keys")


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch copy: SQLite cannot drop and rebuild ``tiers`` and
    # ``organizations`` while other tables' foreign keys point at them.
    for table in TABLES:
        op.add_column(table, sa.Column("guardrail_policy", sa.String(8), nullable=True))


def downgrade() -> None:
    # SQLite has had DROP COLUMN since 3.35 (2021), PostgreSQL always.
    for table in reversed(TABLES):
        op.drop_column(table, "guardrail_policy")
