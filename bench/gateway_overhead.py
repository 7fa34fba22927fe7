"""What the gateway adds on the remote-upstream path: latency, throughput, CPU, TTFT and memory.

Starts ``bench/fake_upstream.py`` and ``llmaas serve --config <a remote deployment on it>`` as child
processes, creates an API key, then sends the very same request body DIRECT (client -> fake upstream)
and THROUGH THE GATEWAY (client -> llmaas -> fake upstream):

(a) latency p50/p99 and requests/s at each concurrency, with ``wrk`` (1 thread, keep-alive, after a
    warm-up; ``--repeats`` runs of ``--seconds`` each per point, direct and gateway in alternation, the
    median of each figure reported);
(b) gateway CPU time per request: utime+stime of the gateway process (threads and children) from
    ``/proc/<pid>/stat`` around a fixed-count ``wrk`` run, divided by the count;
(c) streaming time to first token: sequential streaming requests (aiohttp), direct and gateway in
    alternating blocks, timed from sending to the first ``data:`` event whose delta carries content
    (the fake upstream sends a role chunk at once, then a content chunk every ``--chunk-delay-ms``);
(d) gateway resident memory (``VmRSS``) idle after start and after all the load.

Then, unless ``--skip-info``, the gateway is restarted with ``LLMAAS_LOG_LEVEL=info`` (access and usage
log lines on, written to a file) and (a) at the lowest and highest concurrency and (b) are measured again:
the cost of logging. With ``--profile``, py-spy then samples the gateway under a non-streaming and a
streaming load and the hot spots are ranked (raw stacks kept in ``bench/results/``). Everything listens
on 127.0.0.1; every load is bounded in time. Prints Markdown tables and writes
``bench/results/gateway_overhead-<time>.json``.

    .venv/bin/python bench/gateway_overhead.py              # about 2.5 minutes on 2 cores
    .venv/bin/python bench/gateway_overhead.py --profile    # about 3 minutes, needs py-spy
    .venv/bin/python bench/gateway_overhead.py --report bench/results/gateway_overhead-<time>.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

import pyspy
from harness import (
    BENCH_DIR,
    PYTHON,
    RESULTS_DIR,
    Child,
    Children,
    cpu_seconds,
    create_key,
    environment,
    free_port,
    gateway_env,
    llmaas_binary,
    memory_kib,
    percentile,
    timestamp,
    wait_ready,
    write_results,
)

MODEL = "bench-model"
REQUEST: dict[str, Any] = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
    "max_tokens": 16,
}
STREAM_REQUEST: dict[str, Any] = {
    **REQUEST,
    "stream": True,
    "stream_options": {"include_usage": True},
}
TARGETS = {
    "cpu_ms_per_request": 0.35,
    "added_p50_ms_c1": 0.5,
    "added_ttft_p50_ms": 1.0,
    "rss_mb": 120.0,
}

CONFIG = """\
models:
  - id: {model}
    owned_by: bench
    created: 2026-01-01
    context_length: 32768
    capabilities: [chat, completions]
    deployments:
      - name: fake-upstream
        engine: openai_compatible
        url: http://127.0.0.1:{port}/v1
        upstream_model: upstream-model
"""

WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
{limit}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {{"requests":%d,"duration_us":%d,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,' ..
    '"mean_us":%.1f,"max_us":%.1f,"errors":{{"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d}}}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write, e.status,
    e.timeout))
end
"""

# wrk keeps running until its duration is over; the thread just stops sending once at the count.
WRK_LIMIT = """\
local count = 0
function response(status, headers, body)
  count = count + 1
  if count >= {limit} then wrk.thread:stop() end
end
"""


# --- wrk ----------------------------------------------------------------------------------------


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "wrk is not installed. On Debian/Ubuntu: apt-get update && apt-get install -y wrk "
            "(as root, or with sudo); elsewhere build it from https://github.com/wg/wrk"
        )
    return found


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "mean_ms": self.mean_ms,
            "max_ms": self.max_ms,
            "errors": self.errors,
        }


