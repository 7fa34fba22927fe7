"""Turning OpenAI chat messages into the prompt a GGUF model was trained on.

The template is the model's own (``tokenizer.chat_template`` in the GGUF metadata), rendered the way
Hugging Face renders it. Templates that know nothing of tools (SmolLM2's, for one) get the tool
definitions and the calling convention in a system message instead, so every chat model can call tools.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import jinja2
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from llmaas.domain.errors import InvalidRequest
from llmaas.openai_schema.chat import (
    AssistantMessage,
    ChatCompletionRequest,
    ImageUrlPart,
    Message,
    RefusalPart,
    TextPart,
    Tool,
    ToolMessage,
)

TOOL_PROMPT = """You can call functions. Their signatures are within <tools></tools> XML tags:
<tools>
{tools}
</tools>
To call a function, answer only with a JSON object within <tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    stop: tuple[str, ...]
    adds_bos: bool


class ChatTemplate:
    def __init__(self, template: str, *, eos_token: str, bos_token: str) -> None:
        self._formatter = Jinja2ChatFormatter(template, eos_token=eos_token, bos_token=bos_token)
        self._native_tools = "tools" in template
        self._eos = eos_token

    def render(
        self, request: ChatCompletionRequest, *, with_tools: bool, image_marker: str | None = None
    ) -> RenderedPrompt:
        """``image_marker`` stands in for each image, for an engine that reads images (otherwise an
        image is refused)."""
        messages = [to_template_message(m, image_marker) for m in request.messages]
        tools = (
            [t.model_dump(exclude_none=True) for t in request.tools or []] if with_tools else None
        )
        if tools and not self._native_tools:
            messages = _with_tool_prompt(messages, request.tools or [])
            tools = None
        try:
            result = self._formatter(messages=cast(Any, messages), tools=cast(Any, tools))
        except (jinja2.TemplateError, ValueError):
            # The template refused the conversation (its raise_exception): a client error. Its
            # text is not relayed, in case a template quotes a message.
            raise InvalidRequest(
                "The conversation does not fit this model's chat template "
                "(for example, roles that must alternate or a misplaced system message).",
                param="messages",
                code="invalid_conversation",
            ) from None
        stops = (
            result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        )
        return RenderedPrompt(
            text=result.prompt,
            stop=tuple(s for s in stops if s),
            adds_bos=bool(result.added_special),
        )


def to_template_message(message: Message, image_marker: str | None = None) -> dict[str, Any]:
    """The dict shape Hugging Face templates expect: text content, tool calls with dict arguments."""
    rendered: dict[str, Any] = {
        "role": message.role,
        "content": _text_of(message.content, image_marker),
    }
    if isinstance(message, AssistantMessage) and message.tool_calls:
        rendered["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.function.name,
                    "arguments": _arguments(call.function.arguments),
                },
            }
            for call in message.tool_calls
        ]
    if isinstance(message, ToolMessage):
        rendered["tool_call_id"] = message.tool_call_id
    if rendered["role"] == "developer":
        rendered["role"] = "system"
    return rendered


def _text_of(content: object, image_marker: str | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        texts = []
        for part in content:
            if isinstance(part, TextPart):
                texts.append(part.text)
            elif isinstance(part, RefusalPart):
                texts.append(part.refusal)
            elif isinstance(part, ImageUrlPart) and image_marker is not None:
                texts.append(image_marker)
            elif isinstance(part, ImageUrlPart):
                # Routing refuses images to models without vision; a private model that claims
                # vision on this engine without a projector must not have its images dropped.
                raise InvalidRequest(
                    "This deployment's engine (embedded llama.cpp without an 'mmproj' projector) "
                    "cannot read images.",
                    param="messages",
                    code="unsupported_capability",
                )
        return "\n".join(texts)
    return ""


def _arguments(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _with_tool_prompt(
    messages: list[dict[str, Any]], tools: Sequence[Tool]
) -> list[dict[str, Any]]:
    described = "\n".join(json.dumps(t.model_dump(exclude_none=True)) for t in tools)
    prompt = TOOL_PROMPT.format(tools=described)
    if messages and messages[0]["role"] == "system":
        first = dict(messages[0])
        first["content"] = f"{first['content']}\n\n{prompt}"
        return [first, *messages[1:]]
    return [{"role": "system", "content": prompt}, *messages]
