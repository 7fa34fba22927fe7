"""``llmaas catalog``: the quarterly review's tools.

``validate`` checks a catalog against the lifecycle policy (the server refuses to start on one that
fails it); ``diff`` shows what a new review changes and refuses what it may not change; ``review``
lists the models whose sunset falls in a quarter and who still calls them, so the operator knows whom
to warn; ``list`` shows the catalog as it stands on a day. The policy itself lives in
``domain.catalog_policy``: these commands only load files, read usage and print.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from llmaas.adapters.catalog_file import ConfigError, load_catalog
from llmaas.adapters.model_config import load_served_catalog
from llmaas.app import Core
from llmaas.cli_options import JsonOption
from llmaas.cli_runtime import (
    console,
    errors,
    fail,
    print_json,
    run_with_core,
    settings,
    usage_error,
)
from llmaas.cli_views import table
from llmaas.domain.catalog import Catalog
from llmaas.domain.catalog_policy import (
    CatalogDiff,
    PhaseChange,
    diff,
    retired_but_routed,
    validate,
)
from llmaas.domain.lifecycle import Phase, Quarter
from llmaas.domain.models import ServedModel
from llmaas.domain.money import format_eur
from llmaas.domain.usage_reports import GroupBy, UsageQuery
from llmaas.services.usage_reports import MAX_REPORT_DAYS

catalog_app = typer.Typer(
    help="The model catalog: lifecycle checks, review diffs and quarterly reviews.",
    no_args_is_help=True,
)


def today() -> date:
    """The default for ``--on``: the CLI reads the real clock only here."""
    return datetime.now(UTC).date()


CatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog", help="Catalog YAML (default: LLMAAS_CATALOG, else the packaged one)."
    ),
]
ModelsConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Models file whose deployments are joined, to find retired models still routed "
        "(default: LLMAAS_MODELS_CONFIG; the packaged one with the packaged catalog).",
    ),
]
OnOption = Annotated[
    datetime | None,
    typer.Option("--on", formats=["%Y-%m-%d"], help="As of this day (default: today, UTC)."),
]


def _day(on: datetime | None) -> date:
    return on.date() if on is not None else today()


def _load(path: Path | None) -> Catalog:
    try:
        return load_catalog(path)
    except ConfigError as error:
        raise fail(str(error)) from None


@catalog_app.command("validate")
def validate_command(catalog: CatalogOption = None, config: ModelsConfigOption = None) -> None:
    """Check the catalog against the lifecycle policy; exit 1 on any violation."""
    configured = settings(catalog=catalog, models_config=config)
    try:
        # A catalog of one's own is checked alone unless a models file is named: the packaged
        # models file describes the packaged catalog's models, not necessarily that one's.
        if configured.models_config is not None or configured.catalog is None:
            loaded = load_served_catalog(configured.models_config, configured.catalog)
        else:
            loaded = load_catalog(configured.catalog)
    except ConfigError as error:
        raise fail(str(error)) from None
    violations = validate(loaded)
    for violation in violations:
        errors.print(f"[red]{escape(str(violation))}[/red]")
    if violations:
        raise fail(f"the catalog breaks the lifecycle policy ({len(violations)} violations)")
    for model in retired_but_routed(loaded, today()):
        errors.print(f"[yellow]warning:[/yellow] {escape(model.id)} is retired today but routed")
    console.print(
        f"catalog OK: {len(loaded)} models ({_phase_summary(loaded, loaded.reviewed_on)}) "
        f"as of {loaded.reviewed_on}"
    )


def _phase_summary(catalog: Catalog, day: date) -> str:
    counts = Counter(model.phase_on(day) for model in catalog)
    return ", ".join(f"{counts[phase]} {phase}" for phase in Phase if counts[phase])


@catalog_app.command("diff")
def diff_command(
    old: Annotated[Path, typer.Argument(help="The catalog in force.")],
    new: Annotated[Path, typer.Argument(help="The catalog of the new review.")],
    as_json: JsonOption = False,
) -> None:
    """What NEW changes from OLD; exit 1 if the policy refuses any of it."""
    changes = diff(_load(old), _load(new))
    if as_json:
        print_json(_diff_json(changes))
    else:
        _print_diff(changes)
    if changes.refusals:
        raise typer.Exit(code=1)


def _phase_change_json(change: PhaseChange) -> dict[str, object]:
    return {
        "model": change.model,
        "notice": _iso(change.notice),
        "sunset": _iso(change.sunset),
        "replacement": change.replacement,
    }


def _diff_json(changes: CatalogDiff) -> dict[str, object]:
    return {
        "added": changes.added,
        "removed": changes.removed,
        "newly_deprecated": [_phase_change_json(c) for c in changes.newly_deprecated],
        "newly_retired": [_phase_change_json(c) for c in changes.newly_retired],
        "sunset_changes": [
            {"model": c.model, "old": _iso(c.old), "new": _iso(c.new)}
            for c in changes.sunset_changes
        ],
        "price_changes": [
            {
                "model": c.model,
                "field": c.field,
                "old_micros": c.old,
                "new_micros": c.new,
                "old_eur": format_eur(c.old),
                "new_eur": format_eur(c.new),
            }
            for c in changes.price_changes
        ],
        "refusals": [{"model": v.model, "message": v.message} for v in changes.refusals],
    }


def _phase_change_text(change: PhaseChange) -> str:
    return (
        f"{change.model}: notice {_iso(change.notice) or '-'}, sunset {_iso(change.sunset) or '-'}, "
        f"replacement {change.replacement or '-'}"
    )


def _print_diff(changes: CatalogDiff) -> None:
    sections = [
        ("added", changes.added),
        ("removed", changes.removed),
        ("deprecated", [_phase_change_text(c) for c in changes.newly_deprecated]),
        ("retired", [_phase_change_text(c) for c in changes.newly_retired]),
        (
            "sunset changes",
            [
                f"{c.model}: {_iso(c.old) or 'none'} -> {_iso(c.new) or 'none'}"
                for c in changes.sunset_changes
            ],
        ),
        (
            "price changes (EUR)",
            [
                f"{c.model} {c.field}: {format_eur(c.old)} -> {format_eur(c.new)}"
                for c in changes.price_changes
            ],
        ),
    ]
    if not changes.has_changes:
        console.print("no changes")
    for title, lines in sections:
        if lines:
            console.print(f"[bold]{title}[/bold] ({len(lines)})")
            for line in lines:
                console.print(f"  {escape(line)}")
    if changes.refusals:
        console.print(f"[bold red]refused[/bold red] ({len(changes.refusals)})")
        for violation in changes.refusals:
            console.print(f"  [red]{escape(str(violation))}[/red]")
    else:
        console.print("no refusals: the new catalog may replace the old one")


@dataclass(frozen=True, slots=True)
class _User:
    organization: str
    key: str
    requests: int


@catalog_app.command("review")
def review_command(
    quarter: Annotated[str, typer.Option("--quarter", help="The quarter, e.g. 2027Q1.")],
    days: Annotated[
        int,
        typer.Option("--days", min=1, max=MAX_REPORT_DAYS, help="Usage window before --on."),
    ] = 30,
    catalog: CatalogOption = None,
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Models whose sunset falls in QUARTER, and the organizations and keys still calling them."""
    try:
        period = Quarter.parse(quarter)
    except ValueError as error:
        raise usage_error(str(error)) from None
    day = _day(on)
    loaded = _load(settings(catalog=catalog).catalog)
    ending = sorted(
        (m for m in loaded if m.lifecycle.sunset is not None and m.lifecycle.sunset in period),
        key=lambda m: (m.lifecycle.sunset, m.id),
    )
    users = _recent_users(ending, day, days) if ending else {}
    if as_json:
        print_json([_review_json(m, day, users[m.id]) for m in ending])
        return
    if not ending:
        console.print(f"no model's sunset falls in {period}")
        return
    console.print(
        f"{len(ending)} models reach their sunset in {period} (use over {days} days to {day})"
    )
    for model in ending:
        _print_review(model, day, users[model.id])