class Wrk:
    def __init__(self, binary: str, workdir: Path, key: str) -> None:
        self._binary = binary
        self._workdir = workdir
        self._key = key

    def _script(self, limit: int | None) -> Path:
        name = f"post-{limit or 'timed'}.lua"
        path = self._workdir / name
        if not path.exists():
            path.write_text(
                WRK_SCRIPT.format(
                    body=json.dumps(REQUEST),
                    key=self._key,
                    limit=WRK_LIMIT.format(limit=limit) if limit else "",
                ),
                encoding="utf-8",
            )
        return path

    def run(self, url: str, connections: int, seconds: float, limit: int | None = None) -> Load:
        argv = [
            self._binary,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(self._script(limit)),
            url,
        ]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
        for line in done.stdout.splitlines():
            if line.startswith("BENCH_JSON "):
                raw = json.loads(line.removeprefix("BENCH_JSON "))
                load = Load(
                    requests=raw["requests"],
                    seconds=raw["duration_us"] / 1e6,
                    p50_ms=round(raw["p50_us"] / 1000, 3),
                    p90_ms=round(raw["p90_us"] / 1000, 3),
                    p99_ms=round(raw["p99_us"] / 1000, 3),
                    mean_ms=round(raw["mean_us"] / 1000, 3),
                    max_ms=round(raw["max_us"] / 1000, 3),
                    errors=raw["errors"],
                )
                if load.requests == 0 or any(load.errors.values()):
                    raise RuntimeError(f"wrk against {url} failed: {raw}\n{done.stdout}")
                return load
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")


# --- the two servers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    children: Children
    workdir: Path
    upstream: Child
    upstream_url: str
    config_path: Path
    data_dir: Path
    key: str


def start_upstream(
    children: Children, workdir: Path, chunks: int, delay_ms: float
) -> tuple[Child, str]:
    port = free_port()
    upstream = children.start(
        "fake upstream",
        [
            PYTHON,
            str(BENCH_DIR / "fake_upstream.py"),
            str(port),
            str(chunks),
            "--delay-ms",
            str(delay_ms),
        ],
        dict(os.environ),
        workdir / "upstream.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/v1/models", upstream, timeout=30)
    return upstream, url


@contextmanager
def gateway(setup: Setup, log_level: str) -> Iterator[tuple[Child, str]]:
    """A running ``llmaas serve`` (stopped on leaving), and its base URL."""
    port = free_port()
    env = gateway_env(setup.data_dir, log_level)
    argv = [llmaas_binary(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--config", str(setup.config_path)]
    child = setup.children.start(
        f"gateway ({log_level})", argv, env, setup.workdir / f"gateway-{log_level}.log"
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", child, timeout=90)
        yield child, f"http://127.0.0.1:{port}"
    finally:
        setup.children.stop(child)


# --- measurements -------------------------------------------------------------------------------


def mb(kib: int) -> float:
    return round(kib * 1024 / 1e6, 1)


def check_once(url: str, key: str) -> None:
    """One request each way before any load: a wrong key or config fails here, with its body."""

    async def probe() -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=REQUEST, headers=headers) as response,
        ):
            body = await response.read()
            if response.status != 200 or b"chat.completion" not in body:
                raise RuntimeError(f"{url} answered {response.status}: {body[:500]!r}")

    asyncio.run(probe())


def measure_cpu(
    wrk: Wrk, url: str, child: Child, connections: int, count: int, rps_hint: float
) -> dict[str, Any]:
    """Gateway CPU seconds around a fixed-count run, per request."""
    seconds = min(60.0, max(3.0, 1.5 * count / max(rps_hint, 1.0) + 1))
    before = cpu_seconds(child.pid)
    load = wrk.run(url, connections, seconds, limit=count)
    time.sleep(0.3)  # let the last in-flight requests finish
    spent = cpu_seconds(child.pid) - before
    return {
        "connections": connections,
        "requests": load.requests,
        "cpu_seconds": round(spent, 3),
        "cpu_ms_per_request": round(spent * 1000 / load.requests, 4),
    }


def _one_point(
    wrk: Wrk, url: str, pids: dict[str, int], connections: int, seconds: float
) -> dict[str, Any]:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    load = wrk.run(url, connections, seconds)
    time.sleep(0.2)
    cpu = {
        f"{name}_cpu_ms_per_request": round(
            (cpu_seconds(pid) - before[name]) * 1000 / load.requests, 4
        )
        for name, pid in pids.items()
    }
    return {**load.as_dict(), **cpu}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    figures = [k for k, v in runs[0].items() if isinstance(v, int | float)]
    return {k: round(statistics.median(r[k] for r in runs), 4) for k in figures}


def latency_points(
    wrk: Wrk,
    targets: dict[str, str],
    pids: dict[str, int],
    concurrencies: Sequence[int],
    seconds: float,
    repeats: int,
) -> dict[str, dict[str, Any]]:
    """Per concurrency and target: the wrk figures and the CPU each process spent per request,
    median of ``repeats`` runs taken in alternation (direct, gateway, direct, gateway, ...)."""
    points: dict[str, dict[str, Any]] = {}
    for connections in concurrencies:
        runs: dict[str, list[dict[str, Any]]] = {target: [] for target in targets}
        for _ in range(repeats):
            for target, url in targets.items():
                run = _one_point(wrk, url, pids, connections, seconds)
                runs[target].append(run)
                print(
                    f"  c={connections:<3} {target:8} p50 {run['p50_ms']:7.3f} ms  p99 "
                    f"{run['p99_ms']:7.3f} ms  {run['rps']:8.0f} req/s",
                    flush=True,
                )
        point: dict[str, Any] = {
            target: {**median_of(values), "runs": values} for target, values in runs.items()
        }
        if "direct" in point and "gateway" in point:
            point["added_p50_ms"] = round(point["gateway"]["p50_ms"] - point["direct"]["p50_ms"], 3)
            point["added_p99_ms"] = round(point["gateway"]["p99_ms"] - point["direct"]["p99_ms"], 3)
        points[str(connections)] = point
    return points


@dataclass(frozen=True)
class StreamSample:
    headers: float
    """Seconds from sending to the response head (the gateway sends it once the engine's first
    chunk is in hand)."""
    first_token: float
    """Seconds to the first ``data:`` event whose delta carries content."""
    done: float
    """Seconds to ``data: [DONE]``."""
    contents: int


async def stream_once(session: aiohttp.ClientSession, url: str, key: str) -> StreamSample:
    body = orjson.dumps(STREAM_REQUEST)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    first = 0.0
    contents = 0
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        head = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}: {await response.read()!r}")
        async for line in response.content:
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                break
            choices = orjson.loads(payload).get("choices") or []
            if any(c.get("delta", {}).get("content") for c in choices):
                contents += 1
                if not first:
                    first = time.perf_counter() - started
    return StreamSample(head, first, time.perf_counter() - started, contents)


