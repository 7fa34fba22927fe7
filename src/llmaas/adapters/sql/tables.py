"""Table definitions (SQLAlchemy Core). No column anywhere can hold prompt or response text.

Every string column is short and capped (ids, names, a ledger note); the only JSON columns hold
configuration (allow-lists, a data policy), never request content. Money is integer micros in
``BigInteger`` columns. ``tests/contract/test_usage_repository.py`` checks both rules on ``metadata``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    func,
    text,
)

from llmaas.adapters.sql.columns import UtcDateTime, limit_columns, models_json

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TENANT_ID = String(63)
"""Tier and organization ids: ``domain.tenants.TIER_ID_PATTERN`` allows at most 63 characters."""

GUARD_POLICY = String(8)
"""``off``, ``flag`` or ``block``; NULL inherits (key <- organization <- tier <- server)."""

tiers = Table(
    "tiers",
    metadata,
    Column("id", TENANT_ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", String(200), nullable=False, server_default=""),
    Column("purchase_credit_micros", BigInteger, nullable=True),
    Column("allowed_models", models_json(), nullable=True),
    *limit_columns(),
    Column("guardrail_policy", GUARD_POLICY, nullable=True),
    Column("created_at", UtcDateTime, nullable=False, server_default=func.now()),
    Column("updated_at", UtcDateTime, nullable=False, server_default=func.now()),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", TENANT_ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tier_id", TENANT_ID, ForeignKey("tiers.id"), nullable=False),
    *limit_columns(),
    Column("allowed_models", models_json(), nullable=True),
    Column("credit_granted_micros", BigInteger, nullable=False, server_default=text("0")),
    Column("data_policy", JSON, nullable=False, server_default="{}"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("guardrail_policy", GUARD_POLICY, nullable=True),
)

credit_ledger = Table(
    "credit_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "organization_id", TENANT_ID, ForeignKey("organizations.id"), nullable=False, index=True
    ),
    Column("micros", BigInteger, nullable=False),
    Column("note", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("allowed_models", models_json(), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column(
        "organization_id",
        TENANT_ID,
        ForeignKey("organizations.id"),
        nullable=False,
        server_default="default",
        index=True,
    ),
    *limit_columns(),
    Column("previous_key_hash", String(64), nullable=True),
    Column("previous_valid_until", UtcDateTime, nullable=True),
    Column("guardrail_policy", GUARD_POLICY, nullable=True),
)

# Usage tables carry no foreign keys on purpose: metering must never fail (and lose a batch) because
# a key or organization was renamed or removed, and reports keep the history of deleted keys.
USAGE_KEY_ID = String(64)
MODEL_NAME = String(200)

usage_records = Table(
    "usage_records",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    # 128: the request id may come from the client's X-Request-ID header, which allows that much.
    Column("request_id", String(128), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False, index=True),
    Column("organization_id", TENANT_ID, nullable=False),
    Column("key_id", USAGE_KEY_ID, nullable=False),
    Column("model", MODEL_NAME, nullable=False),
    Column("deployment", String(200), nullable=False),
    Column("endpoint", String(64), nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("reasoning_tokens", Integer, nullable=False),
    Column("audio_ms", Integer, nullable=False),
    Column("cost_micros", BigInteger, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("time_to_first_token_ms", Integer, nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("streamed", Boolean, nullable=False),
    Column("batch", Boolean, nullable=False),
)

ROLLUP_KEY_COLUMNS: tuple[str, ...] = (
    "granularity",
    "bucket_start",
    "organization_id",
    "key_id",
    "model",
)
ROLLUP_COUNTER_COLUMNS: tuple[str, ...] = (
    "requests",
    "failed_requests",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "audio_ms",
    "cost_micros",
    "latency_ms_total",
)
"""Named like the fields of ``domain.usage_reports.RollupTotals``."""

usage_rollups = Table(
    "usage_rollups",
    metadata,
    Column("granularity", String(8), primary_key=True),
    Column("bucket_start", UtcDateTime, primary_key=True),
    Column("organization_id", TENANT_ID, primary_key=True),
    Column("key_id", USAGE_KEY_ID, primary_key=True),
    Column("model", MODEL_NAME, primary_key=True),
    *(Column(name, BigInteger, nullable=False) for name in ROLLUP_COUNTER_COLUMNS),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("sequence", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("source", String(64), nullable=False),
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
"""Append-only (triggers refuse UPDATE and DELETE); ``before``/``after`` summarise configuration."""

schema_compatibility = Table(
    "schema_compatibility",
    metadata,
    Column("revision", String(32), primary_key=True),
    Column("oldest_compatible", String(32), nullable=False),
)
"""One row per migration since 0005: the oldest code revision that still runs on a database at that
revision. An expand migration (new tables, new nullable columns) names its predecessor, so the
previous version keeps serving, and restarts, while the new one rolls out; a contract migration
(dropping what the previous version still reads) names itself."""
