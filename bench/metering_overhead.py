"""What admission and metering cost: the bare gateway of the foundation beside the full request path.

One run starts ``bench/fake_upstream.py`` and up to three gateways on it, all at once, and measures
them side by side against the same upstream, in alternation, with the same request body:

``bare``
    The gateway at the foundation commit (``--foundation-commit``, default ``4ac82a7``): API-key
    authentication only, no admission, usage only logged. It runs from a ``git worktree`` of that
    commit, with this interpreter and ``PYTHONPATH=<worktree>/src`` (the script checks which
    ``llmaas/__init__.py`` each gateway imported); the worktree is removed at the end.
``memory``
    The current code with default settings: counters in process memory, usage records written in
    batches to SQLite in ``LLMAAS_DATA_DIR``.
``redis``
    The current code with ``LLMAAS_REDIS_URL`` (counters in Redis) and ``LLMAAS_DATABASE_URL`` on a
    fresh PostgreSQL database that the script creates, migrates (``llmaas migrate``) and drops.

The keys of ``memory`` and ``redis`` are created with limits that every request is checked against
but never reaches (``--key-limits``), so admission reserves against the rate windows and the monthly
budget on every request. Figures, per configuration:

(a) latency p50/p99 and requests/s with ``wrk`` at each concurrency, direct (client -> fake upstream)
    and through each gateway in alternation, ``--repeats`` runs each, medians; added = gateway - direct;
(b) gateway CPU per request: utime+stime from ``/proc/<pid>/stat`` around fixed-count ``wrk`` runs,
    read ``--settle-seconds`` after the run so that the batch write of its usage records is included;
    rounds over the gateways in turn, medians, and what each full path adds to ``bare`` (the median
    of the differences within a round); for ``redis`` also the redis-server process's CPU per
    request, which is outside the gateway;
(c) TTFT and whole-stream time of sequential streaming requests, added to direct;
(d) gateway RSS, idle and after the load;
(e) the rows in ``usage_records`` once the load is over (and again after a graceful stop), beside
    the requests the clients counted: the proof that metering was on.

Prints Markdown tables and writes ``bench/results/metering_overhead-<time>.json``.

    .venv/bin/python bench/metering_overhead.py                  # about 3.5 minutes on 2 cores
    .venv/bin/python bench/metering_overhead.py --configs bare,memory
    .venv/bin/python bench/metering_overhead.py --report bench/results/metering_overhead-<time>.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from gateway_overhead import (
    CONFIG,
    MODEL,
    REQUEST,
    StreamSample,
    Wrk,
    check_once,
    median_of,
    require_wrk,
    start_upstream,
    stream_once,
)
from harness import (
    BENCH_DIR,
    Child,
    Children,
    cpu_seconds,
    create_key_record,
    environment,
    free_port,
    imported_from,
    llmaas_argv,
    memory_kib,
    percentile,
    run_and_report,
    source_digest,
    wait_ready,
)

REPO = BENCH_DIR.parent
CONFIGS = ("bare", "memory", "redis")
TITLES = {
    "bare": "Bare (foundation)",
    "memory": "Full: memory + SQLite",
    "redis": "Full: Redis + PostgreSQL",
}
TARGETS: dict[str, Any] = {
    "cpu_ms_per_request": {"memory": 0.5, "redis": 1.0},
    "added_p50_ms_c1": 0.6,
}
DEFAULT_KEY_LIMITS = "--rpm 10000000 --tpm 10000000000 --budget-eur 1000000"
USAGE_FLUSH_SECONDS = 1.0
"""The gateway's default ``LLMAAS_USAGE_FLUSH_SECONDS``: usage records reach the database this often."""
TTFT_WARMUP = 10


@dataclass(frozen=True)
class Options:
    configs: list[str]
    concurrencies: list[int]
    seconds: float
    repeats: int
    warmup_seconds: float
    cpu_requests: int
    cpu_connections: int
    cpu_repeats: int
    settle_seconds: float
    idle_seconds: float
    ttft_requests: int
    chunks: int
    chunk_delay_ms: float
    foundation_commit: str
    redis_url: str
    postgres_url: str
    key_limits: str


# --- usage storage ------------------------------------------------------------------------------


