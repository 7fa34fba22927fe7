"""With a client CA, ``/admin/`` needs a verified client certificate (the ASGI ``tls`` extension)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from llmaas.api.client_certificates import AdminClientCertificateGuard

CHAIN = ["-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"]


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def call(path: str, extensions: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": path, "headers": []}
    if extensions is not None:
        scope["extensions"] = extensions
    await AdminClientCertificateGuard(ok)(scope, receive, send)
    return sent


@pytest.mark.parametrize(
    "extensions",
    [
        None,  # plain HTTP, or a server that does not fill the extension: closed
        {},
        {"tls": {"client_cert_chain": [], "tls_version": 0x0304}},
    ],
)
@pytest.mark.parametrize("path", ["/admin/v1/keys", "/admin", "/admin/"])
async def test_the_admin_api_without_a_client_certificate_is_refused(
    path: str, extensions: dict[str, Any] | None
) -> None:
    start, body = await call(path, extensions)
    assert start["status"] == 403
    error = json.loads(body["body"])["error"]
    assert error["type"] == "permission_error"
    assert error["code"] == "client_certificate_required"


async def test_the_admin_api_with_a_verified_client_certificate_passes() -> None:
    start, _ = await call("/admin/v1/keys", {"tls": {"client_cert_chain": CHAIN}})
    assert start["status"] == 200


@pytest.mark.parametrize("path", ["/v1/models", "/healthz", "/administration", "/v1/admin"])
async def test_other_routes_need_no_client_certificate(path: str) -> None:
    start, _ = await call(path)
    assert start["status"] == 200


async def test_lifespan_messages_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def nothing() -> dict[str, Any]:
        return {}

    async def ignore(message: Any) -> None:
        return None

    await AdminClientCertificateGuard(app)({"type": "lifespan"}, nothing, ignore)
    assert seen == ["lifespan"]
