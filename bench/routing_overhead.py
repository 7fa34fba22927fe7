"""What routing costs: gateway CPU per request with 1 deployment per model beside 10.

One run starts ``bench/fake_upstream.py`` (a single process) and one gateway per configuration, all at
once. Each serves the same private model (described in full in its models file, no catalog entry), with
``engine: openai_compatible`` deployments that all point at that one fake upstream URL, under distinct
names (``gpu-01`` ... ``gpu-10``). Every deployment has its own pooled ``aiohttp`` session in the gateway,
so in B and C the requests really spread over ten backends and ten connection pools, even though one
upstream process answers them all:

``A``
    1 deployment (weight 1).
``B``
    10 deployments, all weight 1.
``C``
    10 deployments, weights 1, 2, ..., 10 (``--configs A,B`` leaves it out).

The gateways run with a clean environment (every inherited ``LLMAAS_*`` dropped), their own data
directory and the same API key (created once, then the data directory is copied),
``LLMAAS_LOG_LEVEL=warning``, ``LLMAAS_HEALTH_INTERVAL_SECONDS=--health-interval`` (10 s, the default)
and ``LLMAAS_PROBE_INTERVAL_SECONDS=0`` (no probe generations, which would otherwise start 60 s after
start, one per deployment). Unless ``--no-pin``, every gateway is pinned to the first CPU, and this
process, ``wrk`` and the fake upstream to the others. CPU is utime+stime of the gateway process (its
threads and children) from ``/proc/<pid>/stat``, read before a load and ``--settle-seconds`` (1.05 s)
after it, so that the batch write of the load's usage records (every second) is included. Non-streaming
and streaming (16 content chunks 1 ms apart, ``stream_options.include_usage``) requests, at
``--connections`` (16). Figures, per configuration:

(a) CPU per request, gateways loaded together (the headline): ``--repeats`` rounds; in each, one ``wrk``
    per gateway for the same ``--seconds``, all at once, so that the gateways share the one CPU and
    see the same machine at the same moment; CPU spent / requests completed. The difference to A is
    the median of the round-by-round ratios, with their interquartile range. (On a shared 2-core VM
    the speed of a core changes by half from one second to the next; runs one after the other then
    differ by more than the 5 % to be resolved, runs at the same moment do not.)
(b) CPU per request, each gateway alone: ``--alone-repeats`` rounds of fixed-count runs
    (``--cpu-requests``, ``--stream-requests``), the configurations in turn, in alternating order (A B C,
    then C B A, ...), medians, the difference to A as the median of the round-by-round ratios and as
    the ratio of the medians; with each run's p50 at c=16.
(c) latency p50/p99 at c=1: timed ``wrk`` runs of ``--latency-seconds``, ``--latency-repeats`` per
    gateway and mode;
(d) idle CPU over ``--idle-seconds`` (30 s: three health rounds at the 10 s default), all gateways at
    once, before any load: the cost of the background health checks, one ``GET /models`` per
    deployment and round, 10 per round in B and C against 1 in A;
(e) the routing step alone, in this process, on a ``Router`` built from each models file:
    ``Router.resolve`` and the ``Attempts.started``/``finished`` bookkeeping, CPU µs per request;
(f) the ``served`` count of each deployment afterwards (``GET /admin/v1/deployments``, admin key):
    proof that B and C spread the load over their ten deployments, and how C follows the weights.

The health checks are background work: they land in (a) and (b) only when a round happens to fall
inside a measured run (a few ms of CPU per round, beside loads that take a second or more of CPU), so
they count in the per-request figure only insofar as they are rare; (d) measures them separately. With
``--profile``, py-spy then samples A and B at once, both under the same non-streaming load, and the
llmaas functions' inclusive shares are set side by side. Everything listens on 127.0.0.1; every load is
bounded in time. Prints Markdown tables and writes ``bench/results/routing_overhead-<time>.json``.

    .venv/bin/python bench/routing_overhead.py              # about 3 minutes on 2 cores
    .venv/bin/python bench/routing_overhead.py --configs A,B --repeats 16 --alone-repeats 0
    .venv/bin/python bench/routing_overhead.py --profile    # + py-spy on A and B, needs py-spy
    .venv/bin/python bench/routing_overhead.py --report bench/results/routing_overhead-<time>.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pyspy
from gateway_overhead import (
    MODEL,
    REQUEST,
    STREAM_REQUEST,
    WRK_LIMIT,
    WRK_SCRIPT,
    Load,
    Wrk,
    check_once,
    require_wrk,
    start_upstream,
)
from harness import (
    RESULTS_DIR,
    Child,
    Children,
    cpu_seconds,
    create_key_record,
    environment,
    free_port,
    imported_from,
    llmaas_argv,
    memory_kib,
    run_and_report,
    source_digest,
    timestamp,
    wait_ready,
)

if TYPE_CHECKING:
    from llmaas.ports.backends import InferenceBackend

CONFIGS: dict[str, tuple[str, list[int]]] = {
    "A": ("1 deployment", [1]),
    "B": ("10 deployments, same weight", [1] * 10),
    "C": ("10 deployments, weights 1..10", list(range(1, 11))),
}
MODES = {"non_streaming": REQUEST, "streaming": STREAM_REQUEST}
TARGET_PERCENT = 5.0
"""B (and C) may cost at most this much more CPU per request than A."""

CONFIG_HEAD = """\
models:
  - id: {model}
    owned_by: bench
    created: 2026-01-01
    context_length: 32768
    capabilities: [chat, completions]
    deployments:
