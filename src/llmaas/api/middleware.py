"""Pure ASGI middleware (no per-request framework objects on the hot path).

``RequestContextMiddleware`` is outermost: it assigns the request id, adds the security headers to
every response, writes the access log (method, path, status, duration: never bodies or query strings)
and turns any unhandled exception into an OpenAI style 500. ``BodySizeLimitMiddleware`` refuses oversize bodies with 413 before they are buffered.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmaas.api.errors import domain_error_json, error_json
from llmaas.domain.errors import PayloadTooLarge
from llmaas.observability.logging import failure

_log = logging.getLogger("llmaas.access")
_errors = logging.getLogger("llmaas.errors")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
_JSON = (b"content-type", b"application/json")
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
"""On every response: no MIME sniffing of an answer, no framing of a page, no URL leaking onward."""


def _client_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = str(value.decode("latin-1"))
            return candidate if _VALID_ID.match(candidate) else None
    return None


class _RequestIds:
    """Unique ids without a system call per request: a random per-process prefix and a counter.

    (They need to be unique and opaque, not unpredictable: they carry no authority.)
    """

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):010x}"


_CLOSE = (b"connection", b"close")


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log: bool = True,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self._app = app
        self._access_log = access_log
        self._ids = _RequestIds()
        self._draining = draining
        """While the instance drains, every answer says ``Connection: close``: a client (or a TCP
        balancer) must not send its next request on a connection that is about to be closed."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = _client_request_id(scope) or self._ids.next()
        scope.setdefault("state", {})["request_id"] = request_id
        headers = (*SECURITY_HEADERS, (b"x-request-id", request_id.encode()))
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *headers]
                if self._draining():
                    message["headers"].append(_CLOSE)
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client hung up while its body was being read: nobody is left to answer, and it
            # is not a server fault (a load generator stopping does this by the dozen).
            _log.info("client disconnected", extra={"request_id": request_id})
            status = status or 499
        except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback
            _errors.error("unhandled error", extra={"request_id": request_id, **failure(error)})
            if status == 0:
                status = 500
                body = error_json(
                    f"The server had an error while processing your request (request id {request_id}).",
                    "server_error",
                    code="internal_error",
                )
                await send_with_id(
                    {"type": "http.response.start", "status": 500, "headers": [_JSON]}
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            if self._access_log:
                _log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )


class BodySizeLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        """``larger`` maps path prefixes to their own limits: uploads (audio files) are far bigger
        than any JSON request, and raising the limit for every route would let a JSON body of that
        size be buffered and parsed anywhere."""
        self._app = app
        self._max = max_bytes
        self._larger = tuple((larger or {}).items())

    def _limit(self, path: str) -> int:
        for prefix, limit in self._larger:
            if path.startswith(prefix):
                return limit
        return self._max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._limit(scope["path"]) if self._larger else self._max
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if value.isdigit() and int(value) > limit:
                    await self._refuse(send, limit)
                    return
                break
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(_message(limit))
            return message

        await self._app(scope, limited_receive, send)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = domain_error_json(PayloadTooLarge(_message(limit)))
        await send({"type": "http.response.start", "status": 413, "headers": [_JSON]})
        await send({"type": "http.response.body", "body": body})


def _message(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes."
