"""Stage 3 of the pipeline: look for prompt injection in what a request brings, and apply the
caller's policy (off, flag or block) to what is found.

What is read: user messages, tool results and text-completion prompts, where outside text comes in
(typed by the user, or fetched by a tool from the web, a mailbox, a document store). System and
developer messages are the application's own instructions and assistant messages the model's own
words: reading them would only flag the application against itself.

Behaviour across requests, per key, without keeping any prompt:
- **split attacks**: the runs of attack-lexicon words that close one request (``"... ignore all
  previous"``) are kept for a short while and read together with those that open the key's next
  request (``"instructions and ..."``). The lexicon is public and fixed (see the detector), so what is
  kept is a handful of its words, not the user's text;
- **floods**: a keyed hash (HMAC with a secret made at start and never stored) of each request's
  scanned text is counted per key over a sliding window; the same prompt past the limit is flagged.
  The hash cannot be reversed or compared across restarts.

Long texts are scanned in a worker thread so that one 100 KB document never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from llmaas.domain.errors import PromptInjectionDetected
from llmaas.domain.guardrails import (
    DEFAULT_GUARD_POLICY,
    Finding,
    GuardPolicy,
    Origin,
    Threat,
    Verdict,
)
from llmaas.domain.principals import Principal
from llmaas.openai_schema.chat import ChatCompletionRequest, TextPart
from llmaas.openai_schema.completions import CompletionRequest
from llmaas.ports.clock import Clock
from llmaas.ports.guardrails import InjectionDetector

INLINE_SCAN_CHARS = 2_000
"""Up to this much text is scanned on the event loop (under a millisecond); more goes to a thread."""


@dataclass(frozen=True, slots=True)
class ScannedText:
    text: str
    origin: Origin
    location: str
    """The request field it came from (``messages[2]``): findings name it, never the text."""


@dataclass(frozen=True, slots=True)
class GuardSettings:
    default_policy: GuardPolicy = DEFAULT_GUARD_POLICY
    """For keys whose key, organization and tier all leave the policy unset."""
    repeat_limit: int = 30
    """Identical prompts from one key within ``repeat_window_seconds`` before the next is flagged."""
    repeat_window_seconds: float = 60.0
    split_window_seconds: float = 120.0
    """How long the end of a request waits for the key's next one to complete a split attack."""
    max_tracked_keys: int = 10_000
    """Keys whose recent requests are remembered (least recently seen forgotten first)."""


def chat_texts(request: ChatCompletionRequest) -> list[ScannedText]:
    """The user-supplied and tool-supplied texts of a conversation."""
    texts: list[ScannedText] = []
    for index, message in enumerate(request.messages):
        if message.role == "user":
            origin = Origin.USER
        elif message.role == "tool":
            origin = Origin.TOOL
        else:
            continue
        location = f"messages[{index}]"
        content = message.content
        if isinstance(content, str):
            texts.append(ScannedText(content, origin, location))
        elif isinstance(content, list):
            texts.extend(
                ScannedText(part.text, origin, location)
                for part in content
                if isinstance(part, TextPart)
            )
    return texts


def completion_texts(request: CompletionRequest) -> list[ScannedText]:
    """A text completion's prompt(s); token-id prompts carry no text to read."""
    if isinstance(request.prompt, str):
        return [ScannedText(request.prompt, Origin.PROMPT, "prompt")]
    return [
        ScannedText(item, Origin.PROMPT, f"prompt[{index}]")
        for index, item in enumerate(request.prompts())
        if isinstance(item, str)
    ]


@dataclass(slots=True)
class _KeyMemory:
    tail: tuple[str, ...] = ()
    tail_at: float = 0.0
    seen: OrderedDict[bytes, deque[float]] = field(default_factory=OrderedDict)


_MAX_DIGESTS_PER_KEY = 256


