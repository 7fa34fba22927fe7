"""Rerank latency for 20 documents: through the gateway vs the embedded bi-encoder called directly.

Same model (all-MiniLM-L6-v2, int8 ONNX), same thread count, same query and 20 documents (one to
three sentences each). The two never run at the same time: the direct runs happen in this process
first, the engine is closed, then ``llmaas serve`` with only that model is started and measured.

* DIRECT: ``OnnxEmbedderBackend.rerank`` awaited in this process (embedding of the 21 texts on the
  engine's worker thread, cosine similarity, token count).
* GATEWAY: ``POST /v1/rerank`` (Cohere v1 shape, ``top_n`` 5, ``return_documents``) over a kept-alive
  HTTP connection, timed at the client from sending to the whole body read: authentication, admission,
  routing, the same engine call, sorting, JSON and HTTP, and metering.

Each side does ``--warmup`` calls, then ``--runs`` sequential measured ones; the table gives p50 and
p95 (nearest rank) and what the gateway adds. Writes ``bench/results/rerank_latency-<time>.json``.

    .venv/bin/python bench/rerank_latency.py      # under a minute on 2 cores
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from harness import (
    Children,
    create_key,
    environment,
    free_port,
    gateway_env,
    llmaas_binary,
    percentile,
    run_and_report,
    wait_ready,
)

MODEL_ID = "all-minilm:22m"
QUERY = "How can a small company keep its customer data inside the European Union?"
TOPICS = (
    "data residency rules for cloud providers in the European Union",
    "baking sourdough bread with a long cold fermentation",
    "training for a first marathon in sixteen weeks",
    "the history of the printing press in fifteenth-century Mainz",
    "choosing a heat pump for an old stone house",
    "encrypting backups before they leave the office network",
    "the rules of cricket explained for beginners",
    "GDPR obligations when a processor stores personal data abroad",
    "caring for tomato plants on a balcony",
    "how interest rates affect mortgage repayments",
)
DOCUMENTS = [
    f"{'An overview' if i < 10 else 'A practical guide'} of {TOPICS[i % 10]}. "
    + ("It covers the main steps, the usual mistakes and what to check first. " * (1 + i % 3))
    for i in range(20)
]


@dataclass(frozen=True)
class Options:
    runs: int
    warmup: int
    threads: int
    top_n: int


def _milliseconds(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 50) * 1000, 2),
        "p95_ms": round(percentile(samples, 95) * 1000, 2),
        "mean_ms": round(sum(samples) / len(samples) * 1000, 2),
    }


# --- direct -------------------------------------------------------------------------------------


async def _direct(options: Options) -> dict[str, Any]:
    from llmaas.adapters.model_config import load_models
    from llmaas.app import build_backends
    from llmaas.ports.backends import Reranker
    from llmaas.settings import Settings

    model = next(m for m in load_models(None) if m.id == MODEL_ID)
    settings = Settings(engine_threads=options.threads)
    backend = build_backends(settings, [model])[model.deployments[0].name]
    assert isinstance(backend, Reranker)
    await backend.start()
    try:
        for _ in range(options.warmup):
            await backend.rerank(QUERY, DOCUMENTS, options.top_n)
        samples = []
        for _ in range(options.runs):
            started = time.perf_counter()
            result = await backend.rerank(QUERY, DOCUMENTS, options.top_n)
            samples.append(time.perf_counter() - started)
    finally:
        await backend.close()
    best = max(range(len(DOCUMENTS)), key=lambda i: result.scores[i])
    return {**_milliseconds(samples), "tokens": result.prompt_tokens, "best_index": best}


# --- gateway ------------------------------------------------------------------------------------


def _models_file(directory: Path) -> Path:
    """The default models file with only the embedder: no chat model is loaded beside it."""
    default = resources.files("llmaas").joinpath("config/models.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(default)
    config["models"] = [m for m in config["models"] if m["id"] == MODEL_ID]
    path = directory / "models.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def _gateway_calls(url: str, key: str, options: Options) -> dict[str, Any]:
    body = orjson.dumps(
        {
            "model": MODEL_ID,
            "query": QUERY,
            "documents": DOCUMENTS,
            "top_n": options.top_n,
            "return_documents": True,
        }
    )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def call() -> dict[str, Any]:
            async with session.post(f"{url}/v1/rerank", data=body) as response:
                payload: dict[str, Any] = orjson.loads(await response.read())
                if response.status != 200:
                    raise RuntimeError(f"rerank failed ({response.status}): {payload}")
                return payload

        for _ in range(options.warmup):
            await call()
        samples = []
        for _ in range(options.runs):
            started = time.perf_counter()
            answer = await call()
            samples.append(time.perf_counter() - started)
    return {
        **_milliseconds(samples),
        "tokens": answer["meta"]["billed_units"]["input_tokens"],
        "best_index": answer["results"][0]["index"],
    }


def _gateway(options: Options) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="llmaas-bench-") as tmp, Children() as children:
        data_dir = Path(tmp)
        env = gateway_env(data_dir, "warning", LLMAAS_ENGINE_THREADS=str(options.threads))
        key = create_key(env)
        port = free_port()
        argv = [
            llmaas_binary(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--config",
            str(_models_file(data_dir)),
        ]
        child = children.start("llmaas", argv, env, data_dir / "gateway.log")
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/readyz", child, timeout=300)
        return asyncio.run(_gateway_calls(url, key, options))


# --- the run ------------------------------------------------------------------------------------


def run(options: Options) -> dict[str, Any]:
    results: dict[str, Any] = {
        "benchmark": "rerank_latency",
        "environment": environment(),
        "options": asdict(options),
        "documents": len(DOCUMENTS),
        # Figures from a busy machine mean little: the 1-minute load average says how busy it was.
        "load_average_before": round(os.getloadavg()[0], 2),
    }
    print(f"direct: {options.runs} reranks of {len(DOCUMENTS)} documents ...", flush=True)
    results["direct"] = asyncio.run(_direct(options))
    print(f"gateway: {options.runs} reranks of {len(DOCUMENTS)} documents ...", flush=True)
    results["gateway"] = _gateway(options)
    results["load_average_after"] = round(os.getloadavg()[0], 2)
    return results


def report(results: dict[str, Any]) -> str:
    direct, gateway = results["direct"], results["gateway"]
    runs = results["options"]["runs"]
    rows = [
        f"Rerank of {results['documents']} documents with {MODEL_ID} (bi-encoder), "
        f"{runs} sequential calls per side, {results['options']['threads']} engine threads "
        f"(load average {results['load_average_before']} before, "
        f"{results['load_average_after']} after)",
        "",
        "| Figure | Direct (embedder) | Through gateway (/v1/rerank) | Added |",
        "|---|---:|---:|---:|",
    ]
    for name in ("p50_ms", "p95_ms", "mean_ms"):
        added = gateway[name] - direct[name]
        rows.append(
            f"| latency {name.removesuffix('_ms')} (ms) "
            f"| {direct[name]:.2f} | {gateway[name]:.2f} | {added:+.2f} |"
        )
    rows.append(f"| tokens scored | {direct['tokens']} | {gateway['tokens']} | |")
    rows.append(f"| best document | {direct['best_index']} | {gateway['best_index']} | |")
    return "\n".join(rows)


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=40, help="measured calls per side")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured calls per side first")
    parser.add_argument("--threads", type=int, default=2, help="engine threads (both sides)")
    parser.add_argument("--top-n", type=int, default=5, help="top_n asked for")
    parser.add_argument("--report", type=Path, default=None, help="print a saved run's table")
    args = parser.parse_args(argv)
    return Options(args.runs, args.warmup, args.threads, args.top_n), args.report


def main(argv: Sequence[str] | None = None) -> int:
    options, saved = parse_args(argv)
    return run_and_report("rerank_latency", lambda: run(options), report, saved)


if __name__ == "__main__":
    sys.exit(main())
