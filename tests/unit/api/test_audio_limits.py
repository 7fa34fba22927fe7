"""Audio uploads get their own body limit (25 MB by default), larger than the JSON routes' one."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.types import Receive, Scope, Send

from llmaas.api.middleware import BodySizeLimitMiddleware
from llmaas.api.openai.audio import PATH_PREFIX, body_limit


async def accepting_app(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def status_of(path: str, size: int) -> int:
    app = BodySizeLimitMiddleware(
        accepting_app, max_bytes=1024, larger={PATH_PREFIX: body_limit(4096)}
    )
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"x" * size, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-length", str(size).encode())]
    await app({"type": "http", "method": "POST", "path": path, "headers": headers}, receive, send)
    return int(sent[0]["status"])


async def test_json_routes_keep_the_small_limit() -> None:
    assert await status_of("/v1/chat/completions", 2000) == 413


async def test_audio_routes_take_the_file_limit_plus_the_form_overhead() -> None:
    assert await status_of("/v1/audio/transcriptions", 2000) == 200
    assert await status_of("/v1/audio/transcriptions", body_limit(4096) + 1) == 413
