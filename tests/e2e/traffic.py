"""Concurrent traffic through the official SDK, and the usage a server stored, for metering tests."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openai

from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.domain.usage_reports import GroupBy, RollupTotals, UsageQuery
from tests.fakes.openai_upstream import closed_port

# What the fake engine reports for every answer: 9 prompt tokens, 4 completion tokens, which the
# default prices (1.80 and 8.00 EUR per million) make 48.2 micros, billed as 49.
FAKE_ANSWER_COST = 49


def remote_models(**upstream_urls: str) -> str:
    """A models file with one remote chat model per fake engine (``name=url``)."""
    entries = []
    for name, url in upstream_urls.items():
        entries.append(
            f"""  - id: {name}
    owned_by: ops
    created: 2026-01-01
    context_length: 8192
    capabilities: [chat, completions]
    deployments:
      - name: {name}-gpu
        engine: vllm
        url: {url}
        upstream_model: vendor/{name}
"""
        )
    return "models:\n" + "".join(entries)


def unused_deployment_url() -> str:
    return f"http://127.0.0.1:{closed_port()}/v1"


@dataclass
class Outcomes:
    ok: int
    refusals: Counter[str]
    """``code`` of each 429, e.g. ``insufficient_quota``."""
    other: list[str]


async def one_request(client: openai.AsyncOpenAI, model: str, *, stream: bool) -> str:
    """``"ok"``, the refusal code of a 429, or the error's class name."""
    try:
        if stream:
            events = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "count to four"}],
                max_tokens=1000,
                stream=True,
            )
            async for _ in events:
                pass
        else:
            await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "count to four"}],
                max_tokens=1000,
            )
    except openai.RateLimitError as error:
        return f"429:{error.code}"
    except openai.APIError as error:
        return type(error).__name__
    return "ok"


async def burst(clients: list[openai.AsyncOpenAI], model: str, count: int) -> Outcomes:
    """``count`` requests at once, spread over ``clients``, half of them streaming."""
    results = await asyncio.gather(
        *(one_request(clients[i % len(clients)], model, stream=i % 2 == 0) for i in range(count))
    )
    refusals = Counter(r.removeprefix("429:") for r in results if r.startswith("429:"))
    other = [r for r in results if r != "ok" and not r.startswith("429:")]
    return Outcomes(results.count("ok"), refusals, other)


def wait_for_fresh_minute(margin: float = 15.0) -> None:
    """Per-minute windows are aligned on the clock: start a burst well inside one."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.5)


async def stored_usage(database_url: str, key_id: str) -> tuple[int, RollupTotals | None]:
    """The number of raw usage records and the rolled-up totals of one key, as stored."""
    engine = create_engine(database_url)
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            now = datetime.now(UTC)
            rows = await uow.usage.report(
                UsageQuery(
                    start=now - timedelta(days=2),
                    end=now + timedelta(days=2),
                    group_by=(GroupBy.KEY,),
                    key_id=key_id,
                )
            )
            count = await uow.usage.count_records()
    finally:
        await engine.dispose()
    return count, rows[0].totals if rows else None


async def wait_for_usage(database_url: str, key_id: str, requests: int) -> RollupTotals:
    """Usage is written in batches (every second by default): poll until it shows up."""
    deadline = time.monotonic() + 15
    while True:
        _, totals = await stored_usage(database_url, key_id)
        if totals is not None and totals.requests >= requests:
            return totals
        if time.monotonic() > deadline:
            raise AssertionError(f"usage of {requests} requests not stored in time: {totals}")
        await asyncio.sleep(0.3)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'llmaas.db').resolve()}"
