"""Embedded chat generation speed: through the gateway vs ``llama_cpp`` called directly.

Same model file (Qwen2.5-Coder-0.5B-Instruct Q4_K_M), same thread count, same chat prompt rendered
with the model's own template, same greedy sampling (temperature 0), same ``max_tokens``. The two never
run at the same time: the direct runs happen in this process first, the model is freed, then
``llmaas serve`` (default config: the embedded models) is started and measured.

What is timed, on both sides: decode speed, prompt processing excluded.

* DIRECT: ``Llama.generate`` (the loop the gateway's engine drives too); a timestamp is taken as each
  token is yielded. ``tokens/s = (n - 1) / (t_last - t_first)``, ``n`` the tokens generated (up to an
  end-of-generation token or ``max_tokens``): the interval holds ``n - 1`` decode steps.
* GATEWAY: a streaming ``POST /v1/chat/completions``; a timestamp is taken as each SSE event with
  content arrives at the client. ``n`` is ``usage.completion_tokens`` of the final chunk and
  ``tokens/s = (n - 1) / (t_last_content - t_first_content)``. This includes everything the gateway adds
  per token (worker thread to event loop hand-off, chunk building, JSON, SSE, HTTP) but not the prompt.

Each side does one warm-up generation, then ``--runs`` measured ones (the prompt prefix is cached by
llama.cpp after the first, alike on both sides). Reports the median tokens/s and the ratio
gateway / direct (target >= 0.95); writes ``bench/results/embedded_tokens_per_second-<time>.json``.

    .venv/bin/python bench/embedded_tokens_per_second.py     # about 2 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from harness import (
    Children,
    create_key,
    environment,
    free_port,
    gateway_env,
    llmaas_binary,
    memory_kib,
    wait_ready,
    write_results,
)

MODEL_ID = "qwen2.5-coder:0.5b"
MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
PROMPT = (
    "Write the integers from 1 to 300 in increasing order, one per line, "
    "with no other text before or after them."
)
TARGET_RATIO = 0.95


def default_model_path() -> Path:
    cache = os.environ.get("LLMAAS_MODEL_CACHE_DIR")
    root = Path(cache) if cache else Path.home() / ".cache" / "llmaas" / "models"
    return root / MODEL_FILE


@dataclass(frozen=True)
class Run:
    tokens: int
    tokens_per_second: float
    """Decode speed, first to last token: ``(tokens - 1) / seconds``."""
    first_token_seconds: float
    """From the start of the call to the first token (prompt processing included)."""
    decode_seconds: float
    text: str


def _rate(tokens: int, first: float, last: float) -> float:
    return (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0


# --- direct -------------------------------------------------------------------------------------


class Direct:
    """``llama_cpp`` as the gateway's engine drives it, minus the gateway."""

    def __init__(self, model_path: Path, n_ctx: int, threads: int) -> None:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llama_cpp = llama_cpp
        self.model = llama_cpp.Llama(
            model_path=str(model_path), n_ctx=n_ctx, n_threads=threads, verbose=False
        )
        template = self.model.metadata["tokenizer.chat_template"]
        bos = self.model.token_bos()
        formatter = Jinja2ChatFormatter(
            template,
            eos_token=self._piece(self.model.token_eos()),
            bos_token=self._piece(bos) if bos >= 0 else "",
        )
        rendered = formatter(messages=[{"role": "user", "content": PROMPT}])
        self.prompt: list[int] = self.model.tokenize(
            rendered.prompt.encode(), add_bos=not rendered.added_special, special=True
        )

    def _piece(self, token: int) -> str:
        text: bytes = self.model.detokenize([token], special=True)
        return text.decode("utf-8", "replace")

    def _is_end(self, token: int) -> bool:
        vocab = self.model._model.vocab  # noqa: SLF001 - the end-of-generation test is not public
        return bool(self._llama_cpp.llama_vocab_is_eog(vocab, token))

    def generate(self, max_tokens: int) -> Run:
        stamps: list[float] = []
        tokens: list[int] = []
        started = time.perf_counter()
        for token in self.model.generate(
            self.prompt,
            top_k=0,
            top_p=1.0,
            min_p=0.0,
            typical_p=1.0,
            temp=0.0,
            repeat_penalty=1.0,
        ):
            now = time.perf_counter()
            if self._is_end(token):
                break
            tokens.append(token)
            stamps.append(now)
            if len(tokens) >= max_tokens:
                break
        text: bytes = self.model.detokenize(tokens)
        return Run(
            tokens=len(tokens),
            tokens_per_second=_rate(len(tokens), stamps[0], stamps[-1]),
            first_token_seconds=stamps[0] - started,
            decode_seconds=stamps[-1] - stamps[0],
            text=text.decode("utf-8", "replace"),
        )

    def close(self) -> None:
        self.model.close()


