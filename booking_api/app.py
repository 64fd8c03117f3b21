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
    mail,
    proof_files,
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
    """The app. ``run_jobs`` (None: as ``LABSHARE_RUN_JOBS`` says, on by default): this process
    campaigns for the job leader's lease and, while it leads, runs the scheduled jobs; of all the
    workers and hosts on one database exactly one leads (``scheduler/jobs.py``).
    ``rate_limits``: by default from settings (off when ``LABSHARE_RATE_LIMIT_ENABLED=false``);
    None turns them off, a ``RateLimits`` sets them."""
    url = database_url or get_settings().database_url
    if run_jobs is None:
        run_jobs = get_settings().run_jobs
    if rate_limits is _FROM_SETTINGS:
        rate_limits = RateLimits.from_settings(get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        leader = None
        if run_jobs:
            from scheduler.jobs import JobLeader

            leader = JobLeader(url).start()
        app.state.jobs = leader
        yield
        if leader is not None:
            leader.stop()

    app = FastAPI(
        title="labshare", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.engine = get_engine(url)
    problems.install(app)
    rate_limit.install(app, rate_limits)
    for r in (units, instruments, availability, staff, enterprises, requests, calendars, bookings, rounds, vouchers, redemption, proof_files, credit, accounts):
        app.include_router(r.router)
    for r in (usage, rewards):  # usage metering, indicators, year-end rewards
        app.include_router(r.router)
    app.include_router(mail.router)  # mail preferences and the outbox

    web.install(app)  # the catalogue pages, sign-in, account pages, /docs and /redoc from vendored assets, /static

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def from_settings() -> FastAPI:
    """The app as the settings describe it (``LABSHARE_DATABASE_URL``, ``LABSHARE_RUN_JOBS``…):
    the factory each worker calls, ``uvicorn --factory booking_api.app:from_settings --workers N``
    or ``labshare serve --workers N``."""
    return create_app()
