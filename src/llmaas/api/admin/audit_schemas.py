"""Wire models of the admin API's audit trail (``/admin/v1/audit``): records as stored, hashes
included, so an export can be verified elsewhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict

from llmaas.api.admin.values import ResponseModel
from llmaas.domain.audit import AuditRecord

AUDIT_EXAMPLE: dict[str, Any] = {
    "object": "audit.record",
    "sequence": 42,
    "at": "2026-11-26T09:14:03.512000+00:00",
    "actor": "key:3kq8x0c2m9ab",
    "source": "10.0.4.17",
    "action": "key.updated",
    "target": "key:7hd92kfq0w1z",
    "before": {"name": "billing app"},
    "after": {"name": "billing app v2"},
    "previous_hash": "9f2c...",
    "hash": "41be...",
}


class AuditRecordOut(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [AUDIT_EXAMPLE]})

    object: Literal["audit.record"] = "audit.record"
    sequence: int
    at: datetime
    actor: str
    source: str
    action: str
    target: str
    before: dict[str, Any]
    after: dict[str, Any]
    previous_hash: str
    hash: str

    @classmethod
    def of(cls, record: AuditRecord) -> AuditRecordOut:
        entry = record.entry
        return cls(
            sequence=record.sequence,
            at=entry.at,
            actor=entry.actor,
            source=entry.source,
            action=str(entry.action),
            target=entry.target,
            before=dict(entry.before),
            after=dict(entry.after),
            previous_hash=record.previous_hash,
            hash=record.hash,
        )


class AuditList(ResponseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"object": "list", "data": [AUDIT_EXAMPLE], "has_more": False}]
        }
    )

    object: Literal["list"] = "list"
    data: list[AuditRecordOut]
    has_more: bool


class AuditVerification(ResponseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"object": "audit.verification", "records": 42, "intact": True, "breaks": []}
            ]
        }
    )

    object: Literal["audit.verification"] = "audit.verification"
    records: int
    intact: bool
    breaks: list[str]
