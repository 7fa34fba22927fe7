"""The audit chain finds every kind of tampering: a modified, deleted or moved record, or a chain
rebuilt by someone who does not hold the server secret."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

from llmaas.domain.audit import GENESIS, AuditAction, AuditChain, AuditEntry, AuditRecord
from llmaas.domain.secrets import Secret

CHAIN = AuditChain(Secret("server-secret"))
START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def trail(length: int = 5, chain: AuditChain = CHAIN) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    previous = GENESIS
    for index in range(length):
        entry = AuditEntry(
            at=START + timedelta(minutes=index),
            actor="cli:ops",
            action=AuditAction.KEY_CREATED,
            target=f"key:k{index}",
            source="local",
            after={"name": f"key {index}", "limits": {"requests_per_minute": 60}},
        )
        record = chain.seal(entry, index + 1, previous)
        records.append(record)
        previous = record.hash
    return records


def test_an_untouched_trail_verifies() -> None:
    assert CHAIN.verify(trail()) == []
    assert CHAIN.verify([]) == []


def test_a_modified_record_is_found() -> None:
    records = trail()
    forged = dataclasses.replace(records[2].entry, after={"name": "key 2", "limits": {}})
    records[2] = dataclasses.replace(records[2], entry=forged)
    assert [(b.sequence, b.reason) for b in CHAIN.verify(records)] == [
        (3, "its content was modified")
    ]


def test_a_deleted_record_is_found() -> None:
    records = trail()
    del records[1]
    breaks = CHAIN.verify(records)
    assert {b.sequence for b in breaks} == {3}
    assert any("deleted" in b.reason for b in breaks)


def test_the_last_record_deleted_is_not_a_break_but_the_count_says_it() -> None:
    """Dropping the newest record leaves a valid shorter chain: exports kept elsewhere (and the
    record count) are what catch it, which is why ``audit export`` exists."""
    assert CHAIN.verify(trail()[:-1]) == []


def test_reordered_records_are_found() -> None:
    records = trail()
    records[1], records[2] = records[2], records[1]
    assert {b.sequence for b in CHAIN.verify(records)} >= {2, 3}


def test_a_chain_rebuilt_without_the_secret_is_found() -> None:
    """Someone with database access but another key can build a self-consistent chain, but not
    one that verifies with the server's secret."""
    forged = trail(chain=AuditChain(Secret("attacker's guess")))
    assert len(CHAIN.verify(forged)) == len(forged)


def test_the_time_zone_a_database_returns_does_not_matter() -> None:
    records = trail(2)
    paris = timezone(timedelta(hours=1))
    moved = dataclasses.replace(records[0].entry, at=records[0].entry.at.astimezone(paris))
    naive = dataclasses.replace(records[1].entry, at=records[1].entry.at.replace(tzinfo=None))
    same = [
        dataclasses.replace(records[0], entry=moved),
        dataclasses.replace(records[1], entry=naive),
    ]
    assert CHAIN.verify(same) == []
