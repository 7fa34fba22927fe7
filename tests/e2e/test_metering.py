"""Admission and metering end to end, on one instance: the official SDK -> llmaas -> a remote engine.

The engine is the fake one (a real aiohttp server): it reports a fixed usage (9 prompt and 4 completion
tokens) and can hold every answer for a while, so that a whole burst of requests is in flight at once.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from llmaas.domain.pricing import DEFAULT_PRICES
from llmaas.domain.usage import TokenUsage
from tests.e2e.conftest import Server, cli, start_server, stop_server
from tests.e2e.traffic import (
    FAKE_ANSWER_COST,
    burst,
    one_request,
    remote_models,
    sqlite_url,
    stored_usage,
    wait_for_usage,
)
from tests.fakes.openai_upstream import FakeUpstream, HttpError, Scenario, openai_error

# A chat request of the tests below reserves its worst case: ~1000 output tokens at 8.00 EUR per
# million (8,000 micros) plus its body-bounded prompt (~350-470 micros). This budget covers exactly
# five such reservations, whatever the mix of streaming and non-streaming requests.
FIVE_RESERVATIONS_EUR = "0.0425"


@dataclass
class Setup:
    server: Server
    upstream: FakeUpstream

    def client(self, key: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.server.base_url, api_key=key, max_retries=0)

    def create_key(self, *options: str) -> tuple[str, str]:
        created = json.loads(
            cli(self.server.env(), "keys", "create", "--name", "metered", "--json", *options)
        )
        return created["id"], created["key"]

    @property
    def database_url(self) -> str:
        return sqlite_url(self.server.data_dir)


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with FakeUpstream() as upstream:
        models = tmp_path / "models.yaml"
        models.write_text(remote_models(remote=upstream.base_url), encoding="utf-8")
        server = start_server(
            tmp_path / "data", extra_args=("--config", str(models)), ready_path="/healthz"
        )
        try:
            yield Setup(server, upstream)
        finally:
            stop_server(server)


async def test_a_budget_is_never_overspent_by_a_hundred_concurrent_requests(setup: Setup) -> None:
    setup.upstream.scenario = Scenario(stall_before_headers=3.0)
    key_id, key = setup.create_key("--budget-eur", FIVE_RESERVATIONS_EUR)
    outcome = await burst([setup.client(key)], "remote", 100)
    assert outcome.other == []
    assert outcome.ok == 5
    assert outcome.refusals == {"insufficient_quota": 95}
    totals = await wait_for_usage(setup.database_url, key_id, 5)
    assert totals.requests == 5
    assert totals.cost_micros == 5 * FAKE_ANSWER_COST
    assert totals.cost_micros <= 42_500


async def test_a_refusal_says_why_with_retry_after_and_rate_limit_headers(setup: Setup) -> None:
    _, key = setup.create_key("--rpm", "2", "--tpm", "100000")
    async with httpx.AsyncClient(base_url=setup.server.base_url) as http:
        body = {"model": "remote", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
        headers = {"Authorization": f"Bearer {key}"}
        first = await http.post("/chat/completions", json=body, headers=headers)
        assert first.status_code == 200
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        assert first.headers["x-ratelimit-reset-requests"].endswith("s")
        assert first.headers["x-ratelimit-limit-tokens"] == "100000"
        assert int(first.headers["x-ratelimit-remaining-tokens"]) < 100000
        listed = await http.get("/models", headers=headers)
        assert listed.headers["x-ratelimit-remaining-requests"] == "1"
        await http.post("/chat/completions", json=body, headers=headers)
        refused = await http.post("/chat/completions", json=body, headers=headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["type"] == "requests"
    assert "requests per minute" in error["message"]


async def test_a_client_gone_mid_stream_is_charged_what_was_generated(setup: Setup) -> None:
    setup.upstream.scenario = Scenario(chunks=["w"] * 60, chunk_interval=0.05)
    key_id, key = setup.create_key()
    stream = await setup.client(key).chat.completions.create(
        model="remote", messages=[{"role": "user", "content": "go"}], stream=True, max_tokens=100
    )
    received = 0
    async for chunk in stream:
        received += bool(chunk.choices and chunk.choices[0].delta.content)
        if received == 5:
            break
    await stream.close()
    totals = await wait_for_usage(setup.database_url, key_id, 1)
    assert 5 <= totals.completion_tokens < 60
    usage = TokenUsage(totals.prompt_tokens, totals.completion_tokens)
    assert totals.cost_micros == DEFAULT_PRICES.tokens_cost(usage)


async def test_an_engine_failure_releases_the_reservation(setup: Setup) -> None:
    # Room for one reservation only: if the failed request kept its reservation, the next one
    # would be refused.
    key_id, key = setup.create_key("--budget-eur", "0.0090")
    setup.upstream.scenario = Scenario(error=HttpError(500, b'{"error": "boom"}', {}))
    assert await one_request(setup.client(key), "remote", stream=False) == "InternalServerError"
    setup.upstream.scenario = Scenario(
        error=openai_error(500, "engine crashed", type_="server_error")
    )
    assert await one_request(setup.client(key), "remote", stream=True) == "InternalServerError"
    setup.upstream.scenario = Scenario()
    assert await one_request(setup.client(key), "remote", stream=False) == "ok"
    assert await one_request(setup.client(key), "remote", stream=True) == "ok"
    totals = await wait_for_usage(setup.database_url, key_id, 4)
    assert totals.failed_requests == 2
    assert totals.cost_micros == 2 * FAKE_ANSWER_COST


async def test_a_graceful_stop_under_load_loses_no_usage_record(tmp_path: Path) -> None:
    async with FakeUpstream(Scenario(stall_before_headers=3.0)) as upstream:
        models = tmp_path / "models.yaml"
        models.write_text(remote_models(remote=upstream.base_url), encoding="utf-8")
        # Records would only be written every hour: whatever is stored was flushed at shutdown.
        server = start_server(
            tmp_path / "data",
            extra_args=("--config", str(models)),
            env={"LLMAAS_USAGE_FLUSH_SECONDS": "3600"},
            ready_path="/healthz",
        )
        try:
            client = openai.AsyncOpenAI(
                base_url=server.base_url, api_key=server.api_key, max_retries=0
            )
            load = asyncio.gather(
                *(one_request(client, "remote", stream=i % 2 == 0) for i in range(40))
            )
            # All in flight, held upstream (or, if something went wrong, all answered: the
            # assertions below then say what).
            await _until(lambda: len(upstream.requests) == 40 or load.done())
            server.process.send_signal(signal.SIGTERM)
            results = await load
            # uvicorn re-raises the signal once it has shut down gracefully.
            assert await asyncio.to_thread(server.process.wait, 30) in (0, -signal.SIGTERM)
        finally:
            stop_server(server)
    assert results.count("ok") == 40
    count, totals = await stored_usage(sqlite_url(server.data_dir), server.key_id)
    assert count == 40
    assert totals is not None
    assert totals.requests == 40
    assert totals.cost_micros == 40 * FAKE_ANSWER_COST


async def _until(condition: Callable[[], bool]) -> None:
    """Poll (the fake engine offers no event to wait on), for at most a minute (a loaded CI
    machine can take seconds to open 40 connections)."""
    async with asyncio.timeout(60):
        while not condition():  # noqa: ASYNC110 - nothing to wait on but polling
            await asyncio.sleep(0.05)
