"""The connection limits, on the protocol itself: bytes fed by hand, a transport that records.

Timeouts are tens of milliseconds, so each test runs in well under a second; the real server over a
real socket is in ``tests/e2e/test_slow_clients.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from llmaas.adapters.connection_limits import ConnectionLimits, LimitedHttpToolsProtocol
from llmaas.adapters.tls_scope import TlsScopeHttpToolsProtocol

TICK = 0.05
LIMITS = ConnectionLimits(
    max_header_bytes=1024,
    header_timeout=TICK,
    body_timeout=TICK,
    body_min_rate=1000,
    send_timeout=TICK,
)


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.wrote = asyncio.Event()
        self.closed = False
        self.aborted = False
        self.protocol: asyncio.BaseProtocol | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.aborted:
            raise RuntimeError("the handler is closed")  # as uvloop's transports do
        self.written += data
        self.wrote.set()

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True
        if self.protocol is not None:
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )


class Application:
    """Reads the whole body (after ``delay``: an application busy before it asks), answers 200."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.bodies: list[bytes] = []
        self.failures: list[Exception] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await asyncio.sleep(TICK * 4)  # past every clock of ours, then the socket is closed
            return
        try:
            await self.answer(receive, send)
        except Exception as error:
            self.failures.append(error)
            raise

    async def answer(self, receive: Any, send: Any) -> None:
        await asyncio.sleep(self.delay)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message["body"]
            more = message["more_body"]
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class Connection:
    def __init__(
        self,
        application: Application,
        protocol: type[LimitedHttpToolsProtocol] = LimitedHttpToolsProtocol,
    ) -> None:
        config = Config(app=application, http="httptools", log_level="critical", lifespan="off")
        self.protocol = protocol(
            config, ServerState(), {}, asyncio.get_running_loop(), limits=LIMITS
        )
        self.transport = RecordingTransport()
        self.transport.protocol = self.protocol
        self.protocol.connection_made(self.transport)

    def feed(self, data: bytes) -> None:
        self.protocol.data_received(data)

    def timers(self) -> list[asyncio.TimerHandle | None]:
        return [self.protocol._head_timer, self.protocol._body_timer, self.protocol._send_timer]

    def status(self) -> int | None:
        return int(self.transport.written[9:12]) if self.transport.written else None

    def lose(self) -> None:
        self.protocol.connection_lost(None)


@pytest.fixture
def application() -> Application:
    return Application()


@pytest.fixture
async def connection(application: Application) -> AsyncIterator[Connection]:
    opened = Connection(application)
    yield opened
    opened.lose()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def head(size: int, path: bytes = b"/") -> bytes:
    """A GET whose request line and header lines come to about ``size`` bytes."""
    start = b"GET %s HTTP/1.1\r\nhost: x\r\n" % path
    pad = size - len(start) - len(b"x-pad: \r\n\r\n")
    return start + b"x-pad: " + b"a" * pad + b"\r\n\r\n"


def post(body: bytes, *extra: bytes) -> bytes:
    lines = [b"POST / HTTP/1.1", b"host: x", b"content-length: %d" % len(body), *extra]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def test_headers_over_the_limit_get_431_and_never_reach_the_application(
    connection: Connection, application: Application
) -> None:
    connection.feed(head(2048))
    await settle()
    assert connection.status() == 431
    assert b"request_header_fields_too_large" in connection.transport.written
    assert connection.transport.written.count(b"HTTP/1.1") == 1
    assert connection.transport.closed
    assert application.bodies == []


async def test_the_protocol_serving_client_certificates_has_the_same_limits(
    application: Application,
) -> None:
    connection = Connection(application, TlsScopeHttpToolsProtocol)
    connection.feed(head(2048))
    await asyncio.sleep(TICK * 2)
    assert connection.status() == 431
    connection.lose()


async def test_a_header_that_never_ends_is_refused_once_it_passes_the_limit(
    connection: Connection,
) -> None:
    connection.feed(b"GET / HTTP/1.1\r\nx-pad: ")
    for _ in range(3):
        connection.feed(b"a" * 300)
        assert connection.status() is None
    connection.feed(b"a" * 300)
    assert connection.status() == 431
    assert connection.transport.closed


async def test_headers_within_the_limit_are_served(
    connection: Connection, application: Application
) -> None:
    connection.feed(head(1000))
    await settle()
    assert connection.status() == 200
    assert application.bodies == [b""]


async def test_a_request_in_one_segment_arms_no_timer(connection: Connection) -> None:
    connection.feed(post(b"{}") + b"{}")
    await settle()
    assert connection.status() == 200
    assert connection.timers() == [None, None, None]


async def test_a_pipelined_body_does_not_count_against_the_next_head(
    connection: Connection, application: Application
) -> None:
    body = b"b" * 4000
    connection.feed(post(body) + body + b"GET / HTTP/1.1\r\nho")
    connection.feed(b"st: x\r\n\r\n")
    await asyncio.sleep(TICK / 2)
    assert connection.transport.written.count(b"HTTP/1.1 200") == 2
    assert application.bodies == [body, b""]


