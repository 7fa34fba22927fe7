"""Every error case answers with OpenAI's envelope and the right status, never a 500 or a traceback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import (
    Server,
    start_server,
    stop_server,
    unreachable_engine_config,
)
from tests.support.canary import places_holding
from tests.support.openai_spec import assert_valid

SECRET_INPUT = "do-not-echo-4bd2e"


def post(
    server: Server, path: str, body: Any, *, key: str | None = None, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key if key is not None else server.api_key}"}
    if isinstance(body, bytes):
        headers["Content-Type"] = "application/json"
        return httpx.post(
            server.base_url + path, content=body, headers=headers, timeout=60, **kwargs
        )
    return httpx.post(server.base_url + path, json=body, headers=headers, timeout=60, **kwargs)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert_valid("ErrorResponse", body)
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"]
    error: dict[str, Any] = body["error"]
    return error


CHAT = {"model": "smollm2:135m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def test_missing_and_invalid_keys_get_401(server: Server) -> None:
    missing = httpx.post(server.base_url + "/chat/completions", json=CHAT, timeout=30)
    assert error_of(missing, 401)["code"] == "invalid_api_key"
    wrong = post(server, "/chat/completions", CHAT, key="sk-llmaas-aaaaaaaaaaaa-" + "b" * 40)
    assert error_of(wrong, 401)["code"] == "invalid_api_key"
    client = openai.OpenAI(base_url=server.base_url, api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.code == "invalid_api_key"


def test_revoked_key_stops_working(server: Server) -> None:
    created = server.cli("keys", "create", "--name", "short-lived", "--json")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert httpx.get(server.base_url + "/models", headers=headers).status_code == 200
    assert server.cli("keys", "revoke", key["id"]).returncode == 0
    # Another process revoked it: the server re-reads a cached key after 5 s at most.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = httpx.get(server.base_url + "/models", headers=headers)
        if response.status_code != 200:
            break
        time.sleep(0.25)
    assert error_of(response, 401)["code"] == "invalid_api_key"
    listed = json.loads(server.cli("keys", "list", "--all", "--json").stdout)
    assert any(row["id"] == key["id"] and row["revoked_at"] for row in listed)
    assert key["key"] not in server.cli("keys", "list", "--all", "--json").stdout


def test_unknown_model_gets_404(server: Server) -> None:
    response = post(server, "/chat/completions", {**CHAT, "model": "gpt-17"})
    error = error_of(response, 404)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-17")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**CHAT, "temperature": 5}, "temperature"),
        ({"model": "smollm2:135m"}, "messages"),
        ({**CHAT, "messages": []}, "messages"),
        ({**CHAT, "messages": [{"role": "user", "content": "x"}] * 2049}, "messages"),
        ({**CHAT, "messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
        ({**CHAT, "messages": [{"role": "wizard", "content": SECRET_INPUT}]}, "messages[0]"),
        ({**CHAT, "max_tokens": 0}, "max_tokens"),
        ({**CHAT, "n": 0}, "n"),
        ({**CHAT, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({**CHAT, "response_format": {"type": SECRET_INPUT}}, "response_format"),
        ({**CHAT, "tool_choice": "auto"}, "tool_choice"),
        ({**CHAT, "top_logprobs": 3}, "top_logprobs"),
        ({**CHAT, "model": "all-minilm:22m"}, "model"),
    ],
)
def test_invalid_parameters_name_the_param_and_never_echo_input(
    server: Server, body: dict[str, Any], param: str
) -> None:
    error = error_of(post(server, "/chat/completions", body), 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert SECRET_INPUT not in error["message"]


def test_schema_violations_never_use_fastapis_422(server: Server) -> None:
    error = error_of(post(server, "/embeddings", {"model": "all-minilm:22m", "input": ""}), 400)
    assert error["param"] == "input"
    error = error_of(
        post(server, "/embeddings", {"model": "all-minilm:22m", "input": "x", "dimensions": 64}),
        400,
    )
    assert error["param"] == "dimensions"
    error = error_of(post(server, "/completions", {"model": "smollm2:135m", "prompt": [[-1]]}), 400)
    assert error["param"] == "prompt"


def test_malformed_json_body(server: Server) -> None:
    error = error_of(
        post(server, "/chat/completions", b'{"model": "smollm2:135m", "messages": ['), 400
    )
    assert error["code"] == "invalid_json"


def test_context_length_exceeded(server: Server) -> None:
    body = {**CHAT, "model": "qwen2.5-coder:0.5b", "max_tokens": 40_000}
    error = error_of(post(server, "/chat/completions", body), 400)
    assert error["code"] == "context_length_exceeded"
    long_text = "word " * 600
    error = error_of(
        post(server, "/embeddings", {"model": "all-minilm:22m", "input": long_text}), 400
    )
    assert error["code"] == "context_length_exceeded"
    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="qwen2.5-coder:0.5b",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=40_000,
            stream=True,
        )
    assert caught.value.code == "context_length_exceeded"


def test_oversize_body_gets_413(server: Server) -> None:
    big = (
        b'{"model": "smollm2:135m", "messages": [{"role": "user", "content": "'
        + b"a" * (9 * 1024 * 1024)
        + b'"}]}'
    )
    error = error_of(post(server, "/chat/completions", big), 413)
    assert error["code"] == "payload_too_large"


def test_unknown_route_and_method(server: Server) -> None:
    assert error_of(httpx.get(server.base_url + "/nothing-here"), 404)["code"] == "unknown_url"
    assert (
        error_of(httpx.get(server.base_url + "/chat/completions"), 405)["code"]
        == "method_not_allowed"
    )


def test_request_id_is_returned_and_propagated(server: Server) -> None:
    response = httpx.get(server.root_url + "/healthz")
    assert len(response.headers["x-request-id"]) >= 16
    mine = httpx.get(server.root_url + "/healthz", headers={"x-request-id": "trace-12345678"})
    assert mine.headers["x-request-id"] == "trace-12345678"


def test_openapi_document_and_docs(server: Server) -> None:
    document = httpx.get(server.root_url + "/openapi.json").json()
    chat = document["paths"]["/v1/chat/completions"]["post"]
    examples = chat["requestBody"]["content"]["application/json"]["examples"]
    assert {"simple", "stream", "json", "tools"} <= set(examples)
    assert "401" in chat["responses"] and "503" in chat["responses"]
    assert httpx.get(server.root_url + "/docs").status_code == 200


# --- an engine that is down: 503 -------------------------------------------------------------


@pytest.fixture(scope="module")
def remote_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("llmaas-remote-down")
    config = unreachable_engine_config(directory, "[chat, completions, embeddings]", 8)
    running = start_server(directory, extra_args=("--config", str(config)), ready_path="/healthz")
    try:
        yield running
    finally:
        stop_server(running)


def test_unreachable_backend_gets_503_and_readyz_says_so(remote_down: Server) -> None:
    body = {"model": "remote-model", "messages": [{"role": "user", "content": "hi"}]}
    error = error_of(post(remote_down, "/chat/completions", body), 503)
    assert error["code"] == "backend_unavailable"
    error = error_of(post(remote_down, "/chat/completions", {**body, "stream": True}), 503)
    assert error["code"] == "backend_unavailable"
    ready = httpx.get(remote_down.root_url + "/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "accepting": True,
        "database": True,
        "counters": True,
        "model:remote-model": False,
    }


def test_no_prompt_content_in_logs_or_database(server: Server) -> None:
    from tests.e2e.test_openai_sdk import CANARY

    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
    client.chat.completions.create(
        model="smollm2:135m",
        messages=[{"role": "user", "content": f"Repeat: {CANARY}"}],
        max_tokens=8,
    )
    post(
        server,
        "/chat/completions",
        {**CHAT, "messages": [{"role": "user", "content": 1, CANARY: 2}]},
    )
    # The usage line is written when the usage writer flushes, a moment after the answer.
    deadline = time.monotonic() + 10
    while "llmaas.usage" not in (logs := server.logs()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "llmaas.usage" in logs  # logging does happen
    assert CANARY not in logs
    assert places_holding(server, CANARY) == []
