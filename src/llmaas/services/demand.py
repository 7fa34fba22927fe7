"""The most a request can consume, known before any engine sees it: what admission reserves.

The bound must never be below the truth, or a budget could be overspent by the difference. Tokenizing
every prompt on the gateway would cost more CPU than the rest of the request path together, so the
prompt is bounded by the size of the request body instead: every tokenizer served here (byte-level BPE,
SentencePiece with byte fallback) spends at least one byte of text per token, and a JSON body holds
every byte of the text it carries plus its syntax, which outweighs the chat template's role markers. A
model's system prompt and tool instructions are covered by a fixed allowance, and no prompt can be
longer than the model's context. Settlement hands back the difference as soon as the request ends.
"""

from __future__ import annotations

from llmaas.domain.models import ServedModel
from llmaas.domain.quotas import Demand
from llmaas.openai_schema.chat import ChatCompletionRequest
from llmaas.openai_schema.completions import CompletionRequest
from llmaas.openai_schema.embeddings import EmbeddingRequest
from llmaas.openai_schema.rerank import RerankRequest
from llmaas.services.images import ImageLoad

TEMPLATE_ALLOWANCE = 64
"""Tokens a chat template may add on its own (a default system prompt, generation prompt)."""
TOOLS_ALLOWANCE = 512
"""Tokens a template may add to explain tool calling."""
COMPLETIONS_DEFAULT_MAX_TOKENS = 16
"""OpenAI's default for ``/v1/completions``, which engines follow."""


def chat_demand(
    model: ServedModel,
    request: ChatCompletionRequest,
    body_bytes: int,
    images: ImageLoad | None = None,
) -> Demand:
    """Images break the one-byte-per-token bound: a tiny PNG is a few dozen bytes of base64 and
    hundreds of tokens to an engine. So the bytes of image URLs (which are not prompt text) leave
    the body's count, and each image adds the model's ``image_tokens`` instead."""
    allowance = TEMPLATE_ALLOWANCE + (TOOLS_ALLOWANCE if request.tools else 0)
    text_bytes = body_bytes
    if images is not None and images.count:
        text_bytes = max(0, body_bytes - images.url_chars) + images.count * model.image_tokens
    prompt = min(text_bytes + allowance, model.context_length)
    output = (request.n or 1) * _output_bound(model, request.output_limit)
    return _demand(model, prompt, output)


def completion_demand(model: ServedModel, request: CompletionRequest, body_bytes: int) -> Demand:
    prompts = len(request.prompts())
    prompt = min(body_bytes + TEMPLATE_ALLOWANCE, prompts * model.context_length)
    candidates = max(request.n or 1, request.best_of or 1)
    limit = request.max_tokens or COMPLETIONS_DEFAULT_MAX_TOKENS
    output = prompts * candidates * _output_bound(model, limit)
    return _demand(model, prompt, output)


def embedding_demand(model: ServedModel, request: EmbeddingRequest, body_bytes: int) -> Demand:
    inputs = len(request.inputs())
    prompt = min(body_bytes + inputs * 2, inputs * model.context_length)
    return _demand(model, prompt, 0)


def rerank_demand(model: ServedModel, request: RerankRequest, body_bytes: int) -> Demand:
    """A cross-encoder reads the query once per document, so the query counts that many times
    (plus a few tokens of pair markers each); a bi-encoder reads it once, which this also covers."""
    documents = len(request.documents)
    query = len(request.query.encode())
    prompt = min(body_bytes + documents * (query + 4), (documents + 1) * model.context_length)
    return Demand(prompt, 0, model.prices.rerank_cost(prompt))


def _output_bound(model: ServedModel, requested: int | None) -> int:
    """Without a limit an engine may generate until the context is full."""
    if requested is None:
        return model.context_length
    return min(requested, model.context_length)


def _demand(model: ServedModel, prompt: int, output: int) -> Demand:
    return Demand(prompt, output, model.prices.max_tokens_cost(prompt, output))
