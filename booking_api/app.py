"""The FastAPI application: routers per resource, problem+json errors, one engine per app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from instruments.db import get_engine
from instruments.settings import get_settings

from . import problems, rate_limit, tables, web  # noqa: F401 - tables: every mapper known
from .rate_limit import RateLimits
from .routers import (
    accounts,
    availability,
    bookings,
    calendars,
    credit,
    enterprises,
    instruments,
    redemption,
    requests,
    rewards,
    rounds,
    staff,
    units,
    usage,
    vouchers,
)

DESCRIPTION = """
**labshare** opens a region's large scientific instruments to enterprises.
The catalogue, owner-unit pages and free time are public; everything else needs
`Authorization: Bearer <token>`. Errors are RFC 9457 `application/problem+json`.
"""


_FROM_SETTINGS = RateLimits()


def create_app(
    database_url: str | None = None, run_jobs: bool | None = None, rate_limits: RateLimits | None = _FROM_SETTINGS
) -> FastAPI:
    """The app; with ``run_jobs`` (default: settings, off unless asked) the process that wins the
    leader lock also runs the scheduled jobs. ``rate_limits``: by default from settings (off when
    ``LABSHARE_RATE_LIMIT_ENABLED=false``); None turns them off, a ``RateLimits`` sets them."""
    url = database_url or get_settings().database_url
    if rate_limits is _FROM_SETTINGS:
        rate_limits = RateLimits.from_settings(get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        leader = scheduler = None
        if run_jobs:
            from scheduler.jobs import make_scheduler, try_lead

            leader = try_lead(url)
            if leader is not None:
                scheduler = make_scheduler(url)
                scheduler.start()
        app.state.jobs = scheduler
        yield
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if leader is not None:
            leader.release()

    app = FastAPI(
        title="labshare", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.engine = get_engine(url)
    problems.install(app)
    rate_limit.install(app, rate_limits)
    for r in (units, instruments, availability, staff, enterprises, requests, calendars, bookings, rounds, vouchers, redemption, credit, accounts):
        app.include_router(r.router)
    for r in (usage, rewards):  # usage metering, indicators, year-end rewards
        app.include_router(r.router)

    web.install(app)  # the catalogue pages, sign-in, account pages, /docs and /redoc from vendored assets, /static

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
