"""``llmaas backup``: a copy taken while usage keeps being written restores into a fresh database with
keys that authenticate, usage whose records and rollups agree, and an intact audit chain; a tampered
copy, a missing or different server secret, and a database still in use are all refused loudly."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from llmaas.adapters.sql import schema
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.app import build_core
from llmaas.cli import app
from llmaas.cli_backup import libpq_url
from llmaas.domain.errors import InvalidApiKey
from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.settings import Settings
from tests.conftest import postgres_database
from tests.integration.cli.conftest import Cli

BATCH = 25
"""Usage records per transaction: a consistent copy holds whole batches only."""
START = datetime(2026, 3, 1, tzinfo=UTC)


def bound(data_dir: Path, database_url: str) -> Cli:
    env: dict[str, str | None] = {
        "LLMAAS_DATA_DIR": str(data_dir),
        "LLMAAS_DATABASE_URL": database_url,
        "LLMAAS_REDIS_URL": None,
        "LLMAAS_SERVER_SECRET": None,
        "COLUMNS": "200",
    }
    return Cli(CliRunner(), env, data_dir)


@pytest.fixture
def source(tmp_path: Path, database_url: str) -> Cli:
    cli = bound(tmp_path / "source", database_url)
    cli.ok("migrate")
    return cli


@pytest.fixture
def fresh_url(tmp_path: Path, database_url: str) -> Iterator[str]:
    """A second, empty database on the same engine: where the backup is restored."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'llmaas.db'}"
        return
    with postgres_database() as url:
        yield url


def restored(tmp_path: Path, url: str, secret_from: Cli) -> Cli:
    """A fresh installation that kept the server secret beside the backup, as the warning asks."""
    cli = bound(tmp_path / "restored", url)
    cli.data_dir.mkdir(exist_ok=True)
    shutil.copy2(secret_from.data_dir / "server-secret", cli.data_dir / "server-secret")
    return cli


def administer(cli: Cli) -> dict[str, str]:
    """Keys and organizations, each change leaving an audit record; returns the live key."""
    cli.ok("tiers", "create", "gold", "--name", "Gold", "--rpm", "100")
    cli.ok("orgs", "create", "acme", "--name", "ACME", "--tier", "gold")
    cli.ok("orgs", "credit", "acme", "--eur", "50")
    live = cli.json("keys", "create", "--name", "live", "--org", "acme", "--rpm", "60")
    gone = cli.json("keys", "create", "--name", "gone")
    cli.ok("keys", "revoke", gone["id"])
    return {"live": live["key"], "live_id": live["id"], "gone": gone["key"]}


def _event(number: int) -> UsageEvent:
    return UsageEvent(
        request_id=f"req-{number:07d}",
        key_id=f"key{number % 7:09d}",
        model=("small", "large")[number % 2],
        deployment="local",
        endpoint="chat.completions",
        usage=TokenUsage(10 + number % 13, 20 + number % 5, 0),
        latency_ms=3.0,
        outcome=Outcome.OK,
        streamed=False,
        organization_id="acme",
        cost_micros=100 + number,
        occurred_at=START + timedelta(seconds=number),
    )


