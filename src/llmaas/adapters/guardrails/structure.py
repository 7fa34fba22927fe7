"""The guardrail's structural layer: injections that hide in the shape of the text, not its words.

- JSON posing as a chat message (``{"role": "system", ...}``) smuggles a pretend system turn into a
  user message or tool result. Developers paste such JSON to ask about their own code, so in a user
  message it counts only outside fenced code and outside a ``messages =`` assignment; a tool result
  has no business carrying one at all.
- HTML comments and invisible elements (``display:none``, zero-size or white text) are read by the
  model and by no one else: their content is scanned, and counts when it addresses the AI or matches
  an injection pattern.
- ``javascript:`` and ``data:`` links in Markdown or HTML wait for a renderer to run them or to leak
  data through them.
- What normalising revealed: text smuggled in tag characters, right-to-left overrides, and words
  mixing Latin with look-alike Cyrillic or Greek letters, which no language writes.

This module reads the raw text (after NFKC, lower-cased) for markup, because normalising would not
change markup; the hidden content it finds is normalised before the pattern layer reads it.
"""

from __future__ import annotations

import re

from llmaas.adapters.guardrails.normalisation import NormalisedText, normalise
from llmaas.adapters.guardrails.rules import matching_threats
from llmaas.domain.guardrails import Origin, Threat

MIXED_SCRIPT_WORDS = 2
"""Look-alike letters in this many words is deliberate: one can be a typo or a brand name."""

_FENCED_CODE = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_ROLE_JSON = re.compile(
    r"""[{,]\s*["']role["']\s*:\s*["'](?:system|developer|assistant|tool)["']""", re.IGNORECASE
)
_MESSAGES_ASSIGNMENT = re.compile(r"""\bmessages\s*[=:(]|["']messages["']\s*:""", re.IGNORECASE)

_HTML_COMMENT = re.compile(r"<!--(.*?)(?:-->|$)", re.DOTALL)
_INVISIBLE_ELEMENT = re.compile(
    r"""<(\w+)[^>]*?(?:style\s*=\s*["'][^"']*?(?:display\s*:\s*none|visibility\s*:\s*hidden|"""
    r"""font-size\s*:\s*0(?:\.0*)?(?:px|pt|em|rem|%)?\s*[;"']|opacity\s*:\s*0(?:\.0*)?\s*[;"']|"""
    r"""color\s*:\s*(?:white|#fff\b|#ffffff|transparent)|(?:height|width)\s*:\s*0(?:px)?\s*[;"'])"""
    r"""[^"']*["']|\shidden(?:\s|>|=)|aria-hidden\s*=\s*["']true["'])[^>]*>(.*?)(?:</\1\s*>|$)""",
    re.IGNORECASE | re.DOTALL,
)
_AI_ADDRESS = re.compile(
    r"\b(?:ai|ia|assistant|llm|chatbot|model|modèle|agent|bot|gpt|language model)\b\s*[,:]"
    r"|\b(?:ignore|disregard|reply|respond|réponds|répondez|ignorez)\b",
    re.IGNORECASE,
)

_UNSAFE_LINK = re.compile(
    r"\]\(\s*<?\s*(?:javascript|vbscript)\s*:"
    r"|\]\(\s*<?\s*data\s*:(?!image/(?:png|jpe?g|gif|webp);)"
    r"|(?:href|src|action|formaction|xlink:href)\s*=\s*[\"']?\s*(?:javascript|vbscript)\s*:"
    r"|href\s*=\s*[\"']?\s*data\s*:"
    r"|^\s*\[[^\]]+\]:\s*(?:javascript|vbscript|data)\s*:",
    re.IGNORECASE | re.MULTILINE,
)


def structural_threats(raw: str, normalised: NormalisedText, origin: Origin) -> set[Threat]:
    """The structural threats in one text. ``raw`` is the text as sent; ``normalised`` its views."""
    found: set[Threat] = set()
    if _fake_role_message(raw, origin):
        found.add(Threat.FAKE_ROLE_MESSAGE)
    if "<" in raw and _hidden_html_instruction(raw, origin):
        found.add(Threat.HIDDEN_HTML)
    if _UNSAFE_LINK.search(raw):
        found.add(Threat.UNSAFE_LINK)
    if normalised.hidden and normalised.smuggled_chars:
        found.add(Threat.HIDDEN_TEXT)
    if normalised.bidi_overrides or normalised.mixed_script_words >= MIXED_SCRIPT_WORDS:
        found.add(Threat.OBFUSCATION)
    return found


def _fake_role_message(raw: str, origin: Origin) -> bool:
    if origin is Origin.TOOL:
        return _ROLE_JSON.search(raw) is not None
    outside_code = _FENCED_CODE.sub(" ", raw)
    match = _ROLE_JSON.search(outside_code)
    if match is None:
        return False
    # A developer asking about their own API call: the JSON belongs to a ``messages`` value.
    return _MESSAGES_ASSIGNMENT.search(outside_code, 0, match.start()) is None


def _hidden_html_instruction(raw: str, origin: Origin) -> bool:
    for hidden in _hidden_html_texts(raw):
        if _AI_ADDRESS.search(hidden):
            return True
        if matching_threats(normalise(hidden).views, origin):
            return True
    return False


def _hidden_html_texts(raw: str) -> list[str]:
    texts = [match.group(1) for match in _HTML_COMMENT.finditer(raw)]
    texts.extend(match.group(2) for match in _INVISIBLE_ELEMENT.finditer(raw))
    return [text for text in texts if text.strip()]