class UsageStore:
    """Where a gateway's usage records land; counts them by outcome."""

    def counts(self) -> dict[str, int]:
        raise NotImplementedError


class SqliteUsage(UsageStore):
    def __init__(self, path: Path) -> None:
        self.path = path

    def counts(self) -> dict[str, int]:
        with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)) as db:
            rows = db.execute(
                "SELECT outcome, count(*) FROM usage_records GROUP BY outcome"
            ).fetchall()
        return {str(outcome): int(count) for outcome, count in rows}


class PostgresUsage(UsageStore):
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def counts(self) -> dict[str, int]:
        async def fetch() -> dict[str, int]:
            connection = await asyncpg.connect(self.dsn, timeout=10)
            try:
                rows = await connection.fetch(
                    "SELECT outcome, count(*) AS n FROM usage_records GROUP BY outcome"
                )
            finally:
                await connection.close()
            return {str(row["outcome"]): int(row["n"]) for row in rows}

        return asyncio.run(fetch())


def _with_database(dsn: str, database: str, scheme: str | None = None) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}", scheme=scheme or parts.scheme))


def _admin(dsn: str, statement: str) -> None:
    async def execute() -> None:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute())


def postgres_database(admin_dsn: str, cleanup: ExitStack) -> tuple[str, str]:
    """A fresh database, dropped when ``cleanup`` closes: (its asyncpg DSN, its SQLAlchemy URL)."""
    name = f"llmaas_bench_{secrets.token_hex(4)}"
    _admin(admin_dsn, f'CREATE DATABASE "{name}"')
    cleanup.callback(_admin, admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return _with_database(admin_dsn, name), _with_database(admin_dsn, name, "postgresql+asyncpg")


def redis_server_pid(url: str) -> int | None:
    """The redis-server's pid if it runs in this machine's process namespace (``INFO server``)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        info: Any = client.info("server")
    except redis.RedisError as error:
        raise SystemExit(
            f"Redis at {url} is unreachable ({error}); use --configs bare,memory"
        ) from None
    finally:
        client.close()
    pid = int(info.get("process_id", 0))
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    return pid if comm.startswith("redis") else None


# --- the gateways -------------------------------------------------------------------------------


@dataclass
class Gateway:
    name: str
    child: Child
    base: str
    key: str
    wrk: Wrk
    source: str
    """The ``llmaas/__init__.py`` the running process imported."""
    usage: UsageStore | None
    extra_pids: dict[str, int] = field(default_factory=dict)
    """Other processes whose CPU per request is reported beside the gateway's (redis-server)."""
    served: int = 0
    """Requests the clients saw completed."""
    in_flight: int = 0
    """At most this many more reached the gateway: those in flight when a wrk run ended."""

    @property
    def url(self) -> str:
        return f"{self.base}/v1/chat/completions"


@dataclass(frozen=True)
class Prepared:
    env: dict[str, str]
    expected_src: Path
    key_record: dict[str, Any]
    usage: UsageStore | None
    notes: dict[str, Any]


def base_env(data_dir: Path) -> dict[str, str]:
    """This environment without any ``LLMAAS_`` setting, plus a data dir and quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMAAS_")}
    env["LLMAAS_DATA_DIR"] = str(data_dir)
    env["LLMAAS_LOG_LEVEL"] = "warning"
    return env


def add_worktree(commit: str, path: Path, cleanup: ExitStack) -> Path:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), commit],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    cleanup.callback(
        subprocess.run,
        ["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    return path


def _run_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        llmaas_argv(*args), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"llmaas {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def stored_limits(env: dict[str, str], key_id: str) -> Any:
    """The key's limits as ``llmaas keys show --json`` reads them back from the database."""
    try:
        shown = json.loads(_run_cli(env, "keys", "show", key_id, "--json"))
    except (RuntimeError, ValueError) as error:
        return f"unknown ({str(error).strip()[-200:]})"
    return shown.get("limits") if isinstance(shown, dict) else None


def prepare(name: str, options: Options, workdir: Path, cleanup: ExitStack) -> Prepared:
    """The environment, key and usage store of one configuration."""
    data_dir = workdir / name / "data"
    data_dir.mkdir(parents=True)
    env = base_env(data_dir)
    current_src = Path(source_file_of_current()).parent.parent
    limits = shlex.split(options.key_limits)
    notes: dict[str, Any] = {}
    usage: UsageStore | None = None
    if name == "bare":
        tree = add_worktree(options.foundation_commit, workdir / "foundation", cleanup)
        src = tree / "src"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)
        limits = []
        notes["commit"] = options.foundation_commit
        notes["source_sha256"] = source_digest(src / "llmaas")
        expected = src
    else:
        expected = current_src
        notes["source_sha256"] = source_digest()
        usage = SqliteUsage(data_dir / "llmaas.db")
        if name == "redis":
            dsn, url = postgres_database(options.postgres_url, cleanup)
            env["LLMAAS_REDIS_URL"] = options.redis_url
            env["LLMAAS_DATABASE_URL"] = url
            notes["database_url"] = url
            notes["redis_url"] = options.redis_url
            usage = PostgresUsage(dsn)
        _run_cli(env, "migrate")
    record = create_key_record(env, limits, argv=llmaas_argv())
    notes["key_limits"] = limits
    if name != "bare":
        notes["stored_limits"] = stored_limits(env, str(record["id"]))
    return Prepared(env, expected, record, usage, notes)


