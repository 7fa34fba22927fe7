"""The vocabulary the guardrail's patterns are written in: rules, how they compile, and the pieces
shared by English and French phrasings (sentence starts, override verbs, what counts as "the rules").

Patterns are written with single spaces, each of which matches any run of whitespace (`` ?``: none
or some). See ``rules.py`` for why patterns, and how they avoid ordinary requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from llmaas.domain.guardrails import Threat

EMBEDDED_AFTER_CHARS = 40
"""An address to "the AI" this far into a user message sits inside pasted content, not the request."""


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """`` ?`` is optional whitespace, any other space one or more whitespace characters."""
    return re.compile(pattern.replace(" ?", r"\s*").replace(" ", r"\s+"))


def either(alternatives: str) -> str:
    """``"a|b c"`` as a group that matches either."""
    return f"(?:{alternatives})"


# Where an imperative can start: a sentence or clause boundary, or a softener before the verb.
START = (
    r"(?:^|(?<=[.!?:;\n\"«(\[*>#\-,])|\b"
    + either(
        r"please|now|just|and|then|so|also|kindly|first|simply|but|you|can|"
        r"totally|i will|i'll|i should|let's|you must|you should|you will|"
        r"you need to|you have to|you are to|you can now|i want you to|et|puis|"
        r"maintenant|d'abord|tu|vous|tu dois|vous devez|il faut|je veux que tu|"
        r"en|bitte"
    )
    + r"\b)\s*"
)

QUALIFIERS = (
    r"(?:(?:all|any|every|each|the|your|my|these|those|such|of|previous|prior|above|earlier|"
    r"preceding|foregoing|initial|original|old|existing|current|system|safety|security|content|"
    r"default|built-in|hidden|given|programmed|ethical|moral|toutes?|tous|les|tes|vos|ton|ta|votre|"
    r"la|le|l'|de|des|d'|ces|précédentes?|antérieures?|initiales?|ci-dessus|système|sécurité|"
    r"éthiques?|alle|vorherigen|deine|ihre|todas|las|tus|instrucciones|tutte|le|tue|precedenti|developer|"
    r"and|operator|confidentiality|\w+'s)\s+){0,4}"
)

RULES_EN = either(
    r"instructions?|rules?|directions|directives?|guidelines?|prompts?|"
    r"constraints?|polic(?:y|ies)|restrictions?|limitations?|filters?|"
    r"guard-?rails?|safeguards?|programming|ethics|principles|moderation|"
    r"censorship|content policy|(?:safety|security) (?:checks|measures|"
    r"protocols|stuff|settings)"
)
RULES_FR = either(
    r"instructions?|consignes?|règles?|directives?|restrictions?|"
    r"limitations?|limites|garde-fous|filtres?|politique de contenu|"
    r"politiques?|programmation|principes|modération|censure|protections|"
    r"avertissements|prompt système"
)
RULES_OTHER = either(r"anweisungen|regeln|richtlinien|instrucciones|reglas|istruzioni|regole")

OVERRIDE_EN = either(
    r"ignore|disregard|forget|skip|override|bypass|neglect|abandon|discard|"
    r"set aside|pay no attention to|do not follow|don't follow|"
    r"stop following|never mind|throw out|erase|drop|disable|deactivate|"
    r"turn off|remove|circumvent|ignoring|disregarding"
)
OVERRIDE_FR = either(
    r"ignore|ignorez|ignorer|ignorant|oublie|oubliez|oublier|"
    r"ne tiens plus compte de|ne tenez plus compte de|ne tiens pas compte de|"
    r"ne tenez pas compte de|fais abstraction de|faites abstraction de|"
    r"laisse tomber|laissez tomber|passe outre|passez outre|outrepasse|"
    r"contourne|contournez|désactive|désactivez|désactiver|supprime|"
    r"supprimez|annule|annulez|enfreins"
)
OVERRIDE_OTHER = either(r"ignoriere|vergiss|ignora|ignorar|olvida|dimentica|ignorate")


_META = frozenset("\\.^$*+?{}[]()|")
_ESCAPED = re.compile(r"\\([^\w\s])")


@dataclass(frozen=True, slots=True)
class Trigger:
    """Something every match of a pattern contains (a verb, a noun, a token).

    Most alternatives are plain strings, found for every rule at once by one Aho-Corasick pass
    over the text (see :class:`TriggerIndex`); the few that need a regular expression
    (``\\bai\\b``, ``[a-z]_[a-z]``) are searched as one expression.
    """

    literals: tuple[str, ...]
    pattern: re.Pattern[str] | None

    @classmethod
    def parse(cls, alternatives: str) -> Trigger:
        literals: list[str] = []
        expressions: list[str] = []
        for atom in _top_level_alternatives(alternatives):
            unescaped = _ESCAPED.sub(r"\1", atom)
            if not _META & set(_ESCAPED.sub("", atom)):
                literals.append(unescaped)
            else:
                expressions.append(atom)
        pattern = re.compile("|".join(expressions)) if expressions else None
        return cls(tuple(literals), pattern)


class TriggerIndex:
    """Where every trigger literal occurs in one text, from a single pass of an automaton built
    once for all rules, and each trigger expression's offsets, computed once per text."""

    def __init__(self, automaton: ahocorasick.Automaton, view: str) -> None:
        self._view = view
        self._literals: dict[str, list[int]] = {}
        for end, literal in automaton.iter(view) if len(automaton) else ():
            self._literals.setdefault(literal, []).append(end - len(literal) + 1)
        self._expressions: dict[re.Pattern[str], list[int]] = {}

    @property
    def view(self) -> str:
        return self._view

    def found_literals(self) -> Iterable[str]:
        return self._literals.keys()

    def hits(self, trigger: Trigger) -> list[int]:
        """Start offsets of the trigger's occurrences (unordered, possibly repeated)."""
        found: list[int] = []
        for literal in trigger.literals:
            found.extend(self._literals.get(literal, ()))
        if trigger.pattern is not None:
            offsets = self._expressions.get(trigger.pattern)
            if offsets is None:
                offsets = [match.start() for match in trigger.pattern.finditer(self._view)]
                self._expressions[trigger.pattern] = offsets
            found.extend(offsets)
        return found


