"""What every CLI command shares: the consoles, the settings, and one way to run against the Core.

Each command is one short-lived process, so it builds the ``Core`` itself, runs one async action and
always closes it (counters and database connections). Domain errors become a red line and exit code 1:
an operator sees what was wrong, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from llmaas.adapters.sql import schema
from llmaas.app import Core, build_core
from llmaas.domain.errors import LlmaasError
from llmaas.settings import Settings

T = TypeVar("T")

console = Console()
errors = Console(stderr=True)


def settings(**overrides: Any) -> Settings:
    """The environment's settings, with the flags that were given on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def fail(message: str, *, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code=code)


def usage_error(message: str) -> typer.Exit:
    """A mistake in how the command was called, found after option parsing: exit code 2, as for
    a malformed option."""
    return fail(message, code=2)


def prepare_schema(configured: Settings) -> None:
    """Serve only on a schema this code can read: migrate it (one machine), or refuse to start."""
    url = configured.effective_database_url
    state = schema.state(url)
    if state.match is schema.SchemaMatch.BEHIND and configured.migrate_on_start:
        schema.upgrade(url)
        return
    if not state.servable:
        raise fail(state.describe())
    if state.match is schema.SchemaMatch.AHEAD_COMPATIBLE:
        # on stderr: a command's standard output may be JSON for a script
        errors.print(state.describe(), soft_wrap=True)


def run_with_core(action: Callable[[Core], Awaitable[T]], configured: Settings | None = None) -> T:
    """Bring the schema up to date (or refuse), build the Core, run ``action`` and close the Core
    whatever happens, so no connection or counter client outlives the command."""
    configured = configured or settings()
    prepare_schema(configured)

    async def main() -> T:
        try:
            core = build_core(configured)
        except RuntimeError as error:  # an optional extra is configured but missing
            raise fail(str(error)) from None
        try:
            return await action(core)
        finally:
            await core.close()

    try:
        return asyncio.run(main())
    except LlmaasError as error:
        raise fail(error.message) from None


def print_json(data: object) -> None:
    """Straight to stdout: rich would wrap long lines and break the JSON for scripts."""
    sys.stdout.write(json.dumps(data) + "\n")