async def stream_probe(
    targets: dict[str, str], key: str, count: int, warmup: int, rounds: int = 4
) -> dict[str, list[StreamSample]]:
    """Sequential streams, one target at a time in blocks (direct, gateway, direct, gateway, ...),
    so that each side is measured warm and a slow drift hits both sides alike."""
    samples: dict[str, list[StreamSample]] = {name: [] for name in targets}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for url in targets.values():
            for _ in range(warmup):
                await stream_once(session, url, key)
        for block in range(rounds):
            size = count // rounds + (1 if block < count % rounds else 0)
            for name, url in targets.items():
                for _ in range(size):
                    samples[name].append(await stream_once(session, url, key))
    return samples


async def _ttft(targets: dict[str, str], key: str, count: int, warmup: int) -> dict[str, Any]:
    samples = await stream_probe(targets, key, count, warmup)
    result: dict[str, Any] = {"requests": count}
    for name, values in samples.items():
        ttft = [v.first_token * 1000 for v in values]
        result[name] = {
            "headers_p50_ms": round(percentile([v.headers * 1000 for v in values], 50), 3),
            "ttft_p50_ms": round(percentile(ttft, 50), 3),
            "ttft_p99_ms": round(percentile(ttft, 99), 3),
            "stream_p50_ms": round(percentile([v.done * 1000 for v in values], 50), 3),
            "content_events": sorted({v.contents for v in values}),
        }
    if "direct" in result and "gateway" in result:
        for figure in ("headers_p50_ms", "ttft_p50_ms", "ttft_p99_ms", "stream_p50_ms"):
            added = result["gateway"][figure] - result["direct"][figure]
            result[f"added_{figure}"] = round(added, 3)
    return result


def measure_ttft(targets: dict[str, str], key: str, count: int, warmup: int) -> dict[str, Any]:
    return asyncio.run(_ttft(targets, key, count, warmup))


# --- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    concurrencies: list[int]
    seconds: float
    repeats: int
    warmup_seconds: float
    cpu_requests: int
    cpu_connections: int
    ttft_requests: int
    chunks: int
    chunk_delay_ms: float
    skip_info: bool
    profile: bool
    profile_seconds: float


def warm_up(wrk: Wrk, targets: dict[str, str], seconds: float) -> None:
    for url in targets.values():
        wrk.run(url, 16, seconds)


