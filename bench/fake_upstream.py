"""A fast fake OpenAI-compatible upstream (what vLLM looks like to the gateway), for benchmarks.

Raw asyncio protocol on uvloop with the ``httptools`` parser, every response body precomputed, so that
the upstream costs as little as possible next to the gateway being measured. It serves:

* ``POST /v1/chat/completions``: a fixed small ``chat.completion`` with ``usage``; with ``"stream": true``
  a role chunk, ``CHUNKS`` content chunks (one token each), a finish chunk, a usage chunk when the
  request asks for it (``stream_options.include_usage``, as OpenAI and vLLM do) and ``data: [DONE]``;
  ``--delay-ms`` sleeps before each content chunk (a token rate), ``0`` writes the stream at once.
* ``GET /v1/models``: a one-model list (the gateway's readiness probe).

Usage: ``python bench/fake_upstream.py PORT [CHUNKS] [--delay-ms MS]``. Binds 127.0.0.1 only; stops
on SIGINT/SIGTERM. Prints ``ready`` on stdout once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import cast

import httptools
import orjson
import uvloop

MODEL = "upstream-model"
CREATED = 1767225600
PROMPT_TOKENS = 12


def _http_response(body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: "
        + content_type
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def _status(code: int, reason: bytes) -> bytes:
    body = orjson.dumps({"error": {"message": reason.decode(), "type": "invalid_request_error"}})
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        % (code, reason, len(body))
        + body
    )


def _usage(completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
    }


COMPLETION = _http_response(
    orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(9),
        }
    )
)
MODELS = _http_response(
    orjson.dumps(
        {
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "created": CREATED, "owned_by": "bench"}],
        }
    )
)
NOT_FOUND = _status(404, b"Not Found")
BAD_REQUEST = _status(400, b"Bad Request")
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
STREAM_END = b"0\r\n\r\n"


def _chunk(choices: list[dict[str, object]], usage: dict[str, int] | None = None) -> bytes:
    """One SSE event in one HTTP chunk (chunked transfer encoding)."""
    payload: dict[str, object] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "choices": choices,
    }
    if usage is not None:
        payload["usage"] = usage
    event = b"data: " + orjson.dumps(payload) + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


def _delta(delta: dict[str, str], finish_reason: str | None = None) -> list[dict[str, object]]:
    return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]


class StreamParts:
    def __init__(self, chunks: int) -> None:
        self.first = _chunk(_delta({"role": "assistant", "content": ""}))
        self.tokens = [_chunk(_delta({"content": f" tok{i}"})) for i in range(chunks)]
        self.finish = _chunk(_delta({}, "length"))
        self.usage = _chunk([], _usage(chunks))
        done = b"data: [DONE]\n\n"
        self.done = b"%x\r\n%s\r\n" % (len(done), done) + STREAM_END

    def whole(self, with_usage: bool) -> bytes:
        tail = (self.usage if with_usage else b"") + self.done
        return STREAM_HEAD + self.first + b"".join(self.tokens) + self.finish + tail


class Upstream(asyncio.Protocol):
    def __init__(self, parts: StreamParts, delay: float) -> None:
        self._parts = parts
        self._delay = delay
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []
        self._streaming: asyncio.Task[None] | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport implements asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._streaming is not None:
            self._streaming.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._send(BAD_REQUEST, keep_alive=False)

    # --- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        keep_alive = self._parser.should_keep_alive()
        method = self._parser.get_method()
        path = self._url.split(b"?", 1)[0]
        if method == b"POST" and path == b"/v1/chat/completions":
            self._chat(keep_alive)
        elif method == b"GET" and path == b"/v1/models":
            self._send(MODELS, keep_alive)
        else:
            self._send(NOT_FOUND, keep_alive)

    # --- responses -----------------------------------------------------------------------------

    def _chat(self, keep_alive: bool) -> None:
        try:
            request = orjson.loads(b"".join(self._body))
        except orjson.JSONDecodeError:
            self._send(BAD_REQUEST, keep_alive=False)
            return
        if not isinstance(request, dict) or not request.get("stream"):
            self._send(COMPLETION, keep_alive)
            return
        options = request.get("stream_options")
        with_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        if self._delay <= 0:
            self._send(self._parts.whole(with_usage), keep_alive)
            return
        assert self._transport is not None
        self._transport.pause_reading()  # no pipelining while a stream is being written
        self._streaming = asyncio.get_running_loop().create_task(
            self._stream(with_usage, keep_alive)
        )

    async def _stream(self, with_usage: bool, keep_alive: bool) -> None:
        parts = self._parts
        self._write(STREAM_HEAD + parts.first)
        for token in parts.tokens:
            await asyncio.sleep(self._delay)
            self._write(token)
        tail = parts.finish + (parts.usage if with_usage else b"") + parts.done
        self._streaming = None
        self._send(tail, keep_alive)
        if self._transport is not None and keep_alive:
            self._transport.resume_reading()

    def _write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)

    def _send(self, data: bytes, keep_alive: bool) -> None:
        if self._transport is None:
            return
        self._transport.write(data)
        if not keep_alive:
            self._transport.close()


async def serve(port: int, chunks: int, delay_ms: float) -> None:
    loop = asyncio.get_running_loop()
    parts = StreamParts(chunks)
    delay = delay_ms / 1000
    server = await loop.create_server(
        lambda: Upstream(parts, delay), "127.0.0.1", port, backlog=1024, reuse_address=True
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("port", type=int)
    parser.add_argument("chunks", type=int, nargs="?", default=16, help="content chunks per stream")
    parser.add_argument(
        "--delay-ms", type=float, default=0.0, help="sleep before each content chunk"
    )
    args = parser.parse_args(argv)
    uvloop.run(serve(args.port, args.chunks, args.delay_ms))


if __name__ == "__main__":
    main()