async def test_a_head_begun_behind_a_pipelined_request_is_measured_in_full(
    connection: Connection, application: Application
) -> None:
    """Its first part came with the request before it, uncounted: the rest alone is small."""
    connection.feed(head(100) + b"GET / HTTP/1.1\r\nx-pad: " + b"a" * 900)
    await settle()
    connection.feed(b"a" * 300 + b"\r\n\r\n")
    await settle()
    assert connection.transport.written.count(b"HTTP/1.1 200") == 1
    assert connection.transport.written.count(b"HTTP/1.1 431") == 1
    assert application.bodies == [b""]


async def test_a_silent_connection_is_closed_without_an_answer(connection: Connection) -> None:
    await asyncio.sleep(TICK * 2)
    assert connection.transport.closed
    assert connection.transport.written == b""


async def test_headers_trickling_in_get_408_after_the_header_timeout(
    connection: Connection,
) -> None:
    for byte in b"GET / HTTP/1.1\r\nhost: x\r\n":
        connection.feed(bytes([byte]))
        if connection.transport.closed:
            break
        await asyncio.sleep(TICK / 10)
    assert connection.status() == 408
    assert b"request_timeout" in connection.transport.written
    assert connection.transport.closed


async def test_blank_lines_between_requests_do_not_hold_the_connection(
    connection: Connection,
) -> None:
    connection.feed(head(100))
    await settle()
    for _ in range(4):
        connection.feed(b"\r\n")
        await asyncio.sleep(TICK / 2)
    assert connection.transport.closed
    assert connection.transport.written.count(b"HTTP/1.1") == 1


async def test_a_body_trickling_in_gets_408_and_the_application_a_disconnect(
    connection: Connection, application: Application
) -> None:
    connection.feed(post(b"x" * 100))
    for _ in range(20):
        connection.feed(b"x")
        await asyncio.sleep(TICK / 5)
        if connection.transport.closed:
            break
    await settle()
    assert connection.status() == 408
    assert connection.transport.closed
    assert application.bodies == []


async def test_a_body_longer_than_the_timeout_passes_at_the_minimum_rate(
    connection: Connection, application: Application
) -> None:
    """1000 bytes/s are allowed: 100 bytes every 50 ms (2000 bytes/s) for four timeouts."""
    body = b"x" * 800
    connection.feed(post(body))
    for start in range(0, len(body), 100):
        await asyncio.sleep(TICK / 2)
        connection.feed(body[start : start + 100])
    await settle()
    assert connection.status() == 200
    assert application.bodies == [body]


async def test_time_the_application_takes_before_asking_for_the_body_is_not_counted() -> None:
    """With ``Expect: 100-continue`` the client rightly sends nothing until asked."""
    application = Application(delay=TICK * 3)
    connection = Connection(application)
    connection.feed(post(b"{}", b"expect: 100-continue"))
    await asyncio.sleep(TICK * 2.5)
    assert not connection.transport.closed
    await asyncio.wait_for(connection.transport.wrote.wait(), timeout=1)
    assert connection.transport.written.startswith(b"HTTP/1.1 100 Continue")
    assert not connection.transport.closed
    connection.feed(b"{}")
    await settle()
    assert b"HTTP/1.1 200" in connection.transport.written
    assert application.bodies == [b"{}"]
    connection.lose()


async def test_a_client_that_stops_reading_is_cut_off(connection: Connection) -> None:
    connection.protocol.pause_writing()
    await asyncio.sleep(TICK * 2)
    assert connection.transport.aborted


async def test_a_pipelined_response_stalled_by_a_client_that_stopped_reading_ends_quietly(
    application: Application,
) -> None:
    """The response being written is not the last request parsed: it must hear the disconnect
    too, not write to the dropped connection."""
    connection = Connection(application)
    connection.protocol.pause_writing()
    connection.feed(head(100) * 3)
    await asyncio.sleep(TICK * 2)
    await settle()
    assert connection.transport.aborted
    assert application.failures == []


async def test_a_client_that_reads_again_in_time_is_kept(connection: Connection) -> None:
    connection.feed(head(100))
    await settle()
    connection.protocol.pause_writing()
    await settle()
    connection.protocol.resume_writing()
    await asyncio.sleep(TICK * 1.5)
    assert not connection.transport.aborted
    assert connection.timers() == [None, None, None]


async def test_a_lost_connection_leaves_no_timer(connection: Connection) -> None:
    connection.feed(b"POST / HTTP/1.1\r\ncontent-length: 10\r\n\r\nx")
    connection.feed(b"x")
    connection.protocol.pause_writing()
    assert all(connection.timers()[1:])
    connection.lose()
    assert connection.timers() == [None, None, None]


async def test_a_connection_upgraded_to_websocket_is_left_to_its_new_protocol(
    connection: Connection,
) -> None:
    connection.feed(
        b"GET /ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n"
        b"sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    await asyncio.sleep(TICK * 3)
    assert connection.transport.get_protocol() is not connection.protocol
    assert connection.transport.written.startswith(b"HTTP/1.1 101")
    assert not connection.transport.closed
    assert connection.timers() == [None, None, None]
    await asyncio.sleep(TICK * 2)
