"""Public pages, no key needed: ``/status`` (per-model availability and probe figures) and the
lifecycle feed ``/lifecycle`` (JSON) and ``/lifecycle.atom`` (Atom, for feed readers and chat bots).

They expose no machine names or addresses: counts, states, figures and dates.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, time
from typing import Any
from xml.etree import ElementTree

import orjson
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from llmaas.api.dependencies import ServicesDep
from llmaas.services.status import LifecycleNotice, ModelStatus

router = APIRouter(tags=["Status"])

_ATOM = "http://www.w3.org/2005/Atom"
_NO_STORE = {"Cache-Control": "no-store"}


class AtomResponse(Response):
    """Only documents the feed's media type: FastAPI would otherwise claim JSON for it."""

    media_type = "application/atom+xml"


def _non_json(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}
    }


@router.get("/status", summary="Per-model availability and recent probe figures (JSON)")
async def status(services: ServicesDep) -> Response:
    models = services.status.models()
    body = {
        "object": "status",
        "generated_at": services.status.now().isoformat(),
        "state": _overall(models),
        "models": [_status_json(m) for m in models],
    }
    return Response(orjson.dumps(body), media_type="application/json", headers=_NO_STORE)


@router.get(
    "/status.html",
    summary="Per-model availability and recent probe figures (page)",
    response_class=HTMLResponse,
    responses=_non_json("text/html", "The status page."),
)
async def status_page(services: ServicesDep) -> Response:
    models = services.status.models()
    rows = "\n".join(_status_row(m) for m in models)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30">
<title>llmaas status</title></head>
<body><h1>llmaas status: {_overall(models)}</h1>
<p>Generated {html.escape(services.status.now().strftime("%Y-%m-%d %H:%M:%S UTC"))}.
Figures come from short probe generations.</p>
<table border="1" cellpadding="4"><thead><tr><th>Model</th><th>Phase</th><th>State</th>
<th>Healthy deployments</th><th>Time to first token (ms)</th><th>Tokens/s</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p><a href="/lifecycle.atom">Model lifecycle feed (Atom)</a></p>
</body></html>
"""
    return Response(page, media_type="text/html; charset=utf-8", headers=_NO_STORE)


@router.get("/lifecycle", summary="Deprecations and retirements with their dates (JSON)")
async def lifecycle(services: ServicesDep) -> Response:
    notices = services.status.lifecycle()
    body = {"object": "list", "data": [_notice_json(n) for n in notices]}
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "/lifecycle.atom",
    summary="Deprecations and retirements with their dates (Atom)",
    response_class=AtomResponse,
    responses=_non_json(AtomResponse.media_type, "An Atom feed, one entry per notice."),
)
async def lifecycle_atom(http: Request, services: ServicesDep) -> Response:
    notices = services.status.lifecycle()
    base = str(http.base_url).rstrip("/")
    feed = ElementTree.Element("feed", xmlns=_ATOM)
    _text(feed, "title", "llmaas model lifecycle")
    _text(feed, "id", f"{base}/lifecycle.atom")
    ElementTree.SubElement(feed, "link", rel="self", href=f"{base}/lifecycle.atom")
    updated = max((n.deprecation_notice for n in notices if n.deprecation_notice), default=None)
    _text(feed, "updated", _timestamp(updated) if updated else services.status.now().isoformat())
    _text(ElementTree.SubElement(feed, "author"), "name", "llmaas")
    for notice in notices:
        _entry(feed, base, notice)
    xml = ElementTree.tostring(feed, encoding="unicode", xml_declaration=True)
    return Response(xml, media_type="application/atom+xml; charset=utf-8")


def _overall(models: list[ModelStatus]) -> str:
    states = {m.state for m in models}
    if not states or states == {"operational"}:
        return "operational"
    return "down" if states == {"down"} else "degraded"


def _status_json(status: ModelStatus) -> dict[str, Any]:
    return {
        "model": status.model,
        "phase": str(status.phase),
        "state": status.state,
        "available": status.healthy_deployments > 0,
        "deployments": status.deployments,
        "healthy_deployments": status.healthy_deployments,
        "probe": {
            "time_to_first_token_ms": status.time_to_first_token_ms,
            "tokens_per_second": status.tokens_per_second,
            "latency_ms": status.latency_ms,
            "checked_at": (
                datetime.fromtimestamp(status.probed_at, UTC).isoformat()
                if status.probed_at is not None
                else None
            ),
        },
    }


def _status_row(status: ModelStatus) -> str:
    cells = (
        status.model,
        str(status.phase),
        status.state,
        f"{status.healthy_deployments}/{status.deployments}",
        _figure(status.time_to_first_token_ms),
        _figure(status.tokens_per_second),
    )
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _notice_json(notice: LifecycleNotice) -> dict[str, Any]:
    return {
        "model": notice.model,
        "phase": str(notice.phase),
        "released": _iso(notice.released),
        "deprecation_notice": _iso(notice.deprecation_notice),
        "sunset": _iso(notice.sunset),
        "shutdown_date": _iso(notice.sunset),
        "replacement": notice.replacement,
        "lts": notice.lts,
    }


def _timestamp(day: date) -> str:
    return datetime.combine(day, time.min, UTC).isoformat()


def _text(parent: ElementTree.Element, tag: str, text: str) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, tag)
    element.text = text
    return element


def _entry(feed: ElementTree.Element, base: str, notice: LifecycleNotice) -> None:
    entry = ElementTree.SubElement(feed, "entry")
    sunset = _iso(notice.sunset) or "an unscheduled date"
    verb = "was retired" if str(notice.phase) == "retired" else "is deprecated"
    _text(entry, "title", f"{notice.model} {verb} (end of support {sunset})")
    _text(entry, "id", f"{base}/lifecycle#{notice.model}@{sunset}")
    notified = notice.deprecation_notice or notice.sunset
    _text(entry, "updated", _timestamp(notified) if notified else _timestamp(date.min))
    advice = f" Move to {notice.replacement}." if notice.replacement else ""
    _text(
        entry,
        "summary",
        f"{notice.model}: deprecation notice {_iso(notice.deprecation_notice)}, "
        f"end of support {sunset}.{advice}",
    )
    if notice.replacement:
        ElementTree.SubElement(
            entry, "link", rel="related", href=f"{base}/v1/models/{notice.replacement}"
        )
