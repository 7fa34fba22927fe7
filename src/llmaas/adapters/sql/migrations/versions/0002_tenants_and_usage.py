"""Tiers, organizations, the credit ledger, per-key limits and rotation, usage records and rollups.

A migration is a frozen snapshot: the seeded tiers are written out here rather than imported from
``llmaas.domain.tenants.DEFAULT_TIERS``, so a later change to the defaults cannot rewrite history.
(``tests/integration/sql/test_migrations.py`` checks that the two still agree.)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIMITS = (
    "requests_per_minute",
    "tokens_per_minute",
    "output_tokens_per_hour",
    "output_tokens_per_day",
    "max_concurrent_requests",
    "monthly_budget_micros",
)
COUNTERS = (
    "requests",
    "failed_requests",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "audio_ms",
    "cost_micros",
    "latency_ms_total",
)
EUR = 1_000_000
API_KEY_FK = "fk_api_keys_organization_id_organizations"


def _limit_columns() -> list[sa.Column[Any]]:
    return [sa.Column(name, sa.BigInteger(), nullable=True) for name in LIMITS]


def _tier(
    tier_id: str,
    name: str,
    *,
    budget_eur: int | None = None,
    per_hour: int | None = None,
    per_day: int | None = None,
    credit_eur: int | None = None,
    description: str = "",
) -> dict[str, Any]:
    limits: dict[str, Any] = dict.fromkeys(LIMITS)
    limits.update(
        monthly_budget_micros=budget_eur * EUR if budget_eur is not None else None,
        output_tokens_per_hour=per_hour,
        output_tokens_per_day=per_day,
    )
    return {
        "id": tier_id,
        "name": name,
        "description": description,
        "purchase_credit_micros": credit_eur * EUR if credit_eur is not None else None,
        **limits,
    }


SEED_TIERS = [
    _tier(
        "tier-1", "Tier 1", budget_eur=1_000, per_hour=150_000, per_day=3_600_000, credit_eur=200
    ),
    _tier(
        "tier-2", "Tier 2", budget_eur=3_000, per_hour=300_000, per_day=7_200_000, credit_eur=500
    ),
    _tier(
        "tier-3", "Tier 3", budget_eur=5_000, per_hour=450_000, per_day=10_800_000, credit_eur=1_000
    ),
    _tier(
        "tier-4",
        "Tier 4",
        budget_eur=10_000,
        per_hour=600_000,
        per_day=14_400_000,
        credit_eur=4_000,
    ),
    _tier(
        "monthly-billing",
        "Monthly billing",
        description="Invoiced monthly; caps and windows come from the organization's contract.",
    ),
]


def upgrade() -> None:
    _create_tenants()
    _seed_tenants()
    _extend_api_keys()
    _create_usage()


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(API_KEY_FK, type_="foreignkey")
        batch.drop_index("ix_api_keys_organization_id")
        for name in ("organization_id", *LIMITS, "previous_key_hash", "previous_valid_until"):
            batch.drop_column(name)
    op.drop_table("usage_rollups")
    op.drop_index("ix_usage_records_occurred_at", table_name="usage_records")
    op.drop_table("usage_records")
    op.drop_index("ix_credit_ledger_organization_id", table_name="credit_ledger")
    op.drop_table("credit_ledger")
    op.drop_table("organizations")
    op.drop_table("tiers")


def _create_tenants() -> None:
    op.create_table(
        "tiers",
        sa.Column("id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(200), nullable=False, server_default=""),
        sa.Column("purchase_credit_micros", sa.BigInteger(), nullable=True),
        sa.Column("allowed_models", sa.JSON(), nullable=True),
        *_limit_columns(),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tiers")),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier_id", sa.String(63), nullable=False),
        *_limit_columns(),
        sa.Column("allowed_models", sa.JSON(), nullable=True),
        sa.Column(
            "credit_granted_micros", sa.BigInteger(), nullable=False, server_default=sa.text("0")
        ),
        sa.Column("data_policy", sa.JSON(), nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tier_id"], ["tiers.id"], name=op.f("fk_organizations_tier_id_tiers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "credit_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.String(63), nullable=False),
        sa.Column("micros", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_credit_ledger_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_ledger")),
    )
    op.create_index(op.f("ix_credit_ledger_organization_id"), "credit_ledger", ["organization_id"])


def _seed_tenants() -> None:
    """The default tiers, and the organization every existing API key is moved into."""
    tiers = sa.table(
        "tiers",
        *(sa.column(name) for name in ("id", "name", "description", "purchase_credit_micros")),
        *(sa.column(name, sa.BigInteger()) for name in LIMITS),
    )
    op.bulk_insert(tiers, SEED_TIERS)
    organizations = sa.table(
        "organizations",
        sa.column("id"),
        sa.column("name"),
        sa.column("tier_id"),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        organizations.insert().values(
            id="default",
            name="Default organization",
            tier_id="monthly-billing",
            created_at=sa.func.now(),
        )
    )


def _extend_api_keys() -> None:
    # Batch mode: SQLite cannot add a foreign key to an existing table, so Alembic rebuilds it.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("organization_id", sa.String(63), nullable=False, server_default="default")
        )
        for column in _limit_columns():
            batch.add_column(column)
        batch.add_column(sa.Column("previous_key_hash", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch.create_foreign_key(API_KEY_FK, "organizations", ["organization_id"], ["id"])
        batch.create_index("ix_api_keys_organization_id", ["organization_id"])


def _create_usage() -> None:
    op.create_table(
        "usage_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.String(63), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("deployment", sa.String(200), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=False),
        sa.Column("audio_ms", sa.Integer(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("time_to_first_token_ms", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("streamed", sa.Boolean(), nullable=False),
        sa.Column("batch", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
    )
    op.create_index(op.f("ix_usage_records_occurred_at"), "usage_records", ["occurred_at"])
    op.create_table(
        "usage_rollups",
        sa.Column("granularity", sa.String(8), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.String(63), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTERS),
        sa.PrimaryKeyConstraint(
            "granularity",
            "bucket_start",
            "organization_id",
            "key_id",
            "model",
            name=op.f("pk_usage_rollups"),
        ),
    )
