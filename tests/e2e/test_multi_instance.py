"""Three gateway instances sharing PostgreSQL and Redis enforce one set of limits between them.

Each instance is a real ``llmaas serve`` process; requests are spread over the three. Limits hold
across instances exactly (they live in Redis, charged atomically), and a key revoked through one
process fails on every instance at its next request.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import redis

from tests.e2e.conftest import cli, launch, server_environment
from tests.e2e.traffic import (
    FAKE_ANSWER_COST,
    burst,
    remote_models,
    wait_for_fresh_minute,
    wait_for_usage,
)
from tests.fakes.openai_upstream import FakeUpstream, Scenario

REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Cluster:
    urls: list[str]
    environment: dict[str, str]
    database_url: str

    def clients(self, key: str) -> list[openai.AsyncOpenAI]:
        return [
            openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
            for url in self.urls
        ]

    def create_key(self, *options: str) -> tuple[str, str]:
        created = json.loads(
            cli(self.environment, "keys", "create", "--name", "shared", "--json", *options)
        )
        return created["id"], created["key"]


@pytest.fixture(scope="module")
def redis_available() -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        pytest.fail(f"these tests need Redis at {REDIS_URL}: {error}")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    running: list[subprocess.Popen[bytes]] = []
    try:
        yield running
    finally:
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
async def cluster(
    tmp_path: Path,
    postgres_url: str,
    redis_available: None,
    processes: list[subprocess.Popen[bytes]],
) -> AsyncIterator[Cluster]:
    async with FakeUpstream() as fast, FakeUpstream(Scenario(stall_before_headers=3.0)) as slow:
        models = tmp_path / "models.yaml"
        models.write_text(remote_models(fast=fast.base_url, slow=slow.base_url), encoding="utf-8")
        environment = server_environment(
            tmp_path / "shared",
            {
                "LLMAAS_DATABASE_URL": postgres_url,
                "LLMAAS_REDIS_URL": REDIS_URL,
                "LLMAAS_SERVER_SECRET": os.urandom(24).hex(),
                "LLMAAS_MODELS_CONFIG": str(models),
            },
        )
        cli(environment, "migrate")
        urls = []
        for index in range(3):
            url, process, _ = launch(
                tmp_path / f"instance-{index}", environment, ready_path="/healthz"
            )
            processes.append(process)
            urls.append(url)
        yield Cluster(urls, environment, postgres_url)


async def test_requests_per_minute_hold_across_instances(cluster: Cluster) -> None:
    _, key = cluster.create_key("--rpm", "7")
    wait_for_fresh_minute()
    outcome = await burst(cluster.clients(key), "fast", 30)
    assert outcome.other == []
    assert outcome.ok == 7
    assert outcome.refusals == {"rate_limit_exceeded": 23}


async def test_tokens_per_minute_hold_across_instances(cluster: Cluster) -> None:
    # Each request reserves ~1,100-1,200 tokens (its body-bounded prompt plus max_tokens=1000):
    # three fit in 3,900, a fourth does not.
    _, key = cluster.create_key("--tpm", "3900")
    wait_for_fresh_minute()
    outcome = await burst(cluster.clients(key), "slow", 30)
    assert outcome.other == []
    assert outcome.ok == 3
    assert outcome.refusals == {"rate_limit_exceeded": 27}


async def test_a_budget_holds_across_instances(cluster: Cluster) -> None:
    key_id, key = cluster.create_key("--budget-eur", "0.0425")  # five worst-case reservations
    outcome = await burst(cluster.clients(key), "slow", 60)
    assert outcome.other == []
    assert outcome.ok == 5
    assert outcome.refusals == {"insufficient_quota": 55}
    totals = await wait_for_usage(cluster.database_url, key_id, 5)
    assert totals.cost_micros == 5 * FAKE_ANSWER_COST


async def test_a_revoked_key_fails_on_every_instance_at_its_next_request(cluster: Cluster) -> None:
    key_id, key = cluster.create_key()
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient() as http:
        for url in cluster.urls:  # every instance has verified (and cached) the key
            answer = await http.post(f"{url}/v1/chat/completions", json=body, headers=headers)
            assert answer.status_code == 200
        cli(cluster.environment, "keys", "revoke", key_id)
        for url in cluster.urls:
            answer = await http.post(f"{url}/v1/chat/completions", json=body, headers=headers)
            assert answer.status_code == 401, answer.text
            listed = await http.get(f"{url}/v1/models", headers=headers)
            assert listed.status_code == 401


async def test_a_revoked_admin_key_fails_on_every_instance_at_once(cluster: Cluster) -> None:
    key_id, key = cluster.create_key("--admin")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient() as http:
        for url in cluster.urls:
            listed = await http.get(f"{url}/admin/v1/tiers", headers=headers)
            assert listed.status_code == 200
        cli(cluster.environment, "keys", "revoke", key_id)
        for url in cluster.urls:
            listed = await http.get(f"{url}/admin/v1/tiers", headers=headers)
            assert listed.status_code == 401, listed.text
