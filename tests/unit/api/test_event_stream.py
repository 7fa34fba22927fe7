"""The SSE response: a client that leaves stops the event source; errors mid-stream are sent in-band."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from llmaas.api.event_stream import EventStreamResponse
from llmaas.api.responses import sse_response
from llmaas.domain.errors import UpstreamFailed
from llmaas.openai_schema.models import Model

SCOPE: dict[str, Any] = {"type": "http", "asgi": {"spec_version": "2.3"}}


async def serve(response: EventStreamResponse, *, leave_after: int | None) -> list[dict[str, Any]]:
    """Run the response as uvicorn would; the client leaves after ``leave_after`` body messages."""
    sent: list[dict[str, Any]] = []
    left = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))
        bodies = [m for m in sent if m["type"] == "http.response.body"]
        if leave_after is not None and len(bodies) >= leave_after:
            left.set()

    await asyncio.wait_for(asyncio.ensure_future(response(SCOPE, receive, send)), timeout=5)
    return sent


async def test_a_client_that_leaves_stops_the_event_source() -> None:
    closed = asyncio.Event()

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            await asyncio.sleep(30)  # a slow engine: only a disconnect can end this quickly
            yield b"data: 2\n\n"
        finally:
            closed.set()

    sent = await serve(EventStreamResponse(events(), {}), leave_after=1)
    assert closed.is_set()
    assert [m.get("body") for m in sent if m["type"] == "http.response.body"] == [b"data: 1\n\n"]


async def test_a_complete_stream_ends_properly() -> None:
    async def events() -> AsyncIterator[bytes]:
        for index in range(3):
            yield f"data: {index}\n\n".encode()

    sent = await serve(EventStreamResponse(events(), {"X-Accel-Buffering": "no"}), leave_after=None)
    start, *bodies = sent
    assert start["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
    assert (b"x-accel-buffering", b"no") in start["headers"]
    assert [b["body"] for b in bodies] == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n", b""]
    assert bodies[-1]["more_body"] is False


async def test_an_error_mid_stream_is_an_openai_error_event_without_done() -> None:
    model = Model(
        id="m", created=0, owned_by="o", context_length=1, max_model_len=1, capabilities=[]
    )

    async def chunks() -> AsyncIterator[Model]:
        yield model
        raise UpstreamFailed("The inference engine broke off the stream.")

    sent = await serve(sse_response(chunks(), "req-1"), leave_after=None)
    payloads = [m["body"] for m in sent if m["type"] == "http.response.body" and m["body"]]
    assert len(payloads) == 2
    assert json.loads(payloads[0].removeprefix(b"data: "))["id"] == "m"
    error = json.loads(payloads[1].removeprefix(b"data: "))["error"]
    assert error["code"] == "upstream_error"
    assert error["type"] == "server_error"
    assert b"[DONE]" not in b"".join(payloads)
