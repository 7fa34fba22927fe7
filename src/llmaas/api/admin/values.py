"""Wire values shared by the admin and self-service models: money, limits, and the two base classes.

Money crosses the wire as decimal strings (``"1000.00"``), never as JSON numbers: a float cannot hold
every cent, and a client that sends one has most likely already lost precision. Requests may also send
whole euros as integers. Everything is converted once, exactly, to integer micros on the way in.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from llmaas.domain.limits import Limits
from llmaas.domain.money import InvalidAmount, eur_to_micros, format_eur

MAX_INT64 = 2**63 - 1
"""Counts and micros are stored as 64-bit integers: a larger value would fail in the database."""

_AMOUNT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,6})?$"},
        {"type": "integer", "minimum": 0},
    ],
    "description": 'EUR as a decimal string ("1000.00", at most six decimals) or whole euros as '
    "an integer; never a floating-point number.",
    "examples": ["1000.00"],
}


def _to_micros(value: object) -> int:
    # bool is an int to Python but never an amount; a float has lost precision before it got here.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PydanticCustomError(
            "invalid_amount",
            'an amount in EUR is a decimal string such as "10.50" or an integer, '
            "never a floating-point number",
        )
    try:
        micros = eur_to_micros(value)
    except InvalidAmount:
        raise PydanticCustomError(
            "invalid_amount", "must be a non-negative amount in EUR with at most six decimals"
        ) from None
    if micros > MAX_INT64:
        raise PydanticCustomError("invalid_amount", "the amount is too large")
    return micros


def _positive(micros: int) -> int:
    if micros <= 0:
        raise PydanticCustomError("invalid_amount", "must be a positive amount in EUR")
    return micros


EurMicros = Annotated[int, PlainValidator(_to_micros), WithJsonSchema(_AMOUNT_SCHEMA)]
"""An amount in EUR on the wire, held as integer micros once validated."""

PositiveEurMicros = Annotated[EurMicros, AfterValidator(_positive)]

Count = Annotated[int, Field(ge=0, le=MAX_INT64, strict=True)]

ModelIds = list[Annotated[str, Field(min_length=1, max_length=200)]]


class RequestModel(BaseModel):
    """A request body: an unknown field is an error (most likely a typo that would be ignored)."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    """A response body."""

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


def eur(micros: int | None) -> str | None:
    return None if micros is None else format_eur(micros)


def model_list(models: frozenset[str] | None) -> list[str] | None:
    """Sorted, so responses are stable from one call to the next."""
    return None if models is None else sorted(models)


def model_set(models: list[str] | None) -> frozenset[str] | None:
    return None if models is None else frozenset(models)


class LimitsIn(RequestModel):
    """Every field optional; ``null`` means no limit at this level."""

    requests_per_minute: Count | None = None
    tokens_per_minute: Count | None = None
    output_tokens_per_hour: Count | None = None
    output_tokens_per_day: Count | None = None
    max_concurrent_requests: Count | None = None
    monthly_budget_eur: EurMicros | None = None

    def applied_to(self, current: Limits) -> Limits:
        """A merge patch: the fields sent replace the current ones, the others stay."""
        values = current.as_dict()
        for name in self.model_fields_set:
            domain_name = "monthly_budget_micros" if name == "monthly_budget_eur" else name
            values[domain_name] = getattr(self, name)
        return Limits(**values)

    def to_limits(self) -> Limits:
        return self.applied_to(Limits())


def patched_limits(current: Limits, patch: LimitsIn | None) -> Limits:
    """``"limits": null`` removes every limit; an object changes only the limits it names."""
    return Limits() if patch is None else patch.applied_to(current)


LIMITS_EXAMPLE: dict[str, Any] = {
    "requests_per_minute": 600,
    "tokens_per_minute": None,
    "output_tokens_per_hour": 150000,
    "output_tokens_per_day": 3600000,
    "max_concurrent_requests": 20,
    "monthly_budget_eur": "1000.00",
}


class LimitsOut(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [LIMITS_EXAMPLE]})

    requests_per_minute: int | None
    tokens_per_minute: int | None
    output_tokens_per_hour: int | None
    output_tokens_per_day: int | None
    max_concurrent_requests: int | None
    monthly_budget_eur: str | None

    @classmethod
    def of(cls, limits: Limits) -> LimitsOut:
        return cls(
            requests_per_minute=limits.requests_per_minute,
            tokens_per_minute=limits.tokens_per_minute,
            output_tokens_per_hour=limits.output_tokens_per_hour,
            output_tokens_per_day=limits.output_tokens_per_day,
            max_concurrent_requests=limits.max_concurrent_requests,
            monthly_budget_eur=eur(limits.monthly_budget_micros),
        )
