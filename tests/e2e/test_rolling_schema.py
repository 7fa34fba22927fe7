"""A rolling upgrade's schema step, live: version N+1's migration runs while version N serves.

N serves on PostgreSQL without migrating at start (``LLMAAS_MIGRATE_ON_START=false``, as several
instances run). N+1's expand migration is applied in the middle of steady traffic: no request fails,
and N, restarted, serves on the newer schema. N+1's contract migration then makes N refuse to start,
saying which version it needs, and ``llmaas migrate --check`` says the same with its exit code.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import openai

from tests.e2e.conftest import BIN, cli, launch, server_environment, start_server, stop_server
from tests.e2e.traffic import one_request, remote_models
from tests.fakes.openai_upstream import FakeUpstream, Scenario
from tests.support.future_migrations import CONTRACT, EXPAND, apply, future_migrations


def _check(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "llmaas"), "migrate", "--check"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_expand_while_serving_then_contract_refuses_the_old_version(
    tmp_path: Path, postgres_url: str
) -> None:
    migrations = future_migrations(tmp_path)
    async with FakeUpstream(Scenario()) as upstream:
        models = tmp_path / "models.yaml"
        models.write_text(remote_models(remote=upstream.base_url), encoding="utf-8")
        env = {"LLMAAS_DATABASE_URL": postgres_url, "LLMAAS_MIGRATE_ON_START": "false"}
        environment = server_environment(tmp_path / "data", env)
        (tmp_path / "data").mkdir()
        # several instances: the schema is migrated once, by the operator (the chart's Job)
        assert (await asyncio.to_thread(_check, environment)).returncode == 1
        await asyncio.to_thread(cli, environment, "migrate")
        # in a thread: the fake engine answers the readiness probes on this test's event loop
        server = await asyncio.to_thread(
            start_server, tmp_path / "data", extra_args=("--config", str(models)), env=env
        )
        try:
            client = openai.AsyncOpenAI(
                base_url=server.base_url, api_key=server.api_key, max_retries=0
            )
            outcomes: list[str] = []
            stop = asyncio.Event()

            async def traffic() -> None:
                while not stop.is_set():
                    outcomes.append(
                        await one_request(client, "remote", stream=len(outcomes) % 2 == 0)
                    )

            running = asyncio.gather(traffic(), traffic(), traffic())
            await asyncio.sleep(1.0)
            before = len(outcomes)
            await asyncio.to_thread(apply, migrations, postgres_url, EXPAND)
            await asyncio.sleep(1.0)
            stop.set()
            await running
            assert before > 0 and len(outcomes) > before  # traffic flowed on both sides of it
            assert set(outcomes) == {"ok"}, outcomes
        finally:
            stop_server(server)

        # N restarts on N+1's expanded schema, and says so
        checked = await asyncio.to_thread(_check, environment)
        assert checked.returncode == 0, checked.stderr
        assert "compatible" in checked.stdout
        url, process, log_path = await asyncio.to_thread(
            launch, tmp_path / "data", environment, extra_args=("--config", str(models))
        )
        try:
            restarted = openai.AsyncOpenAI(
                base_url=f"{url}/v1", api_key=server.api_key, max_retries=0
            )
            assert await one_request(restarted, "remote", stream=False) == "ok"
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 30)
        assert "newer than this code" in log_path.read_text()

    # N+1's contract migration: N must not start on it
    await asyncio.to_thread(apply, migrations, postgres_url, CONTRACT)
    checked = await asyncio.to_thread(_check, environment)
    assert checked.returncode == 1
    refused = await asyncio.to_thread(
        subprocess.run,
        [str(BIN / "llmaas"), "serve", "--port", "0", "--config", str(models)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 1
    said = " ".join((refused.stdout + refused.stderr).split())  # as printed, wrapped at 80 columns
    assert f"needs code at revision {CONTRACT} or later" in said
    assert "Traceback" not in said
