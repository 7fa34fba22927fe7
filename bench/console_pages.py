"""What the web console costs: page latency, page size and gateway CPU per page view, beside the admin API.

One run starts ``bench/fake_upstream.py`` and one gateway whose models file is ``routing_overhead.py``'s
configuration A: one private chat model, one ``engine: openai_compatible`` deployment on the fake
upstream. The gateway runs with ``LLMAAS_LOG_LEVEL=warning``, ``LLMAAS_PROBE_INTERVAL_SECONDS=0`` (no
probe generations) and no identity provider (inherited ``LLMAAS_OIDC_*`` variables are dropped), so the
console offers the local admin-key login. An admin key is made with ``llmaas keys create --admin --json``
before the start; ``--keys`` (20) ordinary keys are then created through ``POST /admin/v1/keys`` with it,
so the audit trail records each. ``--requests`` (2000) chat completions are sent, spread round-robin over
those keys, by ``--concurrency`` (8) httpx tasks; after a 2 s wait (two usage flushes) the usage rollups
hold them, which ``GET /admin/v1/usage`` checks. Then:

(a) the console, logged in over HTTP as a browser does: ``GET /console/login`` (the ``llmaas_login_csrf``
    cookie and the form's ``csrf_token``), ``POST /console/login/local`` with the admin key, and the
    ``llmaas_session`` cookie of its ``Set-Cookie``. The cookies are ``Secure``, which httpx's jar does
    not send over plain HTTP, so a ``Cookie`` header carries them. For each page (``/console/``,
    ``/console/overview.json``, ``/console/keys``, ``/console/usage?days=30`` and ``?days=90``,
    ``/console/catalog``, ``/console/audit``): ``--warmup`` (5) untimed GETs, then ``--rounds`` (200)
    sequential GETs on one keep-alive httpx client, timed from sending to the whole body read; p50, p95
    (nearest rank) and max, the body's size (decoded, and as sent on the wire: httpx asks for gzip like a
    browser), and the gateway's CPU per page view: utime+stime of the gateway process (its threads and
    children, ``/proc/<pid>/stat``) read before and after the block of rounds, divided by the rounds;
(b) the admin API the same way, for comparison: ``GET /admin/v1/keys`` and
    ``GET /admin/v1/usage?group_by=key,model``, each with the bearer admin key and with the session
    cookie;
(c) the live-usage observer alone, in this process: ``llmaas.services.live_usage.LiveUsage`` on a fixed
    clock, fed ``--observe-batches`` (40, after 10 untimed ones that fill the window) batches of 500
    synthetic ``UsageEvent``s from 20 organizations, spread over the 15-minute window; µs per event
    (median and p95 over the batches), and ``snapshot()`` µs for one organization and for all of them.
    The gateway calls ``observe`` from its usage writer, on a worker thread, with each stored batch:
    off the request path;
(d) the chat completion path at c=1 for ``--chat-seconds`` (5) with ``wrk`` (skipped, and said so,
    when ``wrk`` is not installed): the console and the observer add nothing in front of a request.

The machine is shared by this process, the gateway and the fake upstream; figures from a loaded machine
(see the load averages printed) are slower across the board. Everything listens on 127.0.0.1. Prints
Markdown tables and writes ``bench/results/console_pages-<time>.json``.

    .venv/bin/python bench/console_pages.py              # about 2 minutes on 2 cores
    .venv/bin/python bench/console_pages.py --quick      # 50 rounds, 300 requests
    .venv/bin/python bench/console_pages.py --report bench/results/console_pages-<time>.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from gateway_overhead import REQUEST, Wrk, check_once, start_upstream
from harness import (
    Child,
    Children,
    cpu_seconds,
    create_key_record,
    environment,
    free_port,
    gateway_env,
    imported_from,
    llmaas_argv,
    memory_kib,
    percentile,
    run_and_report,
    source_digest,
    wait_ready,
)
from routing_overhead import CONFIGS, log_problems, models_config

PAGES = (
    "/console/",
    "/console/overview.json",
    "/console/keys",
    "/console/usage?days=30",
    "/console/usage?days=90",
    "/console/catalog",
    "/console/audit",
)
ADMIN_PATHS = ("/admin/v1/keys", "/admin/v1/usage?group_by=key,model")
LOGIN_COOKIE = "llmaas_login_csrf"
SESSION_COOKIE = "llmaas_session"
_CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]+)"')
ORGANIZATIONS = 20
BATCH = 500
FLUSH_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class Options:
    keys: int
    requests: int
    concurrency: int
    rounds: int
    warmup: int
    observe_batches: int
    snapshot_rounds: int
    chat_seconds: float
    quick: bool


@dataclass(frozen=True)
class Gateway:
    child: Child
    base: str
    source: str


def bench_env(data_dir: Path) -> dict[str, str]:
    """``harness.gateway_env`` without an inherited identity provider, so the admin-key login shows."""
    env = gateway_env(data_dir, "warning", LLMAAS_PROBE_INTERVAL_SECONDS="0")
    return {k: v for k, v in env.items() if not k.startswith("LLMAAS_OIDC_")}


def start_gateway(
    children: Children, workdir: Path, upstream_url: str, env: dict[str, str]
) -> Gateway:
    config_path = workdir / "models.yaml"
    config_path.write_text(models_config(upstream_url, CONFIGS["A"][1]), encoding="utf-8")
    port = free_port()
    argv = llmaas_argv("serve", "--host", "127.0.0.1", "--port", str(port))
    argv += ["--config", str(config_path)]
    child = children.start("gateway", argv, env, workdir / "gateway.log")
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/readyz", child, timeout=120)
    return Gateway(child, base, imported_from(child.log_tail(100_000)) or "unknown")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _expect(response: httpx.Response, status: int = 200) -> httpx.Response:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response


def create_keys(base: str, admin_key: str, count: int) -> list[str]:
    """``count`` ordinary keys through the admin API (each one an audit record); their secrets."""
    with httpx.Client(base_url=base, headers=_bearer(admin_key), timeout=30) as client:
        return [
            str(
                _expect(client.post("/admin/v1/keys", json={"name": f"bench-{i:02d}"}), 201).json()[
                    "key"
                ]
            )
            for i in range(count)
        ]


# --- (setup) traffic for the rollups --------------------------------------------------------------


async def _traffic(url: str, keys: Sequence[str], count: int, concurrency: int) -> dict[str, Any]:
    sent = 0
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal sent
            while sent < count:
                index, sent = sent, sent + 1
                response = await client.post(
                    url, json=REQUEST, headers=_bearer(keys[index % len(keys)])
                )
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return {
        "requests": count,
        "keys": len(keys),
        "concurrency": concurrency,
        "seconds": round(seconds, 2),
        "rps": round(count / seconds, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def send_traffic(base: str, keys: Sequence[str], options: Options) -> dict[str, Any]:
    url = f"{base}/v1/chat/completions"
    result = asyncio.run(_traffic(url, keys, options.requests, options.concurrency))
    if result["statuses"] != {"200": options.requests}:
        raise RuntimeError(f"chat completions did not all succeed: {result['statuses']}")
    return result


def usage_total(base: str, admin_key: str) -> int:
    """Requests this month in the rollups (admin API), to show the traffic was metered."""
    with httpx.Client(base_url=base, headers=_bearer(admin_key), timeout=30) as client:
        report = _expect(client.get("/admin/v1/usage")).json()
    return int(report["total"]["requests"])


# --- (a) console login and pages --------------------------------------------------------------------


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Name -> value of every ``Set-Cookie`` (read by hand: the jar keeps ``Secure`` ones off HTTP)."""
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, value = header.split(";", 1)[0].partition("=")
        cookies[name.strip()] = value.strip().strip('"')
    return cookies


