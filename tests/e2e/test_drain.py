"""Stopping an instance behind a load balancer: SIGTERM drains it before it closes its listener.

During ``LLMAAS_SHUTDOWN_DELAY_SECONDS`` the instance answers ``/readyz`` with 503 (the balancer's cue
to stop routing to it) but still serves what reaches it; then the listener closes, in-flight requests
and streams finish, the usage records are flushed, and the process exits.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import openai

from tests.e2e.conftest import start_server, stop_server
from tests.e2e.traffic import one_request, remote_models, sqlite_url, stored_usage
from tests.fakes.openai_upstream import FakeUpstream, Scenario

DELAY_SECONDS = 3.0
HELD = 12


async def test_sigterm_drains_then_closes_and_loses_nothing(tmp_path: Path) -> None:
    async with FakeUpstream(Scenario(stall_before_headers=2.0)) as upstream:
        models = tmp_path / "models.yaml"
        models.write_text(remote_models(remote=upstream.base_url), encoding="utf-8")
        server = start_server(
            tmp_path / "data",
            extra_args=("--config", str(models)),
            # records would only be written every hour: what is stored was flushed at shutdown
            env={
                "LLMAAS_USAGE_FLUSH_SECONDS": "3600",
                "LLMAAS_SHUTDOWN_DELAY_SECONDS": str(DELAY_SECONDS),
            },
            ready_path="/healthz",
        )
        try:
            client = openai.AsyncOpenAI(
                base_url=server.base_url, api_key=server.api_key, max_retries=0
            )
            async with httpx.AsyncClient(base_url=server.root_url, timeout=10) as http:
                assert (await http.get("/readyz")).json()["checks"]["accepting"] is True
                held = asyncio.gather(
                    *(one_request(client, "remote", stream=i % 2 == 0) for i in range(HELD))
                )
                while len(upstream.requests) < HELD and not held.done():  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                signalled = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.5)
                # draining: not ready any more, but still serving
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["checks"]["accepting"] is False
                # and no client may reuse a connection that is about to close
                assert ready.headers["connection"] == "close"
                sent_after = time.monotonic() - signalled
                late = await one_request(client, "remote", stream=False)
                results = await held
                exit_code = await asyncio.to_thread(server.process.wait, 60)
                stopped_after = time.monotonic() - signalled
        finally:
            stop_server(server)
    assert sent_after < DELAY_SECONDS  # a request that reached it while draining...
    assert late == "ok"  # ...was served
    assert results.count("ok") == HELD
    # uvicorn re-raises the signal once it has shut down gracefully
    assert exit_code in (0, -signal.SIGTERM)
    assert stopped_after >= DELAY_SECONDS
    count, totals = await stored_usage(sqlite_url(server.data_dir), server.key_id)
    assert count == HELD + 1
    assert totals is not None and totals.failed_requests == 0


async def test_a_second_signal_skips_the_delay(tmp_path: Path) -> None:
    async with FakeUpstream(Scenario()) as upstream:
        models = tmp_path / "models.yaml"
        models.write_text(remote_models(remote=upstream.base_url), encoding="utf-8")
        server = start_server(
            tmp_path / "data",
            extra_args=("--config", str(models)),
            env={"LLMAAS_SHUTDOWN_DELAY_SECONDS": "60"},
            ready_path="/healthz",
        )
        try:
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            assert server.process.poll() is None  # draining for a minute...
            server.process.send_signal(signal.SIGTERM)  # ...unless told twice
            await asyncio.to_thread(server.process.wait, 30)
            assert time.monotonic() - signalled < 30
        finally:
            stop_server(server)
