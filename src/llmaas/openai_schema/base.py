"""Shared configuration of wire models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def _is_none(value: object) -> bool:
    return value is None


def omitted_if_none(**kwargs: Any) -> Any:
    """A field OpenAI omits when it has no value (as opposed to a required field sent as ``null``)."""
    return Field(default=None, exclude_if=_is_none, **kwargs)


class WireRequest(BaseModel):
    """A client request: unknown fields are kept (forwarded to remote engines, ignored locally)."""

    model_config = ConfigDict(extra="allow")


class WireObject(BaseModel):
    """A response object, also parsed from upstream engines, so unknown fields are kept and relayed."""

    model_config = ConfigDict(extra="allow")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


TextOrTokens = str | list[str] | list[int] | list[list[int]]


def as_batch(value: TextOrTokens) -> list[str | list[int]]:
    """OpenAI's four input shapes (a text, token ids, or a list of either) as a batch of items."""
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(item, int) for item in value):
        return [[int(item) for item in value if isinstance(item, int)]]
    return [item for item in value if isinstance(item, str | list)]