def console_login(client: httpx.Client, admin_key: str) -> str:
    """The ``llmaas_session`` cookie's value after the local admin-key login."""
    page = _expect(client.get("/console/login"))
    login_csrf = set_cookies(page).get(LOGIN_COOKIE)
    field = _CSRF_FIELD.search(page.text)
    if not login_csrf or field is None:
        raise RuntimeError(f"no login form with a CSRF token (OIDC configured?): {page.text[:500]}")
    answer = _expect(
        client.post(
            "/console/login/local",
            data={"csrf_token": field.group(1), "api_key": admin_key, "next": "/console/"},
            headers={"Cookie": f"{LOGIN_COOKIE}={login_csrf}"},
        ),
        303,
    )
    session = set_cookies(answer).get(SESSION_COOKIE)
    if not session:
        raise RuntimeError(f"login set no session cookie: {answer.headers}")
    return session


def timed_gets(
    client: httpx.Client, pid: int, path: str, headers: dict[str, str], options: Options
) -> dict[str, Any]:
    """``warmup`` GETs, then ``rounds`` timed ones: latency, size, and gateway CPU per call."""
    for _ in range(options.warmup):
        _expect(client.get(path, headers=headers))
    latencies: list[float] = []
    before = cpu_seconds(pid)
    for _ in range(options.rounds):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        latencies.append((time.perf_counter() - started) * 1000)
        _expect(response)
    spent = cpu_seconds(pid) - before
    return {
        "rounds": options.rounds,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "max_ms": round(max(latencies), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "bytes": len(response.content),
        "wire_bytes": response.num_bytes_downloaded,
        "content_encoding": response.headers.get("content-encoding", ""),
        "cpu_ms_per_call": round(spent * 1000 / options.rounds, 3),
    }


def measure_console(gateway: Gateway, admin_key: str, options: Options) -> dict[str, Any]:
    with httpx.Client(base_url=gateway.base, timeout=30) as client:
        session = console_login(client, admin_key)
        cookie = {"Cookie": f"{SESSION_COOKIE}={session}"}
        pages = {}
        for path in PAGES:
            pages[path] = timed_gets(client, gateway.child.pid, path, cookie, options)
            _progress(path, "session cookie", pages[path])
        admin: dict[str, dict[str, Any]] = {}
        for path in ADMIN_PATHS:
            admin[path] = {}
            for credential, headers in (
                ("bearer admin key", _bearer(admin_key)),
                ("session cookie", cookie),
            ):
                admin[path][credential] = timed_gets(
                    client, gateway.child.pid, path, headers, options
                )
                _progress(path, credential, admin[path][credential])
    return {"pages": pages, "admin": admin}


def _progress(path: str, credential: str, figures: dict[str, Any]) -> None:
    print(
        f"  {path:38} {credential:16} p50 {figures['p50_ms']:7.2f} ms  p95 {figures['p95_ms']:7.2f} ms"
        f"  {figures['bytes']:7d} B  {figures['cpu_ms_per_call']:6.2f} ms CPU",
        flush=True,
    )


# --- (c) the live-usage observer ------------------------------------------------------------------


class FixedClock:
    """A ``Clock`` that stays at one moment, so every event lands inside the window."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return time.monotonic()


def synthetic_batches(now: datetime, count: int, rng: random.Random) -> list[list[Any]]:
    """``count`` batches of ``BATCH`` usage events, 20 organizations, over the last 15 minutes."""
    from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent

    batches = []
    for b in range(count):
        batch = []
        for i in range(BATCH):
            failed = rng.random() < 0.02
            batch.append(
                UsageEvent(
                    request_id=f"req-{b}-{i}",
                    key_id=f"key-{rng.randrange(200):03d}",
                    model="bench-model",
                    deployment="gpu-01",
                    endpoint="chat.completions",
                    usage=TokenUsage(rng.randrange(10, 2000), rng.randrange(1, 500)),
                    latency_ms=rng.lognormvariate(5.0, 1.0),
                    outcome=Outcome.FAILED if failed else Outcome.OK,
                    streamed=rng.random() < 0.5,
                    organization_id=f"org-{rng.randrange(ORGANIZATIONS):02d}",
                    occurred_at=now - timedelta(seconds=rng.uniform(0, 899)),
                )
            )
        batches.append(batch)
    return batches


def _micro_figures(values_us: Sequence[float], per: int = 1) -> dict[str, float]:
    return {
        "p50_us": round(percentile(values_us, 50) / per, 3),
        "p95_us": round(percentile(values_us, 95) / per, 3),
        "min_us": round(min(values_us) / per, 3),
    }


def live_usage_micro(options: Options) -> dict[str, Any]:
    from llmaas.services.live_usage import LiveUsage

    now = datetime.now(UTC).replace(microsecond=0)
    live = LiveUsage(FixedClock(now))
    warm, timed = 10, options.observe_batches
    batches = synthetic_batches(now, warm + timed, random.Random(42))
    for batch in batches[:warm]:
        live.observe(batch)
    observe_us = []
    for batch in batches[warm:]:
        started = time.perf_counter()
        live.observe(batch)
        observe_us.append((time.perf_counter() - started) * 1e6)
    snapshots: dict[str, Any] = {}
    for label, organization in (("one organization", "org-00"), ("all organizations", None)):
        spent = []
        for _ in range(options.snapshot_rounds):
            started = time.perf_counter()
            live.snapshot(organization)
            spent.append((time.perf_counter() - started) * 1e6)
        snapshots[label] = _micro_figures(spent)
    return {
        "batch": BATCH,
        "organizations": ORGANIZATIONS,
        "events_observed": BATCH * (warm + timed),
        "observe_batches_timed": timed,
        "observe_per_event": _micro_figures(observe_us, BATCH),
        "observe_per_batch": _micro_figures(observe_us),
        "snapshot_rounds": options.snapshot_rounds,
        "snapshot": snapshots,
        "organizations_listed": len(live.organizations()),
    }


# --- (d) the chat path at c=1 --------------------------------------------------------------------


def chat_latency_c1(workdir: Path, base: str, key: str, seconds: float) -> dict[str, Any]:
    binary = shutil.which("wrk")
    if binary is None:
        return {"skipped": "wrk is not installed (apt-get install -y wrk)"}
    wrk = Wrk(binary, workdir, key)
    url = f"{base}/v1/chat/completions"
    wrk.run(url, 1, 1.0)  # warm-up
    return {"seconds": seconds, **wrk.run(url, 1, seconds).as_dict()}


# --- the run -------------------------------------------------------------------------------------


def run(options: Options) -> dict[str, Any]:
    results: dict[str, Any] = {
        "benchmark": "console_pages",
        "environment": environment(),
        "options": options.__dict__,
        "load_average_before": os.getloadavg(),
    }
    print("(c) the live-usage observer alone, in this process", flush=True)
    results["live_usage"] = live_usage_micro(options)
    with tempfile.TemporaryDirectory(prefix="llmaas-bench-") as tmp, Children() as children:
        workdir = Path(tmp)
        _, upstream_url = start_upstream(children, workdir, 16, 0.0)
        data_dir = workdir / "data"
        data_dir.mkdir()
        env = bench_env(data_dir)
        print("creating the admin key, starting the gateway ...", flush=True)
        admin_key = str(create_key_record(env, ["--admin"], argv=llmaas_argv())["key"])
        gateway = start_gateway(children, workdir, upstream_url, env)
        results["gateway"] = {"source": gateway.source, "rss_idle": memory_kib(gateway.child.pid)}
        check_once(f"{gateway.base}/v1/chat/completions", admin_key)
        print(f"creating {options.keys} keys, sending {options.requests} requests ...", flush=True)
        keys = create_keys(gateway.base, admin_key, options.keys)
        results["traffic"] = send_traffic(gateway.base, keys, options)
        time.sleep(FLUSH_WAIT_SECONDS)
        results["traffic"]["usage_requests_this_month"] = usage_total(gateway.base, admin_key)
        print(f"(a, b) console pages and admin API, {options.rounds} rounds each", flush=True)
        results.update(measure_console(gateway, admin_key, options))
        print(f"(d) chat completions at c=1, {options.chat_seconds:g} s", flush=True)
        results["chat_c1"] = chat_latency_c1(workdir, gateway.base, keys[0], options.chat_seconds)
        results["gateway"]["rss_after"] = memory_kib(gateway.child.pid)
        results["gateway"]["log_problems"] = log_problems(gateway.child)
    results["load_average_after"] = os.getloadavg()
    results["llmaas_source_sha256_at_end"] = source_digest()
    return results


# --- report -------------------------------------------------------------------------------------


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _size(figures: dict[str, Any]) -> str:
    if figures["content_encoding"] and figures["wire_bytes"] != figures["bytes"]:
        return f"{figures['bytes']:,} ({figures['wire_bytes']:,} {figures['content_encoding']})"
    return f"{figures['bytes']:,}"


def _latency_cells(figures: dict[str, Any]) -> list[str]:
    return [
        f"{figures['p50_ms']:.2f}",
        f"{figures['p95_ms']:.2f}",
        f"{figures['max_ms']:.2f}",
        _size(figures),
        f"{figures['cpu_ms_per_call']:.2f}",
    ]


def _pages_table(results: dict[str, Any]) -> str:
    options, traffic = results["options"], results["traffic"]
    lines = [
        f"(a) Console pages, logged in with the admin key (operator session): {options['rounds']} "
        f"sequential GETs each on one keep-alive connection, after {options['warmup']} warm-ups. "
        f"Data: {traffic['keys']} keys + 1 admin key, {traffic['requests']} chat completions "
        f"(the rollups count {traffic['usage_requests_this_month']}, the one check request "
        "before them included).",
        "",
        "| Page | p50 (ms) | p95 (ms) | max (ms) | Body bytes (on the wire) | Gateway CPU ms/view |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for path, figures in results["pages"].items():
        lines.append(_row([f"`{path}`", *_latency_cells(figures)]))
    return "\n".join(lines)


def _admin_table(results: dict[str, Any]) -> str:
    lines = [
        f"(b) The admin API for comparison, {results['options']['rounds']} sequential GETs each:",
        "",
        "| Endpoint | Credential | p50 (ms) | p95 (ms) | max (ms) | Body bytes (on the wire) "
        "| Gateway CPU ms/call |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for path, per_credential in results["admin"].items():
        for credential, figures in per_credential.items():
            lines.append(_row([f"`{path}`", credential, *_latency_cells(figures)]))
    return "\n".join(lines)


def _live_table(results: dict[str, Any]) -> str:
    live = results["live_usage"]
    per_event = live["observe_per_event"]
    per_batch = live["observe_per_batch"]
    lines = [
        f"(c) The live-usage observer alone (in this process, fixed clock): "
        f"{live['observe_batches_timed']} timed batches of {live['batch']} events from "
        f"{live['organizations']} organizations over the 15-minute window (after 10 untimed ones); "
        f"snapshot() {live['snapshot_rounds']} times each.",
        "",
        "| Operation | p50 (µs) | p95 (µs) | min (µs) |",
        "|---|---:|---:|---:|",
        _row(
            [
                "observe(), per event",
                f"{per_event['p50_us']:.2f}",
                f"{per_event['p95_us']:.2f}",
                f"{per_event['min_us']:.2f}",
            ]
        ),
        _row(
            [
                f"observe(), per batch of {live['batch']}",
                f"{per_batch['p50_us']:.0f}",
                f"{per_batch['p95_us']:.0f}",
                f"{per_batch['min_us']:.0f}",
            ]
        ),
    ]
    for label, figures in live["snapshot"].items():
        lines.append(
            _row(
                [
                    f"snapshot(), {label}",
                    f"{figures['p50_us']:.1f}",
                    f"{figures['p95_us']:.1f}",
                    f"{figures['min_us']:.1f}",
                ]
            )
        )
    return "\n".join(lines)


def _chat_report(results: dict[str, Any]) -> str:
    chat = results["chat_c1"]
    if "skipped" in chat:
        return f"(d) Chat completions at c=1: not measured, {chat['skipped']}."
    return "\n".join(
        [
            f"(d) Chat completions through the gateway at c=1, wrk for {chat['seconds']:g} s "
            "(the console and the observer are off this path):",
            "",
            "| Requests | req/s | p50 (ms) | p99 (ms) |",
            "|---:|---:|---:|---:|",
            _row(
                [
                    chat["requests"],
                    f"{chat['rps']:.0f}",
                    f"{chat['p50_ms']:.3f}",
                    f"{chat['p99_ms']:.3f}",
                ]
            ),
        ]
    )


def _load(values: Sequence[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def report(results: dict[str, Any]) -> str:
    lines = [_pages_table(results), "", _admin_table(results), "", _live_table(results), ""]
    lines.append(_chat_report(results))
    traffic, gateway = results["traffic"], results["gateway"]
    problems = gateway.get("log_problems", [])
    if problems:
        lines += ["", "Warnings and errors in the gateway's log:"]
        lines += [f"- `{line[:200]}`" for line in problems]
    start_sha = results["environment"]["llmaas_source_sha256"]
    end_sha = results.get("llmaas_source_sha256_at_end", start_sha)
    lines += [
        "",
        f"Setup traffic: {traffic['requests']} requests over {traffic['keys']} keys at "
        f"c={traffic['concurrency']} in {traffic['seconds']:.1f} s ({traffic['rps']:.0f} req/s). "
        f"Gateway RSS {gateway['rss_idle']['VmRSS'] / 1000:.0f} MB idle, "
        f"{gateway['rss_after']['VmRSS'] / 1000:.0f} MB after.",
        f"llmaas sources {start_sha}"
        + ("" if end_sha == start_sha else f" (**changed during the run**: {end_sha} at the end)")
        + f"; load average before {_load(results['load_average_before'])}, "
        f"after {_load(results['load_average_after'])}; {results.get('wall_seconds', '?')} s.",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(description="Console page latency, size and gateway CPU.")
    parser.add_argument("--keys", type=int, default=20, help="ordinary keys to create")
    parser.add_argument("--requests", type=int, help="chat completions for the rollups (2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="tasks sending them")
    parser.add_argument("--rounds", type=int, help="timed GETs per page (200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed GETs per page first")
    parser.add_argument("--observe-batches", type=int, default=40, help="(c) timed batches")
    parser.add_argument("--snapshot-rounds", type=int, default=200, help="(c) snapshots each")
    parser.add_argument("--chat-seconds", type=float, default=5.0, help="(d) wrk duration")
    parser.add_argument("--quick", action="store_true", help="rounds 50, requests 300")
    parser.add_argument("--report", type=Path, help="only print the tables of a saved JSON file")
    args = parser.parse_args(argv)
    if args.keys < 1:
        parser.error("--keys must be at least 1")
    options = Options(
        keys=args.keys,
        requests=args.requests or (300 if args.quick else 2000),
        concurrency=args.concurrency,
        rounds=args.rounds or (50 if args.quick else 200),
        warmup=args.warmup,
        observe_batches=args.observe_batches,
        snapshot_rounds=args.snapshot_rounds,
        chat_seconds=args.chat_seconds,
        quick=args.quick,
    )
    return options, args.report


def main(argv: Sequence[str] | None = None) -> int:
    options, saved = parse_args(argv)
    return run_and_report("console_pages", lambda: run(options), report, saved)


if __name__ == "__main__":
    sys.exit(main())
