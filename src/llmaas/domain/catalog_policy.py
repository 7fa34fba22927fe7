"""The lifecycle policy, as code: what a catalog must satisfy, and what a new review may change.

The catalog file only checks its own shape (``adapters.catalog_file``); whether it keeps the
platform's promises is decided here, so the same rules run in ``llmaas catalog validate``, in CI and
at server start. The promises: a client gets at least ``MINIMUM_NOTICE`` between a deprecation notice
and the sunset; every deprecated or retired model names a live replacement that offers every endpoint
the client's code calls; a retired model is not served. ``diff`` adds the rules that only show between
two reviews: history (notices, removals) cannot be rewritten, and a sunset cannot be pulled closer
than the notice period.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from llmaas.domain.catalog import Catalog
from llmaas.domain.lifecycle import MINIMUM_NOTICE, Lifecycle, Phase
from llmaas.domain.models import ENDPOINT_CAPABILITIES, ServedModel

_ENDED = frozenset({Phase.DEPRECATED, Phase.RETIRED})
_LIVE_PHASES = frozenset({Phase.PREVIEW, Phase.PRODUCTION})
PRICE_FIELDS = (
    "input_per_million",
    "output_per_million",
    "reasoning_per_million",
    "audio_per_minute",
    "rerank_per_million",
)
"""The prices a diff reports, all in EUR micros (the batch discount is a percentage, not a price)."""


@dataclass(frozen=True, slots=True)
class Violation:
    model: str | None
    """The model at fault; ``None`` for the catalog as a whole."""
    message: str

    def __str__(self) -> str:
        return f"{self.model}: {self.message}" if self.model is not None else self.message


def validate(catalog: Catalog) -> list[Violation]:
    """Every broken promise of ``catalog`` as of its review day (empty: the catalog is valid)."""
    violations = [
        Violation(model.id, message)
        for model in catalog.models
        for message in _model_problems(model, catalog)
    ]
    violations.extend(_redirect_problems(catalog))
    return violations


def retired_but_routed(catalog: Catalog, day: date) -> list[ServedModel]:
    """Deployed models whose sunset has passed on ``day``: the router refuses them, so their
    deployments only burn capacity. The server warns about them at start, on the real date, which
    may be long after the review day that ``validate`` checks."""
    return [model for model in catalog.deployed() if model.phase_on(day) is Phase.RETIRED]


def dated_phase(lifecycle: Lifecycle, day: date) -> Phase | None:
    """The phase the dates alone give on ``day``; ``None`` when they leave it to the declared one
    (preview or production)."""
    if lifecycle.sunset is not None and lifecycle.sunset <= day:
        return Phase.RETIRED
    if lifecycle.deprecation_notice is not None and lifecycle.deprecation_notice <= day:
        return Phase.DEPRECATED
    return None


def _model_problems(model: ServedModel, catalog: Catalog) -> Iterator[str]:
    day = catalog.reviewed_on
    yield from _date_problems(model.lifecycle)
    yield from _phase_problems(model.lifecycle, day)
    yield from _replacement_problems(model, catalog)
    if model.deployments and model.phase_on(day) is Phase.RETIRED:
        names = ", ".join(spec.name for spec in model.deployments)
        yield f"retired on {day} but still routed (deployments: {names})"


def _date_problems(lifecycle: Lifecycle) -> Iterator[str]:
    notice, sunset = lifecycle.deprecation_notice, lifecycle.sunset
    if sunset is not None and notice is None:
        yield f"sunset {sunset} without a deprecation notice"
    if notice is not None and sunset is None:
        yield f"deprecation notice {notice} without a sunset"
    period = lifecycle.notice_period
    if period is not None and period < MINIMUM_NOTICE:
        yield (
            f"notice {notice} gives {period.days} days before sunset {sunset}; "
            f"at least {MINIMUM_NOTICE.days} are promised"
        )
    if notice is not None and lifecycle.released is not None and notice < lifecycle.released:
        yield f"deprecation notice {notice} is before its release {lifecycle.released}"


def _phase_problems(lifecycle: Lifecycle, day: date) -> Iterator[str]:
    declared = lifecycle.phase
    if declared in _ENDED:
        if lifecycle.deprecation_notice is None:
            yield f"{declared} without a deprecation notice"
        if lifecycle.sunset is None:
            yield f"{declared} without a sunset"
    dated = dated_phase(lifecycle, day)
    if dated is None and declared in _ENDED:
        yield f"declared {declared}, but its dates make it neither deprecated nor retired on {day}"
    elif dated is not None and dated is not declared:
        yield f"declared {declared}, but its dates make it {dated} on {day}"


def _replacement_problems(model: ServedModel, catalog: Catalog) -> Iterator[str]:
    day = catalog.reviewed_on
    name = model.lifecycle.replacement
    if name is None:
        phase = model.phase_on(day)
        if phase in _ENDED:
            yield f"{phase} on {day} without a replacement"
        return
    target = catalog.get(name)
    if target is None:
        yield f"replacement '{name}' is not in the catalog"
    elif target.id == model.id:
        yield "names itself as its replacement"
    else:
        yield from _successor_problems(model, target, day)


def _successor_problems(model: ServedModel, target: ServedModel, day: date) -> Iterator[str]:
    """A client moved to ``target`` must not be moved again before this model's own sunset, nor
    lose an endpoint its code calls."""
    if target.phase_on(day) is Phase.RETIRED:
        yield f"replacement '{target.id}' is itself retired on {day}"
    ours, theirs = model.lifecycle.sunset, target.lifecycle.sunset
    if theirs is not None and (ours is None or theirs <= ours):
        yield f"replacement '{target.id}' ends ({theirs}) no later than it does ({ours or 'never'})"
    missing = (model.capabilities & ENDPOINT_CAPABILITIES) - target.capabilities
    if missing:
        yield f"replacement '{target.id}' lacks {', '.join(sorted(missing))}"


def _redirect_problems(catalog: Catalog) -> Iterator[Violation]:
    """A redirect sends a client's calls to another model without asking: only a model that is
    being withdrawn, and that names where its clients should go, may be redirected."""
    day = catalog.reviewed_on
    for name in sorted(catalog.redirect_retired):
        model = catalog.get(name)
        if model is None:
            yield Violation(name, "redirect_retired names a model that is not in the catalog")
        elif model.phase_on(day) not in _ENDED:
            yield Violation(name, f"redirect_retired names a model that is {model.phase_on(day)}")
        elif model.lifecycle.replacement is None:
            yield Violation(name, "redirect_retired names a model without a replacement")


@dataclass(frozen=True, slots=True)
class PhaseChange:
    """A model that entered a phase in this review, with what its clients need to know."""

    model: str
    notice: date | None
    sunset: date | None
    replacement: str | None


@dataclass(frozen=True, slots=True)
class SunsetChange:
    model: str
    old: date | None
    new: date | None


@dataclass(frozen=True, slots=True)
class PriceChange:
    model: str
    field: str
    old: int
    """EUR micros."""
    new: int


@dataclass(frozen=True, slots=True)
class CatalogDiff:
    """What a review changes, and why the new catalog may not replace the old one (``refusals``)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    newly_deprecated: list[PhaseChange] = field(default_factory=list)
    newly_retired: list[PhaseChange] = field(default_factory=list)
    sunset_changes: list[SunsetChange] = field(default_factory=list)
    price_changes: list[PriceChange] = field(default_factory=list)
    refusals: list[Violation] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return any(
            (
                self.added,
                self.removed,
                self.newly_deprecated,
                self.newly_retired,
                self.sunset_changes,
                self.price_changes,
            )
        )


