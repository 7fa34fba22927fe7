"""``llmaas catalog``: validate, diff, review and list, on the shipped catalog and on files of our own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from llmaas.app import build_core
from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.settings import Settings
from tests.integration.cli.conftest import Cli

SMALL = """
  - id: small
    family: test
    created: 2025-01-01
    context_length: 4096
    capabilities: [chat]
    pricing: {input_per_million: "0.10", output_per_million: "0.30"}
    lifecycle: {released: 2025-01-01}
"""
SUCCESSOR = """
  - id: successor
    family: test
    created: 2025-01-01
    context_length: 8192
    capabilities: [chat, vision]
    lifecycle: {released: 2025-01-01}
"""


def write(tmp_path: Path, name: str, reviewed_on: str, *entries: str) -> Path:
    path = tmp_path / name
    path.write_text(f"reviewed_on: {reviewed_on}\nmodels:\n{''.join(entries)}", encoding="utf-8")
    return path


def small_deprecated(replacement: str = "successor", price: str = "0.10") -> str:
    return SMALL.replace('"0.10"', f'"{price}"').replace(
        "lifecycle: {released: 2025-01-01}",
        "lifecycle: {phase: deprecated, released: 2025-01-01, deprecation_notice: 2026-10-01, "
        f"sunset: 2026-12-30, replacement: {replacement}}}",
    )


def test_validate_accepts_the_shipped_catalog(cli: Cli) -> None:
    output = cli.ok("catalog", "validate").stdout
    assert "catalog OK: 105 models (16 production, 26 deprecated, 63 retired)" in output
    assert "as of 2026-10-01" in output


def test_validate_names_each_model_that_breaks_the_policy(cli: Cli, tmp_path: Path) -> None:
    broken = write(
        tmp_path,
        "broken.yaml",
        "2026-10-01",
        SUCCESSOR,
        small_deprecated(replacement="ghost"),
    )
    result = cli("catalog", "validate", "--catalog", str(broken))
    assert result.exit_code == 1
    assert "small: replacement 'ghost' is not in the catalog" in result.output
    assert "breaks the lifecycle policy (1 violations)" in result.output
    fixed = write(tmp_path, "fixed.yaml", "2026-10-01", SUCCESSOR, small_deprecated())
    assert (
        "catalog OK: 2 models (1 production, 1 deprecated)"
        in cli.ok("catalog", "validate", "--catalog", str(fixed)).stdout
    )


def test_validate_with_deployments_finds_a_retired_model_still_routed(
    cli: Cli, tmp_path: Path
) -> None:
    catalog = write(tmp_path, "catalog.yaml", "2026-10-01", SUCCESSOR, small_deprecated())
    routed = tmp_path / "models.yaml"
    routed.write_text(
        "models:\n  - id: small\n    deployments:\n"
        "      - {name: gpu-1, engine: vllm, url: 'http://gpu-1:8000/v1'}\n",
        encoding="utf-8",
    )
    assert cli.ok("catalog", "validate", "--catalog", str(catalog), "--config", str(routed))
    retired = write(
        tmp_path,
        "later.yaml",
        "2027-01-01",
        SUCCESSOR,
        small_deprecated().replace("phase: deprecated", "phase: retired"),
    )
    result = cli("catalog", "validate", "--catalog", str(retired), "--config", str(routed))
    assert result.exit_code == 1
    assert "small: retired on 2027-01-01 but still routed (deployments: gpu-1)" in result.output


def test_diff_shows_what_a_review_adds_deprecates_and_reprices(cli: Cli, tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml", "2026-07-01", SMALL)
    new = write(tmp_path, "new.yaml", "2026-10-01", SUCCESSOR, small_deprecated(price="0.12"))

    output = cli.ok("catalog", "diff", str(old), str(new)).stdout
    assert "added (1)" in output
    assert "successor" in output
    assert "small: notice 2026-10-01, sunset 2026-12-30, replacement successor" in output
    assert "small input_per_million: 0.10 -> 0.12" in output
    assert "no refusals" in output

    changes = cli.json("catalog", "diff", str(old), str(new))
    assert changes["added"] == ["successor"]
    assert changes["newly_deprecated"] == [
        {
            "model": "small",
            "notice": "2026-10-01",
            "sunset": "2026-12-30",
            "replacement": "successor",
        }
    ]
    assert changes["price_changes"] == [
        {
            "model": "small",
            "field": "input_per_million",
            "old_micros": 100_000,
            "new_micros": 120_000,
            "old_eur": "0.10",
            "new_eur": "0.12",
        }
    ]
    assert changes["refusals"] == []


def test_diff_refuses_a_retirement_without_notice(cli: Cli, tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml", "2026-07-01", SUCCESSOR, SMALL)
    abrupt = small_deprecated().replace("phase: deprecated", "phase: retired")
    abrupt = abrupt.replace("2026-10-01", "2026-06-01").replace("2026-12-30", "2026-09-30")
    new = write(tmp_path, "new.yaml", "2026-10-01", SUCCESSOR, abrupt)

    result = cli("catalog", "diff", str(old), str(new))
    assert result.exit_code == 1
    assert "refused" in result.output
    assert "small: retired on 2026-09-30, but the current catalog gave no notice" in result.output
    assert "small: deprecation notice 2026-06-01 is backdated" in result.output


def _store(cli: Cli, events: list[UsageEvent]) -> None:
    async def store() -> None:
        core = build_core(Settings(data_dir=cli.data_dir, database_url=None, redis_url=None))
        try:
            async with core.unit_of_work() as uow:
                await uow.usage.add_batch(events)
                await uow.commit()
        finally:
            await core.close()

    asyncio.run(store())


def _event(model: str, key_id: str, organization_id: str, day: int) -> UsageEvent:
    return UsageEvent(
        request_id=f"req-{model}-{key_id}-{day}",
        key_id=key_id,
        model=model,
        deployment="remote",
        endpoint="chat.completions",
        usage=TokenUsage(10, 20, 0),
        latency_ms=5.0,
        outcome=Outcome.OK,
        streamed=False,
        organization_id=organization_id,
        cost_micros=100,
        occurred_at=datetime(2026, 11, day, 12, 0, tzinfo=UTC),
    )


def test_review_lists_the_quarter_sunsets_and_who_still_uses_them(cli: Cli) -> None:
    quarter = ("catalog", "review", "--quarter", "2026Q4", "--on", "2026-11-26")
    before = cli.json(*quarter)
    assert len(before) == 26
    assert {entry["sunset"] for entry in before} == {"2026-12-30"}
    assert all(entry["users"] == [] for entry in before)
    assert "no recorded use" in cli.ok(*quarter).stdout

    _store(
        cli,
        [
            _event("qwen3-vl:30b", "keyaaaaaaaaa", "acme", 20),
            _event("qwen3-vl:30b", "keyaaaaaaaaa", "acme", 21),
            _event("qwen3-vl:30b", "keybbbbbbbbb", "globex", 2),  # before the 7-day window
        ],
    )
    recent = {e["model"]: e for e in cli.json(*quarter, "--days", "7")}["qwen3-vl:30b"]
    assert recent["phase"] == "deprecated"
    assert recent["replacement"] == "qwen3.6:35b"
    assert recent["users"] == [{"organization": "acme", "key": "keyaaaaaaaaa", "requests": 2}]

    output = cli.ok(*quarter).stdout
    assert "qwen3-vl:30b (deprecated): notice 2026-10-01, sunset 2026-12-30" in output
    assert "acme" in output
    assert "keyaaaaaaaaa" in output
    assert "globex" in output


def test_review_of_a_quiet_quarter_and_of_a_bad_one(cli: Cli) -> None:
    assert (
        "no model's sunset falls in 2031Q1"
        in cli.ok("catalog", "review", "--quarter", "2031Q1").stdout
    )
    result = cli("catalog", "review", "--quarter", "2027-Q1")
    assert result.exit_code == 2
    assert "expected e.g. 2027Q1" in result.output


def test_list_filters_by_phase_on_a_day(cli: Cli) -> None:
    production = cli.json("catalog", "list", "--phase", "production", "--on", "2026-11-26")
    assert len(production) == 16
    assert {"gpt-oss:120b", "voxtral", "z-image:16b"} <= {m["id"] for m in production}
    later = cli.json("catalog", "list", "--phase", "production", "--on", "2027-01-01")
    assert len(later) == 16
    assert len(cli.json("catalog", "list", "--phase", "retired", "--on", "2027-01-01")) == 89
    table = cli.ok("catalog", "list", "--phase", "deprecated", "--on", "2026-11-26").stdout
    assert "qwen3-vl:30b" in table
    assert "qwen3.6:35b" in table
    assert "llama3.3:70b" not in table
