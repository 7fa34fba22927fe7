"""Logging in and out of the console: OpenID Connect (code flow with PKCE) or the local admin key.

``next`` parameters only ever lead back into the console (a path under ``/console``), so a crafted
login link cannot bounce a freshly logged-in person to another site.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from llmaas.api.console.i18n import LANGUAGE_COOKIE, LANGUAGES
from llmaas.api.console.rendering import render
from llmaas.api.sessions import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    clear_cookie,
    session_of,
    set_cookie,
)
from llmaas.domain.errors import PermissionDenied
from llmaas.services.console_sessions import (
    LOGIN_SECONDS,
    ConsoleSession,
    ConsoleSessions,
    LoginRefused,
)

router = APIRouter()
HOME = "/console/"
PRE_LOGIN_COOKIE = "llmaas_login_csrf"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_SAFE_NEXT = re.compile(r"^/console(/[A-Za-z0-9._~/-]*)?(\?[A-Za-z0-9._~=&%-]*)?$")


def safe_next(value: str | None) -> str:
    """``value`` when it is a plain console path, the console's home otherwise."""
    if value and _SAFE_NEXT.fullmatch(value) and "//" not in value and "/.." not in value:
        return value
    return HOME


def sessions_of(request: Request) -> ConsoleSessions:
    sessions: ConsoleSessions = request.app.state.services.console
    return sessions


def _source(request: Request) -> str:
    return request.client.host if request.client else ""


def _base_url(request: Request) -> str:
    configured: str | None = getattr(request.app.state, "console_public_url", None)
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def _insecure(request: Request) -> bool:
    """Plain HTTP to another machine: the browser would drop the ``Secure`` session cookie."""
    return request.url.scheme == "http" and request.url.hostname not in _LOOPBACK


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"cache-control": "no-store"})


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect("/console/login?" + urlencode({"next": safe_next(target)}))


@router.get("/login")
async def login_page(
    request: Request, next: str | None = None, error: str | None = None
) -> Response:
    if await session_of(request) is not None:
        return redirect(safe_next(next))
    return _login_form(request, next, error=error, logged_out="logged_out" in request.query_params)


@router.get("/login/sso")
async def login_sso(request: Request, next: str | None = None) -> Response:
    try:
        url, pending = await sessions_of(request).begin_sso(
            _base_url(request) + "/console/callback", safe_next(next)
        )
    except LoginRefused as refused:
        return _refused_page(request, str(refused), next)
    response = redirect(url)
    set_cookie(
        response, request, LOGIN_COOKIE, pending, max_age=LOGIN_SECONDS, path="/console/callback"
    )
    return response


@router.get("/callback")
async def callback(request: Request) -> Response:
    params = request.query_params
    if "error" in params:
        # The identity provider said no (the person cancelled, or its policy refused).
        message = await sessions_of(request).provider_refused(params["error"], _source(request))
        return _refused_page(request, message, None)
    try:
        session, next_path = await sessions_of(request).finish_sso(
            code=params.get("code", ""),
            state=params.get("state", ""),
            login_cookie=request.cookies.get(LOGIN_COOKIE),
            redirect_uri=_base_url(request) + "/console/callback",
            source=_source(request),
        )
    except LoginRefused as refused:
        response = _refused_page(request, str(refused), None)
        clear_cookie(response, LOGIN_COOKIE, path="/console/callback")
        return response
    return _logged_in(request, session, next_path)


@router.post("/login/local")
async def login_local(request: Request) -> Response:
    form = await request.form()
    expected = request.cookies.get(PRE_LOGIN_COOKIE, "")
    submitted = str(form.get(CSRF_FIELD, ""))
    if not expected or not secrets.compare_digest(expected.encode(), submitted.encode()):
        raise PermissionDenied(
            "This login form expired; reload the page and try again.", code="csrf_token_invalid"
        )
    next_path = safe_next(str(form.get("next", "")))
    try:
        session = await sessions_of(request).local_login(
            str(form.get("api_key", "")), _source(request)
        )
    except LoginRefused as refused:
        return _refused_page(request, str(refused), next_path)
    return _logged_in(request, session, next_path)


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await session_of(request)
    if session is not None:
        form = await request.form()
        check_csrf(request, session, str(form.get(CSRF_FIELD, "")))
        await sessions_of(request).logout(session, _source(request))
    sessions = sessions_of(request)
    after = _base_url(request) + "/console/login?logged_out=1"
    provider_logout = await sessions.logout_url(after) if session and session.via == "sso" else None
    response = redirect(provider_logout or "/console/login?logged_out=1")
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.get("/language/{language}")
async def choose_language(request: Request, language: str, next: str | None = None) -> Response:
    response = redirect(safe_next(next))
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=365 * 86_400, path="/console", samesite="lax"
        )
    return response


@router.post("/organization")
async def choose_organization(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return login_redirect(request)
    form = await request.form()
    check_csrf(request, session, str(form.get(CSRF_FIELD, "")))
    switched = sessions_of(request).switch(session, str(form.get("organization", "")))
    if switched is None:
        raise PermissionDenied("You have no role in that organization.", code="insufficient_role")
    response = redirect(safe_next(str(form.get("next", ""))))
    set_cookie(
        response,
        request,
        SESSION_COOKIE,
        sessions_of(request).seal(switched),
        max_age=sessions_of(request).idle_seconds,
    )
    return response


def _logged_in(request: Request, session: ConsoleSession, next_path: str) -> Response:
    sessions = sessions_of(request)
    response = redirect(safe_next(next_path))
    set_cookie(
        response, request, SESSION_COOKIE, sessions.seal(session), max_age=sessions.idle_seconds
    )
    clear_cookie(response, LOGIN_COOKIE, path="/console/callback")
    return response


def _refused_page(request: Request, message: str, next_path: str | None) -> Response:
    return _login_form(request, next_path, error=message, status_code=403)


def _login_form(
    request: Request,
    next_path: str | None,
    *,
    error: str | None,
    status_code: int = 200,
    logged_out: bool = False,
) -> Response:
    """The login page, with the pre-login CSRF token the local form sends back (kept if present)."""
    token = request.cookies.get(PRE_LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        session=None,
        status_code=status_code,
        sso=sessions_of(request).sso,
        next=safe_next(next_path),
        error=error,
        login_csrf=token,
        logged_out=logged_out,
        insecure=_insecure(request),
    )
    set_cookie(response, request, PRE_LOGIN_COOKIE, token, max_age=3600, path="/console/login")
    return response
