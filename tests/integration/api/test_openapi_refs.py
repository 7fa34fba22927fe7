"""Every ``$ref`` in the served OpenAPI document points at a schema the document holds: a dangling one
(``#/$defs/...`` left inside an inline schema) makes generated clients and fuzzers skip that part."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmaas.settings import Settings
from tests.integration.api.conftest import running


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


async def test_every_reference_resolves(settings: Settings) -> None:
    async with running(settings) as client:
        document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    found = set(refs(document))
    assert "#/components/schemas/ChatCompletionChunk" in found
    dangling = sorted(
        ref
        for ref in found
        if not ref.startswith("#/components/schemas/")
        or ref.removeprefix("#/components/schemas/") not in schemas
    )
    assert dangling == []