@dataclass(frozen=True, slots=True)
class _Pair:
    """One model as the old and the new review see it, each on its own review day."""

    old: ServedModel
    new: ServedModel
    old_phase: Phase
    new_phase: Phase


def diff(old: Catalog, new: Catalog) -> CatalogDiff:
    old_ids = {model.id for model in old}
    new_ids = {model.id for model in new}
    pairs = [
        _Pair(before, model, before.phase_on(old.reviewed_on), model.phase_on(new.reviewed_on))
        for model in new
        if (before := old.get(model.id)) is not None
    ]
    deprecated = [
        p for p in pairs if p.old_phase in _LIVE_PHASES and p.new_phase is Phase.DEPRECATED
    ]
    retired = [
        p for p in pairs if p.old_phase is not Phase.RETIRED and p.new_phase is Phase.RETIRED
    ]
    removed = [model.id for model in old if model.id not in new_ids]
    return CatalogDiff(
        added=[model.id for model in new if model.id not in old_ids],
        removed=removed,
        newly_deprecated=[_phase_change(p.new) for p in deprecated],
        newly_retired=[_phase_change(p.new) for p in retired],
        sunset_changes=[
            SunsetChange(p.new.id, p.old.lifecycle.sunset, p.new.lifecycle.sunset)
            for p in pairs
            if p.old.lifecycle.sunset != p.new.lifecycle.sunset
        ],
        price_changes=[change for p in pairs for change in _price_changes(p.old, p.new)],
        refusals=[
            *validate(new),
            *_review_order(old, new),
            *_removal_refusals(old, removed),
            *_retirement_refusals(retired, new.reviewed_on),
            *_sunset_refusals(pairs, new.reviewed_on),
            *_backdating_refusals(pairs, old.reviewed_on),
        ],
    )


