"""Oversized headers and slow clients against a real ``llmaas serve``, with raw sockets.

The server runs with one-second clocks (headers, body, reading the response) and an 8 KiB header
limit, so each case takes a second or two. Only a remote engine (unreachable) is configured: no model
is loaded, and nothing here needs one. While a slow client is being dealt with, another client is
served: the defence holds one connection to account, never the server.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import (
    Server,
    start_server,
    stop_server,
    unreachable_engine_config,
)

pytestmark = pytest.mark.e2e

TIMEOUT = 1.0
"""Every clock of the server under test (headers, body, response), in seconds."""
MAX_HEADER_BYTES = 8192
MIN_RATE = 500
KEEP_ALIVE = 5.0
"""uvicorn's ``timeout_keep_alive``, which llmaas leaves at its default."""
Outcome = tuple[bytes, float | None]
"""What the server sent, and when it closed the connection (``None``: it did not, in time)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("llmaas-slow-clients")
    config = unreachable_engine_config(directory)
    running = start_server(
        directory,
        extra_args=("--config", str(config)),
        ready_path="/healthz",
        env={
            "LLMAAS_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
            "LLMAAS_HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
            "LLMAAS_BODY_TIMEOUT_SECONDS": str(TIMEOUT),
            "LLMAAS_BODY_MIN_BYTES_PER_SECOND": str(MIN_RATE),
            "LLMAAS_SEND_TIMEOUT_SECONDS": str(TIMEOUT),
        },
    )
    try:
        yield running
    finally:
        stop_server(running)


def connect(server: Server, *, small_window: bool = False) -> socket.socket:
    address = urlsplit(server.root_url)
    sock = socket.socket()
    if small_window:
        # Before connecting, so that the server sees them from the start: on loopback (64 KiB
        # segments) the kernels would otherwise hold megabytes of a response nobody reads.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    sock.settimeout(10)
    sock.connect((address.hostname or "127.0.0.1", address.port or 80))
    return sock


def read_until_closed(sock: socket.socket, within: float, started: float | None = None) -> Outcome:
    """Everything the server sends until it closes (a reset counts as closed)."""
    started = time.monotonic() if started is None else started
    data = b""
    while (left := started + within - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data, time.monotonic() - started
        if not chunk:
            return data, time.monotonic() - started
        data += chunk
    return data, None


def send_all(sock: socket.socket, data: bytes) -> None:
    """The server may close before taking everything (that is the point): not an error here."""
    with contextlib.suppress(OSError):
        sock.sendall(data)


def receive(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection before a whole response")
    return chunk


def read_response(sock: socket.socket) -> bytes:
    """One whole response (``content-length`` framed), however many segments it came in."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += receive(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += receive(sock)
    return head + b"\r\n\r\n" + body


def trickle(sock: socket.socket, data: bytes, interval: float, within: float) -> Outcome:
    """Send ``data`` one byte per ``interval`` until the server answers or closes."""
    started = time.monotonic()
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            break
        readable, _, _ = select.select([sock], [], [], interval)
        if readable or time.monotonic() - started > within:
            break
    return read_until_closed(sock, within, started)


def served_meanwhile(server: Server, slow: Future[Outcome]) -> list[float]:
    """Latencies of ``/healthz`` for another client, for as long as the slow one lasts."""
    latencies = []
    while not slow.done():
        started = time.monotonic()
        assert httpx.get(server.root_url + "/healthz", timeout=5).status_code == 200
        latencies.append(time.monotonic() - started)
        time.sleep(0.05)
    return latencies


def alongside(server: Server, slow: Callable[[], Outcome]) -> Outcome:
    """Run the slow client in a thread while another one is served, quickly, the whole time."""
    with ThreadPoolExecutor(1) as pool:
        outcome = pool.submit(slow)
        latencies = served_meanwhile(server, outcome)
    assert len(latencies) >= 3
    assert max(latencies) < 0.5, latencies
    return outcome.result()


def status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    return int(answer[9:12])


def header_lines(size: int) -> bytes:
    lines = b"".join(b"x-pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(size // 1000))
    return b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n" + lines + b"\r\n"


# --- header size -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(header_lines(1_000_000), id="a-megabyte-of-header-lines"),
        pytest.param(
            b"GET /healthz HTTP/1.1\r\nx-pad: " + b"a" * 1_000_000, id="a-header-that-never-ends"
        ),
        pytest.param(header_lines(MAX_HEADER_BYTES + 1000), id="just-over-the-limit"),
    ],
)
def test_oversized_headers_get_431_and_the_server_stays_healthy(
    server: Server, request_bytes: bytes
) -> None:
    with connect(server) as sock:
        send_all(sock, request_bytes)
        answer, closed_after = read_until_closed(sock, within=5)
    assert status(answer) == 431
    assert b"request_header_fields_too_large" in answer
    assert closed_after is not None
    assert httpx.get(server.root_url + "/healthz", timeout=5).status_code == 200


