"""``/v1/rerank`` and ``/v2/rerank`` driven by Cohere's official SDK against a real ``llmaas serve``.

The embedded ``all-minilm:22m`` reranks as a bi-encoder; on a small labelled set (three queries, six
documents each, one relevant) the relevant document must come first through both API versions.
"""

from __future__ import annotations

import json
import time
from typing import Any

import cohere
import httpx
import pytest

from llmaas.domain.pricing import DEFAULT_PRICES
from tests.e2e.conftest import Server
from tests.support.canary import canary, places_holding

pytestmark = pytest.mark.e2e

MODEL = "all-minilm:22m"

DOCUMENTS = [
    "Paris is the capital and largest city of France, on the Seine.",
    "To bake bread, knead flour, water, yeast and salt, let the dough rise, then bake it.",
    "Python is a programming language that lets you work quickly and integrate systems.",
    "The Great Barrier Reef is the world's largest coral reef system, off Australia.",
    "Regular exercise lowers blood pressure and improves sleep.",
    "The violin is a wooden string instrument played with a bow.",
]
LABELLED = [
    ("What is the capital of France?", 0),
    ("How do I make bread at home?", 1),
    ("Which language should I learn to write scripts?", 2),
]


def v1_client(server: Server, key: str | None = None) -> cohere.Client:
    return cohere.Client(api_key=key or server.api_key, base_url=server.root_url, timeout=60)


def v2_client(server: Server) -> cohere.ClientV2:
    return cohere.ClientV2(api_key=server.api_key, base_url=server.root_url, timeout=60)


@pytest.mark.parametrize(("query", "relevant"), LABELLED)
def test_v1_ranks_the_relevant_document_first(server: Server, query: str, relevant: int) -> None:
    response = v1_client(server).rerank(
        model=MODEL, query=query, documents=DOCUMENTS, return_documents=True
    )
    indices = [r.index for r in response.results]
    assert indices[0] == relevant
    assert sorted(indices) == list(range(len(DOCUMENTS)))
    scores = [r.relevance_score for r in response.results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert response.results[0].document is not None
    assert response.results[0].document.text == DOCUMENTS[relevant]
    assert response.meta is not None and response.meta.billed_units is not None
    assert response.meta.billed_units.search_units == 1
    assert (response.meta.billed_units.input_tokens or 0) > 0


@pytest.mark.parametrize(("query", "relevant"), LABELLED)
def test_v2_ranks_the_relevant_document_first(server: Server, query: str, relevant: int) -> None:
    response = v2_client(server).rerank(model=MODEL, query=query, documents=DOCUMENTS, top_n=2)
    assert response.results[0].index == relevant
    assert len(response.results) == 2


def test_v1_accepts_text_objects_and_cuts_at_top_n(server: Server) -> None:
    documents: list[Any] = [{"text": d} for d in DOCUMENTS]
    response = v1_client(server).rerank(
        model=MODEL, query=LABELLED[0][0], documents=documents, top_n=1
    )
    assert [r.index for r in response.results] == [0]
    assert response.results[0].document is None


def post(server: Server, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        server.root_url + path,
        json=body,
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"query": "", "documents": ["a"]}, "query", "invalid_value"),
        ({"query": "q", "documents": []}, "documents", "invalid_value"),
        ({"query": "q", "documents": ["a"], "top_n": 0}, "top_n", "invalid_value"),
        ({"documents": ["a"]}, "query", "missing_required_parameter"),
    ],
)
def test_invalid_requests_get_openai_error_envelopes(
    server: Server, body: dict[str, Any], param: str, code: str
) -> None:
    for path in ("/v1/rerank", "/v2/rerank"):
        response = post(server, path, {"model": MODEL, **body})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["param"], error["code"], error["type"]) == (
            param,
            code,
            "invalid_request_error",
        )


def test_a_model_that_cannot_rerank_is_an_unsupported_capability(server: Server) -> None:
    response = post(
        server, "/v2/rerank", {"model": "smollm2:135m", "query": "q", "documents": ["a"]}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_capability"
    assert response.json()["error"]["param"] == "model"


def test_a_rerank_needs_an_api_key(server: Server) -> None:
    response = httpx.post(
        server.root_url + "/v1/rerank",
        json={"model": MODEL, "query": "q", "documents": ["a"]},
        timeout=30,
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_models_say_the_embedded_rerank_is_a_bi_encoder(server: Server) -> None:
    response = httpx.get(
        server.base_url + "/models",
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    model = next(m for m in response.json()["data"] if m["id"] == MODEL)
    assert "rerank" in model["capabilities"]
    assert "bi-encoder" in model["description"]


def test_the_openapi_document_describes_both_versions(server: Server) -> None:
    document = httpx.get(server.root_url + "/openapi.json", timeout=30).json()
    for path in ("/v1/rerank", "/v2/rerank"):
        operation = document["paths"][path]["post"]
        assert operation["security"] == [{"bearerAuth": []}]
        body = operation["requestBody"]["content"]["application/json"]
        assert body["examples"]["simple"]["value"]["model"] == MODEL
    assert "RerankRequest" in document["components"]["schemas"]


def test_a_rerank_is_billed_per_token_at_the_rerank_rate(server: Server) -> None:
    key = json.loads(server.cli("keys", "create", "--name", "rerank", "--json").stdout)["key"]
    response = v1_client(server, key).rerank(model=MODEL, query="bread", documents=DOCUMENTS)
    assert response.meta is not None and response.meta.billed_units is not None
    tokens = int(response.meta.billed_units.input_tokens or 0)
    row = usage_row(server, key)
    assert row["model"] == MODEL
    assert row["input_tokens"] == tokens
    assert row["output_tokens"] == 0
    assert row["cost_micros"] == DEFAULT_PRICES.rerank_cost(tokens)


def test_queries_and_documents_are_never_kept(server: Server) -> None:
    secret = canary()
    documents = [f"{text} ({secret}-{i})" for i, text in enumerate(DOCUMENTS)]
    v1_client(server).rerank(model=MODEL, query=f"bread {secret}", documents=documents)
    v2_client(server).rerank(model=MODEL, query=f"bread {secret}", documents=documents)
    refused = post(
        server, "/v2/rerank", {"model": MODEL, "query": secret, "documents": [secret], "top_n": 0}
    )
    assert refused.status_code == 400 and secret not in refused.text
    assert places_holding(server, secret) == []


def usage_row(server: Server, key: str) -> dict[str, Any]:
    """The key's one usage row, once the usage writer has flushed it."""
    deadline = time.monotonic() + 20
    while True:
        report = httpx.get(
            server.base_url + "/me/usage?group_by=model",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert report.status_code == 200, report.text
        rows: list[dict[str, Any]] = report.json()["data"]
        if rows or time.monotonic() > deadline:
            assert len(rows) == 1, rows
            return rows[0]
        time.sleep(0.25)