"""
DEPLOYMENT = """\
      - name: {name}
        engine: openai_compatible
        url: {upstream}/v1
        upstream_model: upstream-model
        weight: {weight}
"""


def models_config(upstream_url: str, weights: Sequence[int]) -> str:
    deployments = "".join(
        DEPLOYMENT.format(name=deployment_name(i), upstream=upstream_url, weight=w)
        for i, w in enumerate(weights)
    )
    return CONFIG_HEAD.format(model=MODEL) + deployments


def deployment_name(index: int) -> str:
    return f"gpu-{index + 1:02d}"


@dataclass(frozen=True)
class Options:
    configs: list[str]
    repeats: int
    seconds: float
    alone_repeats: int
    connections: int
    cpu_requests: int
    stream_requests: int
    settle_seconds: float
    latency_seconds: float
    latency_repeats: int
    warmup_seconds: float
    idle_seconds: float
    health_interval: float
    chunks: int
    chunk_delay_ms: float
    micro_iterations: int
    pin: bool
    profile: bool
    profile_seconds: float


class BodyWrk(Wrk):
    """``gateway_overhead.Wrk`` with another request body (the streaming one, say)."""

    def __init__(
        self, binary: str, workdir: Path, key: str, body: dict[str, Any], tag: str
    ) -> None:
        super().__init__(binary, workdir, key)
        self._body = body
        self._tag = tag

    def _script(self, limit: int | None) -> Path:
        path = self._workdir / f"{self._tag}-{limit or 'timed'}.lua"
        if not path.exists():
            path.write_text(
                WRK_SCRIPT.format(
                    body=json.dumps(self._body),
                    key=self._key,
                    limit=WRK_LIMIT.format(limit=limit) if limit else "",
                ),
                encoding="utf-8",
            )
        return path


@dataclass
class Gateway:
    name: str
    weights: list[int]
    child: Child
    base: str
    source: str
    wrk: dict[str, BodyWrk]
    rps_hint: dict[str, float]

    @property
    def url(self) -> str:
        return f"{self.base}/v1/chat/completions"


def clean_env(data_dir: Path, health_interval: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMAAS_")}
    env.update(
        {
            "LLMAAS_DATA_DIR": str(data_dir),
            "LLMAAS_LOG_LEVEL": "warning",
            "LLMAAS_HEALTH_INTERVAL_SECONDS": str(health_interval),
            "LLMAAS_PROBE_INTERVAL_SECONDS": "0",
        }
    )
    return env


def start_gateway(
    children: Children,
    name: str,
    workdir: Path,
    upstream_url: str,
    template: Path,
    keys: dict[str, str],
    options: Options,
    wrk_binary: str,
) -> Gateway:
    weights = CONFIGS[name][1]
    home = workdir / name
    home.mkdir()
    data_dir = home / "data"
    shutil.copytree(template, data_dir)  # the same keys, a database of its own
    config_path = home / "models.yaml"
    config_path.write_text(models_config(upstream_url, weights), encoding="utf-8")
    port = free_port()
    argv = llmaas_argv("serve", "--host", "127.0.0.1", "--port", str(port))
    argv += ["--config", str(config_path)]
    env = clean_env(data_dir, options.health_interval)
    child = children.start(f"gateway {name}", argv, env, home / "gateway.log")
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/readyz", child, timeout=120)
    source = imported_from(child.log_tail(100_000)) or "unknown"
    wrk = {mode: BodyWrk(wrk_binary, home, keys["key"], body, mode) for mode, body in MODES.items()}
    return Gateway(name, weights, child, base, source, wrk, {})


# --- measurements -------------------------------------------------------------------------------


def one_run(
    gateway: Gateway,
    mode: str,
    connections: int,
    seconds: float,
    *,
    limit: int | None = None,
    settle: float = 0.2,
) -> dict[str, Any]:
    """One ``wrk`` run through ``gateway``: its figures and the gateway's CPU per request."""
    before = cpu_seconds(gateway.child.pid)
    load = gateway.wrk[mode].run(gateway.url, connections, seconds, limit=limit)
    time.sleep(settle)
    spent = cpu_seconds(gateway.child.pid) - before
    return {
        **load.as_dict(),
        "cpu_seconds": round(spent, 4),
        "cpu_us_per_request": round(spent * 1e6 / load.requests, 1),
    }


