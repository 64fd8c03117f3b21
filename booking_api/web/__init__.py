"""The web app for people, beside the API for programs, in the same process: server-rendered
Jinja2 pages with htmx, zh-CN by default and English by a switch (``i18n``). One module per area:
the public catalogue, instrument and owner-unit pages (``catalogue``); sign-in with server-side
sessions and CSRF-checked forms (``signin``) and the account pages (``account``); the enterprise's
pages under /my (``booking_form``, ``my_bookings``, ``feeds``, ``my_requests``, ``my_vouchers``,
``inbox``, ``complaints``, ``offers``); the lab manager's console under /unit (``unit_*``) and the
programme office's under /office (``office_*``), both entered through ``consoles``; stored proof
files (``proof_files``); the API's /docs and /redoc from vendored assets (``docs``). Who may see
which pages: ``roles``; the refusal pages: ``error_pages``. Every third-party browser asset is
pinned in ``static/vendor/manifest.json`` with its licence beside it and refreshed from npm by
``static/vendor/refresh.py``; nothing is loaded from outside the server."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from instruments.settings import get_settings
from scheduler.allocation.round_runs import RoundRuns

from . import (
    account,
    booking_form,
    catalogue,
    complaints,
    consoles,
    docs,
    feeds,
    inbox,
    my_bookings,
    my_requests,
    my_vouchers,
    offers,
    office_audit,
    office_credit,
    office_enterprises,
    office_programmes,
    office_redemption,
    office_rounds,
    office_statistics,
    office_vouchers,
    office_year_end,
    proof_files,
    signin,
    unit_bookings,
    unit_hours,
    unit_instruments,
    unit_operators,
    unit_page,
    unit_usage,
    unit_vouchers,
)
from .error_pages import not_found_page, wrong_role_page
from .i18n import COOKIE, negotiate, translations
from .owned import NotOwned
from .roles import WrongRole
from .signin import CsrfRejected, LoginThrottle, SignInRequired, login_url
from .templating import render

STATIC = Path(__file__).parent / "static"
ROUTERS = (
    docs.router,
    signin.router,
    account.router,
    catalogue.router,
    booking_form.router,
    my_bookings.router,
    feeds.router,
    my_requests.router,
    my_vouchers.router,
    inbox.router,
    offers.router,
    complaints.router,
    consoles.router,
    unit_usage.router,
    unit_vouchers.router,
    proof_files.router,
    unit_bookings.router,
    unit_page.router,
    office_statistics.router,
    office_year_end.router,
    office_audit.router,
    office_programmes.router,
    office_enterprises.router,
    office_vouchers.router,
    office_rounds.router,
    unit_instruments.router,
    unit_hours.router,
    unit_operators.router,
    office_redemption.router,
    office_credit.router,
)
"""Every page's router, in the order they are matched."""


def page_language(request: Request) -> None:
    """Every page's language, before anything renders (the switch's cookie, else Accept-Language)."""
    request.state.lang = negotiate(request.cookies.get(COOKIE), request.headers.get("accept-language"))


def install(app: FastAPI) -> None:
    """Mount the static files and the pages' routers; the app is created with docs_url=None."""
    settings = get_settings()
    app.state.login_throttle = LoginThrottle(settings.login_failure_limit, settings.redis_url)
    app.state.round_runs = RoundRuns()  # allocation rounds run from the office's page, in the background
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for r in ROUTERS:
        app.include_router(r, dependencies=[Depends(page_language)])

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    @app.exception_handler(WrongRole)
    async def _wrong_role(request: Request, exc: WrongRole) -> Response:
        return wrong_role_page(request, exc.role)

    @app.exception_handler(NotOwned)
    async def _not_owned(request: Request, exc: NotOwned) -> Response:
        if not hasattr(request.state, "lang"):
            page_language(request)
        return not_found_page(request)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, exc: CsrfRejected) -> Response:
        if not hasattr(request.state, "lang"):
            page_language(request)
        _ = translations(request.state.lang).gettext
        return render(
            request,
            "error.html",
            status_code=403,
            message=_("This form has expired or did not come from labshare. Reload the page and try again."),
        )
