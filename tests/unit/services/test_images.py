"""Checking and inlining images before routing: data URLs, limits, fetching, and their cost."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import pytest

from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.domain.errors import ContextLengthExceeded, InvalidRequest, PayloadTooLarge
from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.domain.principals import Principal
from llmaas.openai_schema.chat import ChatCompletionRequest, ImageUrlPart
from llmaas.services.admission import Admission
from llmaas.services.completions import CompletionsService, RequestContext
from llmaas.services.demand import TEMPLATE_ALLOWANCE, chat_demand
from llmaas.services.failover import Attempts
from llmaas.services.images import (
    ImageInliner,
    ImageLimits,
    ImageLoad,
    decode_data_url,
    image_count,
)
from llmaas.services.metering import Metering
from llmaas.services.routing import Router
from tests.support.images import data_url, image_bytes
from tests.unit.services.fakes import FakeClock, ListRecorder, ScriptedBackend
from tests.unit.services.test_completions import catalog_of

PNG = image_bytes("PNG", (8, 8))


class FakeFetcher:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.urls: list[str] = []

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        self.urls.append(url)
        return self.body


def chat(*parts: dict[str, Any], text_first: bool = True) -> ChatCompletionRequest:
    content = [{"type": "text", "text": "what is this?"}] if text_first else []
    return ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [*content, *parts]},
            ],
        }
    )


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def urls_of(request: ChatCompletionRequest) -> list[str]:
    content = request.messages[1].content
    assert isinstance(content, list)
    return [p.image_url.url for p in content if isinstance(p, ImageUrlPart)]


async def test_a_data_url_is_kept_byte_for_byte() -> None:
    url = data_url(PNG)
    inlined, load = await ImageInliner(ImageLimits()).inline(chat(image(url)))
    assert urls_of(inlined) == [url]
    assert load == ImageLoad(count=1, url_chars=len(url))


async def test_the_media_type_is_the_one_the_bytes_are() -> None:
    jpeg = image_bytes("JPEG")
    inlined, _ = await ImageInliner(ImageLimits()).inline(chat(image(data_url(jpeg, "image/png"))))
    assert urls_of(inlined)[0].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(urls_of(inlined)[0].partition(",")[2]) == jpeg


async def test_a_request_without_images_is_returned_as_is() -> None:
    request = chat()
    assert await ImageInliner(ImageLimits()).inline(request) == (request, ImageLoad())


async def test_an_oversize_image_is_413_naming_its_part() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        await ImageInliner(ImageLimits(max_bytes=100)).inline(
            chat(image(data_url(image_bytes("PNG", (300, 300), compress_level=0))))
        )
    assert caught.value.code == "image_too_large"
    assert caught.value.param == "messages[1].content[1]"


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png;base64,bm90IGFuIGltYWdl",  # "not an image"
        "data:image/png;base64,%%%not base64%%%",
        "data:image/png,rawbytes",  # not base64
        "data:text/plain;base64,aGVsbG8=",
        data_url(PNG[:20]),  # truncated
    ],
)
async def test_undecodable_is_400_invalid_image(url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await ImageInliner(ImageLimits()).inline(chat(image(url), text_first=False))
    assert caught.value.code == "invalid_image"
    assert caught.value.param == "messages[1].content[0]"


async def test_too_many_images() -> None:
    url = data_url(PNG)
    with pytest.raises(InvalidRequest) as caught:
        await ImageInliner(ImageLimits(max_images=2)).inline(chat(*[image(url)] * 3))
    assert caught.value.code == "too_many_images"


async def test_remote_urls_are_refused_unless_fetching_is_enabled() -> None:
    with pytest.raises(InvalidRequest) as caught:
        await ImageInliner(ImageLimits()).inline(chat(image("https://example.com/cat.png")))
    assert caught.value.code == "image_url_fetch_disabled"
    assert "LLMAAS_FETCH_IMAGE_URLS" in caught.value.message


async def test_fetched_images_are_checked_and_inlined() -> None:
    fetcher = FakeFetcher(PNG)
    url = "https://example.com/cat.png"
    inlined, load = await ImageInliner(ImageLimits(), fetcher).inline(chat(image(url)))
    assert fetcher.urls == [url]
    assert urls_of(inlined) == [data_url(PNG)]  # engines never fetch
    assert load == ImageLoad(count=1, url_chars=len(url))
    with pytest.raises(InvalidRequest) as caught:
        await ImageInliner(ImageLimits(), FakeFetcher(b"<html>")).inline(chat(image(url)))
    assert caught.value.code == "invalid_image"
    with pytest.raises(PayloadTooLarge):
        await ImageInliner(ImageLimits(max_bytes=10), FakeFetcher(PNG)).inline(chat(image(url)))


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "cat.png"])
async def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await ImageInliner(ImageLimits(), FakeFetcher(PNG)).inline(chat(image(url)))
    assert caught.value.code == "invalid_image_url"


def test_size_is_checked_before_decoding() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_data_url("data:image/png;base64," + "A" * 4000, max_bytes=1000)


def test_image_count() -> None:
    assert image_count(chat(image("a"), image("b"))) == 2


def test_admission_reserves_image_tokens_not_base64_bytes() -> None:
    model = ServedModel(
        id="v",
        owned_by="t",
        created=0,
        context_length=100_000,
        capabilities=frozenset({Capability.CHAT, Capability.VISION}),
        deployments=(),
        image_tokens=576,
    )
    request = chat(image(data_url(PNG)))
    tiny = ImageLoad(count=1, url_chars=len(data_url(PNG)))
    body = 200 + tiny.url_chars
    demand = chat_demand(model, request, body, tiny)
    # a tiny PNG is ~100 bytes of base64 but 576 tokens to the engine: the bound must cover that
    assert demand.prompt_tokens == 200 + 576 + TEMPLATE_ALLOWANCE
    assert chat_demand(model, request, body).prompt_tokens == body + TEMPLATE_ALLOWANCE


VISION = ServedModel(
    id="v",
    owned_by="t",
    created=0,
    context_length=1000,
    capabilities=frozenset({Capability.CHAT, Capability.VISION}),
    deployments=(DeploymentSpec("a", "fake"),),
    image_tokens=400,
)
TEXT_ONLY = replace(
    VISION,
    id="t",
    capabilities=frozenset({Capability.CHAT}),
    deployments=(DeploymentSpec("b", "fake"),),
)
CTX = RequestContext(Principal(key_id="k1", key_name="test"), request_id="r1")


def pipeline(fetcher: FakeFetcher | None = None) -> tuple[CompletionsService, ScriptedBackend]:
    clock = FakeClock()
    backend = ScriptedBackend("a", ["a cat"])
    backends = {"a": backend, "b": ScriptedBackend("b", ["?"])}
    router = Router(catalog_of(VISION, TEXT_ONLY), backends, clock)
    metering = Metering(Admission(MemoryCounters(), clock), ListRecorder(), clock)
    inliner = ImageInliner(ImageLimits(), fetcher)
    return CompletionsService(router, metering, Attempts(clock), inliner), backend


def to(model: str, request: ChatCompletionRequest, **fields: Any) -> ChatCompletionRequest:
    return request.model_copy(update={"model": model, **fields})


async def test_the_engine_receives_the_inlined_request() -> None:
    service, backend = pipeline(FakeFetcher(PNG))
    stream = await service.chat_stream(CTX, to("v", chat(image("https://example.com/cat.png"))))
    assert [chunk async for chunk in stream]
    assert urls_of(backend.seen[-1]) == [data_url(PNG)]


async def test_a_non_vision_model_is_refused_before_anything_is_fetched() -> None:
    fetcher = FakeFetcher(PNG)
    service, _ = pipeline(fetcher)
    with pytest.raises(InvalidRequest) as caught:
        await service.chat(CTX, to("t", chat(image("https://example.com/cat.png"))))
    assert caught.value.code == "unsupported_capability"
    assert fetcher.urls == []


async def test_images_count_against_the_context_window() -> None:
    service, backend = pipeline()
    url = data_url(PNG)
    await service.chat(CTX, to("v", chat(image(url), image(url)), max_tokens=100))
    with pytest.raises(ContextLengthExceeded):  # 3 x 400 image tokens > 1000
        await service.chat(CTX, to("v", chat(image(url), image(url), image(url)), max_tokens=1))
    assert backend.calls == 1
