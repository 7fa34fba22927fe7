"""Catalog and price changes reach the audit trail at each start, from the trail's own history."""

from __future__ import annotations

from dataclasses import replace

from llmaas.adapters.catalog_file import load_catalog
from llmaas.adapters.memory.unit_of_work import MemoryStore, MemoryUnitOfWork
from llmaas.domain.audit import Actor, AuditAction, AuditChain
from llmaas.domain.catalog import Catalog
from llmaas.domain.secrets import Secret
from llmaas.services.audit import AuditTrail
from llmaas.services.catalog_audit import CatalogAudit, replay
from tests.unit.services.fakes import FakeClock

SERVE = Actor("serve:ops", "local")


def services() -> tuple[CatalogAudit, AuditTrail]:
    store = MemoryStore()
    trail = AuditTrail(lambda: MemoryUnitOfWork(store), AuditChain(Secret("s" * 48)), FakeClock())
    return CatalogAudit(lambda: MemoryUnitOfWork(store), trail), trail


def with_price(catalog: Catalog, model_id: str, output_per_million: int) -> Catalog:
    models = tuple(
        replace(m, prices=replace(m.prices, output_per_million=output_per_million))
        if m.id == model_id
        else m
        for m in catalog.models
    )
    return replace(catalog, models=models)


async def test_the_first_start_records_every_model_and_an_unchanged_one_nothing() -> None:
    audit, trail = services()
    catalog = load_catalog()
    assert await audit.record_changes(catalog, by=SERVE) == len(catalog)
    assert await audit.record_changes(catalog, by=SERVE) == 0
    records = await trail.records()
    assert [r.entry.action for r in records] == [AuditAction.CATALOG_CHANGED]
    assert set(records[0].entry.after["models"]) == {m.id for m in catalog}


async def test_a_price_change_is_recorded_with_its_before_and_after() -> None:
    audit, trail = services()
    catalog = load_catalog()
    await audit.record_changes(catalog, by=SERVE)
    model = catalog.models[0]
    repriced = with_price(catalog, model.id, model.prices.output_per_million + 1_000_000)
    assert await audit.record_changes(repriced, by=SERVE) == 1
    catalog_record, price_record = (await trail.records())[1:]
    assert catalog_record.entry.action is AuditAction.CATALOG_CHANGED
    assert list(catalog_record.entry.after["models"]) == [model.id]
    assert price_record.entry.action is AuditAction.PRICE_CHANGED
    assert price_record.entry.target == f"model:{model.id}"
    assert price_record.entry.actor == "serve:ops"
    old = model.prices.output_per_million
    assert price_record.entry.before["output_per_million"] == old
    assert price_record.entry.after["output_per_million"] == old + 1_000_000
    _, breaks = await trail.verify()
    assert breaks == []


async def test_a_removed_model_is_recorded_and_replay_forgets_it() -> None:
    audit, trail = services()
    catalog = load_catalog()
    await audit.record_changes(catalog, by=SERVE)
    gone = catalog.models[-1]
    smaller = replace(catalog, models=catalog.models[:-1])
    assert await audit.record_changes(smaller, by=SERVE) == 1
    records = await trail.records()
    assert records[-1].entry.after["models"] == {gone.id: None}
    state = replay([dict(r.entry.after) for r in records])
    assert gone.id not in state and len(state) == len(smaller)
    assert await audit.record_changes(smaller, by=SERVE) == 0
