"""uvicorn's httptools protocol, bounded against oversized headers and slow clients.

uvicorn (0.54) with httptools puts no limit on a request's header section (httptools keeps a header
that has not ended in memory, whatever its size, and hands the application every header it parsed)
and no clock on a client that sends its request slowly: a connection opened and left silent, a header
section sent one byte a second, or a body trickled in, each hold a connection (and a file descriptor,
and a request task) for as long as the client likes. ``timeout_keep_alive`` only covers the wait
between two requests. Holding many such connections costs an attacker next to nothing ("slowloris").

This subclass adds, per connection, with the event loop's timers (no task, no thread):

- a header section larger than ``max_header_bytes`` is refused with 431 and the connection closed,
  whether it arrived whole or is still arriving (so a header without an end cannot grow memory);
- a header section must arrive within ``header_timeout`` of the connection opening (first request)
  or of its first byte (later requests): else 408, or a silent close for a connection that never
  sent a byte (a browser's idle pre-connection must not read a 408 as the answer to its next request);
- a body gets ``body_timeout`` plus one second per ``body_min_rate`` bytes received: a client sending
  slower than that rate on average is answered 408 and disconnected;
- a client that reads nothing of its response for ``send_timeout`` is cut off (a stream to a client
  that stopped reading would otherwise hold its backend slot forever).

A request that arrives in one segment, the usual case, arms no timer: clocks start only when a feed
of bytes ends with a request half-received. The server's own waits never count against the client
(reading paused because the application has not consumed the body yet, or ``Expect:
100-continue`` not answered yet). Nothing here logs a header's value, or anything the client sent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn._types import ASGI3Application
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from llmaas.openai_schema.errors import ErrorBody, ErrorResponse

_log = logging.getLogger("llmaas.connections")
_HEADER_LINE_OVERHEAD = 4
"""``": "`` and CRLF around each header, which the parser strips but the client sent."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int = 16 * 1024
    """Request line and header lines together: Node's and h11's default; nginx allows 4 x 8 KiB."""
    header_timeout: float = 10.0
    body_timeout: float = 20.0
    body_min_rate: float = 1024.0
    """Bytes per second a body must average once ``body_timeout`` is spent (0: no allowance)."""
    send_timeout: float = 60.0


class HeaderSectionTooLarge(Exception):
    """Raised inside the parser's callback only to stop it: the client was answered already."""


def _refusal(message: str, code: str) -> bytes:
    """Everything after the status line: OpenAI's error envelope, and the connection's end."""
    body = ErrorResponse(
        error=ErrorBody(message=message, type="invalid_request_error", code=code)
    ).model_dump_json()
    return b"".join(
        (
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body.encode(),
        )
    )


