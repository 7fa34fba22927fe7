"""``POST /v1/chat/completions``: request, response and stream chunk."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag

from llmaas.openai_schema.backend import BackendInfo
from llmaas.openai_schema.base import WireObject, WireRequest, omitted_if_none
from llmaas.openai_schema.generation import GenerationRequest
from llmaas.openai_schema.usage import CompletionUsage

MAX_MESSAGES = 2048
"""Messages in one conversation: far above what any context holds, low enough that a request cannot
make the gateway validate and template millions of tiny objects before the context check refuses it."""


# --- request: content parts -------------------------------------------------------------------


class TextPart(WireRequest):
    type: Literal["text"]
    text: str


class ImageUrl(WireRequest):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageUrlPart(WireRequest):
    type: Literal["image_url"]
    image_url: ImageUrl


class InputAudio(WireRequest):
    data: str
    format: str


class InputAudioPart(WireRequest):
    type: Literal["input_audio"]
    input_audio: InputAudio


class FilePart(WireRequest):
    type: Literal["file"]
    file: dict[str, Any]


class RefusalPart(WireRequest):
    type: Literal["refusal"]
    refusal: str


def normalised_part(value: Any) -> Any:
    """Image parts in the shapes other clients send, as OpenAI's ``image_url`` part.

    vLLM and some SDKs send ``image_url`` as a bare string; LangChain's standard content blocks and
    several agent frameworks send ``{"type": "image", "url": ...}``, ``{"type": "image",
    "image_url": ...}`` or ``{"type": "image", "base64" | "data": ..., "mime_type": ...}``. Engines
    only all understand OpenAI's shape, so it is the one forwarded."""
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    if kind == "image_url" and isinstance(value.get("image_url"), str):
        return {**value, "image_url": {"url": value["image_url"]}}
    if kind != "image":
        return value
    image_url = _shorthand_image_url(value)
    return (
        {"type": "image_url"}
        if image_url is None
        else {"type": "image_url", "image_url": image_url}
    )


def _shorthand_image_url(value: dict[str, Any]) -> dict[str, Any] | None:
    reference = value.get("image_url", value.get("url"))
    if isinstance(reference, dict):
        return reference
    detail = {"detail": value["detail"]} if "detail" in value else {}
    if isinstance(reference, str):
        return {"url": reference, **detail}
    data = value.get("base64", value.get("data"))
    if isinstance(data, str):
        media_type = value.get("mime_type") or value.get("media_type") or "image/*"
        return {"url": f"data:{media_type};base64,{data}", **detail}
    return None


ContentPart = Annotated[
    Annotated[
        TextPart | ImageUrlPart | InputAudioPart | FilePart | RefusalPart,
        Field(discriminator="type"),
    ],
    BeforeValidator(normalised_part),
]
Content = str | list[ContentPart]


# --- request: messages ------------------------------------------------------------------------


class FunctionCall(WireRequest):
    name: str
    arguments: str


class ToolCall(WireRequest):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(WireRequest):
    role: Literal["system", "developer"]
    content: Content
    name: str | None = None


class UserMessage(WireRequest):
    role: Literal["user"]
    content: Content
    name: str | None = None


class AssistantMessage(WireRequest):
    role: Literal["assistant"]
    content: Content | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    name: str | None = None


class ToolMessage(WireRequest):
    role: Literal["tool"]
    content: Content
    tool_call_id: str


def _role_of(value: Any) -> str | None:
    role = value.get("role") if isinstance(value, dict) else getattr(value, "role", None)
    if role == "developer":
        return "role=system"
    return f"role={role}" if isinstance(role, str) else None


# Tags read "role=user" so validation errors can be mapped back to OpenAI-style parameter paths.
Message = Annotated[
    Annotated[SystemMessage, Tag("role=system")]
    | Annotated[UserMessage, Tag("role=user")]
    | Annotated[AssistantMessage, Tag("role=assistant")]
    | Annotated[ToolMessage, Tag("role=tool")],
    Discriminator(_role_of),
]


# --- request: tools and output format ---------------------------------------------------------


class FunctionDefinition(WireRequest):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(WireRequest):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(WireRequest):
    name: str


class NamedToolChoice(WireRequest):
    type: Literal["function"]
    function: NamedFunction


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


class ResponseFormatText(WireRequest):
    type: Literal["text"]


class ResponseFormatJsonObject(WireRequest):
    type: Literal["json_object"]


class JsonSchemaFormat(WireRequest):
    name: str
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormatJsonSchema(WireRequest):
    type: Literal["json_schema"]
    json_schema: JsonSchemaFormat


ResponseFormat = Annotated[
    ResponseFormatText | ResponseFormatJsonObject | ResponseFormatJsonSchema,
    Field(discriminator="type"),
]


class ChatCompletionRequest(GenerationRequest):
    messages: Annotated[list[Message], Field(min_length=1, max_length=MAX_MESSAGES)]
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None

    @property
    def output_limit(self) -> int | None:
        """``max_completion_tokens`` supersedes the deprecated ``max_tokens``."""
        return (
            self.max_completion_tokens
            if self.max_completion_tokens is not None
            else self.max_tokens
        )


# --- response ---------------------------------------------------------------------------------


class TopLogprob(WireObject):
    token: str
    logprob: float
    bytes: list[int] | None


class TokenLogprob(WireObject):
    token: str
    logprob: float
    bytes: list[int] | None
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(WireObject):
    content: list[TokenLogprob] | None
    refusal: list[TokenLogprob] | None = None


class ResponseFunctionCall(WireObject):
    name: str
    arguments: str


class ResponseToolCall(WireObject):
    id: str
    type: Literal["function"] = "function"
    function: ResponseFunctionCall


class ChatCompletionMessage(WireObject):
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: str | None = None
    tool_calls: list[ResponseToolCall] | None = omitted_if_none()


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class Choice(WireObject):
    index: int
    message: ChatCompletionMessage
    finish_reason: FinishReason | None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(WireObject):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage | None = omitted_if_none()
    system_fingerprint: str | None = omitted_if_none()
    backend: BackendInfo | None = omitted_if_none()
    """Which engine and machine served it (an llmaas extension)."""


# --- stream chunk -----------------------------------------------------------------------------


class FunctionCallDelta(WireObject):
    name: str | None = omitted_if_none()
    arguments: str | None = omitted_if_none()


class ToolCallDelta(WireObject):
    index: int
    id: str | None = omitted_if_none()
    type: Literal["function"] | None = omitted_if_none()
    function: FunctionCallDelta | None = omitted_if_none()


class ChoiceDelta(WireObject):
    role: Literal["assistant"] | None = omitted_if_none()
    content: str | None = omitted_if_none()
    refusal: str | None = omitted_if_none()
    tool_calls: list[ToolCallDelta] | None = omitted_if_none()


class ChunkChoice(WireObject):
    index: int
    delta: ChoiceDelta
    finish_reason: FinishReason | None = None
    logprobs: ChoiceLogprobs | None = omitted_if_none()


class ChatCompletionChunk(WireObject):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = omitted_if_none()
    system_fingerprint: str | None = omitted_if_none()
    backend: BackendInfo | None = omitted_if_none()
    """Which engine and machine served it (an llmaas extension)."""
