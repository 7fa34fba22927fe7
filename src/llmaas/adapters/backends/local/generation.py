"""The token loop of the embedded llama.cpp engine.

llama-cpp-python's own completion helper cannot report log-probabilities unless the context keeps the
logits of every prompt position (``logits_all``: gigabytes for a 150k vocabulary), so this loop drives
``Llama.generate`` itself: it stops on end-of-generation tokens, stop sequences (holding back text that
could be the start of one, so a stop sequence never leaks into a stream), ``max_tokens`` and
cancellation, and captures log-probabilities from the raw logits only when asked.
"""

from __future__ import annotations

import codecs
import ctypes
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import llama_cpp
import numpy as np
import numpy.typing as npt
from llama_cpp.llama import Llama, LogitsProcessorList
from llama_cpp.llama_grammar import LlamaGrammar

FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True, slots=True)
class Sampling:
    max_tokens: int
    temperature: float
    top_p: float
    seed: int
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    top_logprobs: int | None = None
    """``None``: no log-probabilities; otherwise how many alternatives to report per token."""
    grammar: LlamaGrammar | None = None
    logit_bias: dict[int, float] | None = None


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: list[int]
    top: list[tuple[str, float, list[int]]]


@dataclass(slots=True)
class Piece:
    """Text safe to show, with the log-probabilities of the tokens that produced it."""

    text: str
    logprobs: list[TokenLogprob] = field(default_factory=list)


@dataclass(slots=True)
class Finish:
    reason: FinishReason
    completion_tokens: int


class _LogitCapture:
    """A logits processor that keeps the log-softmax of the raw logits (and applies any bias)."""

    def __init__(self, want_logprobs: bool, bias: dict[int, float] | None) -> None:
        self._want = want_logprobs
        self._bias_ids = np.array(list(bias), dtype=np.intc) if bias else None
        self._bias_values = np.array(list(bias.values()), dtype=np.single) if bias else None
        self.last: npt.NDArray[np.single] | None = None

    def __call__(
        self, _input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        if self._bias_ids is not None and self._bias_values is not None:
            scores[self._bias_ids] += self._bias_values
        if self._want:
            top = float(scores.max())
            self.last = scores - (top + float(np.log(np.exp(scores - top).sum())))
        return scores


def generate(
    model: Llama, prompt: Sequence[int], sampling: Sampling, cancelled: threading.Event
) -> Iterator[Piece | Finish]:
    """Yield pieces of text as they become safe to emit, then exactly one :class:`Finish`."""
    if cancelled.is_set():  # the client left while this waited for the model: skip the prompt
        yield Finish("cancelled", 0)
        return
    capture = None
    if sampling.top_logprobs is not None or sampling.logit_bias:
        capture = _LogitCapture(sampling.top_logprobs is not None, sampling.logit_bias)
    tokens = _token_stream(model, prompt, sampling, capture)
    text = _TextBuffer(sampling.stop)
    vocab = model._model.vocab  # noqa: SLF001 - the public API has no end-of-generation test
    count = 0
    reason: FinishReason = "length"
    pending: list[TokenLogprob] = []
    for token in tokens:
        ended = _ended(vocab, token, cancelled)
        if ended is not None:
            reason = ended
            break
        count += 1
        piece = token_piece(vocab, token)
        if capture is not None and capture.last is not None and sampling.top_logprobs is not None:
            pending.append(_logprob_of(model, token, piece, capture.last, sampling.top_logprobs))
        safe, stopped = text.add(piece)
        if safe or stopped:
            yield Piece(safe, pending)
            pending = []
        if stopped:
            reason = "stop"
            break
        if count >= sampling.max_tokens:
            break
    rest = text.drain() if reason != "stop" or not text.stopped else ""
    if rest or pending:
        yield Piece(rest, pending)
    yield Finish(reason, count)


def _ended(vocab: Any, token: int, cancelled: threading.Event) -> FinishReason | None:
    if cancelled.is_set():
        return "cancelled"
    if llama_cpp.llama_vocab_is_eog(vocab, token):
        return "stop"
    return None


def _token_stream(
    model: Llama, prompt: Sequence[int], sampling: Sampling, capture: _LogitCapture | None
) -> Iterator[int]:
    """llama.cpp's sampler chain configured with OpenAI's semantics (no top-k, no min-p)."""
    model.set_seed(sampling.seed)
    return model.generate(
        prompt,
        top_k=0,
        top_p=sampling.top_p,
        min_p=0.0,
        typical_p=1.0,
        temp=sampling.temperature,
        repeat_penalty=1.0,
        frequency_penalty=sampling.frequency_penalty,
        presence_penalty=sampling.presence_penalty,
        logits_processor=LogitsProcessorList([capture]) if capture else None,
        grammar=sampling.grammar,
    )


class _TextBuffer:
    """Decodes token bytes to text and decides how much of it is safe to emit."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = [s for s in stops if s]
        self._text = ""
        self._emitted = 0
        self.stopped = False

    def add(self, piece: bytes) -> tuple[str, bool]:
        self._text += self._decoder.decode(piece)
        window_start = max(0, self._emitted - max((len(s) for s in self._stops), default=0))
        hits = [i for s in self._stops if (i := self._text.find(s, window_start)) != -1]
        if hits:
            end = min(hits)
            out, self._emitted = self._text[self._emitted : end], end
            self._text = self._text[:end]
            self.stopped = True
            return out, True
        safe_end = len(self._text) - self._partial_stop_length()
        if safe_end <= self._emitted:
            return "", False
        out, self._emitted = self._text[self._emitted : safe_end], safe_end
        return out, False

    def drain(self) -> str:
        self._text += self._decoder.decode(b"", final=True)
        out, self._emitted = self._text[self._emitted :], len(self._text)
        return out

    def _partial_stop_length(self) -> int:
        """Length of the longest suffix of the text that begins some stop sequence."""
        longest = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(self._text)), longest, -1):
                if self._text.endswith(stop[:size]):
                    longest = size
                    break
        return longest


def token_piece(vocab: Any, token: int) -> bytes:
    """The bytes of one token, leading space included.

    (Detokenizing a single token strips that space on SentencePiece vocabularies, and the binding's
    own ``token_to_piece`` returns its whole 32-byte buffer, NULs included.)
    """
    buffer = ctypes.create_string_buffer(64)
    size = llama_cpp.llama_token_to_piece(vocab, token, buffer, 64, 0, False)
    if size < 0:  # the piece is longer than the buffer: -size is what it needs
        buffer = ctypes.create_string_buffer(-size)
        size = llama_cpp.llama_token_to_piece(vocab, token, buffer, -size, 0, False)
    return buffer.raw[: max(size, 0)]


def _logprob_of(
    model: Llama, token: int, piece: bytes, logprobs: npt.NDArray[np.single], top_n: int
) -> TokenLogprob:
    top: list[tuple[str, float, list[int]]] = []
    if top_n > 0:
        candidates = np.argpartition(logprobs, -top_n)[-top_n:]
        for candidate in sorted(candidates.tolist(), key=lambda t: -float(logprobs[t])):
            raw = token_piece(model._model.vocab, int(candidate))  # noqa: SLF001
            top.append((raw.decode("utf-8", "replace"), float(logprobs[candidate]), list(raw)))
    return TokenLogprob(
        token=piece.decode("utf-8", "replace"),
        logprob=float(logprobs[token]),
        bytes=list(piece),
        top=top,
    )
