"""Every code example of README.md's "Use it" section, run as written against a real server.

Each example is preceded in the README by a marker, ``<!-- example: NAME -->``. The test takes the
fenced block that follows it, replaces ``http://127.0.0.1:8000`` with the test server's address (and
nothing else), puts the server's key in ``LLMAAS_API_KEY``, and runs it: bash with ``bash -c``, Python
with this interpreter, JavaScript with ``node`` from ``tests/e2e/node`` (where ``npm ci`` installed
the ``openai`` package). A removed, renamed or unmarked example fails the suite, so the README cannot
drift from what the server does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
NODE_DIR = Path(__file__).resolve().parent / "node"
README_URL = "http://127.0.0.1:8000"
TIMEOUT_S = 120
USE_IT_SECTION = "## Use it"
RUNNABLE_LANGUAGES = frozenset({"bash", "python", "javascript"})

MARKER = re.compile(r"^<!--\s*example:\s*(?P<name>[\w.-]+)\s*-->\s*$")
FENCE_OPEN = re.compile(r"^```(?P<lang>[\w+-]*)\s*$")
FENCE_CLOSE = "```"


@dataclass(frozen=True)
class Block:
    """A fenced code block of the README, with the marker right above it (if any)."""

    lang: str
    code: str
    line: int  # 1-based line of the opening fence
    section: str  # the enclosing "## " heading, "" before the first one
    marker: str | None


@dataclass(frozen=True)
class Parsed:
    blocks: tuple[Block, ...]
    markers: tuple[tuple[str, int], ...]  # every marker (name, line), in order
    dangling: tuple[tuple[str, int], ...]  # markers not immediately followed by a fence


def parse_readme(text: str) -> Parsed:
    """Split ``text`` into fenced blocks, each paired with the marker on the line above it.

    Blank lines may sit between a marker and its fence; any other line in between leaves the marker
    dangling (and the block unmarked).
    """
    lines = text.splitlines()
    blocks: list[Block] = []
    markers: list[tuple[str, int]] = []
    dangling: list[tuple[str, int]] = []
    section = ""
    pending: tuple[str, int] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        opened = FENCE_OPEN.match(line)
        marked = MARKER.match(line.strip())
        if opened:
            end = index + 1
            while end < len(lines) and lines[end].strip() != FENCE_CLOSE:
                end += 1
            code = "\n".join(lines[index + 1 : end]) + "\n"
            name = pending[0] if pending else None
            blocks.append(Block(opened["lang"], code, index + 1, section, name))
            pending = None
            index = end + 1
            continue
        if marked:
            if pending:
                dangling.append(pending)
            pending = (marked["name"], index + 1)
            markers.append(pending)
        elif line.strip():
            if pending:
                dangling.append(pending)
                pending = None
            if line.startswith("## "):
                section = line.strip()
        index += 1
    if pending:
        dangling.append(pending)
    return Parsed(tuple(blocks), tuple(markers), tuple(dangling))


# --- what each example must print --------------------------------------------------------------


def check_curl(stdout: str) -> None:
    try:
        body = json.loads(stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(f"curl did not print JSON ({error}): {stdout[:2000]!r}") from error
    assert isinstance(body, dict), body
    assert "error" not in body, body
    choices = body.get("choices")
    assert isinstance(choices, list), body
    assert choices, body
    content = choices[0]["message"]["content"]
    assert isinstance(content, str), body
    assert content.strip(), body
    assert body.get("object") == "chat.completion", body


def check_text(stdout: str) -> None:
    assert stdout.strip(), "the example printed nothing"


USAGE_LINE = re.compile(r"^\[(\d+) prompt \+ (\d+) completion tokens\]$", re.MULTILINE)


def check_stream(stdout: str) -> None:
    found = USAGE_LINE.search(stdout)
    assert found, f"no '[N prompt + M completion tokens]' line in {stdout!r}"
    assert int(found[1]) > 0, stdout
    assert int(found[2]) > 0, stdout
    assert stdout[: found.start()].strip(), f"no streamed text before the usage line: {stdout!r}"


def check_embeddings(stdout: str) -> None:
    assert stdout.strip() == "2 vectors of 384 dimensions", stdout


def check_rerank(stdout: str) -> None:
    assert stdout.strip() == "Paris is the capital of France.", stdout


def check_transcription(stdout: str) -> None:
    assert "hello" in stdout.lower(), stdout


def check_self_service(stdout: str) -> None:
    body = json.loads(stdout)
    assert body["key"]["organization"] == "default", body
    assert body["spend"]["key_eur"], body
    assert "requests_per_minute" in body["limits"]["key"], body


@dataclass(frozen=True)
class Expected:
    lang: str
    check: Callable[[str], None]


EXPECTED: dict[str, Expected] = {
    "curl": Expected("bash", check_curl),
    "python": Expected("python", check_text),
    "python-stream": Expected("python", check_stream),
    "python-embeddings": Expected("python", check_embeddings),
    "python-rerank": Expected("python", check_rerank),
    "python-transcription": Expected("python", check_transcription),
    "node": Expected("javascript", check_text),
    "langchain": Expected("python", check_text),
    "llamaindex": Expected("python", check_text),
    "self-service": Expected("bash", check_self_service),
}


# --- the README's structure ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    assert README.is_file(), f"{README} not found"
    return parse_readme(README.read_text(encoding="utf-8"))


def test_readme_has_exactly_the_expected_examples(parsed: Parsed) -> None:
    names = [name for name, _ in parsed.markers]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"README.md marks several examples with the same name: {duplicates}"
    assert not parsed.dangling, (
        "README.md has example markers not directly followed by a fenced code block: "
        + ", ".join(f"{name!r} (line {line})" for name, line in parsed.dangling)
    )
    missing = sorted(EXPECTED.keys() - set(names))
    unexpected = sorted(set(names) - EXPECTED.keys())
    assert not missing and not unexpected, (
        f"README.md's examples changed: missing {missing}, unexpected {unexpected}; "
        "update EXPECTED in tests/e2e/test_readme_examples.py with the README"
    )


def test_every_runnable_block_of_use_it_is_marked(parsed: Parsed) -> None:
    in_section = [block for block in parsed.blocks if block.section == USE_IT_SECTION]
    assert in_section, f"README.md has no code block under {USE_IT_SECTION!r}"
    unmarked = [
        f"line {block.line} ({block.lang or 'no language'})"
        for block in in_section
        if block.marker is None and (block.lang in RUNNABLE_LANGUAGES or not block.lang)
    ]
    assert not unmarked, (
        f"code blocks under {USE_IT_SECTION!r} without an '<!-- example: NAME -->' marker, "
        f"so never tested: {', '.join(unmarked)}"
    )


# --- running them -------------------------------------------------------------------------------


def find_example(parsed: Parsed, name: str) -> Block:
    found = [block for block in parsed.blocks if block.marker == name]
    assert len(found) == 1, f"README.md has {len(found)} blocks marked 'example: {name}'"
    return found[0]


def require_executable(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed or not on PATH; it is needed to {why}")
    return path


def run_code(
    lang: str, code: str, env: dict[str, str], workdir: Path
) -> subprocess.CompletedProcess[str]:
    def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )

    if lang == "bash":
        require_executable("curl", "run the README's curl example")
        return run(
            [require_executable("bash", "run the README's bash examples"), "-c", code], workdir
        )
    if lang == "python":
        script = workdir / "example.py"
        script.write_text(code, encoding="utf-8")
        return run([sys.executable, str(script)], workdir)
    if lang == "javascript":
        node = require_executable(
            "node", "run the README's Node.js example (install Node.js 20 or later)"
        )
        if not (NODE_DIR / "node_modules" / "openai").is_dir():
            pytest.fail(
                f"{NODE_DIR / 'node_modules'} has no `openai` package: run `make test`, "
                "which runs `npm ci` there"
            )
        # Inside NODE_DIR, so that Node resolves `openai` from its node_modules.
        handle, name = tempfile.mkstemp(prefix="example-", suffix=".mjs", dir=NODE_DIR)
        script = Path(name)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(code)
            return run([node, str(script)], NODE_DIR)
        finally:
            script.unlink(missing_ok=True)
    raise AssertionError(f"no way to run a {lang!r} block")


def child_env(server: Server) -> dict[str, str]:
    env = {**os.environ, "LLMAAS_API_KEY": server.api_key}
    # A proxy configured on the machine must not intercept requests to the local test server.
    for variable in ("NO_PROXY", "no_proxy"):
        env[variable] = ",".join(filter(None, [env.get(variable, ""), "127.0.0.1", "localhost"]))
    return env


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_readme_example_runs(name: str, parsed: Parsed, server: Server, tmp_path: Path) -> None:
    expected = EXPECTED[name]
    block = find_example(parsed, name)
    assert block.lang == expected.lang, (
        f"example {name!r} (README line {block.line}) is fenced as {block.lang!r}, "
        f"expected {expected.lang!r}"
    )
    assert README_URL in block.code, (
        f"example {name!r} (README line {block.line}) does not target {README_URL}"
    )
    code = block.code.replace(README_URL, server.root_url)

    try:
        result = run_code(block.lang, code, child_env(server), tmp_path)
    except subprocess.TimeoutExpired as error:
        pytest.fail(
            f"example {name!r} ran past {TIMEOUT_S}s\n"
            f"--- stdout ---\n{error.stdout!r}\n--- stderr ---\n{error.stderr!r}"
        )

    report = (
        f"example {name!r} (README line {block.line}) exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
    )
    assert result.returncode == 0, report
    try:
        expected.check(result.stdout)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{report}") from error
