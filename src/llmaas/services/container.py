"""The services the HTTP edge needs, built once by ``app.py`` and attached to ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from llmaas.services.admission import Admission
from llmaas.services.api_keys import ApiKeyService
from llmaas.services.audit import AuditTrail
from llmaas.services.authentication import Authenticator
from llmaas.services.catalog import CatalogService
from llmaas.services.completions import CompletionsService
from llmaas.services.console_overview import ConsoleOverview
from llmaas.services.console_sessions import ConsoleSessions
from llmaas.services.embeddings import EmbeddingsService
from llmaas.services.fleet_admin import FleetAdmin
from llmaas.services.health import Readiness
from llmaas.services.rerank import RerankService
from llmaas.services.status import StatusService
from llmaas.services.tenants import TenantService
from llmaas.services.transcriptions import TranscriptionsService
from llmaas.services.usage_reports import UsageReports


@dataclass(frozen=True, slots=True)
class Services:
    authenticator: Authenticator
    completions: CompletionsService
    embeddings: EmbeddingsService
    rerank: RerankService
    catalog: CatalogService
    fleet: FleetAdmin
    status: StatusService
    api_keys: ApiKeyService
    readiness: Readiness
    admission: Admission
    tenants: TenantService
    usage: UsageReports
    transcriptions: TranscriptionsService
    audit: AuditTrail
    console: ConsoleSessions
    console_overview: ConsoleOverview