def _phase_change(model: ServedModel) -> PhaseChange:
    lifecycle = model.lifecycle
    return PhaseChange(
        model.id, lifecycle.deprecation_notice, lifecycle.sunset, lifecycle.replacement
    )


def _price_changes(old: ServedModel, new: ServedModel) -> Iterator[PriceChange]:
    for name in PRICE_FIELDS:
        before, after = getattr(old.prices, name), getattr(new.prices, name)
        if before != after:
            yield PriceChange(new.id, name, before, after)


def _review_order(old: Catalog, new: Catalog) -> Iterator[Violation]:
    if new.reviewed_on < old.reviewed_on:
        yield Violation(
            None, f"reviewed on {new.reviewed_on}, before the current catalog ({old.reviewed_on})"
        )


def _removal_refusals(old: Catalog, removed: list[str]) -> Iterator[Violation]:
    """Clients may still call a model that was not retired: it must go through deprecation first."""
    for model_id in removed:
        model = old.get(model_id)
        phase = model.phase_on(old.reviewed_on) if model is not None else Phase.RETIRED
        if phase is not Phase.RETIRED:
            yield Violation(model_id, f"removed while {phase}: retire it first")


def _retirement_refusals(retired: list[_Pair], reviewed_on: date) -> Iterator[Violation]:
    """Only the catalog clients already had counts as notice: one written now is too late."""
    for pair in retired:
        sunset = pair.new.lifecycle.sunset or reviewed_on
        notice = pair.old.lifecycle.deprecation_notice
        if notice is None or notice > sunset - MINIMUM_NOTICE:
            given = f"notice {notice}" if notice is not None else "no notice"
            yield Violation(
                pair.new.id,
                f"retired on {sunset}, but the current catalog gave {given}: "
                f"at least {MINIMUM_NOTICE.days} days are promised",
            )


def _sunset_refusals(pairs: list[_Pair], reviewed_on: date) -> Iterator[Violation]:
    for pair in pairs:
        before, after = pair.old.lifecycle.sunset, pair.new.lifecycle.sunset
        if after is None or (before is not None and after >= before):
            continue
        if after < reviewed_on + MINIMUM_NOTICE:
            yield Violation(
                pair.new.id,
                f"sunset moved earlier ({before or 'none'} -> {after}), less than "
                f"{MINIMUM_NOTICE.days} days after this review ({reviewed_on})",
            )


def _backdating_refusals(pairs: list[_Pair], old_review: date) -> Iterator[Violation]:
    """A notice dated before the current catalog's review would claim clients were told what the
    catalog they read did not say."""
    for pair in pairs:
        notice = pair.new.lifecycle.deprecation_notice
        before = pair.old.lifecycle.deprecation_notice
        if notice is not None and notice < old_review and (before is None or notice < before):
            yield Violation(
                pair.new.id,
                f"deprecation notice {notice} is backdated: the current catalog, reviewed on "
                f"{old_review}, gave {before or 'none'}",
            )
