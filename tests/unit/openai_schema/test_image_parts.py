"""The image-part shapes other clients send, read as OpenAI's ``image_url`` part."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from llmaas.openai_schema.chat import ChatCompletionRequest, ImageUrlPart, TextPart


def first_part(part: dict[str, Any]) -> ImageUrlPart:
    request = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": [part]}]}
    )
    content = request.messages[0].content
    assert isinstance(content, list)
    parsed = content[0]
    assert isinstance(parsed, ImageUrlPart)
    return parsed


@pytest.mark.parametrize(
    ("part", "url", "detail"),
    [
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}, None, None),
        ({"type": "image_url", "image_url": "data:image/png;base64,AA"}, None, None),  # vLLM
        (
            {"type": "image", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}},
            None,
            "low",
        ),
        ({"type": "image", "image_url": "data:image/png;base64,AA"}, None, None),
        (
            {"type": "image", "url": "data:image/png;base64,AA", "detail": "high"},
            None,
            "high",
        ),  # LangChain
        ({"type": "image", "base64": "AA", "mime_type": "image/png"}, None, None),  # LangChain v1
        (
            {"type": "image", "source_type": "base64", "data": "AA", "mime_type": "image/png"},
            None,
            None,
        ),  # LangChain v0.3
        ({"type": "image", "data": "AA"}, "data:image/*;base64,AA", None),
    ],
)
def test_shorthand_becomes_an_image_url_part(
    part: dict[str, Any], url: str | None, detail: str | None
) -> None:
    parsed = first_part(part)
    assert parsed.image_url.url == (url or "data:image/png;base64,AA")
    assert parsed.image_url.detail == detail
    assert parsed.model_dump(exclude_unset=True)["type"] == "image_url"


def test_an_image_part_without_an_image_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        first_part({"type": "image"})


def test_other_parts_are_untouched() -> None:
    request = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    )
    content = request.messages[0].content
    assert isinstance(content, list)
    assert isinstance(content[0], TextPart)
