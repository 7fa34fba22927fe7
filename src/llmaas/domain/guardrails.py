"""Prompt-injection guarding as values: what may be detected, where, and what a policy does with it.

A finding names a threat and where it was seen (``messages[2]``, a tool result...), never the text:
findings travel into response headers, metrics labels, logs and the usage trail, where content must
never go.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class GuardPolicy(StrEnum):
    """What happens to a request in which an injection is detected."""

    OFF = "off"
    """Not scanned at all (a tenant running its own guard, or red-team work)."""
    FLAG = "flag"
    """Served; the response's ``x-llmaas-guardrail`` header says what was detected."""
    BLOCK = "block"
    """Refused with 400 ``prompt_injection_detected`` before any engine sees it."""


DEFAULT_GUARD_POLICY = GuardPolicy.BLOCK


def effective_policy(
    *, key: GuardPolicy | None, organization: GuardPolicy | None, tier: GuardPolicy | None
) -> GuardPolicy:
    """The most specific setting wins: a key's, then its organization's contract, then its tier's."""
    for policy in (key, organization, tier):
        if policy is not None:
            return policy
    return DEFAULT_GUARD_POLICY


class Threat(StrEnum):
    """What a finding is. The values appear in headers, metrics and the documentation."""

    INSTRUCTION_OVERRIDE = "instruction_override"
    """"Ignore all previous instructions", in any language we read."""
    ROLE_PLAY_ESCAPE = "role_play_escape"
    """A persona or "mode" invented to slip out of the rules (DAN, developer mode...)."""
    PROMPT_EXTRACTION = "prompt_extraction"
    """Asking for the system prompt or hidden instructions."""
    DELIMITER_INJECTION = "delimiter_injection"
    """Chat-template tokens or fake end-of-data markers that open a pretend system turn."""
    FAKE_ROLE_MESSAGE = "fake_role_message"
    """A JSON payload posing as a system, developer or assistant message."""
    HIDDEN_HTML = "hidden_html"
    """Instructions in HTML comments or invisible elements, read by models but not by people."""
    UNSAFE_LINK = "unsafe_link"
    """``javascript:`` or ``data:`` links in Markdown or HTML: script or exfiltration waiting for
    a renderer."""
    HIDDEN_TEXT = "hidden_text"
    """Text smuggled in invisible Unicode tag characters."""
    OBFUSCATION = "obfuscation"
    """Look-alike letters from other scripts mixed into words, or right-to-left overrides."""
    EMBEDDED_INSTRUCTION = "embedded_instruction"
    """A note addressed to the AI inside a document or tool result (indirect injection)."""
    FALSE_AUTHORITY = "false_authority"
    """Claims to be the model's developer or operator, or an authorised test, to unlock it."""
    EXFILTRATION = "exfiltration"
    """Orders to send the conversation, customer data or secrets to an outside address."""
    CLASSIFIER = "classifier"
    """The learned detector's score passed its threshold."""
    SPLIT_ACROSS_REQUESTS = "split_across_requests"
    """An attack whose halves came in consecutive requests of one key."""
    REPEATED_PROMPT = "repeated_prompt"
    """The same prompt again and again from one key: extraction or flooding."""


class Origin(StrEnum):
    """Where scanned text came from: indirect injection lives in tool results and documents."""

    USER = "user"
    TOOL = "tool"
    PROMPT = "prompt"
    """A text completion's prompt."""


@dataclass(frozen=True, slots=True)
class Finding:
    threat: Threat
    location: str
    """``messages[3]``, ``prompt[0]``: the request field, never its content."""


@dataclass(frozen=True, slots=True)
class Verdict:
    findings: tuple[Finding, ...] = ()
    policy: GuardPolicy = DEFAULT_GUARD_POLICY

    @property
    def detected(self) -> bool:
        return bool(self.findings)

    @property
    def blocks(self) -> bool:
        return self.detected and self.policy is GuardPolicy.BLOCK

    @property
    def threats(self) -> tuple[Threat, ...]:
        """Each threat once, in a stable order, for headers and metrics."""
        return tuple(sorted({finding.threat for finding in self.findings}))

    def describe(self) -> str:
        """What the error message and the flag header say: threats and places, no content."""
        places = sorted({finding.location for finding in self.findings})
        return f"{', '.join(self.threats)} in {', '.join(places)}"
