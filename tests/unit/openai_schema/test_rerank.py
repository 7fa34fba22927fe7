"""Cohere's rerank request: both document shapes, and the bounds that keep a request sane."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from llmaas.openai_schema.rerank import MAX_DOCUMENTS, RerankRequest


def parse(**fields: Any) -> RerankRequest:
    return RerankRequest.model_validate({"model": "m", "query": "q", "documents": ["a"]} | fields)


def test_documents_may_be_strings_or_text_objects() -> None:
    request = parse(documents=["plain", {"text": "object", "title": "ignored"}])
    assert request.texts() == ["plain", "object"]
    assert request.top_n is None
    assert request.return_documents is False


def test_cohere_only_fields_are_accepted_and_ignored() -> None:
    request = parse(rank_fields=["text"], max_chunks_per_doc=10, max_tokens_per_doc=512)
    assert request.texts() == ["a"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"query": ""}, "query"),
        ({"documents": []}, "documents"),
        ({"documents": ["d"] * (MAX_DOCUMENTS + 1)}, "documents"),
        ({"top_n": 0}, "top_n"),
        ({"documents": [{"title": "no text"}]}, "documents"),
    ],
)
def test_invalid_requests_name_the_parameter(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse(**fields)
    assert raised.value.errors()[0]["loc"][0] == param


def test_a_request_without_a_model_is_refused() -> None:
    with pytest.raises(ValidationError):
        RerankRequest.model_validate({"query": "q", "documents": ["a"]})