def _recent_users(models: Sequence[ServedModel], day: date, days: int) -> dict[str, list[_User]]:
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    start = end - timedelta(days=days)

    async def read(core: Core) -> dict[str, list[_User]]:
        found: dict[str, list[_User]] = {}
        for model in models:
            query = UsageQuery(
                start, end, group_by=(GroupBy.ORGANIZATION, GroupBy.KEY), model=model.id
            )
            rows = await core.usage.report(query)
            found[model.id] = [
                _User(row.group["organization"], row.group["key"], row.totals.requests)
                for row in rows
                if row.totals.requests
            ]
        return found

    return run_with_core(read)


def _review_json(model: ServedModel, day: date, users: list[_User]) -> dict[str, object]:
    lifecycle = model.lifecycle
    return {
        "model": model.id,
        "phase": str(model.phase_on(day)),
        "notice": _iso(lifecycle.deprecation_notice),
        "sunset": _iso(lifecycle.sunset),
        "replacement": lifecycle.replacement,
        "users": [
            {"organization": u.organization, "key": u.key, "requests": u.requests} for u in users
        ],
    }


def _print_review(model: ServedModel, day: date, users: list[_User]) -> None:
    lifecycle = model.lifecycle
    console.print(
        f"\n[bold]{escape(model.id)}[/bold] ({model.phase_on(day)}): "
        f"notice {_iso(lifecycle.deprecation_notice) or '-'}, sunset {_iso(lifecycle.sunset)}, "
        f"replacement {escape(lifecycle.replacement or '-')}"
    )
    if not users:
        console.print("  no recorded use")
        return
    rows = [[u.organization, u.key, f"{u.requests:,}"] for u in users]
    console.print(table("organization", "key", "requests", rows=rows))


@catalog_app.command("list")
def list_command(
    catalog: CatalogOption = None,
    phase: Annotated[
        Phase | None, typer.Option("--phase", help="Only the models in this phase on --on.")
    ] = None,
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """The catalog's models with their phase on a day (today by default)."""
    day = _day(on)
    models = [
        m
        for m in _load(settings(catalog=catalog).catalog)
        if phase is None or m.phase_on(day) is phase
    ]
    if as_json:
        print_json([_model_json(m, day) for m in models])
        return
    rows = [
        [
            m.id,
            m.family,
            str(m.phase_on(day)),
            f"{m.context_length:,}",
            _iso(m.lifecycle.sunset) or "",
            m.lifecycle.replacement or "",
        ]
        for m in models
    ]
    console.print(
        table("id", "family", f"phase on {day}", "context", "sunset", "replacement", rows=rows)
    )


def _model_json(model: ServedModel, day: date) -> dict[str, object]:
    lifecycle = model.lifecycle
    return {
        "id": model.id,
        "family": model.family,
        "phase": str(model.phase_on(day)),
        "context_length": model.context_length,
        "notice": _iso(lifecycle.deprecation_notice),
        "sunset": _iso(lifecycle.sunset),
        "replacement": lifecycle.replacement,
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None