def idle_cpu(gateways: dict[str, Gateway], seconds: float) -> dict[str, dict[str, float]]:
    """Each gateway's CPU while nothing is sent (all at once): ms per second and % of a core."""
    before = {name: cpu_seconds(g.child.pid) for name, g in gateways.items()}
    time.sleep(seconds)
    result = {}
    for name, gateway in gateways.items():
        spent = cpu_seconds(gateway.child.pid) - before[name]
        result[name] = {
            "seconds": seconds,
            "cpu_ms": round(spent * 1000, 1),
            "cpu_ms_per_second": round(spent * 1000 / seconds, 3),
            "percent_of_a_core": round(spent * 100 / seconds, 3),
        }
    return result


def warm_up(gateways: dict[str, Gateway], options: Options) -> None:
    """Warm every gateway in both modes; the requests/s seen size the fixed-count runs' deadline."""
    for gateway in gateways.values():
        for mode in MODES:
            run = one_run(gateway, mode, options.connections, options.warmup_seconds)
            gateway.rps_hint[mode] = max(float(run["rps"]), 50.0)
            print(
                f"  warm-up {gateway.name} {mode:13} {run['rps']:7.0f} req/s  "
                f"{run['cpu_us_per_request']:7.1f} us CPU/request",
                flush=True,
            )