def source_file_of_current() -> str:
    import llmaas

    return str(llmaas.__file__)


def start_gateway(
    children: Children,
    name: str,
    prepared: Prepared,
    workdir: Path,
    config_path: Path,
    wrk_binary: str,
) -> Gateway:
    port = free_port()
    argv = llmaas_argv("serve", "--host", "127.0.0.1", "--port", str(port))
    argv += ["--config", str(config_path)]
    child = children.start(f"gateway ({name})", argv, prepared.env, workdir / f"gateway-{name}.log")
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/readyz", child, timeout=90)
    source = imported_from(child.log_path.read_text(encoding="utf-8", errors="replace"))
    if source is None or not Path(source).resolve().is_relative_to(prepared.expected_src.resolve()):
        raise RuntimeError(
            f"gateway ({name}) imported llmaas from {source}, not from {prepared.expected_src}"
        )
    return Gateway(
        name=name,
        child=child,
        base=base,
        key=prepared.key_record["key"],
        wrk=Wrk(wrk_binary, workdir / name, prepared.key_record["key"]),
        source=source,
        usage=prepared.usage,
    )


# --- measurements -------------------------------------------------------------------------------


def gateway_run(
    gateway: Gateway,
    connections: int,
    seconds: float,
    *,
    limit: int | None = None,
    settle: float = 0.2,
) -> dict[str, Any]:
    """One wrk run through ``gateway``; CPU per request of the gateway (and its extra pids)."""
    pids = {"gateway": gateway.child.pid, **gateway.extra_pids}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    load = gateway.wrk.run(gateway.url, connections, seconds, limit=limit)
    time.sleep(settle)
    gateway.served += load.requests
    gateway.in_flight += connections
    cpu = {
        f"{name}_cpu_ms_per_request": round(
            (cpu_seconds(pid) - before[name]) * 1000 / load.requests, 4
        )
        for name, pid in pids.items()
    }
    return {**load.as_dict(), **cpu}


def _print_run(connections: int, target: str, run: dict[str, Any]) -> None:
    cpu = run.get("gateway_cpu_ms_per_request")
    print(
        f"  c={connections:<3} {target:7} p50 {run['p50_ms']:7.3f} ms  p99 {run['p99_ms']:7.3f} ms"
        f"  {run['rps']:8.0f} req/s" + (f"  CPU {cpu:.3f} ms/req" if cpu is not None else ""),
        flush=True,
    )


def latency_points(
    gateways: dict[str, Gateway], direct: tuple[Wrk, str], options: Options
) -> dict[str, dict[str, Any]]:
    """Per concurrency: direct and every gateway in turn, ``repeats`` times; medians."""
    points: dict[str, dict[str, Any]] = {}
    for connections in options.concurrencies:
        runs: dict[str, list[dict[str, Any]]] = {"direct": [], **{g: [] for g in gateways}}
        for _ in range(options.repeats):
            wrk, url = direct
            run = wrk.run(url, connections, options.seconds).as_dict()
            runs["direct"].append(run)
            _print_run(connections, "direct", run)
            for name, gateway in gateways.items():
                run = gateway_run(gateway, connections, options.seconds)
                runs[name].append(run)
                _print_run(connections, name, run)
        point: dict[str, Any] = {t: {**median_of(v), "runs": v} for t, v in runs.items()}
        for name in gateways:
            for figure in ("p50_ms", "p99_ms"):
                added = point[name][figure] - point["direct"][figure]
                point[name][f"added_{figure}"] = round(added, 3)
        points[str(connections)] = point
    return points


