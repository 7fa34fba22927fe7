"""Shaping the token loop's output into OpenAI chat and text completion objects.

Builders assemble a whole response; streamers turn the same events into chunks as they arrive. Tool
calls cannot be streamed token by token without a parser for each model's format, so a choice that may
be a call is held back only as long as its text still looks like the start of one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from llmaas.adapters.backends.local.generation import Finish, Piece, TokenLogprob
from llmaas.adapters.backends.local.tool_calls import (
    could_become_call,
    new_call_id,
    parse_tool_calls,
)
from llmaas.domain.usage import TokenUsage
from llmaas.openai_schema import chat as wire
from llmaas.openai_schema.completions import Completion, CompletionChoice, CompletionLogprobs
from llmaas.openai_schema.usage import CompletionUsage


class OutputMode(Enum):
    TEXT = "text"
    AUTO_TOOL = "auto_tool"
    """Tools offered, the model decides: its text is a call only if it parses as one."""
    FORCED_TOOL = "forced_tool"
    """``tool_choice`` required or named: a grammar forces a call."""

    @property
    def offers_tools(self) -> bool:
        return self is not OutputMode.TEXT


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


@dataclass(slots=True)
class _Choice:
    text: str = ""
    logprobs: list[TokenLogprob] = field(default_factory=list)
    finish: Finish | None = None
    held: bool = True


def _chat_logprobs(entries: Sequence[TokenLogprob]) -> wire.ChoiceLogprobs:
    return wire.ChoiceLogprobs(
        content=[
            wire.TokenLogprob(
                token=e.token,
                logprob=e.logprob,
                bytes=e.bytes,
                top_logprobs=[wire.TopLogprob(token=t, logprob=lp, bytes=b) for t, lp, b in e.top],
            )
            for e in entries
        ],
        refusal=None,
    )


def _finish_reason(finish: Finish | None) -> wire.FinishReason:
    return "length" if finish is not None and finish.reason == "length" else "stop"


def _tool_calls(text: str, tools: Sequence[wire.Tool]) -> list[wire.ResponseToolCall] | None:
    calls = parse_tool_calls(text, tools)
    if calls is None:
        return None
    return [
        wire.ResponseToolCall(
            id=new_call_id(), function=wire.ResponseFunctionCall(name=c.name, arguments=c.arguments)
        )
        for c in calls
    ]


class ChatBuilder:
    def __init__(self, model: str, mode: OutputMode, tools: Sequence[wire.Tool]) -> None:
        self._model = model
        self._mode = mode
        self._tools = tools
        self._choices: dict[int, _Choice] = {}

    def add(self, index: int, event: Piece | Finish) -> None:
        choice = self._choices.setdefault(index, _Choice())
        if isinstance(event, Finish):
            choice.finish = event
        else:
            choice.text += event.text
            choice.logprobs.extend(event.logprobs)

    def completion(self, *, prompt_tokens: int) -> wire.ChatCompletion:
        choices = [self._choice(i, c) for i, c in sorted(self._choices.items())]
        completion_tokens = sum(
            c.finish.completion_tokens for c in self._choices.values() if c.finish
        )
        return wire.ChatCompletion(
            id=new_id("chatcmpl"),
            created=int(time.time()),
            model=self._model,
            choices=choices,
            usage=CompletionUsage.from_domain(TokenUsage(prompt_tokens, completion_tokens)),
        )

    def _choice(self, index: int, choice: _Choice) -> wire.Choice:
        calls = _tool_calls(choice.text, self._tools) if self._mode.offers_tools else None
        logprobs = _chat_logprobs(choice.logprobs) if choice.logprobs else None
        if calls:
            message = wire.ChatCompletionMessage(content=None, refusal=None, tool_calls=calls)
            return wire.Choice(
                index=index, message=message, finish_reason="tool_calls", logprobs=logprobs
            )
        message = wire.ChatCompletionMessage(content=choice.text, refusal=None)
        return wire.Choice(
            index=index,
            message=message,
            finish_reason=_finish_reason(choice.finish),
            logprobs=logprobs,
        )


class ChatStreamer:
    def __init__(self, model: str, tools: Sequence[wire.Tool], *, with_logprobs: bool) -> None:
        self._model = model
        self._tools = tools
        self._with_logprobs = with_logprobs
        self._id = new_id("chatcmpl")
        self._created = int(time.time())
        self._mode = OutputMode.TEXT
        self._choices: dict[int, _Choice] = {}
        self._prompt_tokens = 0
        self._completion_tokens = 0

    def start(self, mode: OutputMode, *, prompt_tokens: int, choices: int) -> None:
        self._mode = mode
        self._prompt_tokens = prompt_tokens
        self._choices = {i: _Choice(held=mode.offers_tools) for i in range(choices)}

    def _chunk(self, choices: list[wire.ChunkChoice]) -> wire.ChatCompletionChunk:
        return wire.ChatCompletionChunk(
            id=self._id, created=self._created, model=self._model, choices=choices
        )

    def role_chunk(self) -> wire.ChatCompletionChunk:
        """Carries the prompt's token count (as vLLM's ``continuous_usage_stats`` does), so a stream
        cut short is still metered for its prompt; the gateway strips it before the client sees it."""
        chunk = self._chunk(
            [
                wire.ChunkChoice(index=i, delta=wire.ChoiceDelta(role="assistant", content=""))
                for i in sorted(self._choices)
            ]
        )
        chunk.usage = CompletionUsage.from_domain(TokenUsage(self._prompt_tokens, 0))
        return chunk

    def add(self, index: int, event: Piece | Finish) -> list[wire.ChatCompletionChunk]:
        choice = self._choices.setdefault(index, _Choice(held=self._mode.offers_tools))
        if isinstance(event, Piece):
            choice.text += event.text
            choice.logprobs.extend(event.logprobs)
            if choice.held and (
                self._mode is OutputMode.FORCED_TOOL or could_become_call(choice.text)
            ):
                return []
            choice.held = False
            return [self._content(index, choice)] if choice.text or choice.logprobs else []
        self._completion_tokens += event.completion_tokens
        choice.finish = event
        return self._finish(index, choice)

    def _content(self, index: int, choice: _Choice) -> wire.ChatCompletionChunk:
        delta = wire.ChoiceDelta(content=choice.text)
        logprobs = _chat_logprobs(choice.logprobs) if self._with_logprobs else None
        choice.text, choice.logprobs = "", []
        return self._chunk([wire.ChunkChoice(index=index, delta=delta, logprobs=logprobs)])

    def _finish(self, index: int, choice: _Choice) -> list[wire.ChatCompletionChunk]:
        chunks: list[wire.ChatCompletionChunk] = []
        calls = _tool_calls(choice.text, self._tools) if choice.held else None
        if calls:
            deltas = [
                wire.ToolCallDelta(
                    index=position,
                    id=call.id,
                    type="function",
                    function=wire.FunctionCallDelta(
                        name=call.function.name, arguments=call.function.arguments
                    ),
                )
                for position, call in enumerate(calls)
            ]
            chunks.append(
                self._chunk(
                    [wire.ChunkChoice(index=index, delta=wire.ChoiceDelta(tool_calls=deltas))]
                )
            )
            reason: wire.FinishReason = "tool_calls"
        else:
            if choice.text or choice.logprobs:
                chunks.append(self._content(index, choice))
            reason = _finish_reason(choice.finish)
        chunks.append(
            self._chunk(
                [wire.ChunkChoice(index=index, delta=wire.ChoiceDelta(), finish_reason=reason)]
            )
        )
        return chunks

    def usage_chunk(self) -> wire.ChatCompletionChunk:
        chunk = self._chunk([])
        chunk.usage = CompletionUsage.from_domain(
            TokenUsage(self._prompt_tokens, self._completion_tokens)
        )
        return chunk


# --- text completions -------------------------------------------------------------------------


@dataclass(slots=True)
class _Prompt:
    tokens: int
    text: str


def _completion_logprobs(entries: Sequence[TokenLogprob], offset: int) -> CompletionLogprobs:
    offsets = []
    for entry in entries:
        offsets.append(offset)
        offset += len(entry.token)
    return CompletionLogprobs(
        tokens=[e.token for e in entries],
        token_logprobs=[e.logprob for e in entries],
        top_logprobs=[{t: lp for t, lp, _ in e.top} for e in entries],
        text_offset=offsets,
    )


class CompletionBuilder:
    def __init__(self, model: str, *, echo: bool) -> None:
        self._model = model
        self._echo = echo
        self._prompts: dict[int, _Prompt] = {}
        self._choices: dict[int, _Choice] = {}
        self._prompt_of: dict[int, int] = {}

    def add_prompt(self, prompt_index: int, tokens: Sequence[int], text: str) -> None:
        self._prompts[prompt_index] = _Prompt(len(tokens), text)

    def add(self, index: int, event: Piece | Finish) -> None:
        if index not in self._choices:
            self._choices[index] = _Choice()
            self._prompt_of[index] = max(self._prompts)
        choice = self._choices[index]
        if isinstance(event, Finish):
            choice.finish = event
        else:
            choice.text += event.text
            choice.logprobs.extend(event.logprobs)

    def completion(self) -> Completion:
        choices = []
        for index, choice in sorted(self._choices.items()):
            prefix = self._prompts[self._prompt_of[index]].text if self._echo else ""
            logprobs = (
                _completion_logprobs(choice.logprobs, len(prefix)) if choice.logprobs else None
            )
            choices.append(
                CompletionChoice(
                    index=index,
                    text=prefix + choice.text,
                    finish_reason=_finish_reason(choice.finish),
                    logprobs=logprobs,
                )
            )
        prompt_tokens = sum(p.tokens for p in self._prompts.values())
        completion_tokens = sum(
            c.finish.completion_tokens for c in self._choices.values() if c.finish
        )
        return Completion(
            id=new_id("cmpl"),
            created=int(time.time()),
            model=self._model,
            choices=choices,
            usage=CompletionUsage.from_domain(TokenUsage(prompt_tokens, completion_tokens)),
        )


class CompletionStreamer:
    def __init__(self, model: str, *, echo: bool) -> None:
        self._model = model
        self._echo = echo
        self._id = new_id("cmpl")
        self._created = int(time.time())
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._pending_echo: str | None = None
        self._offsets: dict[int, int] = {}
        self._reported_prompt = False

    def add_prompt(self, _prompt_index: int, tokens: Sequence[int], text: str) -> None:
        self._prompt_tokens += len(tokens)
        self._pending_echo = text if self._echo else None

    def add(self, index: int, event: Piece | Finish) -> Completion | None:
        if isinstance(event, Finish):
            self._completion_tokens += event.completion_tokens
            return self._chunk(index, "", _finish_reason(event), None)
        text = event.text
        if index not in self._offsets:
            self._offsets[index] = 0
            if self._pending_echo is not None:
                text = self._pending_echo + text
        offset = self._offsets[index] + (len(text) - len(event.text))
        logprobs = _completion_logprobs(event.logprobs, offset) if event.logprobs else None
        self._offsets[index] += len(text)
        if not text and logprobs is None:
            return None
        chunk = self._chunk(index, text, None, logprobs)
        if not self._reported_prompt:
            # The prompt's size travels with the first chunk (see ChatStreamer.role_chunk).
            self._reported_prompt = True
            chunk.usage = CompletionUsage.from_domain(TokenUsage(self._prompt_tokens, 0))
        return chunk

    def _chunk(
        self,
        index: int,
        text: str,
        finish: wire.FinishReason | None,
        logprobs: CompletionLogprobs | None,
    ) -> Completion:
        reason = "length" if finish == "length" else ("stop" if finish else None)
        return Completion(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[
                CompletionChoice(index=index, text=text, finish_reason=reason, logprobs=logprobs)
            ],
        )

    def usage_chunk(self) -> Completion:
        return Completion(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[],
            usage=CompletionUsage.from_domain(
                TokenUsage(self._prompt_tokens, self._completion_tokens)
            ),
        )
