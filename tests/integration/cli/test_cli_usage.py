"""``llmaas usage``: reports over usage written straight into the database, as the server would."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from llmaas.app import build_core
from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.settings import Settings
from tests.integration.cli.conftest import Cli

JANUARY = ("--start", "2026-01-01", "--end", "2026-02-01")


def _event(
    key_id: str,
    model: str,
    occurred_at: datetime,
    *,
    prompt: int = 10,
    completion: int = 20,
    reasoning: int = 0,
    cost_micros: int = 1_500,
    organization_id: str = "default",
    outcome: Outcome = Outcome.OK,
) -> UsageEvent:
    return UsageEvent(
        request_id=f"req-{key_id}-{model}-{occurred_at.isoformat()}-{prompt}",
        key_id=key_id,
        model=model,
        deployment=f"{model}-local",
        endpoint="chat.completions",
        usage=TokenUsage(prompt, completion, reasoning),
        latency_ms=12.5,
        outcome=outcome,
        streamed=False,
        organization_id=organization_id,
        cost_micros=cost_micros,
        occurred_at=occurred_at,
    )


def _store(cli: Cli, events: Sequence[UsageEvent]) -> None:
    async def store() -> None:
        core = build_core(Settings(data_dir=cli.data_dir, database_url=None, redis_url=None))
        try:
            async with core.unit_of_work() as uow:
                await uow.usage.add_batch(events)
                await uow.commit()
        finally:
            await core.close()

    asyncio.run(store())


@pytest.fixture
def january(cli: Cli) -> Cli:
    day15 = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
    day16 = datetime(2026, 1, 16, 8, 0, tzinfo=UTC)
    _store(
        cli,
        [
            _event("keyaaaaaaaaa", "small", day15, organization_id="acme"),
            _event("keyaaaaaaaaa", "small", day16, prompt=5, organization_id="acme"),
            _event(
                "keyaaaaaaaaa",
                "large",
                day15,
                reasoning=8,
                cost_micros=2_000_000,
                organization_id="acme",
            ),
            _event("keybbbbbbbbb", "small", day16, outcome=Outcome.FAILED),
            # Outside the period: must not be counted.
            _event("keyaaaaaaaaa", "small", datetime(2026, 2, 1, tzinfo=UTC)),
        ],
    )
    return cli


def test_json_groups_by_key_and_model_with_exact_cost(january: Cli) -> None:
    rows = january.json("usage", *JANUARY, "--group-by", "key,model")

    by_group = {(r["key"], r["model"]): r for r in rows}
    assert set(by_group) == {
        ("keyaaaaaaaaa", "large"),
        ("keyaaaaaaaaa", "small"),
        ("keybbbbbbbbb", "small"),
    }
    small = by_group[("keyaaaaaaaaa", "small")]
    assert small["requests"] == 2
    assert small["input_tokens"] == 15
    assert small["output_tokens"] == 40
    assert small["cost_micros"] == 3_000
    assert small["cost_eur"] == "0.003"
    assert by_group[("keyaaaaaaaaa", "large")]["cost_eur"] == "2.00"
    assert by_group[("keybbbbbbbbb", "small")]["failed_requests"] == 1


def test_filters_by_organization_key_and_model(january: Cli) -> None:
    by_org = january.json("usage", *JANUARY, "--group-by", "org", "--org", "acme")
    by_key = january.json("usage", *JANUARY, "--group-by", "none", "--key", "keybbbbbbbbb")
    by_model = january.json("usage", *JANUARY, "--group-by", "model", "--model", "large")

    assert by_org == [
        {
            "organization": "acme",
            "requests": 3,
            "failed_requests": 0,
            "input_tokens": 25,
            "output_tokens": 60,
            "reasoning_tokens": 8,
            "audio_seconds": 0.0,
            "cost_micros": 2_003_000,
            "cost_eur": "2.003",
        }
    ]
    assert [r["requests"] for r in by_key] == [1]
    assert [r["model"] for r in by_model] == ["large"]


def test_group_by_day(january: Cli) -> None:
    rows = january.json("usage", *JANUARY, "--group-by", "day")

    assert [r["day"][:10] for r in rows] == ["2026-01-15", "2026-01-16"]
    assert [r["requests"] for r in rows] == [2, 2]


def test_csv_has_a_header_and_one_row_per_group(january: Cli) -> None:
    printed = january.ok("usage", *JANUARY, "--group-by", "model", "--csv").stdout

    rows = list(csv.reader(io.StringIO(printed)))
    assert rows[0] == [
        "model",
        "requests",
        "failed_requests",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
        "audio_seconds",
        "cost_eur",
    ]
    assert rows[1:] == [
        ["large", "1", "0", "10", "20", "8", "0.000", "2.00"],
        ["small", "3", "1", "25", "60", "0", "0.000", "0.0045"],
    ]


def test_by_token_type_in_csv_json_and_table(january: Cli) -> None:
    args = ("usage", *JANUARY, "--group-by", "model", "--model", "large", "--by-token-type")

    csv_rows = list(csv.reader(io.StringIO(january.ok(*args, "--csv").stdout)))
    json_rows = january.json(*args)
    table = january.ok(*args).stdout

    assert csv_rows == [
        ["model", "token_type", "tokens"],
        ["large", "input", "10"],
        ["large", "output", "12"],
        ["large", "reasoning", "8"],
    ]
    assert json_rows == [
        {"model": "large", "token_type": "input", "tokens": 10},
        {"model": "large", "token_type": "output", "tokens": 12},
        {"model": "large", "token_type": "reasoning", "tokens": 8},
    ]
    assert "reasoning" in table


def test_table_shows_cost_in_eur(january: Cli) -> None:
    table = january.ok("usage", *JANUARY, "--group-by", "model").stdout

    assert "large" in table
    assert "2.00" in table


def test_default_period_is_this_month(cli: Cli) -> None:
    now = datetime.now(UTC)
    _store(
        cli,
        [
            _event("keyaaaaaaaaa", "small", now),
            _event("keyaaaaaaaaa", "small", datetime(2020, 1, 1, tzinfo=UTC)),
        ],
    )

    rows = cli.json("usage")

    assert rows == [
        {
            "key": "keyaaaaaaaaa",
            "model": "small",
            "requests": 1,
            "failed_requests": 0,
            "input_tokens": 10,
            "output_tokens": 20,
            "reasoning_tokens": 0,
            "audio_seconds": 0.0,
            "cost_micros": 1_500,
            "cost_eur": "0.0015",
        }
    ]


def test_an_empty_period(cli: Cli) -> None:
    assert cli.json("usage") == []
    assert "No usage" in cli.ok("usage").stdout
    assert cli.ok("usage", "--csv").stdout.startswith("key,model,requests")


def test_usage_errors(cli: Cli) -> None:
    backwards = cli("usage", "--start", "2026-02-01", "--end", "2026-01-01")
    bad_date = cli("usage", "--start", "January")
    bad_group = cli("usage", "--group-by", "colour")
    both = cli("usage", "--csv", "--json")

    assert backwards.exit_code == 1
    assert "'end' must be after 'start'" in backwards.stderr
    assert bad_date.exit_code == 2
    assert bad_group.exit_code == 2
    assert "cannot group by 'colour'" in bad_group.output
    assert both.exit_code == 2
    assert "Traceback" not in backwards.output + bad_date.output + both.output
