"""Version N+1 of the schema, for tests of rolling upgrades: the packaged migrations plus two more.

``9001`` is an *expand* migration (a new nullable column; this code never reads it, so it declares
0005 compatible); ``9002`` is a *contract* migration (it drops a column this code reads, so it declares
only itself compatible). They are applied with Alembic from a copy of the migrations folder, exactly as
a newer llmaas would apply its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic import command
from alembic.config import Config

from llmaas.adapters.sql import schema

EXPAND = "9001"
CONTRACT = "9002"

_EXPAND_SCRIPT = '''"""Expand: api_keys.team, nullable; the previous code never reads it.

Revision ID: 9001
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("team", sa.String(64), nullable=True))
    op.execute("INSERT INTO schema_compatibility (revision, oldest_compatible) VALUES ('9001', '0005')")


def downgrade() -> None:
    op.execute("DELETE FROM schema_compatibility WHERE revision = '9001'")
    op.drop_column("api_keys", "team")
'''

_CONTRACT_SCRIPT = '''"""Contract: api_keys.previous_valid_until goes; the previous code reads it.

Revision ID: 9002
Revises: 9001
"""

import sqlalchemy as sa
from alembic import op

revision = "9002"
down_revision = "9001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("api_keys", "previous_valid_until")
    op.execute("INSERT INTO schema_compatibility (revision, oldest_compatible) VALUES ('9002', '9002')")


def downgrade() -> None:
    op.execute("DELETE FROM schema_compatibility WHERE revision = '9002'")
    op.add_column("api_keys", sa.Column("previous_valid_until", sa.DateTime(), nullable=True))
'''


def future_migrations(directory: Path) -> Path:
    """A migrations folder holding every packaged migration and 9001, 9002 after them."""
    source = Path(schema.__file__).parent / "migrations"
    target = directory / "migrations"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "versions" / "9001_expand.py").write_text(_EXPAND_SCRIPT, encoding="utf-8")
    (target / "versions" / "9002_contract.py").write_text(_CONTRACT_SCRIPT, encoding="utf-8")
    return target


def apply(migrations: Path, url: str, revision: str) -> None:
    """Migrate ``url`` to ``revision`` as a newer llmaas would (``llmaas migrate`` of version N+1)."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)
