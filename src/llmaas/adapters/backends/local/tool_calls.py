"""Reading tool calls out of generated text, and the JSON schema that forces one.

Small models announce a call in several ways: Hermes/Qwen ``<tool_call>`` tags, a fenced JSON block, or a
bare JSON object. Only an object naming one of the offered functions counts as a call; anything else is
ordinary content.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmaas.openai_schema.chat import NamedToolChoice, Tool

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
CALL_OPENINGS = ("<tool_call>", "```", "{", "[")


@dataclass(frozen=True, slots=True)
class ParsedCall:
    name: str
    arguments: str


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def parse_tool_calls(text: str, tools: Sequence[Tool]) -> list[ParsedCall] | None:
    """The calls in ``text``, or ``None`` when it is not (only) a tool call."""
    names = {tool.function.name for tool in tools}
    stripped = text.strip()
    if "<tool_call>" in stripped:
        blobs = _TAGGED.findall(stripped)
    else:
        fenced = _FENCED.match(stripped)
        blobs = [fenced.group(1) if fenced else stripped]
    calls: list[ParsedCall] = []
    for blob in blobs:
        parsed = _loads(blob)
        for item in parsed if isinstance(parsed, list) else [parsed]:
            call = _as_call(item, names)
            if call is None:
                return None
            calls.append(call)
    return calls or None


def could_become_call(text: str) -> bool:
    """While streaming: does the output so far still look like the start of a tool call?"""
    stripped = text.lstrip()
    if not stripped:
        return True
    return any(o.startswith(stripped) or stripped.startswith(o) for o in CALL_OPENINGS)


def forced_call_schema(tools: Sequence[Tool], choice: object) -> dict[str, Any]:
    """JSON schema of ``{"name", "arguments"}`` for the allowed function(s), for grammar decoding."""
    allowed = [
        t
        for t in tools
        if not isinstance(choice, NamedToolChoice) or t.function.name == choice.function.name
    ]
    variants = [
        {
            "type": "object",
            "properties": {
                "name": {"const": t.function.name},
                "arguments": t.function.parameters or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for t in allowed
    ]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def _loads(blob: str) -> Any:
    try:
        return json.loads(blob)
    except ValueError:
        return None


def _as_call(item: Any, names: set[str]) -> ParsedCall | None:
    if not isinstance(item, dict):
        return None
    name = item.get("name")
    arguments = item.get("arguments", item.get("parameters", {}))
    if not isinstance(name, str) or name not in names:
        return None
    if isinstance(arguments, str):
        arguments = _loads(arguments)
    if not isinstance(arguments, dict):
        return None
    return ParsedCall(name=name, arguments=json.dumps(arguments, ensure_ascii=False))
