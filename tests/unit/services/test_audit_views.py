"""The console's views of the audit trail: the newest records, and one organization's records."""

from __future__ import annotations

from llmaas.adapters.memory.unit_of_work import MemoryStore, MemoryUnitOfWork
from llmaas.domain.audit import Actor, AuditAction, AuditChain
from llmaas.domain.secrets import Secret
from llmaas.services.audit import AuditTrail
from tests.unit.services.fakes import FakeClock

OPS = Actor("cli:ops", "local")


def trail() -> AuditTrail:
    store = MemoryStore()
    return AuditTrail(lambda: MemoryUnitOfWork(store), AuditChain(Secret("s" * 48)), FakeClock())


async def test_latest_reads_the_newest_records_oldest_first() -> None:
    audit = trail()
    assert await audit.latest(3) == []
    for number in range(7):
        await audit.record_alone(OPS, AuditAction.KEY_REVOKED, f"key:k{number}")
    assert [r.entry.target for r in await audit.latest(3)] == ["key:k4", "key:k5", "key:k6"]
    assert len(await audit.latest(100)) == 7


async def test_an_organization_sees_itself_its_keys_and_its_members_logins_only() -> None:
    audit = trail()
    mine = [
        await audit.record_alone(OPS, AuditAction.ORGANIZATION_UPDATED, "organization:acme"),
        await audit.record_alone(
            OPS, AuditAction.KEY_CREATED, "key:a1", after={"organization": "acme"}
        ),
        await audit.record_alone(OPS, AuditAction.KEY_REVOKED, "key:a1"),  # names no organization
        await audit.record_alone(
            Actor("sso:alice", "10.0.0.1"),
            AuditAction.LOGIN_SUCCEEDED,
            "console",
            after={"roles": {"acme": "admin"}},
        ),
    ]
    others = [
        await audit.record_alone(OPS, AuditAction.ORGANIZATION_UPDATED, "organization:acme-2"),
        await audit.record_alone(
            OPS, AuditAction.KEY_CREATED, "key:b1", after={"organization": "other"}
        ),
        await audit.record_alone(OPS, AuditAction.KEY_REVOKED, "key:b1"),
        await audit.record_alone(
            Actor("sso:bob", "10.0.0.2"),
            AuditAction.LOGIN_SUCCEEDED,
            "console",
            after={"roles": {"other": "admin"}},
        ),
        await audit.record_alone(OPS, AuditAction.DEPLOYMENT_DRAINED, "deployment:gpu-1"),
    ]
    found = await audit.records_of("acme", {"a1"}, limit=100)
    assert [r.sequence for r in found] == [r.sequence for r in mine]
    assert not {r.sequence for r in found} & {r.sequence for r in others}
    # paging: after and limit behave as on the whole trail
    assert [r.sequence for r in await audit.records_of("acme", {"a1"}, limit=2)] == [1, 2]
    page = await audit.records_of("acme", {"a1"}, after=2, limit=100)
    assert [r.sequence for r in page] == [3, 4]
