from __future__ import annotations

import json

import pytest

from llmaas.adapters.backends.local.tool_calls import (
    could_become_call,
    forced_call_schema,
    parse_tool_calls,
)
from llmaas.openai_schema.chat import NamedToolChoice, Tool

TOOLS = [
    Tool.model_validate(
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ),
    Tool.model_validate({"type": "function", "function": {"name": "get_time"}}),
]


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
        '  {"name": "get_weather", "arguments": {"city": "Paris"}}',
        '{"name": "get_weather", "parameters": {"city": "Paris"}}',
        '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}',
    ],
)
def test_the_formats_small_models_use_are_read(text: str) -> None:
    calls = parse_tool_calls(text, TOOLS)
    assert calls is not None
    assert [c.name for c in calls] == ["get_weather"]
    assert json.loads(calls[0].arguments) == {"city": "Paris"}


def test_several_tagged_calls() -> None:
    text = (
        '<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>\n'
        '<tool_call>{"name": "get_time", "arguments": {"tz": "CET"}}</tool_call>'
    )
    calls = parse_tool_calls(text, TOOLS)
    assert calls is not None
    assert [c.name for c in calls] == ["get_weather", "get_time"]


@pytest.mark.parametrize(
    "text",
    [
        "The weather in Paris is sunny.",
        '{"name": "delete_everything", "arguments": {}}',
        '{"city": "Paris"}',
        '<tool_call>{"name": "get_weather", "arguments": 3}</tool_call>',
        "{not json",
    ],
)
def test_anything_else_is_content(text: str) -> None:
    assert parse_tool_calls(text, TOOLS) is None


def test_streaming_holds_back_only_what_may_be_a_call() -> None:
    assert could_become_call("")
    assert could_become_call("  <tool")
    assert could_become_call('{"name"')
    assert could_become_call("```")
    assert not could_become_call("Hello")


def test_forced_schema_names_the_allowed_functions() -> None:
    both = forced_call_schema(TOOLS, "required")
    assert [v["properties"]["name"]["const"] for v in both["anyOf"]] == ["get_weather", "get_time"]
    named = forced_call_schema(
        TOOLS,
        NamedToolChoice.model_validate({"type": "function", "function": {"name": "get_time"}}),
    )
    assert named["properties"]["name"] == {"const": "get_time"}
    assert named["properties"]["arguments"] == {"type": "object"}