def measure_cpu(
    gateways: dict[str, Gateway], points: dict[str, dict[str, Any]], options: Options
) -> dict[str, dict[str, Any]]:
    """Fixed-count runs, the gateways in turn, ``cpu_repeats`` times; the median per gateway."""
    closest = min(points, key=lambda c: abs(int(c) - options.cpu_connections))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in gateways}
    for _ in range(options.cpu_repeats):
        for name, gateway in gateways.items():
            rps = max(float(points[closest][name]["rps"]), 100.0)
            seconds = min(60.0, max(2.0, 1.3 * options.cpu_requests / rps + 1))
            run = gateway_run(
                gateway,
                options.cpu_connections,
                seconds,
                limit=options.cpu_requests,
                settle=options.settle_seconds,
            )
            runs[name].append(run)
            print(
                f"  {name:7} {run['requests']} requests: "
                f"{run['gateway_cpu_ms_per_request']:.3f} ms CPU/request",
                flush=True,
            )
    result: dict[str, dict[str, Any]] = {
        name: {"connections": options.cpu_connections, **median_of(values), "runs": values}
        for name, values in runs.items()
    }
    if "bare" in runs:
        for name, values in runs.items():
            if name != "bare":
                result[name]["added_to_bare_ms_per_request"] = paired_difference(
                    values, runs["bare"], "gateway_cpu_ms_per_request"
                )
    return result


def paired_difference(runs: list[dict[str, Any]], base: list[dict[str, Any]], figure: str) -> float:
    """Median of the round-by-round differences: a slow drift of the machine's load cancels out."""
    differences = [r[figure] - b[figure] for r, b in zip(runs, base, strict=True)]
    return round(float(statistics.median(differences)), 4)


async def _stream_probe(
    targets: dict[str, tuple[str, str]], count: int, warmup: int, rounds: int = 4
) -> dict[str, list[StreamSample]]:
    """Sequential streams, target after target in blocks, so that drift hits every side alike."""
    samples: dict[str, list[StreamSample]] = {name: [] for name in targets}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for url, key in targets.values():
            for _ in range(warmup):
                await stream_once(session, url, key)
        for block in range(rounds):
            size = count // rounds + (1 if block < count % rounds else 0)
            for name, (url, key) in targets.items():
                for _ in range(size):
                    samples[name].append(await stream_once(session, url, key))
    return samples


def measure_ttft(
    gateways: dict[str, Gateway], direct_url: str, options: Options
) -> dict[str, dict[str, Any]]:
    targets = {"direct": (direct_url, "unused")}
    targets.update({name: (g.url, g.key) for name, g in gateways.items()})
    before = {name: cpu_seconds(g.child.pid) for name, g in gateways.items()}
    samples = asyncio.run(_stream_probe(targets, options.ttft_requests, TTFT_WARMUP))
    streams = options.ttft_requests + TTFT_WARMUP
    result: dict[str, dict[str, Any]] = {}
    for name, values in samples.items():
        ttft = [v.first_token * 1000 for v in values]
        result[name] = {
            "requests": len(values),
            "headers_p50_ms": round(percentile([v.headers * 1000 for v in values], 50), 3),
            "ttft_p50_ms": round(percentile(ttft, 50), 3),
            "ttft_p99_ms": round(percentile(ttft, 99), 3),
            "stream_p50_ms": round(percentile([v.done * 1000 for v in values], 50), 3),
            "content_events": sorted({v.contents for v in values}),
        }
    for name, gateway in gateways.items():
        gateway.served += streams
        spent = cpu_seconds(gateway.child.pid) - before[name]
        result[name]["gateway_cpu_ms_per_stream"] = round(spent * 1000 / streams, 4)
        for figure in ("headers_p50_ms", "ttft_p50_ms", "ttft_p99_ms", "stream_p50_ms"):
            added = result[name][figure] - result["direct"][figure]
            result[name][f"added_{figure}"] = round(added, 3)
    return result