def main_pass(setup: Setup, wrk: Wrk, options: Options) -> dict[str, Any]:
    """``LLMAAS_LOG_LEVEL=warning``: (a), (b), (c) and (d)."""
    result: dict[str, Any] = {"log_level": "warning"}
    with gateway(setup, "warning") as (child, base):
        time.sleep(1.0)
        result["rss_idle"] = memory_kib(child.pid)
        targets = {
            "direct": f"{setup.upstream_url}/v1/chat/completions",
            "gateway": f"{base}/v1/chat/completions",
        }
        for url in targets.values():
            check_once(url, setup.key)
        print("warm-up ...", flush=True)
        warm_up(wrk, targets, options.warmup_seconds)
        print("(a) latency and throughput (wrk)", flush=True)
        pids = {"gateway": child.pid, "upstream": setup.upstream.process.pid}
        result["latency"] = latency_points(
            wrk, targets, pids, options.concurrencies, options.seconds, options.repeats
        )
        hint = _rps_near(result["latency"], options.cpu_connections)
        print(f"(b) CPU per request: {options.cpu_requests} requests", flush=True)
        result["cpu"] = measure_cpu(
            wrk, targets["gateway"], child, options.cpu_connections, options.cpu_requests, hint
        )
        print(f"(c) time to first token: {options.ttft_requests} streams each way", flush=True)
        before = cpu_seconds(child.pid)
        result["ttft"] = measure_ttft(targets, setup.key, options.ttft_requests, warmup=20)
        spent = cpu_seconds(child.pid) - before
        result["ttft"]["gateway_cpu_ms_per_stream"] = round(
            spent * 1000 / (options.ttft_requests + 20), 4
        )
        result["rss_after_load"] = memory_kib(child.pid)
        if options.profile:
            result["profile"] = profile_gateway(
                wrk, child.pid, targets["gateway"], setup.key, options.profile_seconds
            )
    return result


def profile_gateway(wrk: Wrk, pid: int, url: str, key: str, seconds: float) -> dict[str, Any]:
    """py-spy on the gateway under a non-streaming wrk load at c=16, then under 16 streaming clients."""
    profiles: dict[str, Any] = {}
    stamp = timestamp()
    for kind in ("non_streaming_c16", "streaming_c16"):
        raw = RESULTS_DIR / f"gateway_profile-{kind}-{stamp}.txt"
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        print(f"profiling the gateway ({kind}, {seconds:.0f} s) -> {raw}", flush=True)
        spy = pyspy.record(pid, seconds, raw)
        time.sleep(0.5)  # let py-spy attach before the load starts
        if kind == "non_streaming_c16":
            wrk.run(url, 16, seconds + 1)
        else:
            asyncio.run(_streams_for(url, key, seconds + 1))
        _, errors = spy.communicate(timeout=seconds + 60)
        if spy.returncode != 0 or not raw.exists():
            raise RuntimeError(f"py-spy failed ({spy.returncode}): {errors.decode()[-2000:]}")
        profiles[kind] = {"raw": str(raw), **pyspy.summarize(raw)}
    return profiles


async def _streams_for(url: str, key: str, seconds: float, concurrency: int = 16) -> None:
    """``concurrency`` clients streaming back to back, so that the gateway is busy."""
    deadline = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            await stream_once(session, url, key)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))


def info_pass(setup: Setup, wrk: Wrk, options: Options) -> dict[str, Any]:
    """``LLMAAS_LOG_LEVEL=info``: the gateway side of (a) at two concurrencies, and (b)."""
    result: dict[str, Any] = {"log_level": "info"}
    with gateway(setup, "info") as (child, base):
        targets = {"gateway": f"{base}/v1/chat/completions"}
        check_once(targets["gateway"], setup.key)
        warm_up(wrk, targets, options.warmup_seconds)
        log_before = child.log_path.stat().st_size
        print("(info) latency and throughput (wrk)", flush=True)
        edges = sorted({min(options.concurrencies), max(options.concurrencies)})
        pids = {"gateway": child.pid}
        result["latency"] = latency_points(
            wrk, targets, pids, edges, options.seconds, options.repeats
        )
        hint = _rps_near(result["latency"], options.cpu_connections)
        result["cpu"] = measure_cpu(
            wrk, targets["gateway"], child, options.cpu_connections, options.cpu_requests, hint
        )
        served = sum(
            run["requests"] for p in result["latency"].values() for run in p["gateway"]["runs"]
        )
        served += result["cpu"]["requests"]
        logged = child.log_path.stat().st_size - log_before
        result["log_bytes_per_request"] = round(logged / served, 1)
        result["rss_after_load"] = memory_kib(child.pid)
    return result


