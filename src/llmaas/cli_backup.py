"""``llmaas backup``: consistent copies of the database, and restores that prove what they restored.

One copy holds what must agree: key hashes, organizations and credit, usage records and their
rollups, the audit trail. Both engines copy one snapshot (SQLite's online backup API in one step,
``pg_dump``) that a server writing meanwhile neither blocks nor tears. The server secret is not in
it: ``create`` says so, and ``restore`` refuses to run without one rather than let a new secret be
generated that matches nothing restored.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from llmaas.adapters.sql import schema
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.tables import api_keys, organizations, usage_records
from llmaas.app import build_core
from llmaas.cli_options import JsonOption
from llmaas.cli_runtime import console, errors, fail, print_json, settings
from llmaas.domain.money import format_eur
from llmaas.settings import Settings

backup_app = typer.Typer(
    help="Back up and restore the database (keys, usage, audit trail).", no_args_is_help=True
)

_FOREIGN_DATA = "every record fails: the server secret is most likely not the one of this backup"
PathArgument = Annotated[Path, typer.Argument(help="The backup file.")]


@backup_app.command("create")
def backup_create(
    path: PathArgument,
    force: Annotated[bool, typer.Option("--force", help="Replace PATH if it exists.")] = False,
) -> None:
    """Write a consistent copy of the database to PATH, while the server runs."""
    configured = settings()
    url = make_url(configured.effective_database_url)
    if path.exists() and not force:
        raise fail(f"{path} exists: choose another path, or --force to replace it")
    partial = path.with_name(path.name + ".partial")
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_copy(_sqlite_file(url), partial)
        else:
            _pg_dump(url, partial)
        partial.chmod(0o600)  # key hashes and every customer's usage
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    console.print(f"backup written: {path} ({path.stat().st_size:,} bytes)", soft_wrap=True)
    where = "LLMAAS_SERVER_SECRET" if configured.server_secret else str(configured.secret_file)
    errors.print(
        f"[yellow]warning:[/yellow] the server secret ({where}) is NOT in this backup. Keep a copy "
        "of it with the backup, protected separately: without it no restored key authenticates "
        "and the audit trail cannot be verified.",
        soft_wrap=True,
    )


@backup_app.command("restore")
def backup_restore(
    path: PathArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Replace the database with PATH (every server stopped), then verify what was restored."""
    configured = settings()
    url = make_url(configured.effective_database_url)
    if not path.is_file():
        raise fail(f"no backup file at {path}")
    if configured.server_secret is None and not configured.secret_file.is_file():
        raise fail(
            f"no server secret ({configured.secret_file}, or LLMAAS_SERVER_SECRET): put the one "
            "kept with this backup in place first, or no restored key would authenticate"
        )
    if not yes:
        target = url.render_as_string(hide_password=True)
        typer.confirm(f"Replace every row of {target} with {path}?", abort=True)
    if url.get_backend_name() == "sqlite":
        _sqlite_restore(path, _sqlite_file(url))
    else:
        _pg_restore(url, path)
    report = _inspect(configured)
    print_json(asdict(report)) if as_json else _print(report)
    if report.breaks:
        cause = _FOREIGN_DATA if report.breaks_every_record else "the backup was altered"
        raise fail(f"the restored audit trail has {len(report.breaks)} break(s): {cause}")
    if report.schema == schema.SchemaMatch.AHEAD_INCOMPATIBLE:
        raise fail(report.schema_description)


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise fail("an in-memory SQLite database has nothing to back up or restore")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise fail(f"no database at {source}")
    # mode=rw: a mistyped data directory must not be backed up as a new, empty database.
    live = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        live.backup(copy)  # in one step (pages=-1): one read transaction, one snapshot
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        _check_integrity(copy, target)
    except sqlite3.Error as error:
        raise fail(f"backup of {source} failed: {error}") from None
    finally:
        copy.close()
        live.close()


def _sqlite_restore(backup: Path, target: Path) -> None:
    source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    try:
        _check_integrity(source, backup)
        target.parent.mkdir(parents=True, exist_ok=True)
        live = sqlite3.connect(target, timeout=0, isolation_level=None)
        try:
            # At once or not at all: a process that has the file open, even idle, holds it off.
            live.execute("PRAGMA locking_mode=EXCLUSIVE")
            live.execute("BEGIN EXCLUSIVE")
            live.execute("ROLLBACK")
            source.backup(live)  # not a file copy: a stale -wal beside it cannot be replayed
        finally:
            live.close()
    except sqlite3.Error as error:
        if "locked" in str(error):
            raise fail(
                f"{target} is in use: stop every llmaas server and command using it"
            ) from None
        raise fail(f"restore from {backup} failed: {error}") from None
    finally:
        source.close()


