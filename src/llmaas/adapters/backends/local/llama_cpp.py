"""The embedded chat engine: GGUF models on llama.cpp (llama-cpp-python), on the CPU.

Everything that touches the model runs on the model's worker thread (``ModelWorker``); this module
plans a request (prompt, sampling, grammar), runs the token loop there, and shapes OpenAI responses.
A model configured with a multimodal projector (``mmproj``) reads images too (:mod:`.vision`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_cpp.llama import Llama
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

from llmaas.adapters.backends.local import chat_responses as responses
from llmaas.adapters.backends.local.chat_template import ChatTemplate, RenderedPrompt
from llmaas.adapters.backends.local.generation import Sampling, generate
from llmaas.adapters.backends.local.tool_calls import forced_call_schema
from llmaas.adapters.backends.local.vision import ImagePrompt, Projector, images_of
from llmaas.adapters.backends.local.weights import Progress, WeightsSource
from llmaas.adapters.backends.local.worker import Emit, ModelWorker
from llmaas.adapters.backends.unsupported import NoEmbeddings
from llmaas.domain.errors import BackendUnavailable, ContextLengthExceeded, InvalidRequest
from llmaas.openai_schema.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ResponseFormatJsonObject,
    ResponseFormatJsonSchema,
)
from llmaas.openai_schema.completions import Completion, CompletionRequest
from llmaas.openai_schema.generation import GenerationRequest

COMPLETIONS_DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions


@dataclass(frozen=True, slots=True)
class LlamaCppOptions:
    weights: WeightsSource
    cache_dir: Path
    context_length: int = 8192
    threads: int = 2
    batch_size: int = 512
    default_temperature: float = 0.7
    default_top_p: float = 0.8
    max_output_tokens: int | None = None
    projector: WeightsSource | None = None
    """The ``mmproj`` file that lets the model read images; ``None`` for a text-only model."""


Prompt = list[int] | ImagePrompt
"""Tokens, or (with images) text and images that only libmtmd can turn into the KV cache."""


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """Everything decided before the first token: prompt, per-choice sampling and output mode."""

    prompt: Prompt
    prompt_tokens: int
    samplings: list[Sampling]
    mode: responses.OutputMode


class LlamaCppBackend(NoEmbeddings):
    def __init__(self, name: str, options: LlamaCppOptions) -> None:
        self._name = name
        self._options = options
        self._worker = ModelWorker(name)
        self._model: Llama | None = None
        self._template: ChatTemplate | None = None
        self._projector: Projector | None = None

    @property
    def name(self) -> str:
        return self._name

    def prepare(self, progress: Progress | None = None) -> Path:
        """Locate (and if needed reassemble) the weights: slow once, then instant."""
        if self._options.projector is not None:
            self._options.projector.resolve(self._options.cache_dir, progress)
        return self._options.weights.resolve(self._options.cache_dir, progress)

    async def start(self) -> None:
        path = self.prepare()
        model = await self._worker.run(lambda: self._load(path))
        if self._options.projector is not None:
            projector = Projector(self._options.projector.resolve(self._options.cache_dir))
            try:
                await self._worker.run(lambda: projector.load(model, self._options.threads))
            except BaseException:
                await self._worker.run(model.close)
                raise
            self._projector = projector
        self._model = model
        self._template = _template_of(model)

    def _load(self, path: Path) -> Llama:
        options = self._options
        return Llama(
            model_path=str(path),
            n_ctx=options.context_length,
            n_threads=options.threads,
            n_threads_batch=options.threads,
            n_batch=options.batch_size,
            logits_all=False,
            verbose=False,
        )

    async def close(self) -> None:
        model, self._model = self._model, None
        projector, self._projector = self._projector, None
        if projector is not None:
            await self._worker.run(projector.close)
        if model is not None:
            await self._worker.run(model.close)
        self._worker.shutdown()

    async def is_healthy(self) -> bool:
        return self._model is not None

    # --- chat ---------------------------------------------------------------------------------

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        model, template = self._ready()
        return await self._worker.run(lambda: self._chat_job(model, template, request))

    def _chat_job(
        self, model: Llama, template: ChatTemplate, request: ChatCompletionRequest
    ) -> ChatCompletion:
        plan = self._plan_chat(model, template, request)
        never = threading.Event()
        builder = responses.ChatBuilder(request.model, plan.mode, request.tools or [])
        prompt = self._evaluated(model, plan.prompt)
        for index, sampling in enumerate(plan.samplings):
            for event in generate(model, prompt, sampling, never):
                builder.add(index, event)
        return builder.completion(prompt_tokens=plan.prompt_tokens)

    async def chat_stream(
        self, request: ChatCompletionRequest
    ) -> AsyncIterator[ChatCompletionChunk]:
        model, template = self._ready()
        streamer = responses.ChatStreamer(
            request.model, request.tools or [], with_logprobs=bool(request.logprobs)
        )

        def job(emit: Emit, cancelled: threading.Event) -> None:
            plan = self._plan_chat(model, template, request)
            emit(plan)
            prompt = self._evaluated(model, plan.prompt)
            for index, sampling in enumerate(plan.samplings):
                for event in generate(model, prompt, sampling, cancelled):
                    emit((index, event))

        async for item in self._worker.stream(job):
            if isinstance(item, ChatPlan):
                streamer.start(
                    item.mode, prompt_tokens=item.prompt_tokens, choices=len(item.samplings)
                )
                yield streamer.role_chunk()
                continue
            index, event = item
            for chunk in streamer.add(index, event):
                yield chunk
        yield streamer.usage_chunk()

    def _plan_chat(
        self, model: Llama, template: ChatTemplate, request: ChatCompletionRequest
    ) -> ChatPlan:
        mode, grammar = _output_mode(request)
        rendered, prompt, count = _chat_prompt(model, template, request, mode, self._projector)
        max_tokens = self._output_budget(count, request.output_limit, param="messages")
        stops = tuple(dict.fromkeys([*rendered.stop, *request.stop_sequences]))
        top_logprobs = (request.top_logprobs or 0) if request.logprobs else None
        samplings = self._samplings(request, max_tokens, stops, top_logprobs, grammar)
        return ChatPlan(prompt=prompt, prompt_tokens=count, samplings=samplings, mode=mode)

    def _evaluated(self, model: Llama, prompt: Prompt) -> list[int]:
        """The prompt as tokens; one with images is first evaluated by the projector."""
        if isinstance(prompt, list):
            return prompt
        if self._projector is None:
            raise BackendUnavailable(f"The deployment '{self._name}' cannot read images.")
        return self._projector.evaluate(model, prompt)

    async def count_chat_prompt(self, request: ChatCompletionRequest) -> int:
        """Off the model's worker, which may be busy generating for minutes: tokenizing only reads
        the vocabulary (llama.cpp's server tokenizes on its HTTP threads the same way), and the
        template is a sandboxed Jinja render."""
        model, template = self._ready()
        mode = _mode_of(request)
        projector = self._projector
        return await asyncio.to_thread(
            lambda: _chat_prompt(model, template, request, mode, projector)[2]
        )

    # --- text completions ---------------------------------------------------------------------

    async def complete(self, request: CompletionRequest) -> Completion:
        model, _ = self._ready()
        _check_completion_options(request)
        return await self._worker.run(lambda: self._complete_job(model, request))

    def _complete_job(self, model: Llama, request: CompletionRequest) -> Completion:
        builder = responses.CompletionBuilder(request.model, echo=bool(request.echo))
        never = threading.Event()
        for prompt_index, (prompt, samplings) in enumerate(self._plan_completion(model, request)):
            builder.add_prompt(prompt_index, prompt, _prompt_text(model, prompt))
            for choice, sampling in enumerate(samplings):
                index = prompt_index * len(samplings) + choice
                for event in generate(model, prompt, sampling, never):
                    builder.add(index, event)
        return builder.completion()

    async def complete_stream(self, request: CompletionRequest) -> AsyncIterator[Completion]:
        model, _ = self._ready()
        _check_completion_options(request)
        streamer = responses.CompletionStreamer(request.model, echo=bool(request.echo))

        def job(emit: Emit, cancelled: threading.Event) -> None:
            for prompt_index, (prompt, samplings) in enumerate(
                self._plan_completion(model, request)
            ):
                emit(("prompt", prompt_index, prompt, _prompt_text(model, prompt)))
                for choice, sampling in enumerate(samplings):
                    index = prompt_index * len(samplings) + choice
                    for event in generate(model, prompt, sampling, cancelled):
                        emit((index, event))

        async for item in self._worker.stream(job):
            if item[0] == "prompt":
                streamer.add_prompt(item[1], item[2], item[3])
                continue
            chunk = streamer.add(item[0], item[1])
            if chunk is not None:
                yield chunk
        yield streamer.usage_chunk()

    def _plan_completion(
        self, model: Llama, request: CompletionRequest
    ) -> Iterator[tuple[list[int], list[Sampling]]]:
        for raw in request.prompts():
            prompt = _completion_prompt(model, raw)
            limit = request.max_tokens or COMPLETIONS_DEFAULT_MAX_TOKENS
            max_tokens = self._output_budget(len(prompt), limit, param="prompt")
            stops = tuple(request.stop_sequences)
            yield prompt, self._samplings(request, max_tokens, stops, request.logprobs, None)

    async def count_completion_prompts(self, request: CompletionRequest) -> list[int]:
        """Off the model's worker, like ``count_chat_prompt``."""
        model, _ = self._ready()
        return await asyncio.to_thread(
            lambda: [len(_completion_prompt(model, raw)) for raw in request.prompts()]
        )

    # --- shared -------------------------------------------------------------------------------

    def _samplings(
        self,
        request: GenerationRequest,
        max_tokens: int,
        stops: tuple[str, ...],
        top_logprobs: int | None,
        grammar: LlamaGrammar | None,
    ) -> list[Sampling]:
        """One sampling plan per requested choice (``n``), with OpenAI's parameters mapped."""
        return [
            Sampling(
                max_tokens=max_tokens,
                temperature=_or(request.temperature, self._options.default_temperature),
                top_p=_or(request.top_p, self._options.default_top_p),
                seed=_seed(request.seed, index),
                presence_penalty=request.presence_penalty or 0.0,
                frequency_penalty=request.frequency_penalty or 0.0,
                stop=stops,
                top_logprobs=top_logprobs,
                grammar=grammar,
                logit_bias=_logit_bias(request.logit_bias),
            )
            for index in range(request.n or 1)
        ]

    def _ready(self) -> tuple[Llama, ChatTemplate]:
        if self._model is None or self._template is None:
            raise BackendUnavailable(f"The deployment '{self._name}' is not loaded.")
        return self._model, self._template

    def _output_budget(self, prompt_tokens: int, requested: int | None, *, param: str) -> int:
        context = self._options.context_length
        if requested is not None and prompt_tokens + requested > context:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {context} tokens. However, you requested "
                f"{prompt_tokens + requested} tokens ({prompt_tokens} in the input, {requested} for "
                "the output). Please reduce the length of the input or of max_tokens.",
                param=param,
            )
        if prompt_tokens >= context:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {context} tokens. However, the input has "
                f"{prompt_tokens} tokens. Please reduce the length of the input.",
                param=param,
            )
        budget = requested if requested is not None else context - prompt_tokens
        if self._options.max_output_tokens is not None:
            budget = min(budget, self._options.max_output_tokens)
        return budget


