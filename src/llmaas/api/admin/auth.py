"""Who may call the admin API: a valid API key whose record says ``is_admin``.

The same bearer keys as ``/v1``, so the CLI, the console and scripts share one credential scheme; a
valid key without the flag is told so (403), not treated as unknown (401). Admin calls are rare and
powerful, so each also checks the shared revocation flag: an admin key revoked on any instance stops
working everywhere at once, not after the authenticator's recheck delay.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llmaas.api.dependencies import Caller, authenticated
from llmaas.domain.errors import PermissionDenied


async def admin_caller(request: Request) -> Caller:
    caller = await authenticated(request)
    if not caller.ctx.principal.is_admin:
        raise PermissionDenied("This endpoint needs an admin API key.", code="admin_required")
    await caller.services.admission.status(caller.ctx.principal)
    return caller


AdminCaller = Annotated[Caller, Depends(admin_caller)]
