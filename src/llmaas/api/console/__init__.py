"""``/console``: the web console for operators and customers' administrators.

Server-rendered pages (Jinja2), one stylesheet and one small script, all served by llmaas itself: the
console works on a machine with no internet access and loads nothing from a CDN.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from llmaas.api.console import login, pages
from llmaas.api.console.rendering import STATIC

router = APIRouter(prefix="/console", include_in_schema=False)
router.include_router(login.router)
router.include_router(pages.router)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.get("/console", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=308)