def _template_of(model: Llama) -> ChatTemplate:
    template = model.metadata.get("tokenizer.chat_template")
    if not template:
        raise BackendUnavailable("The model file has no chat template (tokenizer.chat_template).")
    vocab = model._model  # noqa: SLF001 - token texts are only exposed on the internal model
    bos = model.token_bos()
    return ChatTemplate(
        template,
        eos_token=vocab.token_get_text(model.token_eos()),
        bos_token=vocab.token_get_text(bos) if bos >= 0 else "",
    )


def _chat_prompt(
    model: Llama,
    template: ChatTemplate,
    request: ChatCompletionRequest,
    mode: responses.OutputMode,
    projector: Projector | None,
) -> tuple[RenderedPrompt, Prompt, int]:
    """The one place a conversation becomes a prompt and its token count: generation and counting
    share it, so the count the gateway checks is the prompt the engine runs."""
    images = images_of(request) if projector is not None else ()
    if projector is None or not images:
        rendered = template.render(request, with_tools=mode.offers_tools)
        tokens = model.tokenize(rendered.text.encode(), add_bos=not rendered.adds_bos, special=True)
        return rendered, tokens, len(tokens)
    rendered = template.render(request, with_tools=mode.offers_tools, image_marker=projector.marker)
    prompt = ImagePrompt(rendered.text, images, add_special=not rendered.adds_bos)
    return rendered, prompt, projector.count(prompt)