class Guarding:
    def __init__(
        self,
        detector: InjectionDetector,
        clock: Clock,
        settings: GuardSettings = GuardSettings(),
        *,
        on_verdict: Callable[[Verdict], None] | None = None,
    ) -> None:
        self._detector = detector
        self._clock = clock
        self._settings = settings
        self._on_verdict = on_verdict
        self._hash_key = secrets.token_bytes(32)
        self._keys: OrderedDict[str, _KeyMemory] = OrderedDict()

    def policy_for(self, principal: Principal) -> GuardPolicy:
        return principal.guard_policy or self._settings.default_policy

    async def inspect(self, principal: Principal, texts: Sequence[ScannedText]) -> Verdict:
        """The verdict on one request's texts; raises :class:`PromptInjectionDetected` when the
        caller's policy blocks what was found."""
        policy = self.policy_for(principal)
        if policy is GuardPolicy.OFF or not texts:
            return Verdict(policy=policy)
        if sum(len(item.text) for item in texts) <= INLINE_SCAN_CHARS:
            findings = self._scan(texts)
        else:
            findings = await asyncio.to_thread(self._scan, texts)
        findings.extend(self._behaviour(principal.key_id, texts))
        verdict = Verdict(tuple(findings), policy)
        if verdict.detected and self._on_verdict is not None:
            self._on_verdict(verdict)
        if verdict.blocks:
            raise PromptInjectionDetected(
                f"The request was refused by the prompt-injection guardrail ({verdict.describe()}). "
                "If this is a false positive, ask your administrator to review the key's guardrail "
                "policy.",
                param="messages" if texts[0].location.startswith("messages") else "prompt",
            )
        return verdict

    def _scan(self, texts: Sequence[ScannedText]) -> list[Finding]:
        return [
            Finding(threat, item.location)
            for item in texts
            for threat in sorted(self._detector.threats(item.text, item.origin))
        ]

    def _behaviour(self, key_id: str, texts: Sequence[ScannedText]) -> list[Finding]:
        now = self._clock.monotonic()
        memory = self._memory(key_id)
        findings: list[Finding] = []
        head, tail = self._detector.lexicon_edges(texts[0].text)
        if len(texts) > 1:
            _, tail = self._detector.lexicon_edges(texts[-1].text)
        recent = now - memory.tail_at <= self._settings.split_window_seconds
        if memory.tail and recent and self._detector.boundary_threats(memory.tail, head):
            findings.append(Finding(Threat.SPLIT_ACROSS_REQUESTS, texts[0].location))
        memory.tail, memory.tail_at = tail, now
        if self._repeated(memory, texts, now):
            findings.append(Finding(Threat.REPEATED_PROMPT, texts[-1].location))
        return findings

    def _repeated(self, memory: _KeyMemory, texts: Sequence[ScannedText], now: float) -> bool:
        digest = self._digest(texts)
        # At most limit + 1 times are needed to tell a flood: a key repeating itself a thousand
        # times a second costs no more memory than one at the limit.
        times = memory.seen.pop(digest, None) or deque(maxlen=self._settings.repeat_limit + 1)
        memory.seen[digest] = times
        window = self._settings.repeat_window_seconds
        while times and now - times[0] > window:
            times.popleft()
        times.append(now)
        while len(memory.seen) > _MAX_DIGESTS_PER_KEY:
            memory.seen.popitem(last=False)
        return len(times) > self._settings.repeat_limit

    def _digest(self, texts: Sequence[ScannedText]) -> bytes:
        mac = hmac.new(self._hash_key, digestmod=hashlib.sha256)
        for item in texts:
            mac.update(item.text.encode("utf-8", "surrogatepass"))
            mac.update(b"\x1f")
        return mac.digest()

    def _memory(self, key_id: str) -> _KeyMemory:
        memory = self._keys.pop(key_id, None) or _KeyMemory()
        self._keys[key_id] = memory
        while len(self._keys) > self._settings.max_tracked_keys:
            self._keys.popitem(last=False)
        return memory
