"""Fetching an image a client named by URL: the one network call image input may need."""

from __future__ import annotations

from typing import Protocol


class ImageFetcher(Protocol):
    async def fetch(self, url: str, max_bytes: int) -> bytes:
        """The body at ``url``, read no further than ``max_bytes``.

        Raises ``PayloadTooLarge`` past the limit and ``InvalidRequest`` for an address it refuses
        (private, loopback...), a timeout, or an answer other than 200; never relays the remote
        server's own text."""
        ...
