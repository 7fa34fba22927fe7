"""Fetching the images clients name by ``http(s)`` URL, without becoming a proxy into private networks.

Off unless the operator sets ``LLMAAS_FETCH_IMAGE_URLS=true``. A URL a client chooses is fetched from
inside the operator's network, so every address it leads to is checked (server-side request forgery):

* the host is resolved by :class:`_PublicOnlyResolver`, which refuses the whole host when any of its
  addresses is private, loopback, link-local, multicast, reserved or unspecified (IPv4-mapped and 6to4
  IPv6 addresses are judged by the IPv4 address they carry). aiohttp then connects to the very
  addresses that were checked, so a DNS answer that changes between check and connect (rebinding)
  gains nothing; an IP literal, which aiohttp does not resolve, is checked before the request;
* redirects are followed by hand, at most :data:`MAX_REDIRECTS`, each target checked the same way;
* the body is read in chunks and abandoned past the byte limit (413 ``image_too_large``); the whole
  fetch, redirects included, has one deadline (400 ``image_fetch_timeout``: the gateway is fine, the
  URL the client named did not answer in time).

Proxies from the environment are ignored (``trust_env`` off), so the checks are on the real target.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from llmaas.domain.errors import InvalidRequest
from llmaas.services.images import check_size

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


def is_public_address(address: IPAddress) -> bool:
    """Whether a client may make the gateway connect to ``address``."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is not None:
            return is_public_address(carried)
    refused = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
    return address.is_global and not refused


class _Refused(Exception):
    """Raised inside aiohttp's connector; kept apart from ``OSError`` so aiohttp does not wrap it."""


class _PublicOnlyResolver(AbstractResolver):
    def __init__(self, allowed: AddressPolicy) -> None:
        self._inner = ThreadedResolver()
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results or not all(self._allowed(_address(r["host"])) for r in results):
            raise _Refused
        return results

    async def close(self) -> None:
        await self._inner.close()


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.partition("%")[0])  # drop an IPv6 zone (fe80::1%eth0)


class AiohttpImageFetcher:
    def __init__(self, *, timeout: float, allowed: AddressPolicy = is_public_address) -> None:
        """``allowed`` exists for tests, which serve images on loopback; production keeps the
        default."""
        self._timeout = timeout
        self._allowed = allowed

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        connector = aiohttp.TCPConnector(resolver=_PublicOnlyResolver(self._allowed), limit=4)
        async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
            try:
                async with asyncio.timeout(self._timeout):
                    return await self._follow(session, URL(url), max_bytes)
            except TimeoutError as error:
                raise InvalidRequest(
                    f"The image URL did not answer within {self._timeout:g} seconds.",
                    code="image_fetch_timeout",
                ) from error
            except _Refused as error:
                raise _refused() from error
            except aiohttp.ClientError as error:
                raise InvalidRequest(
                    "The image URL could not be fetched.", code="image_fetch_failed"
                ) from error

    async def _follow(self, session: aiohttp.ClientSession, url: URL, max_bytes: int) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            self._check_target(url)
            async with session.get(url, allow_redirects=False) as response:
                if response.status in _REDIRECTS and "Location" in response.headers:
                    url = url.join(URL(response.headers["Location"]))
                    continue
                if response.status != 200:
                    raise InvalidRequest(
                        f"The image URL answered HTTP {response.status}.",
                        code="image_fetch_failed",
                    )
                return await _read_limited(response, max_bytes)
        raise InvalidRequest(
            f"The image URL redirected more than {MAX_REDIRECTS} times.",
            code="image_fetch_failed",
        )

    def _check_target(self, url: URL) -> None:
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidRequest("An image URL must be an http(s) URL.", code="invalid_image_url")
        try:
            literal = ipaddress.ip_address(url.host)
        except ValueError:
            return  # a name: the resolver checks every address it resolves to
        if not self._allowed(literal):
            raise _refused()


async def _read_limited(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if response.content_length is not None:
        check_size(response.content_length, max_bytes)
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        check_size(len(body), max_bytes)
    return bytes(body)


def _refused() -> InvalidRequest:
    return InvalidRequest(
        "The image URL leads to a private, loopback or otherwise non-public address, which this "
        "gateway does not fetch.",
        code="image_url_refused",
    )
