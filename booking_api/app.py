"""The FastAPI application: routers per resource, problem+json errors, one engine per app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from instruments.db import get_engine
from instruments.settings import get_settings

from . import problems
from .routers import accounts, availability, bookings, enterprises, instruments, requests, staff, units

DESCRIPTION = """
**labshare** opens a region's large scientific instruments to enterprises.
The catalogue, owner-unit pages and free time are public; everything else needs
`Authorization: Bearer <token>`. Errors are RFC 9457 `application/problem+json`.
"""


def create_app(database_url: str | None = None) -> FastAPI:
    app = FastAPI(title="labshare", version="0.1.0", description=DESCRIPTION)
    app.state.engine = get_engine(database_url or get_settings().database_url)
    problems.install(app)
    for r in (units, instruments, availability, staff, enterprises, requests, bookings, accounts):
        app.include_router(r.router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> str:
        return (
            "<!doctype html><meta charset=utf-8><title>labshare</title>"
            "<h1>labshare</h1><p>Shared scientific instruments for enterprises.</p>"
            "<ul><li><a href='/docs'>API documentation</a></li>"
            "<li><a href='/api/v1/instruments'>Instrument catalogue (JSON)</a></li>"
            "<li><a href='/api/v1/owner-units'>Owner units (JSON)</a></li></ul>"
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
