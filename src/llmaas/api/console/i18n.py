"""The console in French and English: the language from the browser, switchable, and Babel's locale
data for numbers, euros and dates (``1 234,56 €`` and ``26 nov. 2026`` in French).

Templates write English text and wrap it in ``t(...)``; the English text is the key of the French
catalog (:mod:`llmaas.api.console.messages_fr`), and a test checks that every wrapped text of every
template has its French entry, so a page is never half translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from starlette.requests import Request

from llmaas.api.console.messages_fr import FRENCH

LANGUAGES = ("en", "fr")
LANGUAGE_COOKIE = "llmaas_lang"
_CATALOGS = {"en": None, "fr": FRENCH}
_LOCALES = {"en": "en_GB", "fr": "fr_FR"}


def language_of(request: Request) -> str:
    """The chosen language: the switch's cookie, else the browser's ``Accept-Language``, else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    preferred = _accepted(request.headers.get("accept-language", ""))
    negotiated = Locale.negotiate(preferred, list(LANGUAGES), sep="-") if preferred else None
    return negotiated.language if negotiated is not None else "en"


def _accepted(header: str) -> list[str]:
    """``fr-CH, fr;q=0.9, en;q=0.8`` -> ``["fr-CH", "fr", "en"]``, by decreasing quality."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


@dataclass(frozen=True, slots=True)
class Formatter:
    """What a template formats with: ``t`` for words, the rest for figures in the page's locale."""

    language: str

    @property
    def locale(self) -> str:
        return _LOCALES[self.language]

    def t(self, text: str, **values: object) -> str:
        catalog = _CATALOGS[self.language]
        translated = catalog.get(text, text) if catalog is not None else text
        return translated.format(**values) if values else translated

    def euros(self, micros: int | None) -> str:
        if micros is None:
            return "—"
        if 0 < abs(micros) < 10_000:
            # under a cent (a few requests to a small model): 4 decimals rather than "0.00"
            pattern = Locale.parse(self.locale).currency_formats["standard"].pattern
            return format_currency(
                micros / 1_000_000,
                "EUR",
                format=pattern.replace("0.00", "0.0000"),
                locale=self.locale,
                currency_digits=False,
            )
        return format_currency(micros / 1_000_000, "EUR", locale=self.locale)

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, share: float | None) -> str:
        if share is None:
            return "—"
        # the locale's own pattern (``12,5 %`` in French, ``12.5%`` in English), one decimal
        pattern = Locale.parse(self.locale).percent_formats[None].pattern
        return format_percent(
            share, format=pattern.replace("#,##0", "#,##0.0", 1), locale=self.locale
        )

    def date(self, value: date | None) -> str:
        return "—" if value is None else format_date(value, format="medium", locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return format_datetime(value, format="medium", locale=self.locale, tzinfo=value.tzinfo)


def formatter_for(language: str) -> Formatter:
    try:
        Locale.parse(_LOCALES[language])
    except (KeyError, UnknownLocaleError):
        return Formatter("en")
    return Formatter(language)
