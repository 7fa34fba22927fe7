"""A real ``llmaas serve`` process on 127.0.0.1 with the embedded models, shared by the e2e tests.

The server's stderr goes to a file the tests can read (to prove no prompt text is ever logged), and
its data directory is a fresh temporary one (SQLite database, server secret).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Server:
    base_url: str
    api_key: str
    key_id: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    def env(self) -> dict[str, str]:
        return {**os.environ, "LLMAAS_DATA_DIR": str(self.data_dir)}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "llmaas"), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    timeout: float,
    *,
    verify: bool = True,
) -> None:
    """Poll ``url`` until it answers 200 (or the process dies, or time runs out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited ({process.returncode}):\n{log_path.read_text()[-3000:]}"
            )
        try:
            if httpx.get(url, timeout=2, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"server not ready after {timeout}s:\n{log_path.read_text()[-3000:]}")


def unreachable_engine_config(
    directory: Path, capabilities: str = "[chat]", embedding_dimensions: int | None = None
) -> Path:
    """A models file with one remote model whose only engine listens nowhere: a server that starts
    in seconds (no weights to load) and answers 503 for inference."""
    dimensions = (
        f"\n    embedding_dimensions: {embedding_dimensions}" if embedding_dimensions else ""
    )
    config = directory / "models.yaml"
    config.write_text(
        f"""
models:
  - id: remote-model
    owned_by: ops
    created: 2026-01-01
    context_length: 4096
    capabilities: {capabilities}{dimensions}
    deployments:
      - name: gpu-1
        engine: vllm
        url: http://127.0.0.1:{free_port()}/v1
        connect_timeout: 1
""",
        encoding="utf-8",
    )
    return config


def server_environment(data_dir: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "LLMAAS_DATA_DIR": str(data_dir),
        "LLMAAS_LOG_LEVEL": "debug",
        "LLMAAS_ENGINE_THREADS": "2",
        # Load tests replay one prompt dozens of times a minute from one key, a flood by design;
        # test_guardrails.py starts its own server with the real limit.
        "LLMAAS_GUARDRAIL_REPEAT_LIMIT": "100000",
        **(env or {}),
    }


def cli(environment: dict[str, str], *args: str) -> str:
    """Run ``llmaas ARGS`` and return its standard output (raising with its output on failure)."""
    done = subprocess.run(
        [str(BIN / "llmaas"), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"llmaas {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def launch(
    data_dir: Path,
    environment: dict[str, str],
    *,
    extra_args: tuple[str, ...] = (),
    ready_path: str = "/readyz",
    scheme: str = "http",
) -> tuple[str, subprocess.Popen[bytes], Path]:
    """Start ``llmaas serve`` on a free port; returns its root URL, process and log file.

    ``scheme="https"`` for a server started with TLS flags: readiness is then polled without
    verifying the certificate (a self-signed one only exists once the server made it); the tests
    verify it themselves."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "llmaas"), "serve", "--host", "127.0.0.1", "--port", str(port), *extra_args],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        wait_ready(url + ready_path, process, log_path, timeout=180, verify=scheme == "http")
    except BaseException:
        process.kill()
        raise
    return url, process, log_path


def start_server(
    data_dir: Path,
    *,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    ready_path: str = "/readyz",
    scheme: str = "http",
) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    environment = server_environment(data_dir, env)
    key = json.loads(cli(environment, "keys", "create", "--name", "e2e", "--json"))
    url, process, log_path = launch(
        data_dir, environment, extra_args=extra_args, ready_path=ready_path, scheme=scheme
    )
    return Server(f"{url}/v1", key["key"], key["id"], data_dir, log_path, process)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("llmaas-e2e"))
    try:
        yield running
    finally:
        stop_server(running)
