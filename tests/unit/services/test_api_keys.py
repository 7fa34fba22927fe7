"""Key ids in admin URLs are whatever a client typed: an unknown one is a 404, whatever its letters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from llmaas.adapters.memory.unit_of_work import MemoryStore, MemoryUnitOfWork
from llmaas.domain.api_keys import KeyHasher
from llmaas.domain.errors import NotFound
from llmaas.domain.secrets import Secret
from llmaas.services.api_keys import ApiKeyService
from tests.unit.services.fakes import FakeClock


def service() -> ApiKeyService:
    store = MemoryStore()
    return ApiKeyService(lambda: MemoryUnitOfWork(store), KeyHasher(Secret("x" * 48)), FakeClock())


@pytest.mark.parametrize("key_id", ["\U000104ee\u00c8", "k3y1d0000001"])
async def test_rotating_an_unknown_id_is_not_found(key_id: str) -> None:
    # The schemathesis run found a non-ASCII id crashing the new secret's checksum: a 500.
    with pytest.raises(NotFound):
        await service().rotate(key_id, grace=timedelta(0))


async def test_a_rotated_key_keeps_its_id() -> None:
    keys = service()
    issued = await keys.create("app")
    rotated = await keys.rotate(issued.record.id, grace=timedelta(0))
    assert rotated.record.id == issued.record.id
    assert rotated.key.reveal() != issued.key.reveal()
    assert issued.record.id in rotated.key.reveal()
