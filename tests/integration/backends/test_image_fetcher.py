"""The image fetcher against a real HTTP server on loopback.

With the production address policy, loopback is refused however it is written (literal, name,
IPv6, decimal). The size limit, the deadline and redirects are tested with a test-only policy that
lets the fetcher reach 127.0.0.1 (and nothing else on loopback).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from llmaas.adapters.image_fetcher import AiohttpImageFetcher
from llmaas.domain.errors import InvalidRequest, PayloadTooLarge
from tests.support.images import image_bytes

PNG = image_bytes("PNG", (16, 16))
BIG = b"\x89PNG" + bytes(300_000)


async def cat(_: web.Request) -> web.Response:
    return web.Response(body=PNG, content_type="image/png")


async def big(_: web.Request) -> web.Response:
    return web.Response(body=BIG, content_type="image/png")


async def big_chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(100):  # 6.4 MB offered; the fetcher must stop long before
        await response.write(bytes(64 * 1024))
    return response


async def slow(_: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(body=PNG)


async def hop(request: web.Request) -> web.Response:
    left = int(request.match_info["n"])
    target = "/cat.png" if left == 0 else f"/hop/{left - 1}"
    raise web.HTTPFound(target)


async def to_other_loopback(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"http://127.0.0.2:{request.url.port}/cat.png")


async def missing(_: web.Request) -> web.Response:
    return web.Response(status=404, text="secret internal page")


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/cat.png", cat)
    app.router.add_get("/big", big)
    app.router.add_get("/big-chunked", big_chunked)
    app.router.add_get("/slow", slow)
    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/elsewhere", to_other_loopback)
    app.router.add_get("/missing", missing)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def only_127_0_0_1(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address == ipaddress.ip_address("127.0.0.1")


def port_of(origin: str) -> str:
    return origin.rsplit(":", 1)[1]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0"]
)
async def test_loopback_is_refused_however_it_is_written(origin: str, host: str) -> None:
    fetcher = AiohttpImageFetcher(timeout=5)
    with pytest.raises(InvalidRequest) as caught:
        await fetcher.fetch(f"http://{host}:{port_of(origin)}/cat.png", 1_000_000)
    assert caught.value.code == "image_url_refused"


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1"])
async def test_numeric_spellings_of_loopback_are_not_fetched(origin: str, host: str) -> None:
    """aiohttp refuses non-canonical IPv4 outright; the resolver would refuse them otherwise."""
    fetcher = AiohttpImageFetcher(timeout=5)
    with pytest.raises(InvalidRequest) as caught:
        await fetcher.fetch(f"http://{host}:{port_of(origin)}/cat.png", 1_000_000)
    assert caught.value.code in ("image_url_refused", "image_fetch_failed")


async def test_an_allowed_address_is_fetched(origin: str) -> None:
    fetcher = AiohttpImageFetcher(timeout=5, allowed=only_127_0_0_1)
    assert await fetcher.fetch(f"{origin}/cat.png", 1_000_000) == PNG


async def test_a_declared_length_over_the_limit_is_413_before_reading(origin: str) -> None:
    fetcher = AiohttpImageFetcher(timeout=5, allowed=only_127_0_0_1)
    with pytest.raises(PayloadTooLarge) as caught:
        await fetcher.fetch(f"{origin}/big", 100_000)
    assert caught.value.code == "image_too_large"


async def test_a_chunked_body_is_abandoned_past_the_limit(origin: str) -> None:
    fetcher = AiohttpImageFetcher(timeout=5, allowed=only_127_0_0_1)
    with pytest.raises(PayloadTooLarge):
        await fetcher.fetch(f"{origin}/big-chunked", 200_000)


async def test_a_slow_server_times_out(origin: str) -> None:
    fetcher = AiohttpImageFetcher(timeout=0.3, allowed=only_127_0_0_1)
    with pytest.raises(InvalidRequest) as caught:
        await fetcher.fetch(f"{origin}/slow", 1_000_000)
    assert caught.value.code == "image_fetch_timeout"


async def test_up_to_three_redirects_are_followed(origin: str) -> None:
    fetcher = AiohttpImageFetcher(timeout=5, allowed=only_127_0_0_1)
    assert await fetcher.fetch(f"{origin}/hop/2", 1_000_000) == PNG  # 3 redirects
    with pytest.raises(InvalidRequest) as caught:
        await fetcher.fetch(f"{origin}/hop/3", 1_000_000)
    assert caught.value.code == "image_fetch_failed"


async def test_a_redirect_to_a_refused_address_is_refused(origin: str) -> None:
    fetcher = AiohttpImageFetcher(timeout=5, allowed=only_127_0_0_1)
    with pytest.raises(InvalidRequest) as caught:
        await fetcher.fetch(f"{origin}/elsewhere", 1_000_000)
    assert caught.value.code == "image_url_refused"


async def test_an_error_answer_is_not_relayed(origin: str) -> None:
    fetcher = AiohttpImageFetcher(timeout=5, allowed=only_127_0_0_1)
    with pytest.raises(InvalidRequest) as caught:
        await fetcher.fetch(f"{origin}/missing", 1_000_000)
    assert caught.value.code == "image_fetch_failed"
    assert "secret" not in caught.value.message
