"""The console speaks French wherever it speaks English, and formats figures the French way."""

from __future__ import annotations

import ast
import inspect
import re
import string
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

import llmaas.api.console
from llmaas.api.console.i18n import LANGUAGE_COOKIE, Formatter, formatter_for, language_of
from llmaas.api.console.messages_fr import FRENCH
from llmaas.domain.lifecycle import Phase
from llmaas.domain.models import Capability
from llmaas.domain.staff import Role
from llmaas.services import console_sessions
from llmaas.services.console_sessions import NO_ROLE

TEMPLATES = Path(llmaas.api.console.__file__).parent / "templates"
_WRAPPED = re.compile(r"""\bt\(\s*(?P<quote>['"])(?P<text>.*?)(?<!\\)(?P=quote)""", re.DOTALL)
NO_SPACE = re.compile(r"[\s\u00a0\u202f]")


def wrapped_texts() -> set[str]:
    """Every literal a template passes to ``t(...)``."""
    return {
        match["text"]
        for template in sorted(TEMPLATES.glob("*.html"))
        for match in _WRAPPED.finditer(template.read_text(encoding="utf-8"))
    }


def shown_names() -> set[str]:
    """Words the pages pass to ``t`` from data: roles, capabilities and lifecycle phases."""
    return {*(r.value for r in Role), *(c.value for c in Capability), *(p.value for p in Phase)}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_template_scan_finds_the_templates_texts() -> None:
    texts = wrapped_texts()
    assert len(texts) > 50
    assert {"Log in", "API keys", "{days} days until end of support"} <= texts


def test_every_t_call_is_a_literal_or_a_known_name() -> None:
    """A new ``t(variable)`` would escape the catalog check above: each one must be listed here."""
    dynamic = {"session.role.value", "c", "m.lifecycle.phase", "error"}
    for template in TEMPLATES.glob("*.html"):
        for argument in re.findall(r"\bt\(\s*([^'\"\s,)][^,)]*)", template.read_text("utf-8")):
            assert argument.strip() in dynamic, f"{template.name}: t({argument})"


@pytest.mark.parametrize("text", sorted(wrapped_texts() | shown_names()))
def test_every_shown_text_has_its_french(text: str) -> None:
    assert FRENCH.get(text), f"no French for {text!r}"


def test_french_keeps_the_placeholders_of_the_english() -> None:
    for english, french in FRENCH.items():
        assert placeholders(french) == placeholders(english), english


def test_no_french_entry_is_empty() -> None:
    assert all(french.strip() for french in FRENCH.values())


def _literal_refusals() -> list[str]:
    """The fixed messages ``ConsoleSessions`` raises, which the login page shows through ``t``."""
    tree = ast.parse(inspect.getsource(console_sessions))
    return sorted(
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "LoginRefused"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


@pytest.mark.parametrize("message", _literal_refusals())
def test_login_refusals_have_their_french(message: str) -> None:
    assert FRENCH.get(message)


def test_the_no_role_refusal_is_shown_in_french() -> None:
    assert Formatter("fr").t(NO_ROLE) != NO_ROLE


# --- choosing the language -----------------------------------------------------------------------


def request_with(accept_language: str | None = None, cookie: str | None = None) -> Request:
    headers: list[tuple[bytes, bytes]] = []
    if accept_language is not None:
        headers.append((b"accept-language", accept_language.encode("latin-1")))
    if cookie is not None:
        headers.append((b"cookie", f"{LANGUAGE_COOKIE}={cookie}".encode("latin-1")))
    return Request({"type": "http", "method": "GET", "path": "/console/", "headers": headers})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CH,fr;q=0.9,en;q=0.8", "fr"),
        ("fr-FR", "fr"),
        ("FR", "fr"),
        ("en-GB,en;q=0.9,fr;q=0.8", "en"),
        ("de,en;q=0.5", "en"),
        ("de-DE,de;q=0.9,fr;q=0.7,en;q=0.5", "fr"),
        ("de", "en"),
        ("en;q=0.2, fr;q=0.9", "fr"),
        ("fr;q=0,en", "en"),
        ("fr;q=0", "en"),
        ("fr;q=0.0, de", "en"),
        ("*", "en"),
        ("", "en"),
        (";;;,,,", "en"),
        ("fr;q=abc", "en"),
        ("\x7f\xff==;q=", "en"),
        ("x" * 5_000, "en"),
    ],
)
def test_accept_language_is_negotiated(header: str, expected: str) -> None:
    assert language_of(request_with(header)) == expected