def trigger_automaton(triggers: Iterable[Trigger]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for literal in {literal for trigger in triggers for literal in trigger.literals}:
        automaton.add_word(literal, literal)
    automaton.make_automaton()
    return automaton


def _top_level_alternatives(alternatives: str) -> list[str]:
    atoms: list[str] = []
    depth = 0
    current: list[str] = []
    escaped = False
    for char in alternatives:
        if escaped:
            current.append(char)
            escaped = False
            continue
        if char == "\\":
            escaped = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            atoms.append("".join(current))
            current = []
            continue
        current.append(char)
    atoms.append("".join(current))
    return atoms


@dataclass(frozen=True, slots=True)
class Rule:
    threat: Threat
    pattern: re.Pattern[str]
    trigger: Trigger
    """The pattern runs only near its trigger's occurrences (see ``rules._matches``)."""
    embedded_only: bool = False
    """Only in tool results, or deep enough in a user message to be pasted content."""


def rule(threat: Threat, pattern: str, *, trigger: str, embedded_only: bool = False) -> Rule:
    return Rule(threat, compile_pattern(pattern), Trigger.parse(trigger), embedded_only)


# Triggers shared by several rules.
ESCAPE_TRIGGER = (
    r"rule|restriction|filter|limit|guideline|ethic|moral|censor|constraint|boundar|règle|filtre|"
    r"limite|censure|contrainte|éthique|garde-fou|tabou|content policy|politique de contenu|"
    r"regeln|reglas|regole"
)
EXTRACTION_TRIGGER = (
    r"system|systè|initial|original|hidden|secret|confidential|developer|prompt|instruction|"
    r"consigne|règles|configuration|systemauf|istruzioni|instrucciones|systemanweis|invite"
)
AI_TRIGGER = r"\bai\b|\bia\b|llm|assistant|model|modèle|agent|chatbot|bot|gpt|robot"
OUTSIDE_TRIGGER = r"extern|@|http"