def _rps_near(points: dict[str, dict[str, Any]], connections: int) -> float:
    closest = min(points, key=lambda c: abs(int(c) - connections))
    rps: float = points[closest]["gateway"]["rps"]
    return rps


def run(options: Options) -> dict[str, Any]:
    wrk_binary = require_wrk()
    results: dict[str, Any] = {
        "benchmark": "gateway_overhead",
        "environment": environment(),
        "options": options.__dict__,
        "targets": TARGETS,
        "request": REQUEST,
    }
    with tempfile.TemporaryDirectory(prefix="llmaas-bench-") as tmp, Children() as children:
        workdir = Path(tmp)
        upstream, upstream_url = start_upstream(
            children, workdir, options.chunks, options.chunk_delay_ms
        )
        data_dir = workdir / "data"
        data_dir.mkdir()
        config_path = workdir / "models.yaml"
        config_path.write_text(
            CONFIG.format(model=MODEL, port=upstream_url.rsplit(":", 1)[1]), encoding="utf-8"
        )
        key = create_key(gateway_env(data_dir, "warning"))
        setup = Setup(children, workdir, upstream, upstream_url, config_path, data_dir, key)
        wrk = Wrk(wrk_binary, workdir, key)
        results["warning"] = main_pass(setup, wrk, options)
        if not options.skip_info:
            results["info"] = info_pass(setup, wrk, options)
    return results


# --- report -------------------------------------------------------------------------------------


def _verdict(value: float, target: float) -> str:
    return "yes" if value <= target else "**NO**"


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def report(results: dict[str, Any]) -> str:
    main = results["warning"]
    lines = [
        "| Figure (LLMAAS_LOG_LEVEL=warning) | Direct | Through gateway | Added | Target | Met |",
        "|---|---:|---:|---:|---|---|",
    ]
    lowest = min(main["latency"], key=int)
    for connections, point in sorted(main["latency"].items(), key=lambda kv: int(kv[0])):
        direct, via = point["direct"], point["gateway"]
        for figure in ("p50", "p99"):
            added = point[f"added_{figure}_ms"]
            target, met = "", ""
            if figure == "p50" and connections == lowest:
                target = f"added <= {TARGETS['added_p50_ms_c1']} ms"
                met = _verdict(added, TARGETS["added_p50_ms_c1"])
            lines.append(
                _row(
                    [
                        f"latency {figure}, c={connections} (ms)",
                        f"{direct[f'{figure}_ms']:.3f}",
                        f"{via[f'{figure}_ms']:.3f}",
                        f"{added:+.3f}",
                        target,
                        met,
                    ]
                )
            )
        change = (via["rps"] / direct["rps"] - 1) * 100
        lines.append(
            _row(
                [
                    f"requests/s, c={connections}",
                    f"{direct['rps']:.0f}",
                    f"{via['rps']:.0f}",
                    f"{change:+.0f}%",
                    "",
                    "",
                ]
            )
        )
    lines += _cpu_ttft_rss_rows(main)
    text = "\n".join(lines)
    if "info" in results:
        text += "\n\n" + _info_report(results)
    for kind, summary in main.get("profile", {}).items():
        text += "\n\n" + pyspy.render(f"py-spy, {kind}", summary)
    return text


def _cpu_ttft_rss_rows(main: dict[str, Any]) -> list[str]:
    cpu = main["cpu"]
    ttft = main["ttft"]
    target = TARGETS["cpu_ms_per_request"]
    rows = [
        _row(
            [
                f"gateway CPU per request (ms), {cpu['requests']} req at c={cpu['connections']}",
                "",
                f"{cpu['cpu_ms_per_request']:.3f}",
                "",
                f"<= {target} ms",
                _verdict(cpu["cpu_ms_per_request"], target),
            ]
        )
    ]
    labels = {
        "headers_p50_ms": "response head p50",
        "ttft_p50_ms": "TTFT p50",
        "ttft_p99_ms": "TTFT p99",
        "stream_p50_ms": "whole stream p50",
    }
    for figure, label in labels.items():
        added = ttft[f"added_{figure}"]
        is_target = figure == "ttft_p50_ms"
        rows.append(
            _row(
                [
                    f"{label} (ms), {ttft['requests']} sequential streams",
                    f"{ttft['direct'][figure]:.3f}",
                    f"{ttft['gateway'][figure]:.3f}",
                    f"{added:+.3f}",
                    f"added <= {TARGETS['added_ttft_p50_ms']} ms" if is_target else "",
                    _verdict(added, TARGETS["added_ttft_p50_ms"]) if is_target else "",
                ]
            )
        )
    rows.append(
        _row(
            [
                f"gateway CPU per streamed request (ms), {ttft['direct']['content_events'][0]} chunks",
                "",
                f"{ttft['gateway_cpu_ms_per_stream']:.3f}",
                "",
                "",
                "",
            ]
        )
    )
    for label, key in (("idle after start", "rss_idle"), ("after the load", "rss_after_load")):
        rss = mb(main[key]["VmRSS"])
        rows.append(
            _row(
                [
                    f"gateway RSS {label} (MB = 10^6 B)",
                    "",
                    f"{rss:.1f}",
                    "",
                    f"<= {TARGETS['rss_mb']:.0f} MB",
                    _verdict(rss, TARGETS["rss_mb"]),
                ]
            )
        )
    return rows