def rate_limit_headers(gateway: Gateway) -> dict[str, str]:
    """One more request: the ``x-ratelimit-*`` headers show that admission counts this key."""
    request = urllib.request.Request(
        gateway.url,
        data=json.dumps(REQUEST).encode(),
        headers={"Authorization": f"Bearer {gateway.key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        gateway.served += 1
        return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-rate")}


def idle_cpu(gateways: dict[str, Gateway], seconds: float) -> dict[str, float]:
    """Each gateway's CPU while nothing is sent, in percent of one core."""
    before = {name: cpu_seconds(g.child.pid) for name, g in gateways.items()}
    time.sleep(seconds)
    return {
        name: round((cpu_seconds(g.child.pid) - before[name]) * 100 / seconds, 2)
        for name, g in gateways.items()
    }


def _count(gateway: Gateway) -> dict[str, int] | None:
    if gateway.usage is None:
        return None
    try:
        return gateway.usage.counts()
    except (OSError, sqlite3.Error, asyncpg.PostgresError) as error:
        print(f"  {gateway.name}: cannot count usage records: {error!r}", flush=True)
        return None


def log_problems(gateway: Gateway, limit: int = 12) -> list[str]:
    """The gateway's log lines that look like an error or a traceback (the log level is warning)."""
    text = gateway.child.log_path.read_text(encoding="utf-8", errors="replace")
    words = ("error", "traceback", "critical", "exception")
    lines = [line for line in text.splitlines() if any(w in line.lower() for w in words)]
    return lines[:limit]


def usage_check(gateway: Gateway, children: Children) -> dict[str, Any]:
    """Rows written while serving (after a flush interval), then after a graceful stop."""
    serving = _count(gateway)
    children.stop(gateway.child)
    stopped = _count(gateway)
    result: dict[str, Any] = {
        "requests_counted": gateway.served,
        "in_flight_bound": gateway.in_flight,
        "exit_code": gateway.child.process.returncode,
    }
    if serving is None or stopped is None:
        return {**result, "rows_while_serving": None, "rows_after_stop": None}
    after = sum(stopped.values())
    return {
        **result,
        "rows_while_serving": sum(serving.values()),
        "rows_after_stop": after,
        "rows_by_outcome": stopped,
        "matches": gateway.served <= after <= gateway.served + gateway.in_flight,
    }


# --- the run ------------------------------------------------------------------------------------


def run(options: Options) -> dict[str, Any]:
    wrk_binary = require_wrk()
    redis_pid = redis_server_pid(options.redis_url) if "redis" in options.configs else None
    results: dict[str, Any] = {
        "benchmark": "metering_overhead",
        "environment": environment(),
        "options": options.__dict__,
        "targets": TARGETS,
        "request": REQUEST,
        "configs": {},
    }
    results["load_average_before"] = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="llmaas-bench-") as tmp,
        ExitStack() as cleanup,
        Children() as children,
    ):
        workdir = Path(tmp)
        _, upstream_url = start_upstream(children, workdir, options.chunks, options.chunk_delay_ms)
        config_path = workdir / "models.yaml"
        config_path.write_text(
            CONFIG.format(model=MODEL, port=upstream_url.rsplit(":", 1)[1]), encoding="utf-8"
        )
        gateways: dict[str, Gateway] = {}
        for name in options.configs:
            print(f"preparing {name}: {TITLES[name]}", flush=True)
            prepared = prepare(name, options, workdir, cleanup)
            gateway = start_gateway(children, name, prepared, workdir, config_path, wrk_binary)
            if name == "redis" and redis_pid is not None:
                gateway.extra_pids["redis_server"] = redis_pid
            gateways[name] = gateway
            results["configs"][name] = {"title": TITLES[name], "source": gateway.source}
            results["configs"][name].update(prepared.notes)
            print(f"  {name}: llmaas from {gateway.source}", flush=True)
        time.sleep(1.0)
        for name, gateway in gateways.items():
            results["configs"][name]["rss_idle"] = memory_kib(gateway.child.pid)
        for name, percent in idle_cpu(gateways, options.idle_seconds).items():
            results["configs"][name]["idle_cpu_percent"] = percent
        direct_url = f"{upstream_url}/v1/chat/completions"
        direct = (Wrk(wrk_binary, workdir, "unused"), direct_url)
        check_once(direct_url, "unused")
        print("warm-up ...", flush=True)
        direct[0].run(direct_url, 16, options.warmup_seconds)
        for gateway in gateways.values():
            check_once(gateway.url, gateway.key)
            gateway.served += 1
            gateway_run(gateway, 16, options.warmup_seconds)
        print("(a) latency and throughput (wrk)", flush=True)
        results["latency"] = latency_points(gateways, direct, options)
        print(f"(b) CPU per request: {options.cpu_requests} requests x {options.cpu_repeats}")
        results["cpu"] = measure_cpu(gateways, results["latency"], options)
        print(f"(c) time to first token: {options.ttft_requests} streams each", flush=True)
        results["ttft"] = measure_ttft(gateways, direct_url, options)
        for name, gateway in gateways.items():
            results["configs"][name]["rate_limit_headers"] = rate_limit_headers(gateway)
        time.sleep(USAGE_FLUSH_SECONDS + 1.0)
        print("(e) usage records", flush=True)
        for name, gateway in gateways.items():
            results["configs"][name]["rss_after_load"] = memory_kib(gateway.child.pid)
            results["configs"][name]["usage"] = usage_check(gateway, children)
            results["configs"][name]["log_problems"] = log_problems(gateway)
    results["load_average_after"] = os.getloadavg()
    return results