class UsageWriter(threading.Thread):
    """Commits usage batches as fast as it can, as a busy server's usage writer would."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self._url = url
        self.batches = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._write())
        except BaseException as error:  # reported by the test (wait_for, the final assert)
            self.error = error

    async def _write(self) -> None:
        engine = create_engine(self._url)
        unit_of_work = SqlUnitOfWorkFactory(engine)
        try:
            while not self.stop.is_set():
                first = self.batches * BATCH
                async with unit_of_work() as uow:
                    await uow.usage.add_batch([_event(n) for n in range(first, first + BATCH)])
                    await uow.commit()
                self.batches += 1
        finally:
            await engine.dispose()

    def wait_for(self, batches: int) -> None:
        for _ in range(600):
            if self.batches >= batches or self.error is not None:
                break
            threading.Event().wait(0.05)
        assert self.error is None, self.error
        assert self.batches >= batches


def _pad(url: str) -> None:
    """32 MB more for SQLite, so its copy takes long enough for the writer to commit meanwhile."""
    database = make_url(url).database
    if make_url(url).get_backend_name() != "sqlite" or database is None:
        return
    connection = sqlite3.connect(database)
    try:
        connection.execute("CREATE TABLE padding (data BLOB)")
        connection.executemany("INSERT INTO padding VALUES (randomblob(1048576))", [()] * 32)
        connection.commit()
    finally:
        connection.close()


async def _usage(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            ids = (
                await connection.execute(text("SELECT request_id FROM usage_records ORDER BY id"))
            ).scalars()
            raw = (
                await connection.execute(
                    text("SELECT count(*), sum(cost_micros), sum(prompt_tokens) FROM usage_records")
                )
            ).one()
            rolled = (
                await connection.execute(
                    text(
                        "SELECT sum(requests), sum(cost_micros), sum(prompt_tokens) "
                        "FROM usage_rollups WHERE granularity = 'day'"
                    )
                )
            ).one()
            return {"ids": list(ids), "raw": tuple(raw), "rolled": tuple(rolled)}
    finally:
        await engine.dispose()


async def _authenticate(cli: Cli, url: str, key: str) -> str:
    core = build_core(Settings(data_dir=cli.data_dir, database_url=url, redis_url=None))
    try:
        return (await core.authenticator.authenticate(f"Bearer {key}")).key_id
    finally:
        await core.close()


def test_a_backup_taken_during_writes_restores_consistent_keys_usage_and_audit(
    source: Cli, database_url: str, fresh_url: str, tmp_path: Path
) -> None:
    keys = administer(source)
    audit_records = len(source.json("audit", "list", "--limit", "1000"))
    backup = tmp_path / "llmaas.backup"
    _pad(database_url)
    writer = UsageWriter(database_url)
    writer.start()
    try:
        writer.wait_for(40)  # a few thousand rows, so the copy takes more than an instant
        before = writer.batches
        created = source.ok("backup", "create", str(backup))
        after = writer.batches
        writer.wait_for(after + 2)
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert writer.error is None, writer.error
    assert after > before, "the writer must have committed while the backup ran"
    secret = (source.data_dir / "server-secret").read_text().strip()
    assert "NOT in this backup" in created.stderr
    assert secret not in created.output
    assert secret.encode() not in backup.read_bytes()
    assert backup.stat().st_mode & 0o077 == 0

    target = restored(tmp_path, fresh_url, source)
    report = target.json("backup", "restore", str(backup), "--yes")

    assert report["revision"] == schema.head_revision()
    assert report["schema"] == "current"
    assert report["keys"] == 2
    assert report["organizations"] == 2
    assert report["audit_records"] == audit_records
    assert report["audit_intact"] is True and report["breaks"] == []
    copy, origin = asyncio.run(_usage(fresh_url)), asyncio.run(_usage(database_url))
    count = len(copy["ids"])
    # A snapshot: whole batches only, the oldest ones first, taken while the command ran.
    assert count % BATCH == 0
    assert before * BATCH <= count <= after * BATCH
    assert copy["ids"] == origin["ids"][:count]
    assert report["usage_records"] == count
    assert report["usage_cost_micros"] == sum(100 + n for n in range(count))
    # Records and their rollups, written in one transaction, agree in the copy too.
    assert copy["raw"] == copy["rolled"]
    assert copy["raw"][0] == count
    assert asyncio.run(_authenticate(target, fresh_url, keys["live"])) == keys["live_id"]
    with pytest.raises(InvalidApiKey):
        asyncio.run(_authenticate(target, fresh_url, keys["gone"]))
    assert "audit trail intact" in target.ok("audit", "verify").stdout


def _tamper_sqlite(backup: Path) -> None:
    database = sqlite3.connect(backup)
    try:
        database.execute("DROP TRIGGER audit_events_no_update")
        database.execute("UPDATE audit_events SET actor = 'someone else' WHERE sequence = 2")
        database.commit()
    finally:
        database.close()


def _tamper_postgres(backup: Path, source: Cli, tmp_path: Path) -> None:
    """A dump is compressed: restore it elsewhere, edit one record, and dump that again."""
    with postgres_database() as url:
        scratch = replace(source, env={**source.env, "LLMAAS_DATABASE_URL": url})
        scratch.ok("backup", "restore", str(backup), "--yes")

        async def edit() -> None:
            engine = create_engine(url)
            try:
                async with engine.begin() as connection:
                    await connection.execute(
                        text("DROP TRIGGER audit_events_no_change ON audit_events")
                    )
                    await connection.execute(
                        text("UPDATE audit_events SET actor = 'someone else' WHERE sequence = 2")
                    )
            finally:
                await engine.dispose()

        asyncio.run(edit())
        scratch.ok("backup", "create", str(backup), "--force")


def test_a_tampered_backup_restores_but_exits_1_naming_the_record(
    source: Cli, database_url: str, fresh_url: str, tmp_path: Path
) -> None:
    administer(source)
    backup = tmp_path / "llmaas.backup"
    source.ok("backup", "create", str(backup))
    if make_url(database_url).get_backend_name() == "sqlite":
        _tamper_sqlite(backup)
    else:
        _tamper_postgres(backup, source, tmp_path)

    result = restored(tmp_path, fresh_url, source)("backup", "restore", str(backup), "--yes")

    assert result.exit_code == 1
    assert "BROKEN record 2: its content was modified" in result.stdout
    assert "1 break(s): the backup was altered" in result.stderr


def test_restore_refuses_a_database_in_use(source: Cli, database_url: str, tmp_path: Path) -> None:
    backup = tmp_path / "llmaas.backup"
    source.ok("backup", "create", str(backup))
    keys_before = source.json("keys", "list")

    async def hold_and_restore() -> Any:
        engine = create_engine(database_url)  # a server's idle pooled connection
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
                return await asyncio.to_thread(source, "backup", "restore", str(backup), "--yes")
        finally:
            await engine.dispose()

    result = asyncio.run(hold_and_restore())

    assert result.exit_code == 1
    assert "in use" in result.stderr or "other session(s) are connected" in result.stderr
    assert source.json("keys", "list") == keys_before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_restore_refuses_without_a_secret_and_warns_with_another(
    source: Cli, fresh_url: str, tmp_path: Path
) -> None:
    administer(source)
    backup = tmp_path / "llmaas.backup"
    source.ok("backup", "create", str(backup))
    target = bound(tmp_path / "restored", fresh_url)

    missing = target("backup", "restore", str(backup), "--yes")

    assert missing.exit_code == 1
    assert "no server secret" in missing.stderr
    assert not (tmp_path / "restored" / "llmaas.db").exists()
    assert not (tmp_path / "restored" / "server-secret").exists()

    (tmp_path / "restored").mkdir()
    (tmp_path / "restored" / "server-secret").write_text("another-secret-" + "x" * 40)
    other = target("backup", "restore", str(backup), "--yes")

    assert other.exit_code == 1
    assert "server secret is most likely not the one of this backup" in other.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_create_refuses_a_missing_database_and_an_existing_file(
    source: Cli, tmp_path: Path
) -> None:
    backup = tmp_path / "llmaas.backup"
    source.ok("backup", "create", str(backup))

    again = source("backup", "create", str(backup))
    elsewhere = bound(tmp_path / "typo", "")("backup", "create", str(tmp_path / "other"))

    assert again.exit_code == 1 and "--force" in again.stderr
    assert source("backup", "create", str(backup), "--force").exit_code == 0
    assert elsewhere.exit_code == 1 and "no database at" in elsewhere.stderr
    assert not (tmp_path / "typo" / "llmaas.db").exists()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_without_client_tools_fails_clearly(source: Cli, tmp_path: Path) -> None:
    without = replace(source, env={**source.env, "PATH": str(tmp_path / "empty")})

    result = without("backup", "create", str(tmp_path / "llmaas.backup"))

    assert result.exit_code == 1
    assert "pg_dump not found on PATH" in result.stderr
    assert not (tmp_path / "llmaas.backup").exists()


def test_libpq_url_keeps_the_password_off_the_command_line() -> None:
    url = make_url("postgresql+asyncpg://llm%40aas:s3cr%2Ft@db.internal:5433/llmaas?ssl=require")

    dsn, environment = libpq_url(url)

    assert dsn == "postgresql://llm%40aas@db.internal:5433/llmaas?sslmode=require"
    assert environment == {"PGPASSWORD": "s3cr/t"}
    assert libpq_url(make_url("postgresql+asyncpg://postgres@127.0.0.1/test")) == (
        "postgresql://postgres@127.0.0.1/test",
        {},
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_restore_asks_before_replacing_the_database(
    source: Cli, fresh_url: str, tmp_path: Path
) -> None:
    backup = tmp_path / "llmaas.backup"
    source.ok("keys", "create", "--name", "app")
    source.ok("backup", "create", str(backup))
    target = restored(tmp_path, fresh_url, source)

    declined = target.runner.invoke(
        app, ["backup", "restore", str(backup)], env=target.env, input="n\n"
    )

    assert declined.exit_code == 1
    assert "Replace every row of sqlite+aiosqlite:///" in declined.output
    assert not (tmp_path / "restored" / "llmaas.db").exists()
