"""The audit trail: who changed what, when and from where, in records that cannot be quietly altered.

Each record carries the keyed hash (HMAC-SHA256 with the server secret) of its own fields and of the
previous record's hash. Changing a record breaks its hash; deleting one breaks the next record's link
and leaves a gap in the sequence numbers; reordering breaks both. Keying the hash means that someone
who can write to the database but does not hold the server secret cannot rebuild a consistent chain
after tampering. Records hold summaries (names, ids, limits, prices), never a secret and never content.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from llmaas.domain.secrets import Secret

GENESIS = "0" * 64
"""The "previous hash" of the first record."""


class AuditAction(StrEnum):
    KEY_CREATED = "key.created"
    KEY_UPDATED = "key.updated"
    KEY_ROTATED = "key.rotated"
    KEY_REVOKED = "key.revoked"
    ORGANIZATION_CREATED = "organization.created"
    ORGANIZATION_UPDATED = "organization.updated"
    CREDIT_ADDED = "organization.credit_added"
    TIER_CREATED = "tier.created"
    TIER_UPDATED = "tier.updated"
    PRICE_CHANGED = "price.changed"
    CATALOG_CHANGED = "catalog.changed"
    POLICY_CHANGED = "policy.changed"
    DEPLOYMENT_DRAINED = "deployment.drained"
    DEPLOYMENT_UNDRAINED = "deployment.undrained"
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and from where."""

    name: str
    """``key:<id>`` for the admin API, ``cli:<user>`` for the command line, ``sso:<subject>``."""
    source: str = "local"
    """The client's address, or ``local`` for the command line."""


SYSTEM = Actor("system", "local")
"""Changes made by llmaas itself (seeding a fresh database)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened, before it gets its place in the chain."""

    at: datetime
    actor: str
    """``key:<id>`` for the admin API, ``cli:<user>`` for the command line, ``sso:<subject>``."""
    action: AuditAction
    target: str
    source: str = ""
    """The client address, or ``local`` for the command line."""
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    sequence: int
    entry: AuditEntry
    previous_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainBreak:
    sequence: int
    reason: str

    def __str__(self) -> str:
        return f"record {self.sequence}: {self.reason}"


class AuditChain:
    """Seals entries into records and checks a sequence of records."""

    def __init__(self, secret: Secret) -> None:
        self._key = hashlib.sha256(b"llmaas-audit\x00" + secret.reveal().encode()).digest()

    def seal(self, entry: AuditEntry, sequence: int, previous_hash: str) -> AuditRecord:
        return AuditRecord(
            sequence, entry, previous_hash, self._hash(entry, sequence, previous_hash)
        )

    def verify(self, records: Iterable[AuditRecord]) -> list[ChainBreak]:
        """Every break in the chain: a modified record, a missing one, records out of order."""
        breaks: list[ChainBreak] = []
        expected_sequence = 1
        previous_hash = GENESIS
        for record in records:
            if record.sequence != expected_sequence:
                breaks.append(
                    ChainBreak(
                        record.sequence,
                        f"expected record {expected_sequence} here (a record was deleted or moved)",
                    )
                )
            if record.previous_hash != previous_hash:
                breaks.append(ChainBreak(record.sequence, "does not follow the record before it"))
            if not hmac.compare_digest(
                record.hash, self._hash(record.entry, record.sequence, record.previous_hash)
            ):
                breaks.append(ChainBreak(record.sequence, "its content was modified"))
            expected_sequence = record.sequence + 1
            previous_hash = record.hash
        return breaks

    def _hash(self, entry: AuditEntry, sequence: int, previous_hash: str) -> str:
        return hmac.new(
            self._key, canonical(entry, sequence, previous_hash), hashlib.sha256
        ).hexdigest()


def canonical(entry: AuditEntry, sequence: int, previous_hash: str) -> bytes:
    """One byte string per record, whatever the database returns (key order, time zone form)."""
    return json.dumps(
        {
            "sequence": sequence,
            "previous_hash": previous_hash,
            "at": _utc(entry.at).isoformat(timespec="microseconds"),
            "actor": entry.actor,
            "action": str(entry.action),
            "target": entry.target,
            "source": entry.source,
            "before": dict(entry.before),
            "after": dict(entry.after),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    ).encode("utf-8")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
