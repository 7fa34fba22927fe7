"""In-memory collaborators for service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from llmaas.domain.errors import BackendUnavailable
from llmaas.domain.usage import UsageEvent
from llmaas.openai_schema.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionRequest,
    Choice,
    ChoiceDelta,
    ChunkChoice,
)
from llmaas.openai_schema.completions import Completion, CompletionRequest
from llmaas.openai_schema.embeddings import EmbeddingRequest
from llmaas.openai_schema.usage import CompletionUsage
from llmaas.ports.backends import EmbeddingResult


class FakeClock:
    def __init__(self) -> None:
        self.wall = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
        self.seconds = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.wall += timedelta(seconds=seconds)


class ListRecorder:
    def __init__(self) -> None:
        self.events: list[UsageEvent] = []

    def record(self, event: UsageEvent) -> None:
        self.events.append(event)


def usage(prompt: int, completion: int) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


class ScriptedBackend:
    """Answers every chat with ``words`` (one chunk each when streaming) and usage."""

    def __init__(
        self, name: str, words: list[str], *, down: bool = False, report_usage: bool = True
    ) -> None:
        self._name = name
        self.words = words
        self.down = down
        self.report_usage = report_usage
        self.calls = 0
        self.closed_streams = 0
        self.seen: list[ChatCompletionRequest] = []

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def is_healthy(self) -> bool:
        return not self.down

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        self.calls += 1
        if self.down:
            raise BackendUnavailable("down")
        message = ChatCompletionMessage(content="".join(self.words), refusal=None)
        return ChatCompletion(
            id="c1",
            created=1,
            model="upstream-name",
            choices=[Choice(index=0, message=message, finish_reason="stop")],
            usage=usage(5, len(self.words)),
        )

    async def chat_stream(
        self, request: ChatCompletionRequest
    ) -> AsyncIterator[ChatCompletionChunk]:
        self.calls += 1
        self.seen.append(request)
        if self.down:
            raise BackendUnavailable("down")
        try:
            for word in self.words:
                yield ChatCompletionChunk(
                    id="c1",
                    created=1,
                    model="upstream-name",
                    choices=[ChunkChoice(index=0, delta=ChoiceDelta(content=word))],
                )
            if self.report_usage:
                yield ChatCompletionChunk(
                    id="c1",
                    created=1,
                    model="upstream-name",
                    choices=[],
                    usage=usage(5, len(self.words)),
                )
        finally:
            self.closed_streams += 1

    async def complete(self, request: CompletionRequest) -> Completion:
        raise NotImplementedError

    async def complete_stream(self, request: CompletionRequest) -> AsyncIterator[Completion]:
        raise NotImplementedError
        yield

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        return EmbeddingResult(vectors=[[1.0, 0.0]], prompt_tokens=3)
