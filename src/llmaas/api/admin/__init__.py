"""``/admin/v1``: the JSON admin API used by the console and the CLI (admin keys only)."""

from __future__ import annotations

from fastapi import APIRouter

from llmaas.api.admin import audit, deployments, keys, organizations, tiers, usage

router = APIRouter(prefix="/admin/v1", tags=["Admin"])
for _module in (tiers, organizations, keys, usage, deployments, audit):
    router.include_router(_module.router)
