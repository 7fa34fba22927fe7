"""Secret values that cannot leak through ``repr``, ``str`` or logging by accident."""

from __future__ import annotations

from typing import Final

_MASK: Final = "**********"


class Secret:
    """Wraps a sensitive string (an API key, an upstream credential).

    The content is reachable only through :meth:`reveal`, so an f-string, a log call or a traceback
    renders the mask instead of the value.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK})"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)
