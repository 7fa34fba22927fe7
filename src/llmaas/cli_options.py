"""Command-line values: durations, dates, expiries, EUR amounts, model lists and limits.

The parsers are plain functions that raise ``ValueError`` with a message meant for the operator; the
typer option types below turn that into a usage error (exit code 2), so a typo never reaches the
database and never prints a traceback. An option that may be cleared accepts ``none``, and a value
object tells "not given" (the option is ``None``) apart from "clear it" (``value`` is ``None``).
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

from llmaas.domain.audit import Actor
from llmaas.domain.guardrails import GuardPolicy
from llmaas.domain.limits import Limits
from llmaas.domain.money import eur_to_micros
from llmaas.domain.usage_reports import GroupBy

T = TypeVar("T")

CLEAR_WORDS = frozenset({"none", "unlimited"})
"""What an operator types to remove a limit (or an expiry, or a purchase credit)."""
ALL_MODELS_WORDS = frozenset({"all", "*"})
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(?:\d+[smhdw])+")
_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_GROUP_ALIASES = {"org": GroupBy.ORGANIZATION}


@dataclass(frozen=True, slots=True)
class LimitValue:
    """A limit given on the command line; ``value`` is ``None`` when asked to remove it."""

    value: int | None


@dataclass(frozen=True, slots=True)
class ModelList:
    """An allow-list given on the command line; ``models`` is ``None`` for "every model"."""

    models: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Expiry:
    """An expiry given as a moment or as a delay from now; both ``None`` means "never"."""

    at: datetime | None = None
    after: timedelta | None = None

    def resolve(self, now: datetime) -> datetime | None:
        """A delay only becomes a moment when the command runs, against the service's clock."""
        if self.after is not None:
            return now + self.after
        return self.at


def _is_clear(text: str) -> bool:
    return text.strip().lower() in CLEAR_WORDS


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``1h30m``, ``3600s``, ``2w`` or a bare number of seconds."""
    cleaned = text.strip().lower()
    if cleaned.isdigit():
        return timedelta(seconds=int(cleaned))
    if not _DURATION.fullmatch(cleaned):
        raise ValueError(f"'{text}' is not a duration (examples: 30d, 12h, 1h30m, 3600s)")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(cleaned))
    return timedelta(seconds=seconds)


def parse_moment(text: str) -> datetime:
    """A date (midnight UTC) or an ISO datetime; a datetime without a zone is read as UTC."""
    cleaned = text.strip()
    try:
        if len(cleaned) == 10:
            day = date.fromisoformat(cleaned)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"'{text}' is not a date (YYYY-MM-DD) or an ISO datetime (YYYY-MM-DDTHH:MM:SS)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_expiry(text: str) -> Expiry:
    """A date, an ISO datetime, a duration from now (``30d``), or ``none`` for never."""
    if _is_clear(text) or text.strip().lower() == "never":
        return Expiry()
    if _DURATION.fullmatch(text.strip().lower()):
        return Expiry(after=parse_duration(text))
    try:
        return Expiry(at=parse_moment(text))
    except ValueError:
        raise ValueError(
            f"'{text}' is not an expiry: give a date (2027-01-31), an ISO datetime, "
            "a duration from now (30d) or 'none'"
        ) from None


def parse_count(text: str) -> LimitValue:
    """A non-negative whole number (``1_000`` and ``1,000`` read as 1000), or ``none``."""
    if _is_clear(text):
        return LimitValue(None)
    cleaned = text.strip().replace("_", "").replace(",", "")
    if not cleaned.isdigit():
        raise ValueError(f"'{text}' is not a non-negative whole number or 'none'")
    return LimitValue(int(cleaned))


def parse_eur(text: str) -> int:
    """An amount in EUR (``12.50``) as exact micros; ``InvalidAmount`` is a ``ValueError``."""
    return eur_to_micros(text.strip().removeprefix("€"))


def parse_eur_limit(text: str) -> LimitValue:
    """An amount in EUR as micros, or ``none`` to remove the cap."""
    return LimitValue(None) if _is_clear(text) else LimitValue(parse_eur(text))


def parse_models(text: str) -> ModelList:
    """``a,b`` for an allow-list, ``all`` for every model."""
    if text.strip().lower() in ALL_MODELS_WORDS:
        return ModelList(None)
    models = frozenset(part.strip() for part in text.split(",") if part.strip())
    if not models:
        raise ValueError("give model ids separated by commas, or 'all'")
    return ModelList(models)


@dataclass(frozen=True, slots=True)
class Grouping:
    """A report's grouping (a value object, so typer does not read a tuple as several values)."""

    fields: tuple[GroupBy, ...]


def parse_grouping(text: str) -> Grouping:
    """``key,model,day``; ``none`` for one line of totals."""
    if _is_clear(text) or text.strip().lower() == "total":
        return Grouping(())
    groups: list[GroupBy] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        try:
            group = _GROUP_ALIASES.get(part) or GroupBy(part)
        except ValueError:
            choices = ", ".join(g.value for g in GroupBy)
            raise ValueError(f"cannot group by '{part}' (choose from {choices})") from None
        if group not in groups:
            groups.append(group)
    return Grouping(tuple(groups))