def _completion_prompt(model: Llama, raw: str | list[int]) -> list[int]:
    prompt = list(raw) if isinstance(raw, list) else model.tokenize(raw.encode(), add_bos=True)
    _check_token_ids(model, prompt)
    return prompt


def _output_mode(
    request: ChatCompletionRequest,
) -> tuple[responses.OutputMode, LlamaGrammar | None]:
    mode = _mode_of(request)
    return mode, _grammar_of(request, mode)


def _mode_of(request: ChatCompletionRequest) -> responses.OutputMode:
    """Whether tools are offered (which changes the prompt) and whether a call is forced; cheap,
    unlike the grammar, so counting a prompt never compiles one."""
    tools, choice = request.tools or [], request.tool_choice
    if tools and choice not in (None, "none", "auto"):
        return responses.OutputMode.FORCED_TOOL
    if isinstance(request.response_format, ResponseFormatJsonObject):
        return responses.OutputMode.TEXT
    if tools and choice != "none":
        return responses.OutputMode.AUTO_TOOL
    return responses.OutputMode.TEXT


def _grammar_of(request: ChatCompletionRequest, mode: responses.OutputMode) -> LlamaGrammar | None:
    if mode is responses.OutputMode.FORCED_TOOL:
        schema = forced_call_schema(request.tools or [], request.tool_choice)
        return _grammar(schema, param="tools")
    fmt = request.response_format
    if isinstance(fmt, ResponseFormatJsonSchema):
        return _grammar(fmt.json_schema.schema_ or {"type": "object"}, param="response_format")
    if isinstance(fmt, ResponseFormatJsonObject):
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    return None


