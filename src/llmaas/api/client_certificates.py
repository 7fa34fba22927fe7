"""The admin API behind a client certificate, when the server has a client CA (``--tls-client-ca``).

An admin key alone then no longer opens ``/admin/``: the request must also come over a connection
whose client presented a certificate that verified against that CA. A leaked admin key is useless
from a machine without the certificate, while the OpenAI API stays open to clients without one.

It reads the ASGI ``tls`` scope extension (filled by ``adapters/tls_scope.py``). It fails closed: a
request without that extension (plain HTTP, or a server that does not fill it) counts as having no
certificate. It is installed only with a client CA, so it costs nothing otherwise.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from llmaas.api.errors import error_json

ADMIN_PREFIX = "/admin/"
_JSON = (b"content-type", b"application/json")
_REFUSAL = error_json(
    "The admin API requires a client certificate issued by this server's client CA.",
    "permission_error",
    code="client_certificate_required",
)


def has_verified_client_certificate(scope: Scope) -> bool:
    tls = (scope.get("extensions") or {}).get("tls") or {}
    return bool(tls.get("client_cert_chain"))


class AdminClientCertificateGuard:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and _is_admin(scope["path"])
            and not has_verified_client_certificate(scope)
        ):
            await send({"type": "http.response.start", "status": 403, "headers": [_JSON]})
            await send({"type": "http.response.body", "body": _REFUSAL})
            return
        await self._app(scope, receive, send)


def _is_admin(path: str) -> bool:
    return path.startswith(ADMIN_PREFIX) or path == ADMIN_PREFIX.rstrip("/")
