"""The model lifecycle as a client sees it: a real server on a catalog of our own, the official SDK.

The catalog is written at test time with dates relative to today, so that on the day the test runs
``smollm2:135m`` is deprecated (served, with RFC 9745/8594 headers), ``old-smol:1b`` is retired and
redirected to its replacement, and ``gone-model:7b`` is retired and refused with a 410. The catalog
is reviewed 30 days ago; ``smollm2:135m``'s notice comes after that review, so the catalog declares
it in production and only the dates make it deprecated today, which is what the server must honour.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from importlib import resources
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import openai
import pytest
import yaml

from tests.e2e.conftest import BIN, Server, free_port, start_server, stop_server

LIVE = "qwen2.5-coder:0.5b"
DEPRECATED = "smollm2:135m"
EMBEDDING = "all-minilm:22m"
REDIRECTED = "old-smol:1b"
GONE = "gone-model:7b"
EMBEDDED = (LIVE, DEPRECATED, EMBEDDING)
ATOM = "{http://www.w3.org/2005/Atom}"
HELLO: list[Any] = [{"role": "user", "content": "Hi"}]


@dataclass(frozen=True)
class Dates:
    today: date

    @property
    def reviewed_on(self) -> date:
        return self.today - timedelta(days=30)

    @property
    def notice(self) -> date:
        """``smollm2:135m``'s deprecation notice."""
        return self.today - timedelta(days=10)

    @property
    def sunset(self) -> date:
        return self.notice + timedelta(days=100)


@dataclass(frozen=True)
class Setup:
    server: Server
    dates: Dates
    catalog: Path
    models: Path


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def packaged(name: str) -> str:
    return resources.files("llmaas").joinpath(f"config/{name}").read_text(encoding="utf-8")


def retired_entry(model_id: str, notice: date, sunset: date) -> dict[str, Any]:
    return {
        "id": model_id,
        "family": "test",
        "publisher": "Test",
        "description": "A retired model, kept as a record.",
        "context_length": 2048,
        "capabilities": ["chat", "completions"],
        "lifecycle": {
            "phase": "retired",
            "released": notice - timedelta(days=300),
            "deprecation_notice": notice,
            "sunset": sunset,
            "lts": False,
            "replacement": LIVE,
        },
    }


def catalog_document(dates: Dates) -> dict[str, Any]:
    """The embedded models' packaged entries, with lifecycles set relative to today."""
    entries = {m["id"]: m for m in yaml.safe_load(packaged("catalog.yaml"))["models"]}
    embedded = [dict(entries[model_id]) for model_id in EMBEDDED]
    smol = embedded[1]
    smol["lifecycle"] = {
        # Production on the review day: the notice was scheduled then, and is given since.
        "phase": "production",
        "released": smol["lifecycle"]["released"],
        "deprecation_notice": dates.notice,
        "sunset": dates.sunset,
        "lts": False,
        "replacement": LIVE,
    }
    today = dates.today
    return {
        "reviewed_on": dates.reviewed_on,
        "models": [
            *embedded,
            # Retired before the review (sunset 40 days ago), so already retired on reviewed_on.
            retired_entry(REDIRECTED, today - timedelta(days=200), today - timedelta(days=40)),
            retired_entry(GONE, today - timedelta(days=300), today - timedelta(days=100)),
        ],
    }


def write_files(directory: Path, dates: Dates) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    catalog = directory / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(catalog_document(dates), sort_keys=False), encoding="utf-8")
    models = directory / "models.yaml"
    served = yaml.safe_load(packaged("models.yaml"))
    served["models"] = [m for m in served["models"] if m["id"] in EMBEDDED]
    served["redirect_retired"] = [REDIRECTED]
    models.write_text(yaml.safe_dump(served, sort_keys=False), encoding="utf-8")
    return catalog, models


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("llmaas-lifecycle")
    dates = Dates(datetime.now(UTC).date())
    catalog, models = write_files(root / "config", dates)
    server = start_server(
        root / "data", extra_args=("--catalog", str(catalog), "--config", str(models))
    )
    try:
        yield Setup(server, dates, catalog, models)
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def client(setup: Setup) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=setup.server.base_url, api_key=setup.server.api_key, max_retries=0
    )


def new_key(server: Server, *args: str) -> str:
    done = server.cli("keys", "create", "--name", "lifecycle", "--json", *args)
    assert done.returncode == 0, done.stderr
    key: str = json.loads(done.stdout)["key"]
    return key


