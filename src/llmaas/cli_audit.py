"""``llmaas audit``: read, export and verify the audit trail of administrative actions.

``verify`` exits with 1 when any record was modified, deleted or moved, naming each break, so a cron
job or a monitoring probe can alert on it. ``export`` writes JSON lines (one record per line, hashes
included) that an auditor can keep elsewhere and check against a later export.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from llmaas.app import Core
from llmaas.cli_options import JsonOption
from llmaas.cli_runtime import console, fail, print_json, run_with_core
from llmaas.cli_views import table
from llmaas.domain.audit import AuditRecord, ChainBreak

audit_app = typer.Typer(help="The audit trail of administrative actions.", no_args_is_help=True)

AfterOption = Annotated[
    int, typer.Option("--after", help="Only records after this sequence number.", min=0)
]


def record_json(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    return {
        "sequence": record.sequence,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "source": entry.source,
        "action": str(entry.action),
        "target": entry.target,
        "before": dict(entry.before),
        "after": dict(entry.after),
        "previous_hash": record.previous_hash,
        "hash": record.hash,
    }


@audit_app.command("list")
def audit_list(
    after: AfterOption = 0,
    limit: Annotated[int, typer.Option(help="At most this many records.", min=1)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Show records, oldest first."""

    async def read(core: Core) -> list[AuditRecord]:
        return await core.audit.records(after=after, limit=limit)

    records = run_with_core(read)
    if as_json:
        print_json([record_json(r) for r in records])
        return
    rows = [
        (
            str(r.sequence),
            f"{r.entry.at:%Y-%m-%d %H:%M:%S}",
            r.entry.actor,
            r.entry.source,
            str(r.entry.action),
            r.entry.target,
            json.dumps({"before": dict(r.entry.before), "after": dict(r.entry.after)}),
        )
        for r in records
    ]
    console.print(table("#", "at (UTC)", "actor", "from", "action", "target", "change", rows=rows))


@audit_app.command("export")
def audit_export(after: AfterOption = 0) -> None:
    """Write every record as a JSON line on standard output."""

    async def export(core: Core) -> None:
        async for record in core.audit.all_records(after=after):
            sys.stdout.write(json.dumps(record_json(record), ensure_ascii=False) + "\n")

    run_with_core(export)


@audit_app.command("verify")
def audit_verify(as_json: JsonOption = False) -> None:
    """Check the whole chain: exit 1 if any record was modified, deleted or reordered."""

    async def verify(core: Core) -> tuple[int, list[ChainBreak]]:
        return await core.audit.verify()

    checked, breaks = run_with_core(verify)
    if as_json:
        print_json({"records": checked, "intact": not breaks, "breaks": [str(b) for b in breaks]})
    elif not breaks:
        console.print(f"audit trail intact: {checked} records, chain and hashes verified")
    if breaks:
        if not as_json:
            for found in breaks:
                console.print(f"[red]BROKEN[/red] {found}")
        raise fail(f"the audit trail has {len(breaks)} break(s) in {checked} records")