def _runs_by_mode(names: Sequence[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return {mode: {name: [] for name in names} for mode in MODES}


def together(
    gateways: dict[str, Gateway], mode: str, connections: int, seconds: float, settle: float
) -> dict[str, dict[str, Any]]:
    """One ``wrk`` per gateway, all started at once for the same time; CPU per completed request."""
    before = {name: cpu_seconds(g.child.pid) for name, g in gateways.items()}
    loads: dict[str, Load] = {}
    failures: list[BaseException] = []

    def drive(name: str, gateway: Gateway) -> None:
        try:
            loads[name] = gateway.wrk[mode].run(gateway.url, connections, seconds)
        except BaseException as error:  # re-raised below, in this thread
            failures.append(error)

    threads = [threading.Thread(target=drive, args=item) for item in gateways.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    time.sleep(settle)
    result = {}
    for name, gateway in gateways.items():
        spent = cpu_seconds(gateway.child.pid) - before[name]
        result[name] = {
            **loads[name].as_dict(),
            "cpu_seconds": round(spent, 4),
            "cpu_us_per_request": round(spent * 1e6 / loads[name].requests, 1),
        }
    return result


def together_rounds(gateways: dict[str, Gateway], options: Options) -> dict[str, Any]:
    """(a): ``repeats`` rounds, in each one load of every gateway at once per mode."""
    runs = _runs_by_mode(list(gateways))
    for index in range(options.repeats):
        for mode in MODES:
            measured = together(
                gateways, mode, options.connections, options.seconds, options.settle_seconds
            )
            for name, run in measured.items():
                runs[mode][name].append(run)
            a = measured["A"]["cpu_us_per_request"]
            print(
                f"  round {index + 1}/{options.repeats} {mode:13} "
                + "  ".join(
                    f"{name} {run['cpu_us_per_request']:7.1f} us/req ({run['requests']} req"
                    + (
                        ")"
                        if name == "A"
                        else f", {100 * (run['cpu_us_per_request'] / a - 1):+.1f} %)"
                    )
                    for name, run in measured.items()
                ),
                flush=True,
            )
    return {
        mode: {name: summarize(values, per_config.get("A")) for name, values in per_config.items()}
        for mode, per_config in runs.items()
    }


def alone_rounds(gateways: dict[str, Gateway], options: Options) -> dict[str, Any]:
    """(b): ``alone_repeats`` rounds; in each, per mode, one fixed-count run per gateway, in an
    order that alternates from round to round (A B C, C B A, ...)."""
    counts = {"non_streaming": options.cpu_requests, "streaming": options.stream_requests}
    runs = _runs_by_mode(list(gateways))
    names = list(gateways)
    for index in range(options.alone_repeats):
        order = names if index % 2 == 0 else names[::-1]
        for mode, count in counts.items():
            for name in order:
                gateway = gateways[name]
                # wrk stops sending at the count but runs for its whole (whole-second) duration.
                seconds = min(60.0, max(1.0, 1.25 * count / gateway.rps_hint[mode]))
                run = one_run(
                    gateway,
                    mode,
                    options.connections,
                    seconds,
                    limit=count,
                    settle=options.settle_seconds,
                )
                runs[mode][name].append(run)
                short = "" if run["requests"] >= count else "  (count not reached in time)"
                print(
                    f"  round {index + 1}/{options.alone_repeats} {name} {mode:13} "
                    f"{run['requests']} req: {run['cpu_us_per_request']:7.1f} us CPU/request  "
                    f"p50 {run['p50_ms']:.3f} ms{short}",
                    flush=True,
                )
    return {
        mode: {name: summarize(values, per_config.get("A")) for name, values in per_config.items()}
        for mode, per_config in runs.items()
    }


def latency_c1(gateways: dict[str, Gateway], options: Options) -> dict[str, Any]:
    """(c): timed runs at one connection, the gateways in turn; p50/p99 medians."""
    runs = _runs_by_mode(list(gateways))
    names = list(gateways)
    for index in range(options.latency_repeats):
        order = names if index % 2 == 0 else names[::-1]
        for mode in MODES:
            for name in order:
                run = one_run(gateways[name], mode, 1, options.latency_seconds)
                runs[mode][name].append(run)
                print(
                    f"  c=1 {name} {mode:13} p50 {run['p50_ms']:.3f} ms  p99 {run['p99_ms']:.3f} ms",
                    flush=True,
                )
    return {
        mode: {
            name: {
                "p50_ms": round(_median(values, "p50_ms"), 3),
                "p99_ms": round(_median(values, "p99_ms"), 3),
                "rps": round(_median(values, "rps"), 1),
                "runs": values,
            }
            for name, values in per_config.items()
        }
        for mode, per_config in runs.items()
    }


def _median(runs: Sequence[dict[str, Any]], figure: str) -> float:
    return float(statistics.median(r[figure] for r in runs))


def summarize(runs: list[dict[str, Any]], base: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Medians of a configuration's runs; beside A's runs of the same rounds, the differences."""
    if not runs:
        return {"runs": runs}
    result: dict[str, Any] = {
        "cpu_us_per_request": round(_median(runs, "cpu_us_per_request"), 1),
        "cpu_us_per_request_min": min(r["cpu_us_per_request"] for r in runs),
        "cpu_us_per_request_max": max(r["cpu_us_per_request"] for r in runs),
        "p50_ms": round(_median(runs, "p50_ms"), 3),
        "p99_ms": round(_median(runs, "p99_ms"), 3),
        "runs": runs,
    }
    if base is not None:
        a = _median(base, "cpu_us_per_request")
        result["vs_A_percent_of_medians"] = round((result["cpu_us_per_request"] / a - 1) * 100, 2)
        paired = [
            (r["cpu_us_per_request"] / b["cpu_us_per_request"] - 1) * 100
            for r, b in zip(runs, base, strict=True)
        ]
        result["vs_A_percent"] = round(float(statistics.median(paired)), 2)
        if len(paired) >= 4:
            low, _, high = statistics.quantiles(paired, n=4)
            result["vs_A_percent_iqr"] = [round(low, 2), round(high, 2)]
        result["vs_A_percent_rounds"] = [round(p, 2) for p in paired]
    return result


def served_counts(gateway: Gateway, admin_key: str) -> dict[str, Any]:
    """``served`` per deployment of the bench model, from the admin API."""
    request = urllib.request.Request(
        f"{gateway.base}/admin/v1/deployments",
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            listing = json.loads(response.read())
    except (OSError, ValueError) as error:
        return {"error": repr(error)}
    counts = {
        str(d["name"]): int(d["served"])
        for d in listing.get("data", [])
        if d.get("model", MODEL) == MODEL and "served" in d
    }
    return {"served": counts}


def routing_micro(workdir: Path, configs: Sequence[str], iterations: int) -> dict[str, Any]:
    """The routing step alone, in this process: ``Router.resolve`` (lifecycle, capability, weighted
    least-outstanding order) plus the ``Attempts`` bookkeeping of the chosen deployment
    (``started``/``finished``), on a router built from each configuration's models file. CPU time
    (``time.process_time``) per call, best of 5 batches; backends are placeholders, never called."""
    try:
        from llmaas.adapters.clock import SystemClock
        from llmaas.adapters.model_config import load_served_catalog
        from llmaas.domain.models import Capability
        from llmaas.domain.principals import Principal
        from llmaas.services.failover import Attempts
        from llmaas.services.routing import Router

        clock = SystemClock()
        principal = Principal(key_id="bench", key_name="bench")
        result: dict[str, Any] = {"iterations": iterations}
        for name in configs:
            path = workdir / f"micro-{name}.yaml"
            path.write_text(models_config("http://127.0.0.1:9", CONFIGS[name][1]), encoding="utf-8")
            catalog = load_served_catalog(path)
            names = [spec.name for model in catalog.deployed() for spec in model.deployments]
            backends = {n: cast("InferenceBackend", _Placeholder(n)) for n in names}
            router = Router(catalog, backends, clock)
            attempts = Attempts(clock)
            best = float("inf")
            for _ in range(5):
                started = time.process_time()
                for _ in range(iterations):
                    chosen = router.resolve(principal, MODEL, Capability.CHAT).candidates[0]
                    attempts.started(chosen)
                    attempts.finished(chosen)
                best = min(best, time.process_time() - started)
            result[name] = {"us_per_request": round(best * 1e6 / iterations, 3)}
        return result
    except Exception as error:  # internals change; the end-to-end figures stand alone
        return {"error": repr(error)}


class _Placeholder:
    def __init__(self, name: str) -> None:
        self.name = name


def log_problems(child: Child, limit: int = 12) -> list[str]:
    text = child.log_tail(1_000_000)
    words = ("error", "traceback", "critical", "exception")
    return [line for line in text.splitlines() if any(w in line.lower() for w in words)][:limit]


def profile(gateways: dict[str, Gateway], options: Options) -> dict[str, Any]:
    """py-spy on A and B at once, both under the same non-streaming load, as in (a)."""
    pair: dict[str, Gateway] = {n: gateways[n] for n in ("A", "B") if n in gateways}
    stamp = timestamp()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    raws = {name: RESULTS_DIR / f"routing_profile-{name}-{stamp}.txt" for name in pair}
    print(f"profiling {', '.join(pair)} ({options.profile_seconds:.0f} s) -> {RESULTS_DIR}")
    spies = {
        name: pyspy.record(g.child.pid, options.profile_seconds, raws[name])
        for name, g in pair.items()
    }
    time.sleep(0.5)  # let py-spy attach before the load starts
    load = together(pair, "non_streaming", options.connections, options.profile_seconds, 0.2)
    profiles: dict[str, Any] = {}
    for name, spy in spies.items():
        _, errors = spy.communicate(timeout=options.profile_seconds + 60)
        if spy.returncode != 0 or not raws[name].exists():
            raise RuntimeError(f"py-spy failed ({spy.returncode}): {errors.decode()[-2000:]}")
        profiles[name] = {
            "raw": str(raws[name]),
            "cpu_us_per_request": load[name]["cpu_us_per_request"],
            **pyspy.summarize(raws[name], top=60),
        }
    return profiles


# --- the run ------------------------------------------------------------------------------------


def split_cpus(cpus: set[int], pin: bool) -> tuple[set[int], set[int]]:
    """With ``pin`` and two CPUs or more: the first for the gateways, the others for this process,
    ``wrk`` and the fake upstream. Otherwise every CPU for everything."""
    if not pin or len(cpus) < 2:
        return set(cpus), set(cpus)
    first = min(cpus)
    return {first}, cpus - {first}


@contextmanager
def pinned(cpus: set[int], after: set[int]) -> Iterator[None]:
    """This process (and whatever it starts meanwhile) on ``cpus``; on ``after`` on leaving."""
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, after)


def run(options: Options) -> dict[str, Any]:
    wrk_binary = require_wrk()
    results: dict[str, Any] = {
        "benchmark": "routing_overhead",
        "environment": environment(),
        "options": options.__dict__,
        "target_percent": TARGET_PERCENT,
        "request": REQUEST,
        "stream_request": STREAM_REQUEST,
        "load_average_before": os.getloadavg(),
        "configs": {},
    }
    everywhere = os.sched_getaffinity(0)
    gateway_cpus, load_cpus = split_cpus(everywhere, options.pin)
    results["affinity"] = {"gateways": sorted(gateway_cpus), "load": sorted(load_cpus)}
    with (
        tempfile.TemporaryDirectory(prefix="llmaas-bench-") as tmp,
        Children() as children,
        pinned(load_cpus, everywhere),
    ):
        workdir = Path(tmp)
        _, upstream_url = start_upstream(children, workdir, options.chunks, options.chunk_delay_ms)
        print("(e) the routing step alone, in this process", flush=True)
        results["micro"] = routing_micro(workdir, options.configs, options.micro_iterations)
        template = workdir / "data-template"
        template.mkdir()
        env = clean_env(template, options.health_interval)
        print("creating the API keys ...", flush=True)
        keys = create_key_record(env, argv=llmaas_argv())
        admin = create_key_record(env, ["--admin"], argv=llmaas_argv())
        gateways: dict[str, Gateway] = {}
        for name in options.configs:
            print(f"starting gateway {name}: {CONFIGS[name][0]}", flush=True)
            with pinned(gateway_cpus, load_cpus):  # the child inherits this process's affinity
                gateway = start_gateway(
                    children, name, workdir, upstream_url, template, keys, options, wrk_binary
                )
            gateways[name] = gateway
            results["configs"][name] = {
                "title": CONFIGS[name][0],
                "weights": gateway.weights,
                "source": gateway.source,
                "config": models_config(upstream_url, gateway.weights),
            }
        time.sleep(1.0)
        for name, gateway in gateways.items():
            results["configs"][name]["rss_idle"] = memory_kib(gateway.child.pid)
        print(f"(d) idle CPU over {options.idle_seconds:.0f} s", flush=True)
        results["idle"] = idle_cpu(gateways, options.idle_seconds)
        for gateway in gateways.values():
            check_once(gateway.url, keys["key"])
        print("warm-up", flush=True)
        warm_up(gateways, options)
        print(f"(a) CPU per request, the gateways together: {options.repeats} rounds", flush=True)
        results["together"] = together_rounds(gateways, options)
        print(f"(b) CPU per request, each alone: {options.alone_repeats} rounds", flush=True)
        results["alone"] = alone_rounds(gateways, options)
        print(f"(c) latency at c=1: {options.latency_repeats} rounds", flush=True)
        results["c1"] = latency_c1(gateways, options)
        if options.profile:
            results["profile"] = profile(gateways, options)
        for name, gateway in gateways.items():
            results["configs"][name]["rss_after_load"] = memory_kib(gateway.child.pid)
            results["configs"][name].update(served_counts(gateway, str(admin["key"])))
            results["configs"][name]["log_problems"] = log_problems(gateway.child)
    results["load_average_after"] = os.getloadavg()
    results["llmaas_source_sha256_at_end"] = source_digest()
    return results


# --- report -------------------------------------------------------------------------------------


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _versus(figures: dict[str, Any]) -> tuple[str, str]:
    """(the paired difference to A with its IQR, whether it meets the target)."""
    if "vs_A_percent" not in figures:
        return "", ""
    paired = figures["vs_A_percent"]
    iqr = figures.get("vs_A_percent_iqr")
    spread = f" [{iqr[0]:+.1f}, {iqr[1]:+.1f}]" if iqr else ""
    return f"{paired:+.1f} %{spread}", "yes" if paired < TARGET_PERCENT else "**NO**"


def _title(results: dict[str, Any], name: str) -> str:
    return f"{name}: {results['configs'][name]['title']}"


def report(results: dict[str, Any]) -> str:
    lines = [_together_table(results)]
    alone = results.get("alone", {})
    if any(figures.get("runs") for per_config in alone.values() for figures in per_config.values()):
        lines += ["", _alone_table(results)]
    elif results.get("c1"):
        lines += ["", _c1_table(results)]
    lines += ["", _micro_report(results), "", _idle_report(results), "", _served_report(results)]
    configs = results["configs"]
    problems = {n: c["log_problems"] for n, c in configs.items() if c.get("log_problems")}
    if problems:
        lines += ["", "Warnings and errors in the gateways' logs:"]
        lines += [f"- {n}: `{line[:200]}`" for n, found in problems.items() for line in found]
    start_sha = results["environment"]["llmaas_source_sha256"]
    end_sha = results.get("llmaas_source_sha256_at_end", start_sha)
    lines += [
        "",
        f"llmaas sources {start_sha}"
        + ("" if end_sha == start_sha else f" (**changed during the run**: {end_sha} at the end)")
        + f"; load average before {_load(results['load_average_before'])}, "
        f"after {_load(results['load_average_after'])}; {results.get('wall_seconds', '?')} s.",
    ]
    profiles = results.get("profile", {})
    for name, summary in profiles.items():
        lines += ["", pyspy.render(f"py-spy, gateway {name}, non-streaming", summary)]
    if "A" in profiles and "B" in profiles:
        lines += ["", _profile_comparison(profiles)]
    return "\n".join(lines)


def _together_table(results: dict[str, Any]) -> str:
    options = results["options"]
    lines = [
        f"(a) Gateway CPU per request, the gateways loaded together on one CPU: {options['repeats']} "
        f"rounds of {options['seconds']:g} s at c={options['connections']} each, median. "
        "**vs A**: the median of the round-by-round ratios to A, [interquartile range]. "
        f"Target: under {TARGET_PERCENT:.0f} %.",
        "",
        "| Mode | Config | CPU µs/request | min..max | vs A [IQR] | Met |",
        "|---|---|---:|---:|---:|---|",
    ]
    for mode, per_config in results["together"].items():
        for name in results["configs"]:
            figures = per_config[name]
            versus, met = _versus(figures) if name != "A" else ("", "")
            low, high = figures["cpu_us_per_request_min"], figures["cpu_us_per_request_max"]
            lines.append(
                _row(
                    [
                        mode.replace("_", "-"),
                        _title(results, name),
                        f"{figures['cpu_us_per_request']:.1f}",
                        f"{low:.0f}..{high:.0f}",
                        versus,
                        met,
                    ]
                )
            )
    return "\n".join(lines)


def _alone_table(results: dict[str, Any]) -> str:
    options = results["options"]
    c = options["connections"]
    lines = [
        f"(b) Each gateway alone: {options['alone_repeats']} rounds of fixed-count runs at c={c} "
        f"({options['cpu_requests']} non-streaming, {options['stream_requests']} streaming "
        "requests), in turn and in alternating order; medians. vs A: median of the "
        "round-by-round ratios [IQR], then the ratio of the medians: runs one after the other, "
        "so on a shared machine, whose core speed changes by up to half from one second to the "
        "next, these ratios are not the verdict; (a) is. (c) p50 and p99 at c=1: "
        f"{options['latency_repeats']} timed runs of {options['latency_seconds']:g} s each, median.",
        "",
        f"| Mode | Config | CPU µs/request | min..max | vs A [IQR] | ratio of medians | "
        f"p50 c={c} (ms) | p50 c=1 (ms) | p99 c=1 (ms) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, per_config in results["alone"].items():
        for name in results["configs"]:
            figures = per_config[name]
            versus, _ = _versus(figures) if name != "A" else ("", "")
            ratio = figures.get("vs_A_percent_of_medians")
            c1 = results["c1"][mode][name]
            low, high = figures["cpu_us_per_request_min"], figures["cpu_us_per_request_max"]
            lines.append(
                _row(
                    [
                        mode.replace("_", "-"),
                        _title(results, name),
                        f"{figures['cpu_us_per_request']:.1f}",
                        f"{low:.0f}..{high:.0f}",
                        versus,
                        "" if ratio is None or name == "A" else f"{ratio:+.1f} %",
                        f"{figures['p50_ms']:.3f}",
                        f"{c1['p50_ms']:.3f}",
                        f"{c1['p99_ms']:.3f}",
                    ]
                )
            )
    return "\n".join(lines)


def _c1_table(results: dict[str, Any]) -> str:
    options = results["options"]
    lines = [
        f"(c) Latency at c=1: {options['latency_repeats']} timed runs of "
        f"{options['latency_seconds']:g} s per gateway and mode, median.",
        "",
        "| Mode | Config | p50 c=1 (ms) | p99 c=1 (ms) |",
        "|---|---|---:|---:|",
    ]
    for mode, per_config in results["c1"].items():
        for name in results["configs"]:
            c1 = per_config[name]
            lines.append(
                _row(
                    [
                        mode.replace("_", "-"),
                        _title(results, name),
                        f"{c1['p50_ms']:.3f}",
                        f"{c1['p99_ms']:.3f}",
                    ]
                )
            )
    return "\n".join(lines)


def _load(values: Sequence[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def _micro_report(results: dict[str, Any]) -> str:
    micro = results.get("micro", {})
    if "error" in micro or "A" not in micro:
        return f"(e) The routing step alone: not measured ({micro.get('error', 'no figures')})."
    modes = results["together"]
    lines = [
        "(e) The routing step alone (Router.resolve + Attempts.started/finished, in the bench process, "
        f"best of 5 x {micro['iterations']} calls), beside the gateway's CPU per request:",
        "",
        "| Config | µs per request | added to A (µs) | added, in % of A's non-streaming "
        "CPU/request (a) | in % of A's streaming CPU/request (a) |",
        "|---|---:|---:|---:|---:|",
    ]
    base = micro["A"]["us_per_request"]
    for name in results["configs"]:
        if name not in micro:
            continue
        value = micro[name]["us_per_request"]
        added = value - base
        shares = [
            f"{100 * added / modes[mode]['A']['cpu_us_per_request']:.2f} %"
            for mode in ("non_streaming", "streaming")
        ]
        lines.append(_row([name, f"{value:.2f}", f"{added:+.2f}", *shares]))
    return "\n".join(lines)


def _idle_report(results: dict[str, Any]) -> str:
    idle = results["idle"]
    interval = results["options"]["health_interval"]
    lines = [
        f"(d) Idle CPU before any load, all gateways at once, health checks every {interval:g} s "
        "(one GET /models per deployment and round):",
        "",
        "| Config | Deployments | CPU over the window (ms) | ms per second | % of a core |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, figures in idle.items():
        lines.append(
            _row(
                [
                    name,
                    len(results["configs"][name]["weights"]),
                    f"{figures['cpu_ms']:.1f} in {figures['seconds']:g} s",
                    f"{figures['cpu_ms_per_second']:.3f}",
                    f"{figures['percent_of_a_core']:.3f}",
                ]
            )
        )
    return "\n".join(lines)


def _served_report(results: dict[str, Any]) -> str:
    lines = [
        "(f) Requests served per deployment over the whole run (admin API), share in %:",
        "",
        "| Config | Weights | Served | Share per deployment (%) |",
        "|---|---|---:|---|",
    ]
    for name, config in results["configs"].items():
        served: dict[str, int] = config.get("served", {})
        if not served:
            lines.append(_row([name, config["weights"], "?", config.get("error", "unknown")]))
            continue
        total = sum(served.values())
        shares = " ".join(f"{100 * served[k] / total:.1f}" for k in sorted(served))
        lines.append(_row([name, " ".join(map(str, config["weights"])), total, shares]))
    return "\n".join(lines)


def _profile_comparison(profiles: dict[str, Any], top: int = 25) -> str:
    """llmaas functions side by side; a share of the samples times the CPU per request measured
    during the profile gives roughly the µs each function costs per request."""
    shares = {name: dict(profiles[name]["inclusive_functions"]) for name in ("A", "B")}
    cpu = {name: float(profiles[name].get("cpu_us_per_request", 0.0)) for name in ("A", "B")}

    def us(name: str, function: str) -> float:
        return float(shares[name].get(function, 0.0)) * cpu[name] / 100

    functions = [f for f in {*shares["A"], *shares["B"]} if f.startswith("llmaas/")]
    functions.sort(key=lambda f: -abs(us("B", f) - us("A", f)))
    lines = [
        "py-spy, A and B under the same load at once: inclusive % of each event-loop thread's "
        f"samples, and that share of the CPU per request measured meanwhile (A {cpu['A']:.0f} µs, "
        f"B {cpu['B']:.0f} µs), largest B - A first:",
        "",
        "| llmaas function | A % | B % | A ≈µs/req | B ≈µs/req | B - A ≈µs/req |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for function in functions[:top]:
        lines.append(
            _row(
                [
                    f"`{function}`",
                    shares["A"].get(function, 0.0),
                    shares["B"].get(function, 0.0),
                    f"{us('A', function):.1f}",
                    f"{us('B', function):.1f}",
                    f"{us('B', function) - us('A', function):+.1f}",
                ]
            )
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(description="Routing cost: 1 vs 10 deployments per model.")
    parser.add_argument("--configs", default="A,B,C", help="comma-separated, from A, B, C")
    parser.add_argument(
        "--repeats", type=int, default=8, help="(a) rounds, the gateways loaded together"
    )
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="(a) wrk duration (whole seconds)"
    )
    parser.add_argument(
        "--alone-repeats", type=int, default=3, help="(b) rounds, each gateway alone (0: skip)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections per gateway")
    parser.add_argument("--cpu-requests", type=int, default=1000, help="(b) non-streaming count")
    parser.add_argument("--stream-requests", type=int, default=400, help="(b) streaming count")
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=1.05,
        help="wait after a load before reading CPU (covers one usage flush)",
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=1.0, help="timed c=1 wrk runs (whole seconds)"
    )
    parser.add_argument(
        "--latency-repeats", type=int, default=2, help="c=1 runs per gateway and mode"
    )
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument(
        "--health-interval", type=float, default=10.0, help="LLMAAS_HEALTH_INTERVAL_SECONDS"
    )
    parser.add_argument("--chunks", type=int, default=16, help="content chunks per upstream stream")
    parser.add_argument("--chunk-delay-ms", type=float, default=1.0, help="upstream token interval")
    parser.add_argument(
        "--micro-iterations", type=int, default=20000, help="calls per batch for (e)"
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin the gateways to the first CPU and wrk + the fake upstream to the others",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy on A and B (needs py-spy)")
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    parser.add_argument("--report", type=Path, help="only print the tables of a saved JSON file")
    args = parser.parse_args(argv)
    configs = [c.strip().upper() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or "A" not in configs:
        parser.error(f"--configs takes A (required), B, C; not {','.join(unknown) or args.configs}")
    options = Options(
        configs=configs,
        repeats=args.repeats,
        seconds=args.seconds,
        alone_repeats=args.alone_repeats,
        connections=args.connections,
        cpu_requests=args.cpu_requests,
        stream_requests=args.stream_requests,
        settle_seconds=args.settle_seconds,
        latency_seconds=args.latency_seconds,
        latency_repeats=args.latency_repeats,
        warmup_seconds=args.warmup_seconds,
        idle_seconds=args.idle_seconds,
        health_interval=args.health_interval,
        chunks=args.chunks,
        chunk_delay_ms=args.chunk_delay_ms,
        micro_iterations=args.micro_iterations,
        pin=not args.no_pin,
        profile=args.profile,
        profile_seconds=args.profile_seconds,
    )
    return options, args.report


def main(argv: Sequence[str] | None = None) -> int:
    options, saved = parse_args(argv)
    if saved is None and options.profile and pyspy.binary() is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy==0.4.3")
    return run_and_report("routing_overhead", lambda: run(options), report, saved)


if __name__ == "__main__":
    sys.exit(main())
