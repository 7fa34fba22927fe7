"""One suite, every ``ApiKeyRepository``: memory, SQLite and PostgreSQL must behave identically."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.limits import Limits
from llmaas.domain.tenants import DEFAULT_ORGANIZATION_ID, Organization
from llmaas.ports.repositories import UnitOfWorkFactory
from tests.contract.units_of_work import Runner, run

__all__ = ["run"]

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def record(key_id: str, *, created: datetime = T0, **overrides: Any) -> ApiKeyRecord:
    fields: dict[str, Any] = {
        "id": key_id,
        "name": f"key {key_id}",
        "key_hash": f"hash-{key_id}".ljust(64, "0"),
        "created_at": created,
    }
    fields.update(overrides)
    return ApiKeyRecord(**fields)


async def _add(uow_factory: UnitOfWorkFactory, *records: ApiKeyRecord) -> None:
    async with uow_factory() as uow:
        for item in records:
            await uow.api_keys.add(item)
        await uow.commit()


async def _update(uow_factory: UnitOfWorkFactory, item: ApiKeyRecord) -> None:
    async with uow_factory() as uow:
        await uow.api_keys.update(item)
        await uow.commit()


async def _add_organization(uow_factory: UnitOfWorkFactory, organization_id: str) -> None:
    async with uow_factory() as uow:
        await uow.organizations.add(
            Organization(organization_id, f"Org {organization_id}", "tier-1", T0)
        )
        await uow.commit()


def test_add_then_get_round_trips_every_field(run: Runner) -> None:
    full = record(
        "aaaaaaaaaaaa",
        is_admin=True,
        allowed_models=frozenset({"qwen2.5-coder:0.5b", "all-minilm:22m"}),
        expires_at=T0 + timedelta(days=30),
        organization_id="acme",
        limits=Limits(requests_per_minute=60, monthly_budget_micros=12_000_000_000),
        previous_key_hash="p" * 64,
        previous_valid_until=T0 + timedelta(hours=1),
    )

    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add_organization(uow_factory, "acme")
        await _add(uow_factory, full, record("bbbbbbbbbbbb"))
        async with uow_factory() as uow:
            assert await uow.api_keys.get("aaaaaaaaaaaa") == full
            other = await uow.api_keys.get("bbbbbbbbbbbb")
            assert other is not None
            assert other.allowed_models is None
            assert other.is_admin is False
            assert other.organization_id == DEFAULT_ORGANIZATION_ID
            assert other.limits == Limits()
            assert other.previous_key_hash is None
            assert other.previous_valid_until is None
            assert await uow.api_keys.get("cccccccccccc") is None
            assert await uow.api_keys.count() == 2

    run(scenario)


def test_datetimes_in_other_zones_keep_their_instant(run: Runner) -> None:
    """SQLite stores datetimes as text without an offset: they must be converted to UTC first."""
    paris = timezone(timedelta(hours=1))

    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add(uow_factory, record("aaaaaaaaaaaa", created=T0.astimezone(paris)))
        async with uow_factory() as uow:
            stored = await uow.api_keys.get("aaaaaaaaaaaa")
        assert stored is not None
        assert stored.created_at == T0

    run(scenario)


def test_metadata_is_not_persisted(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add(uow_factory, record("aaaaaaaaaaaa", metadata={"purpose": "ci"}))
        async with uow_factory() as uow:
            stored = await uow.api_keys.get("aaaaaaaaaaaa")
        assert stored is not None
        assert stored.metadata == {}

    run(scenario)


def test_nothing_is_kept_without_commit(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        async with uow_factory() as uow:
            await uow.api_keys.add(record("aaaaaaaaaaaa"))
        async with uow_factory() as uow:
            assert await uow.api_keys.get("aaaaaaaaaaaa") is None
            assert await uow.api_keys.count() == 0

    run(scenario)


def test_list_orders_by_creation_and_hides_revoked(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add(
            uow_factory,
            record("bbbbbbbbbbbb", created=T0 + timedelta(minutes=1)),
            record("aaaaaaaaaaaa", created=T0),
            record("cccccccccccc", created=T0 + timedelta(minutes=2)),
        )
        async with uow_factory() as uow:
            assert await uow.api_keys.revoke("bbbbbbbbbbbb", T0 + timedelta(hours=1))
            await uow.commit()
        async with uow_factory() as uow:
            active = [r.id for r in await uow.api_keys.list()]
            everything = [r.id for r in await uow.api_keys.list(include_revoked=True)]
            revoked = await uow.api_keys.get("bbbbbbbbbbbb")
        assert active == ["aaaaaaaaaaaa", "cccccccccccc"]
        assert everything == ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"]
        assert revoked is not None
        assert revoked.revoked_at == T0 + timedelta(hours=1)

    run(scenario)


def test_list_filters_by_organization(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add_organization(uow_factory, "acme")
        await _add(
            uow_factory,
            record("aaaaaaaaaaaa", organization_id="acme"),
            record("bbbbbbbbbbbb", created=T0 + timedelta(minutes=1)),
            record("cccccccccccc", organization_id="acme", created=T0 + timedelta(minutes=2)),
        )
        async with uow_factory() as uow:
            assert await uow.api_keys.revoke("cccccccccccc", T0)
            acme = [r.id for r in await uow.api_keys.list(organization_id="acme")]
            acme_all = await uow.api_keys.list(organization_id="acme", include_revoked=True)
            default = await uow.api_keys.list(organization_id=DEFAULT_ORGANIZATION_ID)
            nobody = await uow.api_keys.list(organization_id="nobody")
        assert acme == ["aaaaaaaaaaaa"]
        assert [r.id for r in acme_all] == ["aaaaaaaaaaaa", "cccccccccccc"]
        assert [r.id for r in default] == ["bbbbbbbbbbbb"]
        assert nobody == []

    run(scenario)


def test_update_replaces_the_record(run: Runner) -> None:
    original = record("aaaaaaaaaaaa", allowed_models=frozenset({"m1"}))
    rotated = dataclasses.replace(
        original,
        name="renamed",
        key_hash="n" * 64,
        previous_key_hash=original.key_hash,
        previous_valid_until=T0 + timedelta(days=1),
        organization_id="acme",
        allowed_models=None,
        limits=Limits(tokens_per_minute=1_000, max_concurrent_requests=2),
        expires_at=T0 + timedelta(days=90),
    )

    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add_organization(uow_factory, "acme")
        await _add(uow_factory, original)
        async with uow_factory() as uow:
            assert await uow.api_keys.update(rotated) is True
            assert await uow.api_keys.update(record("zzzzzzzzzzzz")) is False
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.api_keys.get("aaaaaaaaaaaa") == rotated
            assert await uow.api_keys.get("zzzzzzzzzzzz") is None
            assert await uow.api_keys.count() == 1

    run(scenario)


def test_a_key_needs_an_existing_organization(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            await _add(uow_factory, record("aaaaaaaaaaaa", organization_id="nobody"))
        await _add(uow_factory, record("bbbbbbbbbbbb"))
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            await _update(uow_factory, record("bbbbbbbbbbbb", organization_id="nobody"))
        async with uow_factory() as uow:
            assert [r.id for r in await uow.api_keys.list()] == ["bbbbbbbbbbbb"]

    run(scenario)


def test_revoke_is_once_only_and_unknown_ids_are_refused(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add(uow_factory, record("aaaaaaaaaaaa"))
        async with uow_factory() as uow:
            assert await uow.api_keys.revoke("aaaaaaaaaaaa", T0) is True
            assert await uow.api_keys.revoke("aaaaaaaaaaaa", T0) is False
            assert await uow.api_keys.revoke("zzzzzzzzzzzz", T0) is False
            await uow.commit()

    run(scenario)


def test_duplicate_ids_are_rejected(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add(uow_factory, record("aaaaaaaaaaaa"))
        with pytest.raises(Exception, match=r"(?i)duplicate|unique"):
            await _add(uow_factory, record("aaaaaaaaaaaa", key_hash="f" * 64))
        async with uow_factory() as uow:
            assert await uow.api_keys.count() == 1

    run(scenario)