def test_large_headers_within_the_limit_are_served(server: Server) -> None:
    pad = {"x-pad": "a" * (MAX_HEADER_BYTES - 1000)}
    assert httpx.get(server.root_url + "/healthz", headers=pad, timeout=5).status_code == 200
    models = httpx.get(
        server.base_url + "/models",
        headers={**pad, "authorization": f"Bearer {server.api_key}"},
        timeout=5,
    )
    assert models.status_code == 200
    assert [model["id"] for model in models.json()["data"]] == ["remote-model"]


# --- slow headers ------------------------------------------------------------------------------


def test_a_client_trickling_its_headers_is_cut_off_while_others_are_served(
    server: Server,
) -> None:
    with connect(server) as sock:
        head = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: " + b"a" * 100
        answer, closed_after = alongside(server, lambda: trickle(sock, head, 0.25, within=5))
    assert status(answer) == 408
    assert b"request_timeout" in answer
    assert closed_after is not None
    assert TIMEOUT * 0.9 < closed_after < TIMEOUT + 1.5


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(server: Server) -> None:
    with connect(server) as sock:
        answer, closed_after = read_until_closed(sock, within=5)
    assert answer == b""
    assert closed_after is not None
    assert TIMEOUT * 0.9 < closed_after < TIMEOUT + 1.5


# --- slow bodies -------------------------------------------------------------------------------


def chat_head(server: Server, length: int) -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"authorization: Bearer %s\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % (server.api_key.encode(), length)
    )


def chat_body(size: int) -> bytes:
    body = b'{"model": "remote-model", "messages": [{"role": "user", "content": "hi"}]}'
    return body + b" " * (size - len(body))


def test_a_client_trickling_its_body_is_cut_off_while_others_are_served(server: Server) -> None:
    body = chat_body(2000)
    with connect(server) as sock:
        sock.sendall(chat_head(server, len(body)))
        answer, closed_after = alongside(server, lambda: trickle(sock, body, 0.1, within=5))
    assert status(answer) == 408
    assert closed_after is not None
    # 10 bytes/s against 500: the second of allowance is all the client gets, give or take 2%.
    assert TIMEOUT * 0.9 < closed_after < TIMEOUT + 1.5


def test_a_body_sent_at_a_fair_rate_may_take_longer_than_the_timeout(server: Server) -> None:
    """1500 bytes/s against a minimum of 500: two seconds for a one-second timeout is fine."""
    body = chat_body(3000)
    with connect(server) as sock:
        sock.sendall(chat_head(server, len(body)))
        started = time.monotonic()
        for start in range(0, len(body), 150):
            time.sleep(0.1)
            sock.sendall(body[start : start + 150])
        assert time.monotonic() - started > 2 * TIMEOUT
        sock.settimeout(10)
        answer = read_response(sock)
    # The request reached the application, which found the only engine down.
    assert status(answer) == 503
    assert b"backend_unavailable" in answer


# --- slow readers ------------------------------------------------------------------------------


def test_a_client_that_stops_reading_its_responses_is_cut_off(server: Server) -> None:
    """Three pipelined requests for the OpenAPI document (135 KiB each) through a small window: the
    server's writes stall, and after a second of that it drops the connection. (Without the limit
    the three responses wait, whole, for the client to read them.)"""
    requests = b"GET /openapi.json HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n" * 3
    with connect(server, small_window=True) as sock:
        sock.sendall(requests)
        time.sleep(TIMEOUT + 1.5)
        answer, closed_after = read_until_closed(sock, within=2)
    assert answer.count(b"HTTP/1.1 200 OK") < 3
    assert closed_after is not None
    assert httpx.get(server.root_url + "/healthz", timeout=5).status_code == 200


# --- keep-alive --------------------------------------------------------------------------------

HEALTHZ = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"


def test_an_idle_keep_alive_connection_outlives_the_header_timeout(server: Server) -> None:
    """Between two requests uvicorn's keep-alive clock applies, not the header one."""
    with connect(server) as sock:
        sock.sendall(HEALTHZ)
        assert status(read_response(sock)) == 200
        time.sleep(TIMEOUT + 0.5)
        sock.sendall(HEALTHZ)
        assert status(read_response(sock)) == 200
        answer, closed_after = read_until_closed(sock, within=KEEP_ALIVE + 2)
    assert answer == b""
    assert closed_after is not None
    assert KEEP_ALIVE - 0.5 < closed_after < KEEP_ALIVE + 1.5


def test_blank_lines_do_not_keep_a_connection_open(server: Server) -> None:
    """Each byte restarted uvicorn's keep-alive clock: a CRLF every 300 ms held it forever."""
    with connect(server) as sock:
        sock.sendall(HEALTHZ)
        assert status(read_response(sock)) == 200
        answer, closed_after = trickle(sock, b"\r\n" * 50, 0.3, within=5)
    assert answer == b""
    assert closed_after is not None
    assert closed_after < TIMEOUT + 1.5
