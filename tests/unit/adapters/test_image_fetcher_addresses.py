"""Which addresses a client-named image URL may lead the gateway to (server-side request forgery)."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from llmaas.adapters.image_fetcher import _PublicOnlyResolver, _Refused, is_public_address


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.10.20.30",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.10",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "2002:a00:1::",  # 6to4 wrapping 10.0.0.1
        "64:ff9b:1::1",  # local-use NAT64
        "2001:db8::1",  # documentation
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


class FixedAnswers(AbstractResolver):
    """A DNS answer chosen by the test (a rebinding attacker mixes public and private ones)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    "answers",
    [("93.184.215.14", "127.0.0.1"), ("169.254.169.254",), ("fe80::1%eth0",), ()],
)
async def test_a_host_with_any_refused_address_is_refused_whole(answers: tuple[str, ...]) -> None:
    resolver = _PublicOnlyResolver(is_public_address)
    resolver._inner = FixedAnswers(*answers)  # type: ignore[assignment]
    with pytest.raises(_Refused):
        await resolver.resolve("rebind.example", 80)


async def test_the_checked_addresses_are_the_ones_connected_to() -> None:
    resolver = _PublicOnlyResolver(is_public_address)
    resolver._inner = FixedAnswers("93.184.215.14")  # type: ignore[assignment]
    [result] = await resolver.resolve("example.com", 443)
    assert result["host"] == "93.184.215.14"
