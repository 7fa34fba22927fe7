"""Schemathesis fuzzes every operation of the running server's own ``/openapi.json``.

The security review's bar: generated requests, thousands of them, produce no 5xx, and every error is
OpenAI's envelope. The run is bounded (examples per operation, a token cap on inference) to fit CI on two
cores, and derandomized so that a failure reproduces on the next run.

Requests carry a dedicated admin key so that they reach validation instead of stopping at a 401. Left
alone, the fuzzer would revoke, rotate or disable the very key, organization or tier it stands on, and
every later answer would be a 401 that proves nothing: so mutating operations aim at victims created for
the purpose, never at those, and a 401 to any admin request fails the test. Each request that succeeds is
replayed without a key (and, on admin operations, with an ordinary key) to prove it needed one.

Beyond the two required properties, JSON bodies must match the schemas the document declares, and
statuses and content types must be documented ones: what a generated client or a fuzzer reads has to be
true. Schemathesis's ``negative_data_rejection`` and ``positive_data_acceptance`` are left out: the
server is lenient by design where the document shows the canonical form (``format=CSV``, a blank
``format``), and stricter where a rule is a business rule (token ids within the vocabulary, ids in a
pattern that the document does not spell out).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from urllib.parse import unquote

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import APIOperation, CheckContext, GenerationMode, Response
from schemathesis import Case as GenericCase
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e

Operation: TypeAlias = APIOperation[Any, Any, Any, Any]
Case: TypeAlias = GenericCase[Operation]

POSITIVE_EXAMPLES = 80
NEGATIVE_EXAMPLES = 40
ANONYMOUS_EXAMPLES = 3
"""Per operation (fewer where there are fewer distinct requests to make): about 3,000 generated
requests, plus replays, which two CPU cores answer in about a minute and a half."""

MAX_TOKENS = 4
"""Generation on CPU costs per token: enough to walk the whole pipeline, cheap enough to do it often."""
MAX_CHOICES = 2

CHAT_MODELS = ("smollm2:135m", "all-minilm:22m")
"""The smallest chat model (the same engine as the larger one, which the documented examples still
call, at a tenth of the cost) and an embedding model, which must be refused for chat."""
EMBEDDING_MODELS = ("all-minilm:22m", "smollm2:135m")
AUDIO_MODELS = ("whisper:tiny-en", "whisper:base")
REAL_MODELS: dict[str, tuple[str, ...]] = {
    "/v1/chat/completions": CHAT_MODELS,
    "/v1/completions": CHAT_MODELS,
    "/v1/embeddings": EMBEDDING_MODELS,
    "/v1/rerank": EMBEDDING_MODELS,
    "/v2/rerank": EMBEDDING_MODELS,
    "/v1/audio/transcriptions": AUDIO_MODELS,
    "/v1/audio/translations": AUDIO_MODELS,
}
"""Random model names all end in a 404; a real one (of the right kind or not) goes deeper."""

ENVELOPE_FIELDS = {"message", "type", "param", "code"}
TIMEOUT = 120
POSITIVE_SLICE = "admin+"


@dataclass(frozen=True)
class Target:
    server: Server
    admin_key: str
    protected: dict[str, frozenset[str]]
    """Path parameter -> the values the run stands on, which no mutating request may name."""
    victims: dict[str, tuple[str, ...]]
    """Path parameter -> real values mutating requests aim at, so that they can also succeed."""
    deployments: tuple[str, ...]

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def admin_api(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(
            method,
            f"{self.server.root_url}/admin/v1{path}",
            json=body,
            headers=self.admin_headers,
            timeout=TIMEOUT,
        )
        assert response.is_success, response.text
        return response.json()

    def undrain_all(self) -> None:
        """Draining real deployments is fair game, but later inference must not see a legit 503."""
        for name in self.deployments:
            self.admin_api("POST", f"/deployments/{name}/undrain")


@dataclass
class Tally:
    responses: Counter[str] = field(default_factory=Counter)
    """``"slice status-class"`` -> responses, e.g. ``"admin+ 4xx"``."""
    per_operation: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """Operation label -> status class -> responses of the positive admin slice."""
    replays: int = 0
    negative_unsatisfiable: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def count(self, slice_: str, operation: Operation, status: int) -> None:
        status_class = f"{status // 100}xx"
        self.responses[f"{slice_} {status_class}"] += 1
        if slice_ == POSITIVE_SLICE:
            self.per_operation[operation.label][status_class] += 1

    @property
    def generated(self) -> int:
        return self.responses.total()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A server of its own: the fuzzer changes tiers, organizations, keys and deployments."""
    server = start_server(
        tmp_path_factory.mktemp("llmaas-fuzz"),
        # The periodic probe generation would compete for the two cores with the fuzzed requests.
        env={"LLMAAS_PROBE_INTERVAL_SECONDS": "0"},
    )
    try:
        created = server.cli("keys", "create", "--name", "fuzz-admin", "--admin", "--json")
        assert created.returncode == 0, created.stderr
        admin = json.loads(created.stdout)
        yield prepare(server, admin["key"], admin["id"])
    finally:
        stop_server(server)


