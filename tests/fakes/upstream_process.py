"""A fake OpenAI-compatible engine in its own process, for tests that kill, stall or count upstreams.

``python -m tests.fakes.upstream_process --port P [--stall] [--label NAME] [--chunk-interval S]``
serves on 127.0.0.1:P until it is terminated or killed:

* ``GET /v1/models``: a one-model list, always answered (the gateway's health check), even with
  ``--stall``: the engine is alive, only its generations hang.
* ``POST /v1/chat/completions``: ``Hello from NAME`` as a JSON answer or as a stream of four events
  (a finish event, a usage event when ``stream_options.include_usage`` asks for it, ``[DONE]``);
  ``--chunk-interval`` paces the stream like a real token rate. With ``--stall`` the request is read
  and never answered.
* ``GET /_count``: ``{"label": NAME, "count": N, "stalled": M}``, the chat requests received so far
  (counted on arrival, so a stalled or abandoned one counts too). The count is what the upstream saw
  itself, independently of anything the gateway reports.

Being a separate process, it can be SIGKILLed mid-request and restarted on the same port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from typing import Any

from aiohttp import web

CREATED = 1_767_225_600
PROMPT_TOKENS = 7
UPSTREAM_MODEL = "fake-engine-model"

Json = dict[str, Any]


class Engine:
    def __init__(self, label: str, *, stall: bool, chunk_interval: float) -> None:
        self.label = label
        self.stall = stall
        self.chunk_interval = chunk_interval
        self.count = 0
        self.stalled = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/_count", self.counts)
        return app

    async def counts(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"label": self.label, "count": self.count, "stalled": self.stalled}
        )

    async def models(self, request: web.Request) -> web.Response:
        model = {"id": UPSTREAM_MODEL, "object": "model", "created": CREATED, "owned_by": "fake"}
        return web.json_response({"object": "list", "data": [model]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body: Json = await request.json()
        self.count += 1
        if self.stall:
            self.stalled += 1
            await asyncio.Event().wait()  # accepted, read, never answered
        pieces = ["Hello", " from", " ", self.label]
        if body.get("stream"):
            return await self._stream(request, body, pieces)
        message = {"role": "assistant", "content": "".join(pieces)}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        answer = _envelope("chat.completion", body["model"], [choice])
        return web.json_response(answer | {"usage": _usage(len(pieces))})

    async def _stream(
        self, request: web.Request, body: Json, pieces: list[str]
    ) -> web.StreamResponse:
        model = body["model"]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for index, piece in enumerate(pieces):
            if index > 0 and self.chunk_interval > 0:
                await asyncio.sleep(self.chunk_interval)
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            choice = {"index": 0, "delta": delta, "finish_reason": None}
            await response.write(_event(_envelope("chat.completion.chunk", model, [choice])))
        finish = {"index": 0, "delta": {}, "finish_reason": "stop"}
        await response.write(_event(_envelope("chat.completion.chunk", model, [finish])))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = _envelope("chat.completion.chunk", model, []) | {"usage": _usage(len(pieces))}
            await response.write(_event(usage))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _envelope(object_: str, model: str, choices: list[Json]) -> Json:
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": object_,
        "created": CREATED,
        "model": model,
        "choices": choices,
    }


def _usage(completion_tokens: int) -> Json:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
    }


def _event(payload: Json) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


async def serve(port: int, engine: Engine) -> None:
    runner = web.AppRunner(engine.app(), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"ready {engine.label} on {port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible engine process.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--label", default="fake")
    parser.add_argument("--stall", action="store_true", help="read chat requests, never answer")
    parser.add_argument(
        "--chunk-interval", type=float, default=0.0, help="seconds between stream events"
    )
    args = parser.parse_args(argv)
    engine = Engine(args.label, stall=args.stall, chunk_interval=args.chunk_interval)
    asyncio.run(serve(args.port, engine))


if __name__ == "__main__":
    main()
