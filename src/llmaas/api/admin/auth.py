"""Who may call the admin API, and on what: one permission per route, checked on every call.

Two credentials open it:

- an API key whose record says ``is_admin`` (the CLI, scripts): the platform operator, every
  organization. A valid key without the flag is told so (403), not treated as unknown (401). Admin
  calls are rare and powerful, so each also checks the shared revocation flag: an admin key revoked on
  any instance stops working everywhere at once.
- the console's session cookie: the role the identity provider gave the person, in the organization the
  console shows. A viewer gets 403 here whatever the page shows, and a state change needs the CSRF
  token too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from llmaas.api.dependencies import authenticated, services_of
from llmaas.api.sessions import check_csrf, session_of
from llmaas.domain.audit import Actor
from llmaas.domain.errors import InvalidApiKey, NotFound, PermissionDenied
from llmaas.domain.staff import OPERATOR_SCOPE, AdminScope, Permission
from llmaas.services.container import Services

_NO_CREDENTIAL = (
    "You didn't provide an API key. Send an admin key as 'Authorization: Bearer <key>', "
    "or log in to the console."
)


@dataclass(frozen=True, slots=True)
class AdminCall:
    """An admin request allowed so far: who makes it, and what it may touch."""

    services: Services
    actor: Actor
    scope: AdminScope

    def organization(self, requested: str | None) -> str | None:
        """The organization to read: the caller's own when scoped (``None``: all, for an operator)."""
        if self.scope.organization_id is None:
            return requested
        if requested is not None and requested != self.scope.organization_id:
            raise NotFound(f"No organization '{requested}'.", param="organization")
        return self.scope.organization_id

    def require_organization(self, organization_id: str, what: str) -> None:
        """Things of another organization do not exist for a scoped caller (404, not 403)."""
        if not self.scope.covers(organization_id):
            raise NotFound(f"No {what}.")

    def require(self, permission: Permission) -> None:
        if not self.scope.allows(permission):
            raise PermissionDenied(
                f"Your role does not allow this (it needs '{permission.value}').",
                code="insufficient_role",
            )


async def admin_call(request: Request) -> AdminCall:
    source = request.client.host if request.client else ""
    if request.headers.get("authorization"):
        caller = await authenticated(request)
        if not caller.ctx.principal.is_admin:
            raise PermissionDenied("This endpoint needs an admin API key.", code="admin_required")
        await caller.services.admission.status(caller.ctx.principal)
        return AdminCall(caller.services, caller.actor, OPERATOR_SCOPE)
    session = await session_of(request)
    if session is None:
        raise InvalidApiKey(_NO_CREDENTIAL)
    check_csrf(request, session)
    return AdminCall(services_of(request), Actor(session.actor_name, source), session.scope)


def allowed(permission: Permission) -> Callable[[Request], Awaitable[AdminCall]]:
    async def dependency(request: Request) -> AdminCall:
        call = await admin_call(request)
        call.require(permission)
        return call

    return dependency


KeysReader = Annotated[AdminCall, Depends(allowed(Permission.KEYS_READ))]
KeysWriter = Annotated[AdminCall, Depends(allowed(Permission.KEYS_WRITE))]
UsageReader = Annotated[AdminCall, Depends(allowed(Permission.USAGE_READ))]
AuditReader = Annotated[AdminCall, Depends(allowed(Permission.AUDIT_READ))]
PlatformReader = Annotated[AdminCall, Depends(allowed(Permission.PLATFORM_READ))]
PlatformWriter = Annotated[AdminCall, Depends(allowed(Permission.PLATFORM_WRITE))]
AdminCaller = PlatformWriter
"""Routes that change the platform itself (tiers, organizations, deployments): operators only."""
