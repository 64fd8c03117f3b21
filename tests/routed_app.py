"""The apps tests talk to: each test's app is a fresh one in all but FastAPI's routing, which a
test process works out once per database and configuration (see ``app_for``)."""

from __future__ import annotations

from fastapi import FastAPI

_routed: dict[tuple, FastAPI] = {}


def app_for(url: str) -> FastAPI:
    """An app for ``url`` whose state is a freshly created app's, on routing already worked out.

    FastAPI works out an app's routes (every endpoint's dependencies and models) on its first
    request, again for each new app, and most tests make one (the ``client`` fixture, the races'
    ``app``): the suite's dearest per-test cost (bench/RESULTS.md, "The test suite"). So each
    test creates its app as before, then takes only that app's per-app parts — ``state`` (the
    login throttle, the office's round runs, the engine) and no dependency overrides — into an
    app of the same database and configuration (middleware, jobs) that this test process created
    and routed before. The routers are the same module-level objects either way; the middleware stack holds
    no state of its own (with rate limits on, a configuration of their own, it would: the rate
    limit tests make their own apps)."""
    from booking_api.app import create_app
    from instruments.settings import get_settings

    fresh = create_app(url)
    key = (url, get_settings().run_jobs, repr(fresh.user_middleware))
    app = _routed.setdefault(key, fresh)
    if app is not fresh:
        app.state = fresh.state
        app.dependency_overrides.clear()  # the routes read this very dict: emptied, not replaced
    return app
