"""The outermost middleware: request ids, 413 before buffering, and 500s without tracebacks."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from llmaas.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware

SECRET = "the user's confidential prompt"


async def call(app: Any, headers: list[tuple[bytes, bytes]] | None = None) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/x", "headers": headers or []}
    await app(scope, receive, send)
    return sent


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise ValueError(SECRET)


async def test_an_unhandled_error_is_a_500_envelope_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        sent = await call(RequestContextMiddleware(failing_app))
    start, body = sent
    assert start["status"] == 500
    headers = dict(start["headers"])
    request_id = headers[b"x-request-id"].decode()
    error = json.loads(body["body"])["error"]
    assert error["code"] == "internal_error"
    assert request_id in error["message"]
    assert SECRET not in body["body"].decode()
    assert SECRET not in caplog.text
    assert any(r.name == "llmaas.errors" for r in caplog.records)


async def test_a_client_gone_while_its_body_is_read_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def reading_app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ClientDisconnect()

    with caplog.at_level(logging.DEBUG):
        sent = await call(RequestContextMiddleware(reading_app))
    assert sent == []  # nobody to answer
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(r.getMessage() == "client disconnected" for r in caplog.records)


async def test_request_ids_are_unique_and_client_ids_are_kept_when_sane() -> None:
    async def ok(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = RequestContextMiddleware(ok, access_log=False)
    ids = {dict((await call(app))[0]["headers"])[b"x-request-id"] for _ in range(100)}
    assert len(ids) == 100
    kept = await call(app, [(b"x-request-id", b"client-trace-0001")])
    assert dict(kept[0]["headers"])[b"x-request-id"] == b"client-trace-0001"
    replaced = await call(app, [(b"x-request-id", b"bad id\r\ninjected")])
    assert dict(replaced[0]["headers"])[b"x-request-id"] != b"bad id\r\ninjected"


async def test_an_oversize_body_is_refused_from_its_content_length() -> None:
    reached = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal reached
        reached = True

    sent = await call(BodySizeLimitMiddleware(app, max_bytes=1024), [(b"content-length", b"4096")])
    assert not reached
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "payload_too_large"


async def test_every_response_carries_the_security_headers() -> None:
    async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    for app in (ok_app, failing_app):
        start = (await call(RequestContextMiddleware(app)))[0]
        headers = dict(start["headers"])
        assert headers[b"x-content-type-options"] == b"nosniff"
        assert headers[b"x-frame-options"] == b"DENY"
        assert headers[b"referrer-policy"] == b"no-referrer"