def _info_report(results: dict[str, Any]) -> str:
    main, info = results["warning"], results["info"]
    lines = [
        "| Cost of logging (LLMAAS_LOG_LEVEL=info vs warning) | warning | info | Added |",
        "|---|---:|---:|---:|",
    ]
    for connections, point in sorted(info["latency"].items(), key=lambda kv: int(kv[0])):
        quiet = main["latency"][connections]["gateway"]
        loud = point["gateway"]
        for figure, fmt in (("p50_ms", "{:.3f}"), ("p99_ms", "{:.3f}"), ("rps", "{:.0f}")):
            label = f"gateway {figure.replace('_ms', ' (ms)')}, c={connections}"
            lines.append(
                _row(
                    [
                        label,
                        fmt.format(quiet[figure]),
                        fmt.format(loud[figure]),
                        f"{loud[figure] - quiet[figure]:+.3f}",
                    ]
                )
            )
    quiet_cpu, loud_cpu = main["cpu"]["cpu_ms_per_request"], info["cpu"]["cpu_ms_per_request"]
    lines.append(
        _row(
            [
                "gateway CPU per request (ms)",
                f"{quiet_cpu:.3f}",
                f"{loud_cpu:.3f}",
                f"{loud_cpu - quiet_cpu:+.3f}",
            ]
        )
    )
    lines.append(_row(["log bytes per request", "", f"{info['log_bytes_per_request']:.0f}", ""]))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(description="Gateway overhead on the remote-upstream path.")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated wrk connections")
    parser.add_argument("--seconds", type=float, default=4.0, help="wrk duration per run")
    parser.add_argument(
        "--repeats", type=int, default=3, help="wrk runs per point and target (median reported)"
    )
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument("--cpu-requests", type=int, default=5000, help="fixed count for (b)")
    parser.add_argument("--cpu-connections", type=int, default=16)
    parser.add_argument("--ttft-requests", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=16, help="content chunks per upstream stream")
    parser.add_argument("--chunk-delay-ms", type=float, default=1.0, help="upstream token interval")
    parser.add_argument("--skip-info", action="store_true", help="no LLMAAS_LOG_LEVEL=info pass")
    parser.add_argument(
        "--profile", action="store_true", help="also sample the gateway with py-spy (needs py-spy)"
    )
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    parser.add_argument(
        "--report", type=Path, help="only print the tables of a saved results JSON file"
    )
    args = parser.parse_args(argv)
    options = Options(
        concurrencies=[int(c) for c in args.concurrency.split(",")],
        seconds=args.seconds,
        repeats=args.repeats,
        warmup_seconds=args.warmup_seconds,
        cpu_requests=args.cpu_requests,
        cpu_connections=args.cpu_connections,
        ttft_requests=args.ttft_requests,
        chunks=args.chunks,
        chunk_delay_ms=args.chunk_delay_ms,
        skip_info=args.skip_info,
        profile=args.profile,
        profile_seconds=args.profile_seconds,
    )
    return options, args.report


def reprint(path: Path) -> int:
    results = json.loads(path.read_text(encoding="utf-8"))
    for summary in results["warning"].get("profile", {}).values():
        if Path(summary["raw"]).exists():
            summary.update(pyspy.summarize(Path(summary["raw"])))
    print(report(results))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    options, saved = parse_args(argv)
    if saved is not None:
        return reprint(saved)
    if options.profile and pyspy.binary() is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy==0.4.3")
    started = time.monotonic()
    results = run(options)
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    path = write_results("gateway_overhead", results)
    print("\n" + report(results))
    print(f"\nresults: {path}  ({results['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