def get(server: Server, path: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(server.root_url + path, headers=headers, timeout=30)


def assert_deprecation_headers(headers: httpx.Headers, dates: Dates) -> None:
    assert headers["deprecation"] == f"@{int(midnight(dates.notice).timestamp())}"
    assert parsedate_to_datetime(headers["sunset"]) == midnight(dates.sunset)
    link = headers["link"]
    assert f'</v1/models/{LIVE}>; rel="successor-version"' in link
    assert 'rel="deprecation"' in link


# --- 1. a deprecated model is served, and says so -------------------------------------------


def test_a_deprecated_model_answers_with_deprecation_sunset_and_link(
    client: openai.OpenAI, setup: Setup
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=DEPRECATED, messages=HELLO, max_tokens=2
    )
    completion = raw.parse()
    assert completion.model == DEPRECATED
    assert completion.choices[0].message.role == "assistant"
    assert_deprecation_headers(raw.headers, setup.dates)
    assert "x-llmaas-redirected-from" not in raw.headers


def test_a_deprecated_model_streams_with_the_same_headers(
    client: openai.OpenAI, setup: Setup
) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=DEPRECATED, messages=HELLO, max_tokens=2, stream=True
    ) as response:
        assert_deprecation_headers(response.headers, setup.dates)
        chunks = list(response.parse())
    assert chunks
    assert all(chunk.model == DEPRECATED for chunk in chunks)


def test_a_production_model_carries_no_deprecation_headers(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model=LIVE, messages=HELLO, max_tokens=1)
    raw.parse()
    for header in ("deprecation", "sunset", "link", "x-llmaas-redirected-from"):
        assert header not in raw.headers
    embedding = client.embeddings.with_raw_response.create(model=EMBEDDING, input="hello")
    assert "deprecation" not in embedding.headers


# --- 2. a retired model is refused with its replacement --------------------------------------


def test_a_retired_model_is_refused_with_410_naming_its_replacement(
    client: openai.OpenAI, setup: Setup
) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model=GONE, messages=HELLO, max_tokens=1)
    error = raised.value
    assert error.status_code == 410
    assert error.code == "model_retired"
    assert LIVE in error.message
    with pytest.raises(openai.APIStatusError) as retrieved:
        client.models.retrieve(GONE)
    assert retrieved.value.status_code == 410
    assert retrieved.value.code == "model_retired"
    assert LIVE in retrieved.value.message
    raw = get(setup.server, f"/v1/models/{GONE}", setup.server.api_key)
    assert raw.status_code == 410


def test_a_retired_model_is_refused_when_streaming_too(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model=GONE, messages=HELLO, max_tokens=1, stream=True)
    assert raised.value.status_code == 410


# --- 3. a redirected retired model is served by its replacement ------------------------------


def test_a_redirected_retired_model_is_served_and_billed_as_its_replacement(
    setup: Setup,
) -> None:
    key = new_key(setup.server)
    own = openai.OpenAI(base_url=setup.server.base_url, api_key=key, max_retries=0)
    raw = own.chat.completions.with_raw_response.create(
        model=REDIRECTED, messages=HELLO, max_tokens=1
    )
    completion = raw.parse()
    assert completion.model == LIVE
    assert raw.headers["x-llmaas-redirected-from"] == REDIRECTED
    # Redirected, not deprecated: the replacement is what the client now uses.
    assert "deprecation" not in raw.headers
    assert completion.usage is not None
    rows = billed_models(setup.server, key, expected_requests=1)
    assert [row["model"] for row in rows] == [LIVE]
    assert rows[0]["input_tokens"] == completion.usage.prompt_tokens


def billed_models(server: Server, key: str, *, expected_requests: int) -> list[dict[str, Any]]:
    """The key's usage by model, once the usage writer has flushed ``expected_requests``."""
    deadline = time.monotonic() + 20
    while True:
        report = get(server, "/v1/me/usage?group_by=model", key)
        assert report.status_code == 200, report.text
        body = report.json()
        if body["total"]["requests"] >= expected_requests or time.monotonic() > deadline:
            assert body["total"]["requests"] == expected_requests, body
            rows: list[dict[str, Any]] = body["data"]
            return rows
        time.sleep(0.25)


# --- 4. /v1/models -----------------------------------------------------------------------------


def test_models_list_the_live_and_deprecated_models_with_lifecycle(
    client: openai.OpenAI, setup: Setup
) -> None:
    models = {m.id: m for m in client.models.list()}
    assert set(models) == set(EMBEDDED)
    for model in models.values():
        extra = model.model_extra or {}
        assert extra["available"] is True
        assert extra["max_model_len"] == extra["context_length"]
        assert extra["capabilities"]
        assert extra["lifecycle"]["phase"] in {"production", "deprecated"}
    smol = models[DEPRECATED].model_extra or {}
    assert smol["lifecycle"] == {
        "phase": "deprecated",
        "released": "2024-10-31",
        "deprecation_notice": setup.dates.notice.isoformat(),
        "sunset": setup.dates.sunset.isoformat(),
        "lts": False,
        "replacement": LIVE,
    }
    assert smol["shutdown_date"] == setup.dates.sunset.isoformat()
    assert smol["max_model_len"] == 8192
    assert "chat" in smol["capabilities"]
    live = models[LIVE].model_extra or {}
    assert live["lifecycle"]["phase"] == "production"
    assert live["shutdown_date"] is None
    assert (models[EMBEDDING].model_extra or {})["capabilities"] == ["embeddings", "rerank"]


