"""Speech-to-text speed: Whisper base through the gateway vs faster-whisper called directly.

Same model directory (the one the gateway reassembled), same thread count, same decoding options
(beam 5, VAD on, no conditioning on the previous window, the temperature fallback ``temperature=0``
means), same audio: about a minute of espeak-ng speech in English. The two never run at the same time:
the direct runs happen in this process first, the model is freed, then ``llmaas serve`` is started.

* DIRECT: ``WhisperModel.transcribe`` on the file's bytes, segments consumed to the end.
* GATEWAY: ``POST /v1/audio/transcriptions`` (multipart, ``response_format=json``), timed at the
  client: upload, decoding, recognition, JSON and HTTP included.

The real-time factor is processing seconds / audio seconds (lower is faster). Reports the median of
``--runs`` runs per side after one warm-up, and throughput gateway / direct (= direct seconds /
gateway seconds, target >= 0.95); writes ``bench/results/transcription_rtf-<time>.json``.

    .venv/bin/python bench/transcription_rtf.py       # about 2 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import statistics
import subprocess
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import httpx

from harness import (
    Children,
    create_key,
    environment,
    free_port,
    gateway_env,
    llmaas_binary,
    wait_ready,
    write_results,
)

MODEL_ID = "whisper:base"
TARGET_RATIO = 0.95
TEXT = (
    "Open source models can run on a small computer. The sun is shining over the city. "
    "Please send the report before Friday. A sovereign cloud keeps its data close to home. "
    "The meeting starts at ten and ends before noon. We measured the speed of every engine. "
) * 3
OPTIONS: dict[str, Any] = {
    "beam_size": 5,
    "vad_filter": True,
    "vad_parameters": {"min_silence_duration_ms": 500},
    "condition_on_previous_text": False,
    "temperature": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    "language": "en",
}


def model_dir() -> Path:
    cache = os.environ.get("LLMAAS_MODEL_CACHE_DIR")
    root = Path(cache) if cache else Path.home() / ".cache" / "llmaas" / "models"
    return root / "whisper-base"


def speech(folder: Path) -> tuple[bytes, float]:
    path = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(path), TEXT], check=True, timeout=120)
    with wave.open(str(path), "rb") as audio:
        seconds = audio.getnframes() / audio.getframerate()
    return path.read_bytes(), seconds


def measure_direct(audio: bytes, threads: int, runs: int) -> list[float]:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir()), device="cpu", compute_type="int8", cpu_threads=threads)

    def once() -> float:
        started = time.perf_counter()
        segments, _ = model.transcribe(io.BytesIO(audio), **OPTIONS)
        for _ in segments:
            pass
        return time.perf_counter() - started

    once()  # warm-up
    return [once() for _ in range(runs)]


def measure_gateway(audio: bytes, threads: int, runs: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="llmaas-bench-") as tmp, Children() as children:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        env = gateway_env(data_dir, "warning", LLMAAS_ENGINE_THREADS=str(threads))
        key = create_key(env)
        port = free_port()
        argv = [llmaas_binary(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        child = children.start("gateway (embedded)", argv, env, Path(tmp) / "gateway.log")
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", child, timeout=600)
        headers = {"Authorization": f"Bearer {key}"}
        form = {"model": MODEL_ID, "language": "en", "response_format": "json"}

        def once() -> float:
            started = time.perf_counter()
            response = httpx.post(
                f"{base}/v1/audio/transcriptions",
                headers=headers,
                data=form,
                files={"file": ("speech.wav", audio, "audio/wav")},
                timeout=600,
            )
            response.raise_for_status()
            return time.perf_counter() - started

        once()  # warm-up
        times = [once() for _ in range(runs)]
        children.stop(child)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=min(os.cpu_count() or 1, 8))
    args = parser.parse_args()
    if not (model_dir() / "model.bin").exists():
        subprocess.run([llmaas_binary(), "models", "prepare"], check=True, timeout=1800)
    with tempfile.TemporaryDirectory() as tmp:
        audio, seconds = speech(Path(tmp))
    print(f"{seconds:.1f} s of speech; direct faster-whisper, {args.runs} runs ...", flush=True)
    direct = measure_direct(audio, args.threads, args.runs)
    gc.collect()  # the direct model is unreachable now: free it before the gateway loads its own
    print("through the gateway ...", flush=True)
    gateway = measure_gateway(audio, args.threads, args.runs)
    d, g = statistics.median(direct), statistics.median(gateway)
    ratio = d / g
    results = {
        "benchmark": "transcription_rtf",
        "environment": environment(),
        "audio_seconds": round(seconds, 2),
        "threads": args.threads,
        "direct_seconds": [round(t, 3) for t in direct],
        "gateway_seconds": [round(t, 3) for t in gateway],
        "direct_rtf": round(d / seconds, 4),
        "gateway_rtf": round(g / seconds, 4),
        "throughput_ratio": round(ratio, 4),
        "target_ratio": TARGET_RATIO,
    }
    met = "yes" if ratio >= TARGET_RATIO else "**NO**"
    print("| Figure | Direct faster-whisper | Through gateway | Target | Met |")
    print("|---|---:|---:|---|---|")
    print(f"| seconds for {seconds:.1f} s of audio, median | {d:.2f} | {g:.2f} | | |")
    print(f"| real-time factor | {d / seconds:.3f} | {g / seconds:.3f} | | |")
    print(f"| throughput gateway / direct | | {ratio:.3f} | >= {TARGET_RATIO} | {met} |")
    print(f"results: {write_results('transcription_rtf', results)}")


if __name__ == "__main__":
    main()
