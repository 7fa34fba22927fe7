"""The guardrail's first layer: undo the disguises an injection wears before anything reads it.

Attackers hide instructions from naive matching with compatibility characters (fullwidth letters,
ligatures), invisible characters between letters, bidi controls that make reversed text display
forwards, Unicode "tag" characters that smuggle ASCII no renderer shows, look-alike letters from
other scripts, digit-for-letter substitutions and base64. Every later layer reads the
:class:`NormalisedText` made here, so each trick is undone once, in one place.

The original text is never kept: what the layers see is derived and dropped with the request.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass, field

ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f")
"""Invisible characters that split a word for a matcher but not for a reader (or a model)."""

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_RIGHT_TO_LEFT_OVERRIDE = "\u202e"
_POP_DIRECTIONAL = frozenset("\u202c\u2069")

_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F
"""Unicode tag characters: each mirrors an ASCII character and renders as nothing."""
_BLACK_FLAG = "\U0001f3f4"
"""Subdivision flags (England, Scotland, Wales) are the one legitimate use of tag characters."""

HIDDEN_TEXT_MIN_CHARS = 8
"""Fewer smuggled characters than this cannot carry an instruction."""

# Letters of other scripts drawn exactly like Latin ones (Unicode's confusables, the common subset).
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ӏ": "l", "һ": "h",
        "ԛ": "q", "ԝ": "w", "ё": "e", "ї": "i",
        # Greek
        "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
        "υ": "u", "χ": "x", "γ": "y", "ω": "w",
        # Latin look-alikes outside ASCII
        "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ǀ": "l",
        # Typographic apostrophes, so "qu’on" and "qu'on" read alike
        "’": "'", "‘": "'", "ʼ": "'", "′": "'",
    }
)  # fmt: skip
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_FOREIGN_LOOKALIKES = frozenset("авекмнорстухѕіјԁӏһԛԝёїІАВЕКМНОРСТХ")
"""Cyrillic only: Greek letters inside Latin words are everyday notation (Tμν, λ-calculus)."""

_DROP_INVISIBLE = dict.fromkeys(map(ord, ZERO_WIDTH))
_DROP_INVISIBLE_AND_BIDI = dict.fromkeys(map(ord, ZERO_WIDTH | BIDI_CONTROLS))
_TAG_CHARACTER = re.compile("[\U000e0000-\U000e007f]")
_CYRILLIC_LOOKALIKE = re.compile(f"[{''.join(sorted(_FOREIGN_LOOKALIKES))}]")
_WORD = re.compile(r"[^\W_]+(?:[@$][^\W_]*)*", re.UNICODE)
_LEET_WORD = re.compile(r"\b(?=[a-z0-9@$]*[a-z])(?=[a-z0-9@$]*[0-9@$])[a-z0-9@$]{3,}\b")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_SPACES = re.compile(r"[ \t\f\v]+")
_SPACED_LETTERS = re.compile(r"(?<![^\W\d_])(?:[^\W\d_] ){3,}[^\W\d_](?![^\W\d_])")
"""``i g n o r e``: letters spaced out one by one to dodge word matching."""
_ROT13 = str.maketrans("abcdefghijklmnopqrstuvwxyz", "nopqrstuvwxyzabcdefghijklm")
_TELLTALE_WORDS = (
    "ignore",
    "instruction",
    "system",
    "prompt",
    "password",
    "admin",
    "previous",
    "consigne",
)
"""Words whose appearance in a text read backwards or in ROT13 betrays an encoded instruction."""
_REVERSED_TELLTALES = tuple(word[::-1] for word in _TELLTALE_WORDS)
_ROT13_TELLTALES = tuple(word.translate(_ROT13) for word in _TELLTALE_WORDS)
_DIGIT_AGAINST_LETTER = re.compile(r"[a-z][013457@$]|[013457@$][a-z]")
_INVISIBLE_OR_BIDI = re.compile(f"[{''.join(sorted(ZERO_WIDTH | BIDI_CONTROLS))}]")
_NOT_LATIN_ASCII = re.compile(r"[\u0100-\u02ff\u0370-\u04ff\u0500-\u052f\u2018-\u2032]")
"""Greek, Cyrillic, Latin extended and typographic quotes: the only places look-alikes come from."""
_THREE_SPACED_LETTERS = re.compile(r"[^\W\d_] [^\W\d_] [^\W\d_] [^\W\d_]")

MAX_DECODED_PAYLOADS = 16
"""Base64 runs decoded per text: enough for any real message, bounded against a flood of them."""


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """The views of one text that the detectors read, and what normalising it revealed.

    ``text`` is NFKC-folded, lower-cased, without invisible or bidi characters, with reversed
    (right-to-left override) spans turned back, look-alike letters and digit substitutions mapped
    to Latin, and spaces collapsed. ``hidden`` holds any text smuggled in tag characters or base64,
    folded the same way, scanned as text of its own.
    """

    text: str
    hidden: tuple[str, ...] = ()
    invisible_chars: int = 0
    bidi_overrides: int = 0
    mixed_script_words: int = 0
    smuggled_chars: int = 0
    decoded_base64: int = 0
    decoded: tuple[str, ...] = field(default=(), repr=False)
    """The folded text read backwards, in ROT13 or with digits as letters (``1gn0re``), each kept
    only when that reading shows telltale words the plain one lacks."""

    @property
    def views(self) -> tuple[str, ...]:
        """Every view the pattern layers match against."""
        return (self.text, *self.hidden, *self.decoded)


def normalise(text: str) -> NormalisedText:
    """Fold ``text`` into the views every detector reads (see :class:`NormalisedText`)."""
    smuggled, text = _extract_tag_text(text)
    invisible = overrides = 0
    if _INVISIBLE_OR_BIDI.search(text):  # rare: skip the per-character work for everyone else
        invisible = len(text) - len(text.translate(_DROP_INVISIBLE))
        overrides = text.count(_RIGHT_TO_LEFT_OVERRIDE)
        text = _undo_overrides(text) if overrides else text
        text = text.translate(_DROP_INVISIBLE_AND_BIDI)
    text = unicodedata.normalize("NFKC", text)
    mixed = _mixed_script_words(text) if _CYRILLIC_LOOKALIKE.search(text) else 0
    folded = fold(text)
    hidden = [fold(smuggled)] if len(smuggled) >= HIDDEN_TEXT_MIN_CHARS else []
    decoded = _decoded_base64(text)
    hidden.extend(fold(payload) for payload in decoded)
    return NormalisedText(
        text=folded,
        hidden=tuple(hidden),
        invisible_chars=invisible,
        bidi_overrides=overrides,
        mixed_script_words=mixed,
        smuggled_chars=len(smuggled),
        decoded_base64=len(decoded),
        decoded=_telltale_readings(folded),
    )


def fold(text: str) -> str:
    """Case and look-alike letters folded, spaced-out letters joined; accents kept (French needs them)."""
    text = unicodedata.normalize("NFKC", text).lower()
    if _NOT_LATIN_ASCII.search(text):
        text = text.translate(_CONFUSABLES)
    if _THREE_SPACED_LETTERS.search(text):
        text = _SPACED_LETTERS.sub(lambda match: match.group(0).replace(" ", ""), text)
    return _SPACES.sub(" ", text).strip()


def _telltale_readings(folded: str) -> tuple[str, ...]:
    """Each reading is made only when the text holds a telltale word written that way (``erongi``,
    ``vtaber``, a digit against a letter), which keeps ordinary text from paying for three copies."""
    readings: list[str] = []
    if any(word in folded for word in _REVERSED_TELLTALES):
        readings.append(folded[::-1])
    if any(word in folded for word in _ROT13_TELLTALES):
        readings.append(folded.translate(_ROT13))
    if _DIGIT_AGAINST_LETTER.search(folded):
        readings.append(_LEET_WORD.sub(lambda match: match.group(0).translate(_LEET), folded))
    return tuple(
        reading
        for reading in readings
        if any(word in reading and word not in folded for word in _TELLTALE_WORDS)
    )


def _extract_tag_text(text: str) -> tuple[str, str]:
    """Split out what tag characters spell (outside subdivision flags) from the visible text."""
    if _TAG_CHARACTER.search(text) is None:
        return "", text
    visible: list[str] = []
    smuggled: list[str] = []
    in_flag = False
    for char in text:
        code = ord(char)
        if _TAG_FIRST <= code <= _TAG_LAST:
            if in_flag:
                in_flag = code != 0xE007F  # CANCEL TAG ends the flag
                visible.append(char)
            elif 0xE0020 <= code <= 0xE007E:
                smuggled.append(chr(code - _TAG_FIRST))
            continue
        in_flag = char == _BLACK_FLAG
        visible.append(char)
    return "".join(smuggled), "".join(visible)


def _undo_overrides(text: str) -> str:
    """A right-to-left override displays the characters after it in reverse: read them as shown."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != _RIGHT_TO_LEFT_OVERRIDE:
            out.append(char)
            index += 1
            continue
        end = index + 1
        while end < len(text) and text[end] not in _POP_DIRECTIONAL and text[end] != "\n":
            end += 1
        out.append(text[index + 1 : end][::-1])
        index = end
    return "".join(out)


def _mixed_script_words(text: str) -> int:
    """Words that mix ASCII letters with look-alike Cyrillic ones: no language does that."""
    count = 0
    for match in _WORD.finditer(text):
        word = match.group(0)
        if any(char in _FOREIGN_LOOKALIKES for char in word) and any(
            "a" <= char.lower() <= "z" for char in word
        ):
            count += 1
    return count


def _decoded_base64(text: str) -> list[str]:
    """The runs of base64 that decode to readable UTF-8 text (binary payloads are not read)."""
    payloads: list[str] = []
    for match in _BASE64_RUN.finditer(text):
        run = match.group(0)
        try:
            raw = base64.b64decode(run + "=" * (-len(run) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable() or all(c.isprintable() or c in "\n\r\t" for c in decoded):
            payloads.append(decoded)
            if len(payloads) >= MAX_DECODED_PAYLOADS:
                break
    return payloads