def prepare(server: Server, admin_key: str, admin_key_id: str) -> Target:
    bare = Target(server, admin_key, {}, {}, ())
    bare.admin_api("POST", "/tiers", {"id": "fuzz-victim", "name": "Fuzz victim"})
    bare.admin_api(
        "POST", "/organizations", {"id": "fuzz-victim", "name": "Fuzz", "tier": "fuzz-victim"}
    )
    victim_keys = tuple(
        bare.admin_api(
            "POST", "/keys", {"name": f"fuzz-victim-{n}", "organization": "fuzz-victim"}
        )["id"]
        for n in range(2)
    )
    deployments = tuple(row["name"] for row in bare.admin_api("GET", "/deployments")["data"])
    listed = httpx.get(f"{server.base_url}/models", headers=bare.admin_headers, timeout=TIMEOUT)
    models = tuple(row["id"] for row in listed.json()["data"])
    return Target(
        server,
        admin_key,
        protected={
            "key_id": frozenset({admin_key_id, server.key_id}),
            "organization_id": frozenset({"default"}),
            "tier_id": frozenset({"monthly-billing"}),
        },
        victims={
            "key_id": victim_keys,
            "organization_id": ("fuzz-victim",),
            "tier_id": ("fuzz-victim",),
            "name": deployments,
            "model": models,
        },
        deployments=deployments,
    )