def test_without_any_header_the_console_speaks_english() -> None:
    assert language_of(request_with()) == "en"


def test_the_switchs_cookie_wins_over_the_browser() -> None:
    assert language_of(request_with("en-GB,en", cookie="fr")) == "fr"
    assert language_of(request_with("fr-FR,fr", cookie="en")) == "en"


def test_an_unknown_cookie_is_ignored() -> None:
    assert language_of(request_with("fr-FR", cookie="de")) == "fr"
    assert language_of(request_with("en", cookie="FR ")) == "en"


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200))
def test_any_header_gives_a_console_language(header: str) -> None:
    assert language_of(request_with(header)) in ("en", "fr")


# --- formatting ----------------------------------------------------------------------------------

FR = Formatter("fr")
EN = Formatter("en")


def test_t_translates_in_french_and_passes_english_through() -> None:
    assert FR.t("Log out") == "Se déconnecter"
    assert EN.t("Log out") == "Log out"
    assert FR.t("{days} days", days=3) == "3 jours"
    assert EN.t("{days} days", days=3) == "3 days"
    assert FR.t("Some text nobody translated") == "Some text nobody translated"
    assert FR.t("braces {stay} without values") == "braces {stay} without values"


def test_euros_in_french_put_the_symbol_after_with_a_comma() -> None:
    text = FR.euros(1_234_560_000)
    assert NO_SPACE.sub("", text) == "1234,56€"
    assert re.fullmatch(r"1[\u00a0\u202f ]234,56[\u00a0\u202f ]€", text)


def test_euros_in_english_put_the_symbol_before_with_a_point() -> None:
    assert EN.euros(1_234_560_000) == "€1,234.56"
    assert EN.euros(0) == "€0.00"
    # under a cent, 4 decimals: a few requests to a small model do not read as free
    assert EN.euros(500) == "€0.0005"
    assert NO_SPACE.sub("", FR.euros(130)) == "0,0001€"
    assert EN.euros(10_000) == "€0.01"
    assert NO_SPACE.sub("", FR.euros(-5_000_000)) == "-5,00€"


def test_numbers_group_thousands_by_locale() -> None:
    assert EN.number(1_234_567) == "1,234,567"
    assert NO_SPACE.sub("", FR.number(1_234_567)) == "1234567"
    assert FR.number(1_234_567) != "1234567"  # grouped, whatever the space
    assert EN.number(1234.5678, 2) == "1,234.57"
    assert NO_SPACE.sub("", FR.number(1234.5678, 2)) == "1234,57"
    assert EN.number(0) == "0"


def test_percent_keeps_one_decimal() -> None:
    assert EN.percent(0.125) == "12.5%"
    assert NO_SPACE.sub("", FR.percent(0.125)) == "12,5%"
    assert EN.percent(0) == "0.0%"
    assert EN.percent(1) == "100.0%"


def test_dates_in_both_locales() -> None:
    day = date(2026, 11, 26)
    assert EN.date(day) == "26 Nov 2026"
    assert FR.date(day) == "26 nov. 2026"
    moment = datetime(2026, 11, 26, 9, 5, tzinfo=UTC)
    assert EN.datetime(moment).startswith("26 Nov 2026")
    assert "09:05" in EN.datetime(moment)
    assert FR.datetime(moment).startswith("26 nov. 2026")
    assert "09:05" in FR.datetime(moment)


def test_missing_values_show_a_dash() -> None:
    for fmt in (FR, EN):
        assert fmt.euros(None) == "—"
        assert fmt.number(None) == "—"
        assert fmt.percent(None) == "—"
        assert fmt.date(None) == "—"
        assert fmt.datetime(None) == "—"


def test_formatter_for_falls_back_to_english() -> None:
    assert formatter_for("fr") == Formatter("fr")
    assert formatter_for("en") == Formatter("en")
    assert formatter_for("de") == Formatter("en")
    assert FR.locale == "fr_FR"