_TOO_LARGE = _refusal("Request header fields too large.", "request_header_fields_too_large")
_TOO_SLOW = _refusal("The request was not received in time.", "request_timeout")
_DEFAULTS = ConnectionLimits()


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits = _DEFAULTS,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._in_head = False
        self._in_body = False
        self._head_bytes = 0
        self._head_unmeasured = False
        self._feed_size = 0
        self._messages_completed = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_since = 0.0
        self._body_bytes = 0
        self._body_held = False
        self._send_timer: asyncio.TimerHandle | None = None
        self._responding: RequestResponseCycle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a byte is held by nobody else's clock.
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clocks()
        self._disconnect_cycle()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._feed_size = size = len(data)
        completed = self._messages_completed
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._in_head:
            self._head_received(size, whole=completed == self._messages_completed)
        elif self._in_body:
            self._body_received(size)
        elif self.cycle is None or self.cycle.response_complete:
            self._between_requests()

    def send_400_response(self, msg: str) -> None:
        """A connection already answered and closing (431 above) has nothing more to say."""
        if not self.transport.is_closing():
            super().send_400_response(msg)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        """Remembered because, with pipelining, ``self.cycle`` is the last request parsed, not the
        one being answered: uvicorn tells only the former of a lost connection, and the latter, woken
        by the end of write back-pressure, would write to a closed transport (an error with uvloop).
        """
        self._responding = cycle
        super()._start_asgi_task(cycle, app)

    def _stop_clocks(self) -> None:
        for timer in (self._head_timer, self._body_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = self._send_timer = None

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._head_unmeasured = False

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        if self._head_may_be_too_large() and self._head_size() > self.limits.max_header_bytes:
            self._refuse_head()
            raise HeaderSectionTooLarge
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._messages_completed += 1
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    # Write flow control (called by the transport)
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.limits.send_timeout, self._send_timed_out)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    # Header section
    def _head_may_be_too_large(self) -> bool:
        """A head is no larger than the bytes received since it began: measuring it exactly (about
        a microsecond) is left to the heads that might be too large."""
        return (
            self._head_unmeasured
            or self._head_bytes + self._feed_size > self.limits.max_header_bytes
        )

    def _head_size(self) -> int:
        return len(self.url) + sum(
            len(name) + len(value) + _HEADER_LINE_OVERHEAD for name, value in self.headers
        )

    def _head_received(self, count: int, *, whole: bool) -> None:
        """``whole``: every byte of the feed belongs to the head. A feed that also ended a request
        is not counted (at most one read is missed), and that head is measured once complete."""
        if whole:
            self._head_bytes += count
        else:
            self._head_unmeasured = True
        if self._head_bytes > self.limits.max_header_bytes:
            self._refuse_head()
        else:
            self._arm_head_timer()

    def _between_requests(self) -> None:
        """Bytes that began no request (llhttp skips blank lines before one) cancelled uvicorn's
        keep-alive timer: without a clock of ours, a CRLF every few seconds would hold the
        connection forever."""
        if self._idle():
            self._arm_head_timer()

    def _idle(self) -> bool:
        """No request under way, and the connection still ours (not handed to a WebSocket)."""
        cycle = self.cycle
        no_request = cycle is None or cycle.response_complete
        return no_request and self.transport.get_protocol() is self

    def _refuse_head(self) -> None:
        _log.info(
            "request refused",
            extra={"reason": "header_fields_too_large", "limit": self.limits.max_header_bytes},
        )
        self._close(431, _TOO_LARGE if self._idle() else None)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self.limits.header_timeout, self._head_timed_out
            )

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head:
            self.transport.close()
            return
        _log.info("request refused", extra={"reason": "header_timeout"})
        self._close(408, _TOO_SLOW if self._idle() else None)

    # Body
    def _body_received(self, count: int) -> None:
        if self._body_timer is None:
            self._body_since = self.loop.time()
            self._body_bytes = 0
            self._body_held = False
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._check_body)
        else:
            self._body_bytes += count

    def _server_holds_body(self) -> bool:
        """The application has not taken the body buffered so far, or not yet asked for it."""
        waiting = self.cycle is not None and self.cycle.waiting_for_100_continue
        return self.flow.read_paused or waiting

    def _body_deadline(self) -> float:
        allowance = self._body_bytes / self.limits.body_min_rate if self.limits.body_min_rate else 0
        return self._body_since + self.limits.body_timeout + allowance

    def _check_body(self) -> None:
        self._body_timer = None
        now = self.loop.time()
        held = self._server_holds_body()
        if held or self._body_held:
            # The wait was the server's, or ended since the last check (at an unknown moment): the
            # client starts a fresh allowance.
            self._body_since, self._body_bytes = now, 0
        elif now >= self._body_deadline():
            _log.info("request refused", extra={"reason": "body_timeout"})
            self._close(408, None if self.cycle.response_started else _TOO_SLOW)
            return
        self._body_held = held
        self._body_timer = self.loop.call_at(self._body_deadline(), self._check_body)

    # Response
    def _send_timed_out(self) -> None:
        self._send_timer = None
        _log.info("connection closed", extra={"reason": "send_timeout"})
        self._disconnect_cycle()
        # close() would wait for the unread response to drain, which is the very thing not happening.
        self.transport.abort()

    def _close(self, status: int, answer: bytes | None) -> None:
        """``answer`` is ``None`` when a response is under way on this connection (the body's own
        request answered early, or a pipelined request's head timed out while an earlier response
        streams): a second response written into it would be worse than none."""
        if answer is not None:
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head.extend((name, b": ", value, b"\r\n"))
            self.transport.write(b"".join((*head, answer)))
        self._disconnect_cycle()
        self.transport.close()

    def _disconnect_cycle(self) -> None:
        """What uvicorn does when the connection is lost, done now and for the request being
        answered too: the application hears a disconnect, and whatever it still sends is dropped
        rather than written to a transport that is closing (after ours, or, with uvloop, into an
        error)."""
        for cycle in (self.cycle, self._responding):
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