def openai_error_envelope(_ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx and 5xx is ``{"error": {"message", "type", "param", "code"}}`` and nothing else."""
    if response.status_code < 400:
        return None
    content_type = ";".join(response.headers.get("content-type", []))
    assert content_type.startswith("application/json"), f"error as {content_type!r}"
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"error body is not JSON: {response.content[:300]!r}") from None
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict), body
    assert set(error) == ENVELOPE_FIELDS, body
    assert isinstance(error["message"], str), body
    assert error["message"], body
    assert isinstance(error["type"], str), body
    assert error["param"] is None or isinstance(error["param"], str), body
    assert error["code"] is None or isinstance(error["code"], str), body
    assert "Traceback" not in error["message"], body
    return None


def credentials_held(_ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A 401 to the admin key means the fuzzer broke its own credentials: the run proves nothing."""
    assert response.status_code != 401, response.content[:500]
    return None


def json_schema_conformance(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Schemathesis reads an OpenAPI 3.1 event-stream schema as the shape of each SSE event, where
    this document, like OpenAI's, gives the shape of each event's JSON ``data``: only JSON is checked
    (the SDK tests read the streams)."""
    content_type = ";".join(response.headers.get("content-type", []))
    if not content_type.startswith("application/json"):
        return None
    return response_schema_conformance(ctx, response, case)


SCHEMA_CHECKS = [json_schema_conformance, status_code_conformance, content_type_conformance]
ADMIN_CHECKS = [not_a_server_error, openai_error_envelope, credentials_held, *SCHEMA_CHECKS]
ANONYMOUS_CHECKS = [not_a_server_error, openai_error_envelope, *SCHEMA_CHECKS]


def is_mutating(operation: Operation) -> bool:
    return operation.method.upper() != "GET"


def aim_path_parameters(case: Case, data: st.DataObject, target: Target) -> None:
    """Swap generated path values for real ones now and then; keep mutations off the run's own."""
    mutating = is_mutating(case.operation)
    for name, value in list((case.path_parameters or {}).items()):
        protected = target.protected.get(name, frozenset())
        if mutating and unquote(str(value)) in protected:
            reject()
        choices = target.victims.get(name, ()) + (() if mutating else tuple(protected))
        if choices:
            picked = data.draw(st.sampled_from((None, *choices)), label=name)
            if picked is not None:
                assert case.path_parameters is not None
                case.path_parameters[name] = picked


def aim_model(case: Case, data: st.DataObject) -> None:
    models = REAL_MODELS.get(case.operation.path)
    if models and isinstance(case.body, dict) and "model" in case.body:
        picked = data.draw(st.sampled_from((None, *models)), label="model")
        if picked is not None:
            case.body["model"] = picked


def bound_inference(case: Case) -> None:
    """Caps output length and choices; only ever lowers a valid value, so invalid bodies stay so."""
    body = case.body
    if case.operation.path not in REAL_MODELS or not isinstance(body, dict):
        return
    if body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        body["max_tokens"] = MAX_TOKENS
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_TOKENS:
            body[name] = MAX_TOKENS
    for name in ("n", "best_of"):
        value = body.get(name)
        # Above 16 they are invalid, and must stay so.
        if isinstance(value, int) and not isinstance(value, bool) and MAX_CHOICES < value <= 16:
            body[name] = MAX_CHOICES


def replay(
    case: Case, session: requests.Session, base_url: str, authorization: str | None
) -> requests.Response:
    """The same request with the key removed or replaced."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    headers = {k: v for k, v in kwargs.pop("headers").items() if k.lower() != "authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response: requests.Response = session.request(**kwargs, headers=headers, timeout=TIMEOUT)
    return response


def assert_refused(response: requests.Response, status: int, label: str) -> None:
    assert response.status_code == status, (
        f"{label}: {response.status_code} instead of {status} {response.text[:300]}"
    )
    error = response.json()["error"]
    assert set(error) == ENVELOPE_FIELDS, response.text


def succeeded(response: Response) -> bool:
    return 200 <= response.status_code < 300


def is_secured(operation: Operation) -> bool:
    return bool(operation.definition.raw.get("security"))


def prove_key_needed(case: Case, session: requests.Session, target: Target) -> int:
    """Replays a request that succeeded; returns how many replays it took."""
    if not is_secured(case.operation):
        return 0
    label = case.operation.label
    base_url = target.server.root_url
    assert_refused(replay(case, session, base_url, None), 401, f"{label} without a key")
    if not case.operation.path.startswith("/admin/"):
        return 1
    ordinary = f"Bearer {target.server.api_key}"
    assert_refused(replay(case, session, base_url, ordinary), 403, f"{label} with an ordinary key")
    return 2


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        # No shrinking: it would spend CI's minutes on a failure that the report already shows.
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


@dataclass(frozen=True)
class Slice:
    """One way of sending an operation's generated requests."""

    name: str
    max_examples: int
    as_admin: bool = True
    aim_models: bool = True
    """Only for valid bodies: a real model swapped into an invalid one could make it valid."""


EXAMPLES = Slice("examples", 1)
POSITIVE = Slice(POSITIVE_SLICE, POSITIVE_EXAMPLES)
NEGATIVE = Slice("admin-", NEGATIVE_EXAMPLES, aim_models=False)
ANONYMOUS = Slice("anonymous", ANONYMOUS_EXAMPLES, as_admin=False, aim_models=False)


def run_slice(
    strategy: SearchStrategy[Case],
    slice_: Slice,
    target: Target,
    session: requests.Session,
    tally: Tally,
) -> None:
    @fuzz_settings(slice_.max_examples)
    @given(case=strategy, data=st.data())
    def one(case: Case, data: st.DataObject) -> None:
        if slice_.as_admin:
            aim_path_parameters(case, data, target)
        if slice_.aim_models:
            aim_model(case, data)
        bound_inference(case)
        response = case.call(base_url=target.server.root_url, session=session, timeout=TIMEOUT)
        tally.count(slice_.name, case.operation, response.status_code)
        if not slice_.as_admin:
            case.validate_response(response, checks=ANONYMOUS_CHECKS)
            # Schemathesis made up its own bearer value: it may get nothing done.
            assert not (is_secured(case.operation) and succeeded(response)), response.content[:300]
            return
        case.validate_response(response, checks=ADMIN_CHECKS)
        if succeeded(response):
            tally.replays += prove_key_needed(case, session, target)

    one()


def slices(operation: Operation, target: Target) -> Iterator[tuple[Slice, SearchStrategy[Case]]]:
    admin = target.admin_headers
    for example in operation.get_strategies_from_examples(headers=admin):
        yield EXAMPLES, example
    yield POSITIVE, operation.as_strategy(generation_mode=GenerationMode.POSITIVE, headers=admin)
    yield NEGATIVE, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, headers=admin)
    yield ANONYMOUS, operation.as_strategy(generation_mode=GenerationMode.POSITIVE)


def fuzz_operation(
    operation: Operation, target: Target, session: requests.Session, tally: Tally
) -> None:
    for slice_, strategy in slices(operation, target):
        try:
            run_slice(strategy, slice_, target, session, tally)
        except Unsatisfiable:
            if slice_ is not NEGATIVE:
                tally.failures.append(f"{operation.label} [{slice_.name}]: nothing generated")
            else:
                # Nothing in it can be made invalid (a string path parameter, no body).
                tally.negative_unsatisfiable.append(operation.label)
        except (Exception, BaseExceptionGroup) as error:
            # Schemathesis reports check failures as an exception group; every operation still runs.
            tally.failures.append(f"{operation.label} [{slice_.name}]: {error}")
    if "/deployments/" in operation.path:
        target.undrain_all()


def report(tally: Tally, operations: list[Operation]) -> str:
    lines = [
        f"fuzzed {len(operations)} operations: {tally.generated} generated requests "
        f"and {tally.replays} replays"
    ]
    lines += [f"  {name}: {count}" for name, count in sorted(tally.responses.items())]
    lines.append(f"  replays of successes without a key or with an ordinary one: {tally.replays}")
    lines.append(f"  {POSITIVE_SLICE} per operation:")
    for operation in operations:
        counts = tally.per_operation[operation.label]
        by_class = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
        lines.append(f"    {operation.label}: {by_class}")
    if tally.negative_unsatisfiable:
        lines.append("  no invalid request possible: " + ", ".join(tally.negative_unsatisfiable))
    return "\n".join(lines)


def test_fuzzed_requests_get_no_5xx_and_only_openai_errors(
    target: Target, record_property: Callable[[str, object], None]
) -> None:
    schema = schemathesis.openapi.from_url(
        f"{target.server.root_url}/openapi.json", config=schemathesis.Config()
    )
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        assert not isinstance(result, Err), result.err()
        operations.append(result.ok())
    tally = Tally()
    with requests.Session() as session:
        for operation in operations:
            fuzz_operation(operation, target, session, tally)
    summary = report(tally, operations)
    print(summary)
    record_property("fuzz", summary)  # kept by --junitxml reports
    failures = "\n\n".join(tally.failures)
    assert not tally.failures, f"{summary}\n\n{failures}"
    uncovered = [op.label for op in operations if not tally.per_operation[op.label]]
    assert not uncovered, f"never requested: {uncovered}"
    me = httpx.get(f"{target.server.base_url}/me", headers=target.admin_headers, timeout=TIMEOUT)
    assert me.status_code == 200, "the fuzzer broke its own admin key"
