"""Refusing, before any engine is called, a request that cannot fit the model's context window.

The catalog states each model's context length and, optionally, its longest completion. A prompt
plus the output asked for must fit the context, and a prompt alone must leave room for one token;
otherwise the client gets OpenAI's ``context_length_exceeded`` at once, nothing is reserved against
its limits, and no engine spends a prefill on it.

Where the first deployment tokenizes in this process (``PromptTokenizer``), the count is exact: the
engine's own chat template and tokenizer. Elsewhere the gateway has no tokenizer and estimates, and
the estimate must practically never refuse what the engine would accept, so it errs far low: the
UTF-8 bytes of the text divided by 8. Real BPE and SentencePiece tokenizers spend 3 to 4.5 bytes per
token on prose and fewer on code, JSON and non-Latin scripts (measured on the embedded Qwen2.5 and
SmolLM2 tokenizers: prose 4.5, Python 2.5 to 3, CJK 1.5 to 5, emoji 1.3 to 4). The exception is runs
of whitespace and punctuation, which tokenizers swallow whole (a 64-space indent is one token; pretty
printed JSON measured 16 to 18 bytes per token, a padded Markdown table 10), so each such run counts
as a single byte. What the estimate lets through, the engine still refuses with its own 400, which is
relayed.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from llmaas.domain.errors import BackendUnavailable, ContextLengthExceeded, InvalidRequest
from llmaas.domain.models import ServedModel
from llmaas.openai_schema.chat import (
    AssistantMessage,
    ChatCompletionRequest,
    Content,
    RefusalPart,
    TextPart,
    ToolMessage,
)
from llmaas.openai_schema.completions import CompletionRequest
from llmaas.ports.backends import PromptTokenizer
from llmaas.services.demand import COMPLETIONS_DEFAULT_MAX_TOKENS
from llmaas.services.images import ImageLoad
from llmaas.services.routing import Route

T = TypeVar("T")

BYTES_PER_TOKEN_FLOOR = 8
"""Nearly twice what real tokenizers spend on prose: the estimate undercounts nearly every text."""
OFFLOAD_CHARS = 256 * 1024
"""Above this much text the estimate (about 60 ms per MiB) leaves the event loop."""

_RUNS = re.compile(r"[\W_]{2,}")
"""Whitespace, punctuation and symbols repeated: indentation, rules, table padding."""


def estimated_tokens(texts: Iterable[str]) -> int:
    """A lower bound, in practice, of the tokens any served tokenizer makes of ``texts``."""
    size = sum(len(_RUNS.sub(" ", text).encode()) for text in texts)
    return size // BYTES_PER_TOKEN_FLOOR


def estimated_prompt_tokens(request: ChatCompletionRequest) -> int:
    """For engines without a tokenizer here. Image, audio and file parts count 0 here: images are
    added by ``check_chat_window`` (the model's ``image_tokens`` each), the others are refused."""
    return estimated_tokens(chat_texts(request))


def estimated_completion_prompts(request: CompletionRequest) -> list[int]:
    """Prompts sent as token ids are counted as they are; the engine can only add to them."""
    return [
        len(raw) if isinstance(raw, list) else estimated_tokens([raw]) for raw in request.prompts()
    ]


def chat_texts(request: ChatCompletionRequest) -> Iterator[str]:
    """Every text a chat request carries into the prompt, template markup aside."""
    for message in request.messages:
        yield from _content_texts(message.content)
        if not isinstance(message, ToolMessage) and message.name:
            yield message.name
        if isinstance(message, AssistantMessage):
            yield from _assistant_texts(message)
    for tool in request.tools or []:
        yield json.dumps(tool.model_dump(exclude_none=True), ensure_ascii=False)


def _content_texts(content: Content | None) -> Iterator[str]:
    if isinstance(content, str):
        yield content
        return
    for part in content or []:
        if isinstance(part, TextPart):
            yield part.text
        elif isinstance(part, RefusalPart):
            yield part.refusal


def _assistant_texts(message: AssistantMessage) -> Iterator[str]:
    if message.refusal:
        yield message.refusal
    for call in message.tool_calls or []:
        yield call.function.name
        yield call.function.arguments


def check_context(
    model: ServedModel,
    prompt_tokens: int,
    max_output: int | None,
    *,
    exact: bool,
    param: str,
    output_param: str = "max_tokens",
) -> None:
    """Refuse a prompt that, with the output asked for, does not fit; then an output limit above
    the model's. The context comes first: it is the error a client can least guess."""
    context = model.context_length
    requested = prompt_tokens + (max_output or 0)
    if requested > context or prompt_tokens >= context:
        raise ContextLengthExceeded(
            _overflow_message(context, prompt_tokens, max_output, exact=exact, noun=param),
            param=param,
        )
    ceiling = model.max_output_tokens
    if max_output is not None and ceiling is not None and max_output > ceiling:
        raise InvalidRequest(
            f"{output_param} is too large: {max_output}. This model supports at most {ceiling} "
            f"completion tokens, whereas you provided {max_output}.",
            param=output_param,
            code="max_tokens_exceeded",
        )


def _overflow_message(
    context: int, prompt_tokens: int, max_output: int | None, *, exact: bool, noun: str
) -> str:
    at_least = "" if exact else "at least "
    head = f"This model's maximum context length is {context} tokens. However, "
    if max_output is None:
        return (
            f"{head}your {noun} resulted in {at_least}{prompt_tokens} tokens, which leaves no room "
            f"for the completion. Please reduce the length of the {noun}."
        )
    return (
        f"{head}you requested {at_least}{prompt_tokens + max_output} tokens ({at_least}"
        f"{prompt_tokens} in the {noun}, {max_output} in the completion). Please reduce the "
        f"length of the {noun} or completion."
    )


async def check_chat_window(
    route: Route, request: ChatCompletionRequest, images: ImageLoad | None = None
) -> None:
    """Images count the model's ``image_tokens`` each, on top of the text (exact or estimated)."""
    prompt_tokens, exact = await _count_chat(route, request)
    if images is not None and images.count:
        prompt_tokens += images.count * route.model.image_tokens
    sent = request.max_completion_tokens is not None
    check_context(
        route.model,
        prompt_tokens,
        request.output_limit,
        exact=exact,
        param="messages",
        output_param="max_completion_tokens" if sent else "max_tokens",
    )


async def check_completion_window(route: Route, request: CompletionRequest) -> None:
    """Each prompt of a batch is its own sequence, so each must fit on its own."""
    counts, exact = await _count_completion(route, request)
    limit = request.max_tokens or COMPLETIONS_DEFAULT_MAX_TOKENS
    for prompt_tokens in counts:
        check_context(route.model, prompt_tokens, limit, exact=exact, param="prompt")


async def _count_chat(route: Route, request: ChatCompletionRequest) -> tuple[int, bool]:
    """Exact where the first deployment can count, estimated otherwise; also while it is still
    loading, since failover may yet find a deployment that is ready."""
    backend = _tokenizer_of(route)
    if backend is not None:
        try:
            return await backend.count_chat_prompt(request), True
        except BackendUnavailable:
            pass
    chars = sum(len(text) for text in chat_texts(request))
    return await _off_loop_if_large(lambda: estimated_prompt_tokens(request), chars), False


async def _count_completion(route: Route, request: CompletionRequest) -> tuple[list[int], bool]:
    backend = _tokenizer_of(route)
    if backend is not None:
        try:
            return await backend.count_completion_prompts(request), True
        except BackendUnavailable:
            pass
    chars = sum(len(raw) for raw in request.prompts() if isinstance(raw, str))
    return await _off_loop_if_large(lambda: estimated_completion_prompts(request), chars), False


def _tokenizer_of(route: Route) -> PromptTokenizer | None:
    return route.first.tokenizer if route.first is not None else None


async def _off_loop_if_large(estimate: Callable[[], T], chars: int) -> T:
    if chars > OFFLOAD_CHARS:
        return await asyncio.to_thread(estimate)
    return estimate()
