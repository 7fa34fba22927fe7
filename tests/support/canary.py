"""Where a piece of customer content could have been kept by a server, and whether it was.

Prompts, documents, recordings and answers live in memory for the time of a request only: a test sends
something unmistakable (a canary), then looks for it in every file under the server's data directory
(database, write-ahead log, logs written at DEBUG) and in ``/metrics``.
"""

from __future__ import annotations

import secrets

import httpx

from tests.e2e.conftest import Server


def canary() -> str:
    return f"canary-{secrets.token_hex(8)}"


def places_holding(server: Server, *needles: str) -> list[str]:
    """Each file (or ``/metrics``) holding any of ``needles``; empty when nothing was kept."""
    wanted = [needle.encode() for needle in needles]
    found = [
        str(path)
        for path in sorted(server.data_dir.rglob("*"))
        if path.is_file() and not path.is_symlink() and _holds(path.read_bytes(), wanted)
    ]
    metrics = httpx.get(f"{server.root_url}/metrics", timeout=10)
    if _holds(metrics.content, wanted):
        found.append("/metrics")
    return found


def _holds(content: bytes, needles: list[bytes]) -> bool:
    return any(needle in content for needle in needles)
