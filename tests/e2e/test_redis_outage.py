"""Redis stopped under load, then back empty: what degrades, and that limits recover by themselves.

The gateway fails closed: without its shared counters it cannot check rate limits and budgets, so it
serves nothing (503 ``limits_unavailable`` with ``Retry-After``, never a 500) and ``/readyz`` says so,
while ``/healthz`` stays up (the process is fine: no restart). The Redis that comes back has lost every
counter (no persistence): the gateway refuses until it has seeded the month's spend again from the
stored usage, then serves, with the key's spend as it was. The test uses its own ``redis-server``
process, so the machine's Redis (and the other tests) never notice.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis

from llmaas.domain.windows import Window, span
from llmaas.services.admission import key_counter
from tests.e2e.conftest import start_server, stop_server
from tests.e2e.traffic import remote_models, sqlite_url, wait_for_usage
from tests.fakes.openai_upstream import FakeUpstream, Scenario

BODY = {"model": "remote", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisProcess:
    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[RedisProcess]:
    redis = RedisProcess(_free_port())
    try:
        redis.start()
    except FileNotFoundError:
        pytest.fail("redis-server is required (Debian package redis-server)")
    try:
        yield redis
    finally:
        redis.stop()


async def _send(http: httpx.AsyncClient, count: int) -> tuple[Counter[str], list[float]]:
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        answer = await http.post("/v1/chat/completions", json=BODY)
        latencies.append((time.perf_counter() - started) * 1000)
        if answer.status_code == 200:
            outcomes["ok"] += 1
        else:
            error = answer.json()["error"]
            outcomes[f"{answer.status_code}:{error['code']}"] += 1
            assert answer.headers.get("retry-after") == "1"
    return outcomes, latencies


async def test_redis_down_fails_closed_with_503_and_recovers_by_itself(
    tmp_path: Path, private_redis: RedisProcess
) -> None:
    async with FakeUpstream(Scenario()) as upstream:
        models = tmp_path / "models.yaml"
        models.write_text(remote_models(remote=upstream.base_url), encoding="utf-8")
        server = await asyncio.to_thread(
            start_server,
            tmp_path / "data",
            extra_args=("--config", str(models)),
            env={"LLMAAS_REDIS_URL": f"redis://127.0.0.1:{private_redis.port}/0"},
        )
        try:
            headers = {"Authorization": f"Bearer {server.api_key}"}
            async with httpx.AsyncClient(
                base_url=server.root_url, headers=headers, timeout=10
            ) as http:
                before, _ = await _send(http, 20)
                await asyncio.to_thread(private_redis.stop)
                during, outage_ms = await _send(http, 20)
                ready = await http.get("/readyz")
                alive = await http.get("/healthz")
                await asyncio.to_thread(private_redis.start)
                back_at = time.monotonic()
                recovered = Counter[str]()
                while not recovered["ok"]:
                    recovered, _ = await _send(http, 1)
                    assert time.monotonic() - back_at < 15, recovered
                recovery_seconds = time.monotonic() - back_at
                after, _ = await _send(http, 20)
                ready_after = await http.get("/readyz")
                # the key's month spend in Redis again covers everything stored, from before too
                served = before["ok"] + recovered["ok"] + after["ok"]
                stored = await wait_for_usage(sqlite_url(server.data_dir), server.key_id, served)
                label = span(Window.MONTH, time.time()).label
                spend_key = "llmaas:" + key_counter(server.key_id, "spend", label)
                client = redis.Redis(port=private_redis.port)
                try:
                    restored_spend = int(await client.get(spend_key) or 0)
                finally:
                    await client.aclose()
        finally:
            stop_server(server)
    print(  # the figures for the note (pytest -s)
        f"\nredis outage: before {dict(before)}, during {dict(during)} "
        f"(p50 {statistics.median(outage_ms):.1f} ms, max {max(outage_ms):.1f} ms), "
        f"served again {recovery_seconds:.2f} s after redis came back, after {dict(after)}"
    )
    assert before == Counter({"ok": 20})
    assert during == Counter({"503:limits_unavailable": 20})
    assert ready.status_code == 503 and ready.json()["checks"]["counters"] is False
    assert alive.status_code == 200
    assert after == Counter({"ok": 20})
    assert ready_after.status_code == 200
    assert "Traceback" not in server.logs()
    assert stored.cost_micros > 0
    assert restored_spend == stored.cost_micros
