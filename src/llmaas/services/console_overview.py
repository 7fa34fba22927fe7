"""What the console's overview shows for one organization, gathered in one place.

Spend and credit come from the live counters (exact to the last settled request, on every instance);
this month's tokens from the daily rollups (behind by at most one usage flush); requests per minute,
error rate and latency percentiles from this gateway's recent traffic (:class:`LiveUsage`), which is
per instance: with several instances, each shows its own share.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmaas.domain.limits import Limits
from llmaas.domain.principals import Principal
from llmaas.domain.tenants import Organization, Tier
from llmaas.domain.usage_reports import RollupTotals, UsageQuery
from llmaas.openai_schema.models import Model
from llmaas.services.admission import Admission
from llmaas.services.catalog import CatalogService
from llmaas.services.live_usage import LiveSnapshot, LiveUsage
from llmaas.services.tenants import TenantService
from llmaas.services.usage_reports import UsageReports


@dataclass(frozen=True, slots=True)
class Overview:
    organization: Organization
    tier: Tier
    limits: Limits
    """The tier's limits with the organization's contract applied."""
    month_spend_micros: int
    credit_remaining_micros: int | None
    """Prepaid tiers only: credit bought minus all-time spend."""
    month: RollupTotals
    live: LiveSnapshot

    @property
    def budget_micros(self) -> int | None:
        return self.limits.monthly_budget_micros

    @property
    def budget_used(self) -> float | None:
        """Share of the monthly cap spent (0 to 1 and beyond), ``None`` without a cap."""
        budget = self.budget_micros
        if not budget:
            return None
        return self.month_spend_micros / budget


class ConsoleOverview:
    def __init__(
        self,
        tenants: TenantService,
        admission: Admission,
        usage: UsageReports,
        live: LiveUsage,
        catalog: CatalogService,
    ) -> None:
        self._catalog = catalog
        self._tenants = tenants
        self._admission = admission
        self._usage = usage
        self._live = live

    async def catalog(self, organization_id: str) -> list[Model]:
        """The models the organization's keys may call, as ``/v1/models`` would list them."""
        organization = await self._tenants.organization(organization_id)
        tier = await self._tenants.tier(organization.tier_id)
        viewer = Principal(
            key_id="",
            key_name="console",
            allowed_models=organization.effective_models(tier),
            organization_id=organization.id,
            tier_id=tier.id,
        )
        return self._catalog.list(viewer).data

    async def of(self, organization_id: str) -> Overview:
        organization = await self._tenants.organization(organization_id)
        tier = await self._tenants.tier(organization.tier_id)
        month_spend, all_time = await self._admission.organization_spend(organization_id)
        start, end = self._usage.this_month()
        month = RollupTotals()
        for row in await self._usage.report(
            UsageQuery(start, end, organization_id=organization_id)
        ):
            month.add(row.totals)
        credit = organization.credit_granted_micros - all_time if tier.prepaid else None
        return Overview(
            organization=organization,
            tier=tier,
            limits=organization.effective_limits(tier),
            month_spend_micros=month_spend,
            credit_remaining_micros=credit,
            month=month,
            live=self._live.snapshot(organization_id),
        )
