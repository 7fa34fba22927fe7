"""Sampling a running gateway with ``py-spy`` and ranking the hot spots of its event-loop thread.

``py-spy`` is optional (``.venv/bin/pip install py-spy==0.4.3``); it needs ptrace rights on the
process (root, or ``kernel.yama.ptrace_scope=0``). Stacks come back in the "raw" collapsed format,
one ``frame;frame;...;frame count`` line each, frames as ``function (file:line)``.
"""

from __future__ import annotations

import linecache
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from harness import PYTHON

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?):(?P<line>\d+)\)$")
# Stacks of the thread that runs the event loop (all request handling); worker threads that block in
# C (aiosqlite's, anyio's thread pool) are sampled as busy by py-spy and would drown the picture.
_LOOP_THREAD = "asyncio/runners.py"


def binary() -> str | None:
    beside = Path(PYTHON).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, output: Path, rate: int = 200) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` for ``seconds`` (returns at once; ``wait()`` on the result)."""
    spy = binary()
    if spy is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy==0.4.3")
    argv = [spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    argv += ["--rate", str(rate), "--format", "raw", "--full-filenames", "--output", str(output)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path.rsplit("/lib/python3.11/", 1)[-1]


def _package(path: str) -> str:
    short = _short(path)
    if short.startswith("llmaas/"):
        return "/".join(short.split("/")[:3]) if short.count("/") > 1 else short
    return short.split("/", 1)[0]


def _with_source(entry: str, pct: float) -> tuple[str, float, str]:
    """``(short file:line function, percent, the source line)``, read now: the files may change."""
    path, line, function = entry.split("\t")
    text = linecache.getline(path, int(line)).strip() if line.isdigit() else ""
    return f"{_short(path)}:{line} {function}", pct, text


def summarize(raw: Path, top: int = 25) -> dict[str, Any]:
    """Self time by ``file:line``, inclusive time by function and by package, in percent of the
    event-loop thread's samples (idle excluded, as py-spy does by default)."""
    own: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if f"{_LOOP_THREAD}:" not in stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [m for f in stack.split(";") if (m := _FRAME.match(f))]
        last = frames[-1]
        own[f"{last['file']}\t{last['line']}\t{last['function']}"] += count
        # What runs under the event loop; the frames above it (cli, typer, uvicorn.run) are in all.
        loop = max(i for i, m in enumerate(frames) if m["file"].endswith(_LOOP_THREAD))
        inner = frames[loop + 1 :]
        for name in {f"{_short(m['file'])} {m['function']}" for m in inner}:
            functions[name] += count
        for name in {_package(m["file"]) for m in inner}:
            packages[name] += count

    def ranked(counter: Counter[str], limit: int) -> list[tuple[str, float]]:
        return (
            [(k, round(100 * v / total, 1)) for k, v in counter.most_common(limit)] if total else []
        )

    return {
        "samples": total,
        "self": [_with_source(k, pct) for k, pct in ranked(own, top)],
        "inclusive_functions": ranked(functions, top * 3),
        "inclusive_packages": ranked(packages, top),
    }


def render(title: str, summary: dict[str, Any], top: int = 25) -> str:
    lines = [f"### {title}: {summary['samples']} samples of the event-loop thread", ""]
    lines += ["| self % | file:line function | source line |", "|---:|---|---|"]
    lines += [
        f"| {pct} | `{name}` | `{text.replace('|', '/')[:70]}` |"
        for name, pct, text in summary["self"][:top]
    ]
    lines += ["", "| inclusive % | package |", "|---:|---|"]
    lines += [f"| {pct} | `{name}` |" for name, pct in summary["inclusive_packages"][:top]]
    llmaas = [(n, p) for n, p in summary["inclusive_functions"] if n.startswith("llmaas/")]
    lines += ["", "| inclusive % | llmaas function |", "|---:|---|"]
    lines += [f"| {pct} | `{name}` |" for name, pct in llmaas[:top]]
    lines += [
        "",
        "`asyncio/runners.py Runner.run` as self time is uvloop's C event loop (socket system calls,"
        " and waiting when the loop is not saturated).",
    ]
    return "\n".join(lines)