def _grammar(schema: dict[str, Any], *, param: str) -> LlamaGrammar:
    try:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception as error:  # noqa: BLE001 - any failure means the schema is unusable
        raise InvalidRequest(
            f"The JSON schema could not be turned into a decoding grammar ({type(error).__name__}).",
            param=param,
            code="invalid_json_schema",
        ) from None


def _check_completion_options(request: CompletionRequest) -> None:
    if request.suffix is not None:
        raise InvalidRequest(
            "'suffix' is not supported by the embedded engine.",
            param="suffix",
            code="unsupported_parameter",
        )
    if request.best_of is not None and request.best_of != (request.n or 1):
        raise InvalidRequest(
            "The embedded engine supports 'best_of' only equal to 'n'.",
            param="best_of",
            code="unsupported_parameter",
        )


def _check_token_ids(model: Llama, prompt: list[int]) -> None:
    vocabulary = model.n_vocab()
    if not prompt or any(t < 0 or t >= vocabulary for t in prompt):
        raise InvalidRequest(
            f"Prompt token ids must be between 0 and {vocabulary - 1}.", param="prompt"
        )


def _prompt_text(model: Llama, prompt: list[int]) -> str:
    return model.detokenize(prompt).decode("utf-8", "replace")


def _logit_bias(bias: dict[str, float] | None) -> dict[int, float] | None:
    if not bias:
        return None
    try:
        return {int(token): max(-100.0, min(100.0, value)) for token, value in bias.items()}
    except ValueError:
        raise InvalidRequest("'logit_bias' keys must be token ids.", param="logit_bias") from None


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _seed(seed: int | None, index: int) -> int:
    """Choice ``i`` of a seeded request uses ``seed + i``: reproducible, yet distinct choices."""
    if seed is None:
        return secrets.randbelow(2**31)
    return (seed + index) % (2**31)