def test_retrieving_a_deprecated_model_shows_its_phase(client: openai.OpenAI) -> None:
    model = client.models.retrieve(DEPRECATED)
    assert (model.model_extra or {})["lifecycle"]["phase"] == "deprecated"


def test_a_restricted_key_sees_and_calls_only_its_models(setup: Setup) -> None:
    key = new_key(setup.server, "--models", LIVE)
    restricted = openai.OpenAI(base_url=setup.server.base_url, api_key=key, max_retries=0)
    assert [m.id for m in restricted.models.list()] == [LIVE]
    for other in (DEPRECATED, EMBEDDING, REDIRECTED, GONE):
        with pytest.raises(openai.NotFoundError):
            restricted.models.retrieve(other)
    for other in (DEPRECATED, REDIRECTED, GONE):
        with pytest.raises(openai.NotFoundError):
            restricted.chat.completions.create(model=other, messages=HELLO, max_tokens=1)
    with pytest.raises(openai.NotFoundError):
        restricted.embeddings.create(model=EMBEDDING, input="hello")


# --- 5. the public lifecycle feed ----------------------------------------------------------------


def test_the_lifecycle_feed_lists_deprecations_and_retirements(setup: Setup) -> None:
    response = get(setup.server, "/lifecycle")
    assert response.status_code == 200
    notices = {n["model"]: n for n in response.json()["data"]}
    assert set(notices) == {DEPRECATED, REDIRECTED, GONE}
    dates = setup.dates
    assert notices[DEPRECATED]["phase"] == "deprecated"
    assert notices[DEPRECATED]["deprecation_notice"] == dates.notice.isoformat()
    assert notices[DEPRECATED]["sunset"] == dates.sunset.isoformat()
    assert notices[DEPRECATED]["replacement"] == LIVE
    for retired, days in ((REDIRECTED, 40), (GONE, 100)):
        assert notices[retired]["phase"] == "retired"
        assert notices[retired]["sunset"] == (dates.today - timedelta(days=days)).isoformat()
        assert notices[retired]["replacement"] == LIVE


def test_the_atom_feed_has_one_entry_per_notice(setup: Setup) -> None:
    response = get(setup.server, "/lifecycle.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    titles = [entry.findtext(f"{ATOM}title") or "" for entry in entries]
    assert len(entries) == 3
    for model in (DEPRECATED, REDIRECTED, GONE):
        assert sum(model in title for title in titles) == 1, titles
    smol = next(e for e in entries if DEPRECATED in (e.findtext(f"{ATOM}title") or ""))
    assert setup.dates.sunset.isoformat() in (smol.findtext(f"{ATOM}title") or "")
    link = smol.find(f"{ATOM}link")
    assert link is not None
    assert link.get("href", "").endswith(f"/v1/models/{LIVE}")


# --- 6. a catalog that breaks the promise is refused ----------------------------------------------


def hasty_catalog(setup: Setup, directory: Path) -> Path:
    """The test catalog plus a model retired 50 days after its notice."""
    document = catalog_document(setup.dates)
    today = setup.dates.today
    document["models"].append(
        retired_entry("hasty-model:3b", today - timedelta(days=100), today - timedelta(days=50))
    )
    path = directory / "hasty.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_the_server_refuses_a_catalog_with_less_than_90_days_notice(
    setup: Setup, tmp_path: Path
) -> None:
    bad = hasty_catalog(setup, tmp_path)
    env = {**setup.server.env(), "LLMAAS_DATA_DIR": str(tmp_path / "data")}
    args = ["--catalog", str(bad), "--config", str(setup.models)]
    port = str(free_port())
    served = subprocess.run(
        [str(BIN / "llmaas"), "serve", "--host", "127.0.0.1", "--port", port, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = served.stdout + served.stderr
    assert served.returncode != 0, output
    assert "hasty-model:3b" in output
    assert "50 days" in output
    assert "listening" not in output
    checked = subprocess.run(
        [str(BIN / "llmaas"), "catalog", "validate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "hasty-model:3b" in checked.stdout + checked.stderr


def test_the_test_catalog_itself_validates(setup: Setup) -> None:
    checked = setup.server.cli(
        "catalog", "validate", "--catalog", str(setup.catalog), "--config", str(setup.models)
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "catalog OK: 5 models" in checked.stdout


# --- the public status page --------------------------------------------------------------------


def test_the_status_page_shows_served_models_with_their_phase_and_no_machines(
    setup: Setup,
) -> None:
    response = get(setup.server, "/status")
    assert response.status_code == 200
    body = response.json()
    phases = {m["model"]: m["phase"] for m in body["models"]}
    assert phases == {LIVE: "production", DEPRECATED: "deprecated", EMBEDDING: "production"}
    assert all(m["available"] for m in body["models"])
    assert "embedded-" not in response.text  # deployment names stay private