# --- report -------------------------------------------------------------------------------------


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _verdict(value: float, target: float) -> str:
    return "yes" if value <= target else "**NO**"


def _with_added(value: float, added: float) -> str:
    return f"{value:.3f} ({added:+.3f})"


def _latency_rows(results: dict[str, Any], names: list[str]) -> list[str]:
    rows = []
    for connections, point in sorted(results["latency"].items(), key=lambda kv: int(kv[0])):
        for figure in ("p50", "p99"):
            cells = [f"latency {figure}, c={connections} (ms; added)"]
            cells.append(f"{point['direct'][f'{figure}_ms']:.3f}")
            cells += [
                _with_added(point[n][f"{figure}_ms"], point[n][f"added_{figure}_ms"]) for n in names
            ]
            rows.append(_row(cells))
        rows.append(
            _row(
                [f"requests/s, c={connections}", f"{point['direct']['rps']:.0f}"]
                + [f"{point[n]['rps']:.0f}" for n in names]
            )
        )
        rows.append(
            _row(
                [f"gateway CPU per request (ms), wrk runs at c={connections}", ""]
                + [f"{point[n]['gateway_cpu_ms_per_request']:.3f}" for n in names]
            )
        )
    return rows


def _cpu_rows(results: dict[str, Any], names: list[str]) -> list[str]:
    cpu = results["cpu"]
    options = results["options"]
    label = (
        f"**gateway CPU per request (ms)**, {options['cpu_requests']} req at "
        f"c={options['cpu_connections']}, median of {options['cpu_repeats']}"
    )
    rows = [_row([label, ""] + [f"{cpu[n]['gateway_cpu_ms_per_request']:.3f}" for n in names])]
    if "bare" in names and any("added_to_bare_ms_per_request" in cpu[n] for n in names):
        rows.append(
            _row(
                ["gateway CPU per request added to the bare path (ms), median of paired rounds", ""]
                + [
                    f"{cpu[n]['added_to_bare_ms_per_request']:+.3f}" if n != "bare" else ""
                    for n in names
                ]
            )
        )
    if any("redis_server_cpu_ms_per_request" in cpu[n] for n in names):
        rows.append(
            _row(
                ["redis-server CPU per request (ms), OUTSIDE the gateway, same runs", ""]
                + [
                    f"{cpu[n]['redis_server_cpu_ms_per_request']:.3f}"
                    if "redis_server_cpu_ms_per_request" in cpu[n]
                    else ""
                    for n in names
                ]
            )
        )
    return rows


