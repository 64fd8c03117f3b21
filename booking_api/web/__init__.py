"""The web app for people, beside the API for programs, in the same process: server-rendered
Jinja2 pages with htmx, zh-CN by default and English by a switch (``i18n``), the public
catalogue, instrument and owner-unit pages (``catalogue``), sign-in with
server-side sessions and CSRF-checked forms (``signin``), the signed-in person's account pages
(``account``), booking with a voucher and my bookings (``booking_form``, ``my_bookings``,
``feeds``), the enterprise's requests, vouchers, notifications and complaints (``my_requests``,
``my_vouchers``, ``inbox``, ``complaints``), the staff consoles' doors (``consoles``), the lab
manager's usage, vouchers and claims (``unit_usage``, ``unit_vouchers``) and stored proof files
(``proof_files``), the programme office's redemption queue and payment batches
(``office_redemption``) and credit page (``office_credit``), and the API's /docs and /redoc from
vendored assets (``docs``). Every third-party
browser asset is pinned in ``static/vendor/manifest.json`` with its licence beside it and
refreshed from npm by ``static/vendor/refresh.py``; nothing is loaded from outside the server."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from instruments.settings import get_settings

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
    office_credit,
    office_redemption,
    proof_files,
    signin,
    unit_usage,
    unit_vouchers,
)
from .error_pages import wrong_role_page
from .i18n import COOKIE, negotiate, translations
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
    complaints.router,
    consoles.router,
    unit_usage.router,
    unit_vouchers.router,
    proof_files.router,
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
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for r in ROUTERS:
        app.include_router(r, dependencies=[Depends(page_language)])

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    @app.exception_handler(WrongRole)
    async def _wrong_role(request: Request, exc: WrongRole) -> Response:
        return wrong_role_page(request, exc.role)

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
