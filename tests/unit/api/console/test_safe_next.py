"""After a login, ``next`` leads back into the console and nowhere else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaas.api.console.login import HOME, safe_next


@pytest.mark.parametrize(
    "path",
    [
        "/console",
        "/console/",
        "/console/keys",
        "/console/usage?period=month&model=qwen3-0.6b",
        "/console/audit?after=10",
        "/console/catalog/model-1.5_b~x",
        "/console?x=%2F",
    ],
)
def test_console_paths_are_kept(path: str) -> None:
    assert safe_next(path) == path


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "https://evil.example",
        "http://evil.example/console",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "/console/\\evil.example",
        "/console//evil",
        "/console//evil.example/x",
        "/console/../admin",
        "/console/..",
        "/console/keys/../../admin",
        "javascript:alert(1)",
        "/console@evil.example",
        "/console:evil.example",
        "/consolex",
        "/consoles/keys",
        "console/keys",
        "/admin",
        "/console/keys\r\nSet-Cookie: a=b",
        "/console/keys\n",
        "/console\r",
        "/console/keys#fragment",
        "/console/%2e%2e/admin",
        "/console?next=//evil.example",
        " /console/",
        "/console/ keys",
        "/console/é",
        "/console/" + "ab\x00<>" * 500,
    ],
)
def test_anything_else_goes_home(value: str | None) -> None:
    assert safe_next(value) == HOME


def test_home_is_the_console() -> None:
    assert HOME == "/console/"


@given(st.one_of(st.none(), st.text(), st.text().map(lambda s: "/console" + s)))
def test_whatever_comes_in_the_result_stays_in_the_console(value: str | None) -> None:
    result = safe_next(value)
    assert result.startswith("/console")
    assert result == "/console" or result[len("/console")] in "/?"
    assert "//" not in result
    assert "\\" not in result
    assert "/.." not in result
    assert not any(c in result for c in "\r\n\t @:#")