def measure_direct(model_path: Path, options: Options) -> dict[str, Any]:
    direct = Direct(model_path, options.direct_n_ctx, options.threads)
    try:
        direct.generate(8)  # warm-up
        runs = [direct.generate(options.max_tokens) for _ in range(options.runs)]
        prompt_tokens = len(direct.prompt)
    finally:
        direct.close()
        del direct
        gc.collect()
    return {"prompt_tokens": prompt_tokens, "runs": runs}


# --- through the gateway ------------------------------------------------------------------------


def _request(max_tokens: int) -> bytes:
    return orjson.dumps(
        {
            "model": MODEL_ID,
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": max_tokens,
            "temperature": 0,
            "top_p": 1.0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )


async def _stream(
    session: aiohttp.ClientSession, url: str, key: str, max_tokens: int
) -> tuple[Run, int]:
    """One streamed generation, and the prompt tokens the gateway reported."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    stamps: list[float] = []
    parts: list[str] = []
    usage: dict[str, Any] = {}
    started = time.perf_counter()
    async with session.post(url, data=_request(max_tokens), headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"gateway answered {response.status}: {await response.read()!r}")
        async for line in response.content:
            if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
                continue
            now = time.perf_counter()
            chunk = orjson.loads(line[5:])
            content = "".join(c["delta"].get("content") or "" for c in chunk.get("choices", []))
            if content:
                stamps.append(now)
                parts.append(content)
            usage = chunk.get("usage") or usage
    if not stamps or not usage:
        raise RuntimeError("the gateway's stream had no content or no usage chunk")
    tokens = int(usage["completion_tokens"])
    run = Run(
        tokens=tokens,
        tokens_per_second=_rate(tokens, stamps[0], stamps[-1]),
        first_token_seconds=stamps[0] - started,
        decode_seconds=stamps[-1] - stamps[0],
        text="".join(parts),
    )
    return run, int(usage["prompt_tokens"])


def measure_gateway(options: Options) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="llmaas-bench-") as tmp, Children() as children:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        env = gateway_env(data_dir, "warning", LLMAAS_ENGINE_THREADS=str(options.threads))
        key = create_key(env)
        port = free_port()
        argv = [llmaas_binary(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        child = children.start("gateway (embedded)", argv, env, Path(tmp) / "gateway.log")
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", child, timeout=600)
        url = f"{base}/v1/chat/completions"
        runs, prompt_tokens = asyncio.run(_gateway_runs(url, key, options))
        rss = memory_kib(child.pid)
        children.stop(child)
    return {"prompt_tokens": prompt_tokens, "runs": runs, "rss_kib": rss}


async def _gateway_runs(url: str, key: str, options: Options) -> tuple[list[Run], int]:
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await _stream(session, url, key, 8)  # warm-up
        measured = [
            await _stream(session, url, key, options.max_tokens) for _ in range(options.runs)
        ]
    return [run for run, _ in measured], measured[0][1]


# --- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    runs: int
    max_tokens: int
    threads: int
    direct_n_ctx: int
    model_path: Path
    prepare: bool


def prepare_weights() -> None:
    """``llmaas models prepare``: reassembles and verifies the embedded weights (slow only once)."""
    print("llmaas models prepare ...", flush=True)
    subprocess.run([llmaas_binary(), "models", "prepare"], check=True, timeout=1800)


def summarize(side: dict[str, Any]) -> dict[str, Any]:
    runs: list[Run] = side["runs"]
    return {
        "median_tokens_per_second": round(statistics.median(r.tokens_per_second for r in runs), 2),
        "runs": [{**asdict(r), "tokens_per_second": round(r.tokens_per_second, 2)} for r in runs],
    }


def report(results: dict[str, Any]) -> str:
    direct, gateway = results["direct"], results["gateway"]
    ratio = results["ratio"]
    met = "yes" if ratio >= TARGET_RATIO else "**NO**"
    rows = [
        "| Figure | Direct llama_cpp | Through gateway | Target | Met |",
        "|---|---:|---:|---|---|",
        f"| decode tokens/s, median of {len(direct['runs'])} "
        f"| {direct['median_tokens_per_second']:.2f} | {gateway['median_tokens_per_second']:.2f} "
        f"| ratio >= {TARGET_RATIO} | |",
        f"| ratio gateway / direct | | {ratio:.3f} | >= {TARGET_RATIO} | {met} |",
    ]
    for index, (d, g) in enumerate(zip(direct["runs"], gateway["runs"], strict=True), 1):
        rows.append(
            f"| run {index}: tokens/s (tokens, time to first token) "
            f"| {d['tokens_per_second']:.2f} ({d['tokens']}, {d['first_token_seconds'] * 1000:.0f} ms) "
            f"| {g['tokens_per_second']:.2f} ({g['tokens']}, {g['first_token_seconds'] * 1000:.0f} ms) "
            "| | |"
        )
    rows.append(f"| same generated text | | {results['same_text']} | | |")
    return "\n".join(rows)


def run(options: Options) -> dict[str, Any]:
    if options.prepare:
        prepare_weights()
    if not options.model_path.exists():
        raise SystemExit(f"{options.model_path} is missing: run .venv/bin/llmaas models prepare")
    results: dict[str, Any] = {
        "benchmark": "embedded_tokens_per_second",
        "environment": environment(),
        "options": {**asdict(options), "model_path": str(options.model_path)},
        "prompt": PROMPT,
        "target_ratio": TARGET_RATIO,
    }
    print(f"direct llama_cpp: {options.runs} runs of {options.max_tokens} tokens ...", flush=True)
    direct = measure_direct(options.model_path, options)
    print(f"gateway: {options.runs} runs of {options.max_tokens} tokens ...", flush=True)
    gateway = measure_gateway(options)
    results["direct"] = {"prompt_tokens": direct["prompt_tokens"], **summarize(direct)}
    results["gateway"] = {
        "prompt_tokens": gateway["prompt_tokens"],
        "rss_mb": round(gateway["rss_kib"]["VmRSS"] * 1024 / 1e6, 1),
        **summarize(gateway),
    }
    results["ratio"] = round(
        results["gateway"]["median_tokens_per_second"]
        / results["direct"]["median_tokens_per_second"],
        4,
    )
    texts = {r.text for r in direct["runs"]} | {r.text for r in gateway["runs"]}
    results["same_text"] = len(texts) == 1
    return results


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description="Embedded generation speed: gateway vs llama_cpp.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads, both sides")
    parser.add_argument(
        "--direct-n-ctx",
        type=int,
        default=4096,
        help="context of the direct Llama (the gateway uses the model's context_length)",
    )
    parser.add_argument("--model-path", type=Path, default=default_model_path())
    parser.add_argument(
        "--no-prepare", action="store_true", help="skip `llmaas models prepare` (weights exist)"
    )
    args = parser.parse_args(argv)
    return Options(
        runs=args.runs,
        max_tokens=args.max_tokens,
        threads=args.threads,
        direct_n_ctx=args.direct_n_ctx,
        model_path=args.model_path,
        prepare=not args.no_prepare,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    started = time.monotonic()
    results = run(options)
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    path = write_results("embedded_tokens_per_second", results)
    print(
        f"\nprompt tokens: direct {results['direct']['prompt_tokens']}, "
        f"gateway {results['gateway']['prompt_tokens']}\n"
    )
    print(report(results))
    print(f"\nresults: {path}  ({results['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
