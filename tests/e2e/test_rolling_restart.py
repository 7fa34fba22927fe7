"""A rolling restart under load: three instances on PostgreSQL and Redis, each stopped and started in
turn while clients keep sending requests; no request fails and no usage record is lost.

The clients go through a small balancer that does what a Kubernetes Service or HAProxy does: it polls
each instance's ``/readyz`` and sends requests round-robin to the ready ones only. An instance told to
stop (SIGTERM) turns not-ready at once and keeps serving for ``LLMAAS_SHUTDOWN_DELAY_SECONDS``, so the
balancer has stopped using it before it closes its listener.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
import openai
import pytest
import redis

from tests.e2e.conftest import cli, launch, server_environment
from tests.e2e.traffic import one_request, remote_models, wait_for_usage
from tests.fakes.openai_upstream import FakeUpstream, Scenario

REDIS_URL = "redis://127.0.0.1:6379/0"
INSTANCES = 3
WORKERS = 6
POLL_SECONDS = 0.1


class Balancer:
    """Round-robin over the instances whose ``/readyz`` answered 200 at the last poll."""

    def __init__(self, urls: list[str], key: str) -> None:
        self.urls = list(urls)
        self._key = key
        self._ready: set[str] = set(urls)
        self._turn = itertools.count()
        self._clients: dict[str, openai.AsyncOpenAI] = {}

    def client(self) -> tuple[str, openai.AsyncOpenAI]:
        ready = [url for url in self.urls if url in self._ready]
        assert ready, "no instance is ready"
        url = ready[next(self._turn) % len(ready)]
        if url not in self._clients:
            self._clients[url] = openai.AsyncOpenAI(
                base_url=f"{url}/v1", api_key=self._key, max_retries=0
            )
        return url, self._clients[url]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()

    def replace(self, old: str, new: str) -> None:
        self.urls[self.urls.index(old)] = new

    async def poll(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=1.0) as http:
            while not stop.is_set():
                answers = await asyncio.gather(
                    *(http.get(f"{url}/readyz") for url in self.urls), return_exceptions=True
                )
                self._ready = {
                    url
                    for url, answer in zip(self.urls, answers, strict=True)
                    if isinstance(answer, httpx.Response) and answer.status_code == 200
                }
                await asyncio.sleep(POLL_SECONDS)


@pytest.fixture
def redis_up() -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        pytest.fail(f"this test needs Redis at {REDIS_URL}: {error}")


async def test_a_rolling_restart_fails_no_request_and_loses_no_usage(
    tmp_path: Path, postgres_url: str, redis_up: None
) -> None:
    async with FakeUpstream(Scenario(chunk_interval=0.02)) as upstream:
        models = tmp_path / "models.yaml"
        models.write_text(remote_models(remote=upstream.base_url), encoding="utf-8")
        environment = server_environment(
            tmp_path / "shared",
            {
                "LLMAAS_DATABASE_URL": postgres_url,
                "LLMAAS_REDIS_URL": REDIS_URL,
                "LLMAAS_SERVER_SECRET": os.urandom(24).hex(),
                "LLMAAS_MODELS_CONFIG": str(models),
                "LLMAAS_SHUTDOWN_DELAY_SECONDS": "1.5",
                "LLMAAS_MIGRATE_ON_START": "false",
            },
        )
        (tmp_path / "shared").mkdir()
        await asyncio.to_thread(cli, environment, "migrate")
        created = json.loads(
            await asyncio.to_thread(
                cli, environment, "keys", "create", "--name", "rolling", "--json"
            )
        )
        running: dict[str, subprocess.Popen[bytes]] = {}

        async def start(index: int, generation: int) -> str:
            # in a thread: the fake engine answers the readiness probes on this event loop
            url, process, _ = await asyncio.to_thread(
                launch, tmp_path / f"instance-{index}-{generation}", environment
            )
            running[url] = process
            return url

        try:
            urls = [await start(index, 0) for index in range(INSTANCES)]
            balancer = Balancer(urls, created["key"])
            stop = asyncio.Event()
            outcomes: Counter[str] = Counter()
            served_by: Counter[str] = Counter()

            async def worker(number: int) -> None:
                for turn in itertools.count():
                    if stop.is_set():
                        return
                    url, client = balancer.client()
                    outcome = await one_request(client, "remote", stream=(number + turn) % 2 == 0)
                    outcomes[outcome] += 1
                    served_by[url] += 1

            polling = asyncio.create_task(balancer.poll(stop))
            load = asyncio.gather(*(worker(n) for n in range(WORKERS)))
            await asyncio.sleep(1.0)
            started = time.monotonic()
            for index, url in enumerate(list(balancer.urls)):
                process = running.pop(url)
                process.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(process.wait, 60) in (0, -signal.SIGTERM)
                balancer.replace(url, await start(index, 1))
            rolled_in = time.monotonic() - started
            await asyncio.sleep(1.0)
            stop.set()
            await load
            await polling
            await balancer.close()
        finally:
            for process in running.values():
                process.terminate()
            for process in running.values():
                await asyncio.to_thread(process.wait, 30)

    total = sum(outcomes.values())
    print(  # the figures for the note (pytest -s)
        f"\nrolling restart of {INSTANCES} instances in {rolled_in:.1f} s: {total} requests, "
        f"{outcomes} ; per instance: {dict(served_by)}"
    )
    assert outcomes == Counter({"ok": total}), outcomes
    assert len(served_by) == 2 * INSTANCES  # every old and every new instance served requests
    totals = await wait_for_usage(postgres_url, created["id"], total)
    assert totals.requests == total
    assert totals.failed_requests == 0
