"""The console's session cookie and CSRF token, as both the console pages and the admin API read them.

The session cookie is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (not sent by cross-site
requests other than top-level navigation, which the login's return from the identity provider is) and
``Secure`` (never sent over plain HTTP, except to a loopback address, where browsers allow it so
``make run`` works). A cookie is an ambient credential, so every state-changing request authenticated
by it must also carry the session's CSRF token, which a page of another site cannot read.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

from llmaas.domain.errors import PermissionDenied
from llmaas.services.console_sessions import ConsoleSession, ConsoleSessions

SESSION_COOKIE = "llmaas_session"
LOGIN_COOKIE = "llmaas_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def session_of(request: Request) -> ConsoleSession | None:
    sessions: ConsoleSessions = request.app.state.services.console
    return await sessions.open(request.cookies.get(SESSION_COOKIE))


def check_csrf(request: Request, session: ConsoleSession, submitted: str | None = None) -> None:
    """Refuse a state change whose token (header, or form field passed as ``submitted``) is wrong."""
    if request.method in SAFE_METHODS:
        return
    token = submitted if submitted is not None else request.headers.get(CSRF_HEADER, "")
    if not token or not secrets.compare_digest(token.encode(), session.csrf_token.encode()):
        raise PermissionDenied(
            "This request needs the console's CSRF token (reload the page and try again).",
            code="csrf_token_invalid",
        )


def set_cookie(
    response: Response, request: Request, name: str, value: str, *, max_age: int, path: str = "/"
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=True,
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, name: str, *, path: str = "/") -> None:
    response.delete_cookie(name, path=path, secure=True, httponly=True, samesite="lax")