def _ttft_rows(results: dict[str, Any], names: list[str]) -> list[str]:
    ttft = results["ttft"]
    labels = {
        "headers_p50_ms": "response head p50",
        "ttft_p50_ms": "TTFT p50",
        "ttft_p99_ms": "TTFT p99",
        "stream_p50_ms": "whole stream p50",
    }
    count = ttft["direct"]["requests"]
    rows = [
        _row(
            [f"{label} (ms; added), {count} sequential streams", f"{ttft['direct'][figure]:.3f}"]
            + [_with_added(ttft[n][figure], ttft[n][f"added_{figure}"]) for n in names]
        )
        for figure, label in labels.items()
    ]
    rows.append(
        _row(
            ["gateway CPU per streamed request (ms)", ""]
            + [f"{ttft[n]['gateway_cpu_ms_per_stream']:.3f}" for n in names]
        )
    )
    return rows


def _usage_cell(usage: dict[str, Any]) -> str:
    if usage.get("rows_after_stop") is None:
        return "n/a (usage only logged)"
    verdict = "ok" if usage["matches"] else "**MISMATCH**"
    return (
        f"{usage['rows_while_serving']} / {usage['rows_after_stop']} rows for "
        f"{usage['requests_counted']} (+≤{usage['in_flight_bound']}) requests: {verdict}"
    )


def _rate_limit_cell(headers: dict[str, str]) -> str:
    remaining = headers.get("x-ratelimit-remaining-requests")
    limit = headers.get("x-ratelimit-limit-requests")
    if remaining is None or limit is None:
        return "none sent"
    return f"{remaining} / {limit}"


def _other_rows(results: dict[str, Any], names: list[str]) -> list[str]:
    configs = results["configs"]
    rows = []
    for label, key in (("idle after start", "rss_idle"), ("after the load", "rss_after_load")):
        rows.append(
            _row(
                [f"gateway RSS {label} (MB = 10^6 B)", ""]
                + [f"{configs[n][key]['VmRSS'] * 1024 / 1e6:.1f}" for n in names]
            )
        )
    rows.append(
        _row(
            ["gateway CPU when idle (% of one core)", ""]
            + [f"{configs[n].get('idle_cpu_percent', float('nan')):.2f}" for n in names]
        )
    )
    rows.append(
        _row(
            ["x-ratelimit remaining / limit requests, after the load", ""]
            + [_rate_limit_cell(configs[n].get("rate_limit_headers", {})) for n in names]
        )
    )
    rows.append(
        _row(
            ["usage_records rows, while serving / after stop", ""]
            + [_usage_cell(configs[n]["usage"]) for n in names]
        )
    )
    return rows


def _target_table(results: dict[str, Any], names: list[str]) -> list[str]:
    lines = [
        _row(["Target", *(TITLES[n] for n in names)]),
        _row(["---"] * (len(names) + 1)),
    ]
    cpu_targets = TARGETS["cpu_ms_per_request"]
    cells = ["gateway CPU/request ≤ 0.5 ms (memory + SQLite), ≤ 1.0 ms (Redis + PostgreSQL)"]
    for name in names:
        value = results["cpu"][name]["gateway_cpu_ms_per_request"]
        target = cpu_targets.get(name)
        cells.append(
            f"{value:.3f}: {_verdict(value, target)}" if target else f"{value:.3f} (no target)"
        )
    lines.append(_row(cells))
    lowest = min(results["latency"], key=int)
    target = TARGETS["added_p50_ms_c1"]
    cells = [f"added p50 at c={lowest} ≤ {target} ms"]
    for name in names:
        added = results["latency"][lowest][name]["added_p50_ms"]
        cells.append(f"{added:+.3f}: {_verdict(added, target)}")
    lines.append(_row(cells))
    return lines


def report(results: dict[str, Any]) -> str:
    names = [n for n in CONFIGS if n in results["configs"]]
    lines = [
        _row(["Figure", "Direct", *(TITLES[n] for n in names)]),
        _row(["---", "---:", *("---:" for _ in names)]),
        *_latency_rows(results, names),
        *_cpu_rows(results, names),
        *_ttft_rows(results, names),
        *_other_rows(results, names),
        "",
        *_target_table(results, names),
        "",
        *_notes(results, names),
    ]
    return "\n".join(lines)


