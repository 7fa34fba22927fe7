"""Catalog and price changes in the audit trail.

The catalog is a file an operator edits (each quarter's review, a price change, a deprecation notice)
and a gateway reads at start. Nothing calls an API when it changes, so the gateway compares, at each
start, what it serves with what the trail says was served before, and records the difference: one
``catalog.changed`` record with the models that appeared, changed or went, and one ``price.changed``
record per model whose prices moved, so "who changed this price, and when" has an answer.

The trail itself is the state: the first record holds every model, and replaying the
``catalog.changed`` records in order rebuilds what was last served. Nothing else is stored.
Two gateways starting at the same moment with the same new catalog may both record it; the records
say the same thing and the chain stays valid.
"""

from __future__ import annotations

from typing import Any

from llmaas.domain.audit import Actor, AuditAction
from llmaas.domain.catalog import Catalog
from llmaas.domain.models import ServedModel
from llmaas.ports.repositories import UnitOfWorkFactory
from llmaas.services.audit import AuditTrail, plain

CATALOG_TARGET = "catalog"

ModelState = dict[str, Any]


def model_state(model: ServedModel) -> ModelState:
    """What an operator changes in a catalog and a customer's bill or code depends on."""
    lifecycle = model.lifecycle
    return {
        "prices": plain(model.prices),
        "phase": lifecycle.phase.value,
        "deprecation_notice": plain(lifecycle.deprecation_notice),
        "sunset": plain(lifecycle.sunset),
        "replacement": lifecycle.replacement,
        "context_length": model.context_length,
        "capabilities": sorted(capability.value for capability in model.capabilities),
    }


def catalog_state(catalog: Catalog) -> dict[str, ModelState]:
    return {model.id: model_state(model) for model in catalog}


def replay(records_after: list[dict[str, Any]]) -> dict[str, ModelState]:
    """The catalog state that a sequence of ``catalog.changed`` ``after`` summaries leads to: a
    model set to ``None`` was removed."""
    state: dict[str, ModelState] = {}
    for after in records_after:
        for model_id, summary in after.get("models", {}).items():
            if summary is None:
                state.pop(model_id, None)
            else:
                state[model_id] = summary
    return state


def difference(
    previous: dict[str, ModelState], current: dict[str, ModelState]
) -> tuple[dict[str, ModelState | None], dict[str, ModelState | None]]:
    """Per model that appeared, went or changed: its summary before and after (``None``: absent)."""
    ids = sorted(
        model_id
        for model_id in {*previous, *current}
        if previous.get(model_id) != current.get(model_id)
    )
    return {i: previous.get(i) for i in ids}, {i: current.get(i) for i in ids}


class CatalogAudit:
    def __init__(self, unit_of_work: UnitOfWorkFactory, audit: AuditTrail) -> None:
        self._unit_of_work = unit_of_work
        self._audit = audit

    async def record_changes(self, catalog: Catalog, *, by: Actor) -> int:
        """Records what changed since the catalog last recorded; returns how many models did."""
        afters = [
            dict(record.entry.after)
            async for record in self._audit.all_records()
            if record.entry.action == AuditAction.CATALOG_CHANGED
        ]
        before, after = difference(replay(afters), catalog_state(catalog))
        if not after:
            return 0
        review = catalog.reviewed_on.isoformat()
        async with self._unit_of_work() as uow:
            await self._audit.record(
                uow,
                by,
                AuditAction.CATALOG_CHANGED,
                CATALOG_TARGET,
                before={"models": before},
                after={"models": after, "reviewed_on": review},
            )
            for model_id in after:
                old, new = before[model_id], after[model_id]
                if old is not None and new is not None and old["prices"] != new["prices"]:
                    await self._audit.record(
                        uow,
                        by,
                        AuditAction.PRICE_CHANGED,
                        f"model:{model_id}",
                        before=old["prices"],
                        after=new["prices"],
                    )
            await uow.commit()
        return len(after)