def _check_integrity(connection: sqlite3.Connection, path: Path) -> None:
    (result,) = connection.execute("PRAGMA quick_check").fetchone()
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    if result != "ok" or "alembic_version" not in tables:
        raise fail(f"{path} is not an intact llmaas database ({result})")


def libpq_url(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq form of a SQLAlchemy URL, and the environment that carries its password (never on a
    command line, where any local user could read it)."""
    query = dict(url.query)
    if "ssl" in query:  # asyncpg's name for libpq's sslmode
        query["sslmode"] = query.pop("ssl")
    plain = URL.create(
        "postgresql", url.username, None, url.host, url.port, url.database, query
    )  # (``url.set(password=None)`` would keep the password)
    password = {"PGPASSWORD": str(url.password)} if url.password is not None else {}
    return plain.render_as_string(hide_password=False), password


def _postgres_tool(name: str, *arguments: str, password: dict[str, str]) -> None:
    found = shutil.which(name)
    if found is None:
        raise fail(
            f"{name} not found on PATH: install the PostgreSQL client tools of the server's major "
            "version or newer (Debian: apt-get install postgresql-client)"
        )
    completed = subprocess.run(  # noqa: S603 - a fixed tool, arguments built here, no shell
        [found, "--no-password", *arguments],
        env={**os.environ, **password},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise fail(f"{name} failed: {completed.stderr.strip()[-2000:]}")


def _pg_dump(url: URL, target: Path) -> None:
    dsn, password = libpq_url(url)
    _postgres_tool(
        "pg_dump", "--format=custom", f"--file={target}", f"--dbname={dsn}", password=password
    )


_RESTORE_OPTIONS = ("--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error")  # fmt: skip
_OTHER_SESSIONS = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def _pg_restore(url: URL, backup: Path) -> None:
    dsn, password = libpq_url(url)
    _postgres_tool("pg_restore", "--list", str(backup), password=password)  # a readable archive?
    others = asyncio.run(_other_sessions(url))
    if others:
        raise fail(
            f"{others} other session(s) are connected to the database: stop every llmaas server "
            "and command using it, then restore"
        )
    # One transaction: an error leaves the database as it was, never half restored.
    _postgres_tool(
        "pg_restore", *_RESTORE_OPTIONS, f"--dbname={dsn}", str(backup), password=password
    )


async def _other_sessions(url: URL) -> int:
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(_OTHER_SESSIONS)).scalar_one())
    except (SQLAlchemyError, OSError) as error:
        raise fail(f"cannot connect to the database to restore into: {error}") from None
    finally:
        await engine.dispose()


@dataclass(frozen=True, slots=True)
class RestoreReport:
    revision: str | None
    schema: str
    schema_description: str
    keys: int
    organizations: int
    usage_records: int
    usage_cost_micros: int
    audit_records: int
    audit_intact: bool
    breaks: list[str]
    breaks_every_record: bool


_TOTALS = (
    select(func.count()).select_from(api_keys).scalar_subquery(),
    select(func.count()).select_from(organizations).scalar_subquery(),
    select(func.count()).select_from(usage_records).scalar_subquery(),
    select(func.coalesce(func.sum(usage_records.c.cost_micros), 0)).scalar_subquery(),
)


def _inspect(configured: Settings) -> RestoreReport:
    state = schema.state(configured.effective_database_url)
    configured = configured.model_copy(update={"redis_url": None})  # no counters needed here

    async def read() -> RestoreReport:
        core = build_core(configured)
        try:
            async with core.engine.connect() as connection:
                found = await connection.execute(select(*_TOTALS))
                keys, orgs, usage, cost = (int(value) for value in found.one())
            checked, breaks = await core.audit.verify()
        finally:
            await core.close()
        return RestoreReport(
            revision=state.database,
            schema=str(state.match),
            schema_description=state.describe(),
            keys=keys,
            organizations=orgs,
            usage_records=usage,
            usage_cost_micros=cost,
            audit_records=checked,
            audit_intact=not breaks,
            breaks=[str(found) for found in breaks],
            breaks_every_record=bool(breaks)
            and {b.sequence for b in breaks} == set(range(1, checked + 1)),
        )

    try:
        return asyncio.run(read())
    except SQLAlchemyError as error:
        raise fail(f"the restored database cannot be read: {error}") from None


def _print(report: RestoreReport) -> None:
    console.print(f"restored: {report.schema_description}", soft_wrap=True)
    console.print(
        f"{report.keys} keys, {report.organizations} organizations, {report.usage_records:,} "
        f"usage records ({format_eur(report.usage_cost_micros)} EUR), {report.audit_records} "
        "audit records" + (", audit trail intact: chain verified" if report.audit_intact else ""),
        soft_wrap=True,
    )
    for found in report.breaks:
        console.print(f"[red]BROKEN[/red] {found}")
    if report.schema == schema.SchemaMatch.BEHIND:
        console.print("run 'llmaas migrate' (or start one server) to bring it up to date")
