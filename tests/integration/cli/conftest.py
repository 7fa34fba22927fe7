"""A CLI bound to a throw-away data directory, invoked in-process through typer's runner."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from llmaas.cli import app


@dataclass(frozen=True)
class Cli:
    runner: CliRunner
    env: dict[str, str | None]
    data_dir: Path

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, list(args), env=self.env)

    def ok(self, *args: str) -> Result:
        """Run a command that must succeed, showing its output when it does not."""
        result = self(*args)
        assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    # Unset what a developer's or CI's environment could point elsewhere (None removes a variable).
    env: dict[str, str | None] = {
        "LLMAAS_DATA_DIR": str(tmp_path),
        "LLMAAS_DATABASE_URL": None,
        "LLMAAS_REDIS_URL": None,
        "LLMAAS_SERVER_SECRET": None,
        # Wide enough that rich never folds a table cell the assertions look for.
        "COLUMNS": "200",
    }
    bound = Cli(CliRunner(), env, tmp_path)
    assert "database schema is at" in bound.ok("migrate").stdout
    return bound
