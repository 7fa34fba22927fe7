"""What the benchmark scripts share: child processes that always get cleaned up, the gateway's CLI,
readiness polling, and the process accounting read from ``/proc`` (Linux only)."""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


def llmaas_binary() -> str:
    """The ``llmaas`` entry point of the interpreter's environment (``.venv/bin/llmaas``)."""
    beside = Path(PYTHON).parent / "llmaas"
    if beside.exists():
        return str(beside)
    found = shutil.which("llmaas")
    if found is None:
        raise SystemExit("llmaas is not installed: run the benchmarks with .venv/bin/python")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the benchmark dies (even by SIGKILL)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _sigterm_as_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-size:]
        except OSError:
            return ""


class Children:
    """Starts child processes in their own session and stops every one of them on exit, whatever
    the reason (an exception, Ctrl-C, SIGTERM); the children also die if this process is killed."""

    def __init__(self) -> None:
        self._children: list[Child] = []
        self._handlers: dict[int, Any] = {}

    def __enter__(self) -> Children:
        self._handlers = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, _sigterm_as_exit),
            # Ctrl-C raises KeyboardInterrupt even where SIGINT was inherited as ignored (``cmd &``).
            signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        }
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            for child in reversed(self._children):
                self.stop(child)
        finally:
            for signum, handler in self._handlers.items():
                signal.signal(signum, handler)

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path
    ) -> Child:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child = Child(name, process, log_path)
        self._children.append(child)
        return child

    def stop(self, child: Child, timeout: float = 40.0) -> None:
        process = child.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if child in self._children:
            self._children.remove(child)


def http_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


def wait_ready(url: str, child: Child, timeout: float) -> None:
    """Poll ``url`` until it answers 200; fail fast with the log if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(
                f"{child.name} exited ({child.process.returncode}):\n{child.log_tail()}"
            )
        if http_status(url) == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{child.name} not ready after {timeout:.0f}s:\n{child.log_tail()}")


def gateway_env(data_dir: Path, log_level: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LLMAAS_DATA_DIR": str(data_dir),
        "LLMAAS_LOG_LEVEL": log_level,
        # The benchmarks replay one prompt thousands of times, a flood by design: every other
        # guardrail layer stays on, so its cost is in the figures.
        "LLMAAS_GUARDRAIL_REPEAT_LIMIT": "1000000000",
        **extra,
    }


LLMAAS_FROM = "bench: llmaas imported from "
"""The line ``llmaas_argv`` writes to stderr before running the CLI: which sources actually run."""


def llmaas_argv(*args: str) -> list[str]:
    """The ``llmaas`` CLI run as ``python -c``, so that ``PYTHONPATH`` in the child's environment
    decides which sources are imported (another checkout's ``src``, say). It first writes
    ``LLMAAS_FROM`` and ``llmaas.__file__`` to stderr."""
    code = (
        f"import sys, llmaas; sys.stderr.write({LLMAAS_FROM!r} + llmaas.__file__ + '\\n'); "
        "sys.stderr.flush(); from llmaas.cli import main; sys.exit(main())"
    )
    return [PYTHON, "-c", code, *args]


def imported_from(output: str) -> str | None:
    """The ``llmaas.__file__`` that ``llmaas_argv`` reported in a child's output, if any."""
    for line in output.splitlines():
        if line.startswith(LLMAAS_FROM):
            return line.removeprefix(LLMAAS_FROM).strip()
    return None


def create_key(env: Mapping[str, str]) -> str:
    """``llmaas keys create --name bench --json``: the new key's secret."""
    key: str = create_key_record(env)["key"]
    return key


def create_key_record(
    env: Mapping[str, str],
    extra: Sequence[str] = (),
    *,
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``llmaas keys create --name bench --json [extra...]``: what it printed (``id``, ``key``, and
    whatever else that version of the CLI prints). ``argv`` replaces the ``llmaas`` entry point (for
    example ``llmaas_argv()``)."""
    created = subprocess.run(
        [*(argv or [llmaas_binary()]), "keys", "create", "--name", "bench", "--json", *extra],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if created.returncode != 0:
        raise RuntimeError(
            f"llmaas keys create failed ({created.returncode}):\n{created.stdout}\n{created.stderr}"
        )
    record: dict[str, Any] = json.loads(created.stdout)
    return record


# --- /proc accounting ---------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3, state, is index 0)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), of its reaped children (cutime + cstime) and
    of its live descendants, in seconds."""
    fields = _stat_fields(pid)
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for child in _descendants(pid):
        try:
            ticks += sum(int(f) for f in _stat_fields(child)[11:13])
        except (OSError, ValueError):
            continue
    return ticks / CLK_TCK


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (resident now) and ``VmHWM`` (resident peak) from ``/proc/<pid>/status``, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


# --- statistics and output ----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_results(name: str, data: Mapping[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-{timestamp()}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def source_digest(root: Path | None = None) -> str:
    """SHA-256 over the gateway's Python sources (the installed ``llmaas`` package, or the package
    directory ``root``), to tell which code a result was measured on."""
    if root is None:
        spec = importlib.util.find_spec("llmaas")
        if spec is None or spec.origin is None:
            return "llmaas not found"
        root = Path(spec.origin).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def environment() -> dict[str, Any]:
    return {
        "llmaas_source_sha256": source_digest(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "platform": sys.platform,
        "clk_tck": CLK_TCK,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def run_and_report(
    name: str,
    run: Callable[[], dict[str, Any]],
    report: Callable[[dict[str, Any]], str],
    saved: Path | None,
) -> int:
    """A bench's ``main``: print a saved run's tables, or run, save the results and print them."""
    if saved is not None:
        print(report(json.loads(saved.read_text(encoding="utf-8"))))
        return 0
    started = time.monotonic()
    results = run()
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    path = write_results(name, results)
    print("\n" + report(results))
    print(f"\nresults: {path}  ({results['wall_seconds']} s)")
    return 0