def _notes(results: dict[str, Any], names: list[str]) -> list[str]:
    configs = results["configs"]
    notes = []
    for name in names:
        config = configs[name]
        where = f"`{config['source']}` (sources sha256 {config['source_sha256']})"
        if name == "bare":
            notes.append(
                f"- {TITLES[name]}: commit {config['commit']}, auth only, no admission, usage only "
                f"logged; llmaas from {where}."
            )
            continue
        limits = " ".join(config["key_limits"]) or "none"
        stored = json.dumps(config.get("stored_limits"))
        notes.append(
            f"- {TITLES[name]}: llmaas from {where}; key limits `{limits}` (stored: {stored}), "
            "checked on every request and never hit, so admission reserves against the rate "
            "windows and the monthly budget on every request."
            + (
                f" Redis {config['redis_url']}, PostgreSQL {config['database_url']} (created "
                "for this run, dropped after)."
                if name == "redis"
                else ""
            )
        )
    if "redis" in names:
        notes.append(
            "- Redis and PostgreSQL run in their own processes: their CPU is not in the gateway "
            "figures. The redis-server row is that whole process's CPU over the same runs (any "
            "other client's load included); PostgreSQL's CPU is not measured."
        )
    before, after = results.get("load_average_before"), results.get("load_average_after")
    if before and after:
        notes.append(
            f"- Load average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in before)}; "
            f"after: {', '.join(f'{v:.2f}' for v in after)} ({results['environment']['cpus']} CPUs)."
        )
    notes.append(
        "- Added = through the gateway - direct, medians of the alternating runs. Fixed-count CPU "
        f"is read {results['options']['settle_seconds']} s after each run, so that the batch "
        "write of its usage records (every 1 s) is counted."
    )
    for name in names:
        for line in configs[name].get("log_problems", []):
            notes.append(f"- gateway log ({name}): `{line[:300]}`")
    return notes


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(
        description="The foundation's bare gateway beside the full path (admission + metering)."
    )
    parser.add_argument("--configs", default=",".join(CONFIGS), help="bare,memory,redis")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated wrk connections")
    parser.add_argument("--seconds", type=float, default=3.0, help="wrk duration per run")
    parser.add_argument("--repeats", type=int, default=3, help="wrk runs per point and target")
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--cpu-requests", type=int, default=2000, help="fixed count for (b)")
    parser.add_argument("--cpu-connections", type=int, default=16)
    parser.add_argument("--cpu-repeats", type=int, default=5)
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=USAGE_FLUSH_SECONDS + 0.5,
        help="wait after a fixed-count run before reading CPU (covers one usage flush)",
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=2.0, help="idle CPU measured over this long"
    )
    parser.add_argument("--ttft-requests", type=int, default=100)
    parser.add_argument("--chunks", type=int, default=16, help="content chunks per upstream stream")
    parser.add_argument("--chunk-delay-ms", type=float, default=1.0, help="upstream token interval")
    parser.add_argument("--foundation-commit", default="4ac82a7")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="an existing database to connect to for CREATE/DROP DATABASE",
    )
    parser.add_argument(
        "--key-limits",
        default=DEFAULT_KEY_LIMITS,
        help="options of `llmaas keys create` for the full-path keys (never reached)",
    )
    parser.add_argument("--report", type=Path, help="only print the tables of a saved JSON file")
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(configs) - set(CONFIGS)
    if unknown or not configs:
        parser.error(f"--configs: choose from {', '.join(CONFIGS)}")
    options = Options(
        configs=[c for c in CONFIGS if c in configs],
        concurrencies=[int(c) for c in args.concurrency.split(",")],
        seconds=args.seconds,
        repeats=args.repeats,
        warmup_seconds=args.warmup_seconds,
        cpu_requests=args.cpu_requests,
        cpu_connections=args.cpu_connections,
        cpu_repeats=args.cpu_repeats,
        settle_seconds=args.settle_seconds,
        idle_seconds=args.idle_seconds,
        ttft_requests=args.ttft_requests,
        chunks=args.chunks,
        chunk_delay_ms=args.chunk_delay_ms,
        foundation_commit=args.foundation_commit,
        redis_url=args.redis_url,
        postgres_url=args.postgres_url,
        key_limits=args.key_limits,
    )
    return options, args.report


def main(argv: Sequence[str] | None = None) -> int:
    options, saved = parse_args(argv)
    return run_and_report("metering_overhead", lambda: run(options), report, saved)


if __name__ == "__main__":
    sys.exit(main())