@dataclass(frozen=True, slots=True)
class LimitOptions:
    """The limit options of one command, each ``None`` when not given."""

    rpm: LimitValue | None = None
    tpm: LimitValue | None = None
    output_per_hour: LimitValue | None = None
    output_per_day: LimitValue | None = None
    max_concurrent: LimitValue | None = None
    budget: LimitValue | None = None

    def changes(self) -> dict[str, int | None]:
        """Only the limits that were given: an update leaves the others as they are."""
        return {
            _LIMIT_FIELDS[item.name]: option.value
            for item in fields(self)
            if (option := getattr(self, item.name)) is not None
        }

    def applied_to(self, limits: Limits) -> Limits:
        return replace(limits, **self.changes())

    @property
    def given(self) -> bool:
        return bool(self.changes())


_LIMIT_FIELDS = {
    "rpm": "requests_per_minute",
    "tpm": "tokens_per_minute",
    "output_per_hour": "output_tokens_per_hour",
    "output_per_day": "output_tokens_per_day",
    "max_concurrent": "max_concurrent_requests",
    "budget": "monthly_budget_micros",
}


def _as_bad_parameter(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Typer reports a ``BadParameter`` with our message; a bare ``ValueError`` would be shown with
    pydantic's wording instead."""

    def parser(text: str) -> T:
        try:
            return parse(text)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None

    parser.__name__ = parse.__name__
    return parser


def _count_option(flag: str, what: str) -> Any:
    return typer.Option(
        flag,
        parser=_as_bad_parameter(parse_count),
        metavar="N|none",
        help=f"{what} ('none' removes the limit).",
    )


def eur_option(flag: str, help_text: str) -> Any:
    """An amount that must be given (a purchase, a starting credit): 'none' means nothing here."""
    return typer.Option(flag, parser=_as_bad_parameter(parse_eur), metavar="EUR", help=help_text)


def eur_limit_option(flag: str, help_text: str) -> Any:
    """An amount that may be removed: a cap, a tier's purchase credit."""
    return typer.Option(
        flag, parser=_as_bad_parameter(parse_eur_limit), metavar="EUR|none", help=help_text
    )


def moment_option(flag: str, help_text: str) -> Any:
    return typer.Option(
        flag, parser=_as_bad_parameter(parse_moment), metavar="YYYY-MM-DD", help=help_text
    )


def grouping_option(flag: str, help_text: str) -> Any:
    return typer.Option(
        flag, parser=_as_bad_parameter(parse_grouping), metavar="A,B", help=help_text
    )


RpmOption = Annotated[LimitValue | None, _count_option("--rpm", "Requests per minute")]
TpmOption = Annotated[LimitValue | None, _count_option("--tpm", "Tokens per minute")]
OutputPerHourOption = Annotated[
    LimitValue | None, _count_option("--output-per-hour", "Output tokens per hour")
]
OutputPerDayOption = Annotated[
    LimitValue | None, _count_option("--output-per-day", "Output tokens per day")
]
MaxConcurrentOption = Annotated[
    LimitValue | None, _count_option("--max-concurrent", "Requests in flight at once")
]
BudgetOption = Annotated[
    LimitValue | None,
    eur_limit_option(
        "--budget-eur", "Monthly spending cap in EUR, e.g. 12.50 ('none' removes it)."
    ),
]
ModelsOption = Annotated[
    ModelList | None,
    typer.Option(
        "--models",
        parser=_as_bad_parameter(parse_models),
        metavar="A,B|all",
        help="Allowed model ids, comma-separated ('all' lifts the restriction).",
    ),
]
ExpiresOption = Annotated[
    Expiry | None,
    typer.Option(
        "--expires",
        parser=_as_bad_parameter(parse_expiry),
        metavar="WHEN",
        help="2027-01-31 (00:00 UTC), an ISO datetime, a duration from now (30d), or 'none'.",
    ),
]
GraceOption = Annotated[
    timedelta | None,
    typer.Option(
        "--grace",
        parser=_as_bad_parameter(parse_duration),
        metavar="DURATION",
        help="How long the old secret keeps working: 0 to 30d, e.g. 3600s, 12h (default 1d).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON, for scripts.")]


class GuardrailChoice(StrEnum):
    """``--guardrail``: a policy, or ``inherit`` to clear one."""

    BLOCK = "block"
    FLAG = "flag"
    OFF = "off"
    INHERIT = "inherit"

    def policy(self) -> GuardPolicy | None:
        return None if self is GuardrailChoice.INHERIT else GuardPolicy(self.value)


GuardrailOption = Annotated[
    GuardrailChoice | None,
    typer.Option(
        "--guardrail",
        help="Prompt-injection guardrail: block, flag (serve, mark the response), off, or inherit "
        "(key <- organization <- tier <- server).",
        case_sensitive=False,
    ),
]


def guardrail_changes(choice: GuardrailChoice | None) -> dict[str, Any]:
    return {} if choice is None else {"guardrail_policy": choice.policy()}


def cli_actor() -> Actor:
    """Who the audit trail names for a command: the operating-system user who ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = f"uid-{os.getuid()}"
    return Actor(f"cli:{user}", "local")
