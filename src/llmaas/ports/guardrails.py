"""What the guarding stage needs from a prompt-injection detector."""

from __future__ import annotations

from typing import Protocol

from llmaas.domain.guardrails import Origin, Threat


class InjectionDetector(Protocol):
    """Reads one text of a request and names the threats in it (none for a clean text).

    Implementations are synchronous and CPU-bound: the guarding stage decides whether to run them
    on the event loop (short texts) or in a worker thread (long ones).
    """

    def threats(self, text: str, origin: Origin) -> set[Threat]: ...

    def boundary_threats(self, tail: tuple[str, ...], head: tuple[str, ...]) -> set[Threat]:
        """Threats that appear only when the end of one request and the start of the next are read
        together. Both halves are words of the detector's public attack lexicon (see
        :meth:`lexicon_edges`), never free text."""
        ...

    def lexicon_edges(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The runs of attack-lexicon words that open and close ``text``: all a split attack needs to
        be recognised across two requests, and nothing of the user's own words."""
        ...
