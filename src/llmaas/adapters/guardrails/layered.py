"""The prompt-injection detector the gateway runs: normalisation, then the structural and pattern
layers, then (when configured) a learned classifier for what no pattern lists.

The classifier runs only on texts the cheaper layers found clean: a text already caught needs no
second opinion, and most attacks are caught by patterns in well under a millisecond.
"""

from __future__ import annotations

import re
from typing import Protocol

from llmaas.adapters.guardrails.ngram import NgramInjectionDetector
from llmaas.adapters.guardrails.normalisation import NormalisedText, fold, normalise
from llmaas.adapters.guardrails.rules import ATTACK_LEXICON, matching_threats
from llmaas.adapters.guardrails.structure import structural_threats
from llmaas.domain.guardrails import Origin, Threat

MAX_EDGE_WORDS = 8
"""Lexicon words kept at each edge of a request: a split phrase longer than this is a sentence."""

_TOKEN = re.compile(r"[\w'-]+|[^\w\s]", re.UNICODE)


class InjectionClassifier(Protocol):
    """A learned scorer: a normalised text in, a probability out."""

    def score_normalised(self, normalised: NormalisedText) -> float: ...


class LayeredInjectionDetector:
    """The gateway's :class:`~llmaas.ports.guardrails.InjectionDetector`."""

    def __init__(
        self, classifier: InjectionClassifier | None = None, threshold: float = 1.0
    ) -> None:
        """``threshold``: the classifier's score from which a text counts as an injection."""
        self._classifier = classifier
        self._threshold = threshold

    def threats(self, text: str, origin: Origin) -> set[Threat]:
        normalised = normalise(text)
        found = matching_threats(normalised.views, origin)
        found |= structural_threats(text, normalised, origin)
        classifier = self._classifier
        if not found and classifier and classifier.score_normalised(normalised) >= self._threshold:
            found.add(Threat.CLASSIFIER)
        return found

    def lexicon_edges(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        words = _TOKEN.findall(fold(text[:400]))
        head = _lexicon_run(words)
        if len(text) > 400:
            words = _TOKEN.findall(fold(text[-400:]))
        tail = tuple(reversed(_lexicon_run(list(reversed(words)))))
        return head, tail

    def boundary_threats(self, tail: tuple[str, ...], head: tuple[str, ...]) -> set[Threat]:
        if not tail or not head:
            return set()
        joined = matching_threats([" ".join((*tail, *head))], Origin.USER)
        alone = matching_threats([" ".join(tail)], Origin.USER) | matching_threats(
            [" ".join(head)], Origin.USER
        )
        return joined - alone


def _lexicon_run(words: list[str]) -> tuple[str, ...]:
    run: list[str] = []
    for word in words:
        if word not in ATTACK_LEXICON or len(run) == MAX_EDGE_WORDS:
            break
        run.append(word)
    return tuple(run)


def packaged_detector(*, classifier: bool = True) -> LayeredInjectionDetector:
    """The detector the gateway runs: every layer, and the packaged n-gram classifier at its strict
    operating point, chosen on the validation split for the whole guard (patterns, then the
    classifier) to flag at most 1% of benign texts. The patterns already catch the formulaic
    attacks, so the classifier is there for paraphrases and must rarely fire on its own by mistake:
    at its looser point (2% for the classifier alone) it flagged 3 of 40 benign prompts that merely
    say "ignore" or "system prompt"."""
    if not classifier:
        return LayeredInjectionDetector()
    ngram = NgramInjectionDetector.from_file()
    return LayeredInjectionDetector(ngram, ngram.strict_threshold)
