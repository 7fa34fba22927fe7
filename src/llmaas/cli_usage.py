"""``llmaas usage``: consumption over a period, grouped as asked, as a table, JSON or CSV.

The period is half-open like the admin API's, ``[start, end)``: ``--start 2026-01-01 --end
2026-02-01`` is January. Without options it is the current calendar month (UTC).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer

from llmaas.app import Core
from llmaas.cli_options import Grouping, JsonOption, grouping_option, moment_option
from llmaas.cli_runtime import console, print_json, run_with_core, usage_error
from llmaas.cli_views import table
from llmaas.domain.money import format_eur
from llmaas.domain.usage_reports import GroupBy, RollupTotals, UsageQuery, UsageRow
from llmaas.services.usage_reports import TOKEN_TYPES, to_csv

DEFAULT_GROUPING = Grouping((GroupBy.KEY, GroupBy.MODEL))
_TOTAL_COLUMNS = ("requests", "failed", "input", "output", "reasoning", "audio s", "cost EUR")


def usage(
    start: Annotated[
        datetime | None, moment_option("--start", "First day (default: this month's first).")
    ] = None,
    end: Annotated[
        datetime | None,
        moment_option("--end", "First day NOT included (default: next month's first)."),
    ] = None,
    group_by: Annotated[
        Grouping | None,
        grouping_option(
            "--group-by",
            "Any of organization, key, model, day, hour (default key,model); 'none' for totals.",
        ),
    ] = None,
    org: Annotated[str | None, typer.Option("--org", help="Only this organization.")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Only this key's id.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
    by_token_type: Annotated[
        bool, typer.Option("--by-token-type", help="One line per input/output/reasoning tokens.")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV, for spreadsheets.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Report requests, tokens and cost in EUR over a period."""
    if as_csv and as_json:
        raise usage_error("Choose one of --csv and --json.")
    groups = (group_by or DEFAULT_GROUPING).fields

    async def report(core: Core) -> list[UsageRow]:
        month_start, next_month = core.usage.this_month()
        query = UsageQuery(
            start=start or month_start,
            end=end or next_month,
            group_by=groups,
            organization_id=org,
            key_id=key,
            model=model,
        )
        return await core.usage.report(query)

    rows = run_with_core(report)
    if as_csv:
        sys.stdout.write(to_csv(rows, groups, by_token_type=by_token_type))
    elif as_json:
        print_json(_json_rows(rows, groups, by_token_type=by_token_type))
    else:
        _print_table(rows, groups, by_token_type=by_token_type)


def _token_types(totals: RollupTotals) -> list[tuple[str, int]]:
    """The same split as the CSV: ``output`` is what the client saw, reasoning apart."""
    visible = totals.completion_tokens - totals.reasoning_tokens
    counts = (totals.prompt_tokens, visible, totals.reasoning_tokens)
    return list(zip(TOKEN_TYPES, counts, strict=True))


def _totals_json(totals: RollupTotals) -> dict[str, object]:
    return {
        "requests": totals.requests,
        "failed_requests": totals.failed_requests,
        "input_tokens": totals.prompt_tokens,
        "output_tokens": totals.completion_tokens,
        "reasoning_tokens": totals.reasoning_tokens,
        "audio_seconds": totals.audio_ms / 1000,
        "cost_micros": totals.cost_micros,
        "cost_eur": format_eur(totals.cost_micros),
    }


def _json_rows(
    rows: Sequence[UsageRow], groups: Sequence[GroupBy], *, by_token_type: bool
) -> list[dict[str, object]]:
    result: list[dict[str, object]] = []
    for row in rows:
        group: dict[str, object] = {g.value: row.group.get(g.value, "") for g in groups}
        if by_token_type:
            result.extend(
                {**group, "token_type": kind, "tokens": tokens}
                for kind, tokens in _token_types(row.totals)
            )
        else:
            result.append({**group, **_totals_json(row.totals)})
    return result


def _totals_cells(totals: RollupTotals) -> list[str]:
    return [
        f"{totals.requests:,}",
        f"{totals.failed_requests:,}",
        f"{totals.prompt_tokens:,}",
        f"{totals.completion_tokens:,}",
        f"{totals.reasoning_tokens:,}",
        f"{totals.audio_ms / 1000:,.1f}",
        format_eur(totals.cost_micros),
    ]


def _print_table(
    rows: Sequence[UsageRow], groups: Sequence[GroupBy], *, by_token_type: bool
) -> None:
    names = [g.value for g in groups]
    if by_token_type:
        cells = [
            [*(row.group.get(n, "") for n in names), kind, f"{tokens:,}"]
            for row in rows
            for kind, tokens in _token_types(row.totals)
        ]
        console.print(table(*names, "token type", "tokens", rows=cells))
        return
    if not rows:
        console.print("No usage in this period.")
        return
    cells = [[*(row.group.get(n, "") for n in names), *_totals_cells(row.totals)] for row in rows]
    console.print(table(*names, *_TOTAL_COLUMNS, rows=cells))
