"""Server-rendered pages: Jinja2 (autoescaped) with a strict Content-Security-Policy.

Pages run no inline script and no inline style: scripts and styles come from ``/console/static`` only,
so an injected ``<script>`` (a key named ``<script>...``) could not run even if escaping failed. Every
page is ``no-store``: a shared computer's back button shows no key list after logout.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from llmaas import __version__
from llmaas.api.console.i18n import formatter_for, language_of
from llmaas.api.sessions import SESSION_COOKIE, set_cookie
from llmaas.services.console_sessions import ConsoleSession, ConsoleSessions

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
_ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.filters["todate"] = date.fromisoformat
"""Immutable once built (templates are read-only package data): shared by every app in the process."""


def content_security_policy(form_origins: str = "") -> str:
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action 'self' {form_origins}".rstrip()
        + "; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


def page_headers(request: Request) -> dict[str, str]:
    form_origins: str = getattr(request.app.state, "console_form_origins", "")
    return {
        "content-security-policy": content_security_policy(form_origins),
        "cache-control": "no-store",
    }


def render(
    request: Request,
    template: str,
    *,
    session: ConsoleSession | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page, and a fresh seal of the session cookie: each page view restarts the idle timer."""
    fmt = formatter_for(language_of(request))
    body = _ENVIRONMENT.get_template(template).render(
        fmt=fmt,
        t=fmt.t,
        lang=fmt.language,
        session=session,
        path=request.url.path,
        version=__version__,
        **context,
    )
    response = HTMLResponse(body, status_code=status_code, headers=page_headers(request))
    if session is not None:
        sessions: ConsoleSessions = request.app.state.services.console
        set_cookie(
            response, request, SESSION_COOKIE, sessions.seal(session), max_age=sessions.idle_seconds
        )
    return response
