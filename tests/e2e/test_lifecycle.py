"""The CLI and the server's life: first start, keys, migrations, and what a disconnect does."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import BIN, Server, free_port, wait_ready

KEY = re.compile(r"sk-llmaas-[a-z0-9]{12}-[A-Za-z0-9]{46}")  # 40 random, then a 6-char checksum
REMOTE_ONLY = """
models:
  - id: remote-model
    owned_by: ops
    created: 2026-01-01
    context_length: 4096
    capabilities: [chat]
    deployments:
      - name: gpu-1
        engine: openai_compatible
        url: http://127.0.0.1:9/v1
"""


def serve_once(data_dir: Path, config: Path, **settings: str) -> str:
    """Start ``llmaas serve``, wait until it answers, stop it; return what it printed."""
    port = free_port()
    log = data_dir.parent / f"serve-{port}.log"
    env = {"LLMAAS_DATA_DIR": str(data_dir), "PATH": str(BIN), "HOME": str(Path.home()), **settings}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "llmaas"), "serve", "--port", str(port), "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", process, log, timeout=60)
        printed = log.read_text()
        keys = KEY.findall(printed)
        if keys:
            models = httpx.get(
                f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {keys[0]}"}
            )
            assert models.status_code == 200
            assert [m["id"] for m in models.json()["data"]] == ["remote-model"]
    finally:
        process.terminate()
        process.wait(timeout=30)
    return log.read_text()


def list_keys(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "llmaas"), "keys", "list", "--json"],
        env={"LLMAAS_DATA_DIR": str(data_dir), "HOME": str(Path.home())},
        capture_output=True,
        text=True,
        check=True,
    )


def test_first_start_creates_the_database_and_prints_an_admin_key_once(tmp_path: Path) -> None:
    config = tmp_path / "models.yaml"
    config.write_text(REMOTE_ONLY, encoding="utf-8")
    data_dir = tmp_path / "data"
    first = serve_once(data_dir, config)
    assert len(KEY.findall(first)) == 1
    assert "shown once" in first
    assert (data_dir / "llmaas.db").exists()
    assert (data_dir / "server-secret").stat().st_mode & 0o077 == 0
    second = serve_once(data_dir, config)
    assert KEY.findall(second) == []
    listed = list_keys(data_dir)
    (admin,) = json.loads(listed.stdout)
    assert admin["name"] == "admin"
    assert admin["admin"] is True
    assert KEY.search(listed.stdout) is None  # listing never shows a secret


def test_no_admin_key_is_printed_where_logs_are_collected(tmp_path: Path) -> None:
    config = tmp_path / "models.yaml"
    config.write_text(REMOTE_ONLY, encoding="utf-8")
    data_dir = tmp_path / "data"
    printed = serve_once(data_dir, config, LLMAAS_FIRST_START_ADMIN_KEY="false")
    assert KEY.findall(printed) == []
    listed = list_keys(data_dir)
    assert json.loads(listed.stdout) == []


def test_migrate_check_and_models_list(tmp_path: Path) -> None:
    env = {"LLMAAS_DATA_DIR": str(tmp_path), "HOME": str(Path.home())}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "llmaas"), *args], env=env, capture_output=True, text=True, check=False
        )

    assert cli("migrate", "--check").returncode == 1  # empty database: migrations pending
    assert cli("migrate").returncode == 0
    assert cli("migrate", "--check").returncode == 0
    models = json.loads(cli("models", "list", "--json").stdout)
    assert {m["id"] for m in models} == {
        "qwen2.5-coder:0.5b",
        "smollm2:135m",
        "all-minilm:22m",
        "whisper:base",
        "whisper:tiny-en",
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: []", encoding="utf-8")
    failed = cli("models", "list", "--config", str(bad))
    assert failed.returncode == 1
    assert "bad.yaml" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_a_client_that_disconnects_frees_the_engine_and_is_metered(server: Server) -> None:
    body = {
        "model": "smollm2:135m",
        "messages": [{"role": "user", "content": "Write a very long story."}],
        "max_tokens": 4000,
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {server.api_key}", "x-request-id": "disconnect-test-0001"}
    with httpx.stream(
        "POST", server.base_url + "/chat/completions", json=body, headers=headers
    ) as r:
        lines = r.iter_lines()
        received = [next(lines) for _ in range(6)]
    assert any(line.startswith("data: ") for line in received)
    # The engine is free again long before 4000 tokens could have been generated.
    quick = httpx.post(
        server.base_url + "/chat/completions",
        json={
            "model": "smollm2:135m",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 3,
        },
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=60,
    )
    assert quick.status_code == 200
    deadline = time.monotonic() + 10
    usage: dict[str, object] = {}
    while time.monotonic() < deadline and not usage:
        for line in server.logs().splitlines():
            if "disconnect-test-0001" in line and '"usage"' in line:
                usage = json.loads(line)
        time.sleep(0.1)
    assert usage["outcome"] == "client_disconnected"
    completion_tokens = usage["completion_tokens"]
    assert isinstance(completion_tokens, int)
    assert 1 <= completion_tokens < 4000


def test_cli_help() -> None:
    done = subprocess.run(
        [str(BIN / "llmaas"), "--help"], capture_output=True, text=True, check=True
    )
    assert "serve" in done.stdout
    assert "keys" in done.stdout
