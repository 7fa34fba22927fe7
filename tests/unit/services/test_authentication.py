from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

import pytest

from llmaas.adapters.memory.unit_of_work import MemoryStore, MemoryUnitOfWork
from llmaas.domain.api_keys import KeyHasher
from llmaas.domain.errors import InvalidApiKey
from llmaas.domain.secrets import Secret
from llmaas.services.api_keys import ApiKeyService
from llmaas.services.authentication import Authenticator
from tests.unit.services.fakes import FakeClock


@dataclass
class World:
    store: MemoryStore
    clock: FakeClock
    authenticator: Authenticator
    service: ApiKeyService
    reads: list[int]


@pytest.fixture
def world() -> World:
    store = MemoryStore()
    reads = [0]

    class CountingUnitOfWork(MemoryUnitOfWork):
        async def __aenter__(self) -> CountingUnitOfWork:
            reads[0] += 1
            await super().__aenter__()
            return self

    clock = FakeClock()
    hasher = KeyHasher(Secret("x" * 48))
    authenticator = Authenticator(
        lambda: CountingUnitOfWork(store), hasher, clock, recheck_seconds=5
    )
    service = ApiKeyService(lambda: MemoryUnitOfWork(store), hasher, clock, authenticator)
    return World(store, clock, authenticator, service, reads)


async def test_a_valid_key_becomes_a_principal(world: World) -> None:
    issued = await world.service.create("app", allowed_models=["m1"])
    principal = await world.authenticator.authenticate(f"Bearer {issued.key.reveal()}")
    assert principal.key_id == issued.record.id
    assert principal.may_use("m1")
    assert not principal.may_use("m2")


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Basic abc", "Bearer sk-llmaas-nope", "token"]
)
async def test_missing_or_malformed_headers_are_refused(world: World, header: str | None) -> None:
    with pytest.raises(InvalidApiKey):
        await world.authenticator.authenticate(header)


async def test_right_id_wrong_secret_is_refused(world: World) -> None:
    issued = await world.service.create("app")
    forged = issued.key.reveal()[:-4] + "AAAA"
    with pytest.raises(InvalidApiKey):
        await world.authenticator.authenticate(f"Bearer {forged}")


async def test_hot_path_is_served_from_memory(world: World) -> None:
    issued = await world.service.create("app")
    for _ in range(100):
        await world.authenticator.authenticate(f"Bearer {issued.key.reveal()}")
        world.clock.advance(0.01)
    assert world.reads[0] == 1


async def test_revocation_here_is_immediate(world: World) -> None:
    issued = await world.service.create("app")
    header = f"Bearer {issued.key.reveal()}"
    await world.authenticator.authenticate(header)
    await world.service.revoke(issued.record.id)
    with pytest.raises(InvalidApiKey, match="revoked"):
        await world.authenticator.authenticate(header)


async def test_revocation_elsewhere_is_seen_after_the_recheck_interval(world: World) -> None:
    issued = await world.service.create("app")
    header = f"Bearer {issued.key.reveal()}"
    await world.authenticator.authenticate(header)
    # Another process revokes the key straight in the database.
    world.store.api_keys[issued.record.id] = dataclasses.replace(
        issued.record, revoked_at=world.clock.now()
    )
    await world.authenticator.authenticate(header)  # still cached
    world.clock.advance(5.1)
    with pytest.raises(InvalidApiKey):
        await world.authenticator.authenticate(header)


async def test_expired_keys_are_refused(world: World) -> None:
    issued = await world.service.create("app", expires_at=world.clock.now() + timedelta(seconds=60))
    await world.authenticator.authenticate(f"Bearer {issued.key.reveal()}")
    world.clock.advance(61)
    with pytest.raises(InvalidApiKey, match="expired"):
        await world.authenticator.authenticate(f"Bearer {issued.key.reveal()}")


async def test_unknown_ids_are_remembered_briefly(world: World) -> None:
    unknown = "Bearer sk-llmaas-abcdefghijkl-" + "Z" * 40
    for _ in range(50):
        with pytest.raises(InvalidApiKey):
            await world.authenticator.authenticate(unknown)
    assert world.reads[0] == 1
    world.clock.advance(6)
    with pytest.raises(InvalidApiKey):
        await world.authenticator.authenticate(unknown)
    assert world.reads[0] == 2
