"""Who is signed in: the session cookie, CSRF checks, login throttling, and the sign-in,
sign-out and language routes.

- The session cookie (``labshare_session``) is HttpOnly, SameSite=Lax, Secure over https (or as
  ``LABSHARE_COOKIE_SECURE`` says) and expires with its server-side row (``browser_sessions``).
- Every form carries a CSRF token in a hidden field ``csrf``: a signed-in visitor's is their
  session's; a signed-out visitor's (the sign-in form) is a random value also set in the
  ``labshare_csrf`` cookie (double submit), so another site cannot post a form in their name.
- Failed sign-ins are counted per login name and per client address (``limits``; in memory or in
  Redis like the API's rate limits); past ``LABSHARE_LOGIN_FAILURE_LIMIT`` the form refuses, naming
  when to try again, before the password is even checked.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from sqlmodel import Session

from instruments.db import utcnow
from instruments.settings import Settings, get_settings
from instruments.units import OwnerUnit
from scheduler.booking.enterprises import Enterprise

from ..accounts import User, user_by_login, verify_password
from ..browser_sessions import BrowserSession, close_session, find_session, open_session
from ..deps import SessionDep
from ..rate_limit import storage_for
from .i18n import COOKIE as LANG_COOKIE
from .i18n import LANGUAGES, translations
from .templating import render

SESSION_COOKIE = "labshare_session"
CSRF_COOKIE = "labshare_csrf"
router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class WebUser:
    """The signed-in person as the pages show them."""

    user: User
    session: BrowserSession
    organisation: str  # their enterprise's or owner unit's name, "" for programme admins

    @property
    def name(self) -> str:
        return self.user.name


class SignInRequired(Exception):
    """A page behind sign-in was asked for without a live session: the handler sends the
    browser to /login?next=<the page>."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class CsrfRejected(Exception):
    """A form came back without the token the page gave it (an old tab, or another site)."""


def safe_next(value: str | None, default: str = "/home") -> str:
    """Only a path on this site: no scheme, no host, no ``//`` or backslash tricks."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value:
        return default
    return value


def cookie_secure(request: Request, settings: Settings) -> bool:
    return settings.cookie_secure if settings.cookie_secure is not None else request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, plain: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        plain,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
        path="/",
    )


def _organisation(session: Session, user: User) -> str:
    if user.enterprise_id:
        ent = session.get(Enterprise, user.enterprise_id)
        return ent.name if ent else ""
    if user.owner_unit_id:
        unit = session.get(OwnerUnit, user.owner_unit_id)
        return unit.name if unit else ""
    return ""


def load_web_user(request: Request, session: SessionDep) -> WebUser | None:
    """The live session behind the cookie (None when signed out); also sets the page's CSRF token."""
    plain = request.cookies.get(SESSION_COOKIE)
    found = find_session(session, plain, utcnow()) if plain else None
    if found is None:
        request.state.web_user = None
        csrf = request.cookies.get(CSRF_COOKIE)
        if not csrf:  # a first visit: a new double-submit token, set as a cookie by with_csrf_cookie
            csrf = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(24)
            request.state.new_csrf = csrf
        request.state.csrf = csrf
        return None
    row, user = found
    web_user = WebUser(user, row, _organisation(session, user))
    session.commit()  # end the lookup's transaction (SQLite holds its lock for a transaction)
    request.state.web_user = web_user
    request.state.csrf = row.csrf_token
    return web_user


MaybeWebUser = Annotated[WebUser | None, Depends(load_web_user)]


def require_web_user(request: Request, web_user: MaybeWebUser) -> WebUser:
    if web_user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return web_user


WebUserDep = Annotated[WebUser, Depends(require_web_user)]


def check_csrf(request: Request, sent: str) -> None:
    """The form's hidden ``csrf`` (or, for an htmx request, the ``X-CSRF-Token`` header that
    ``base.html`` sets on every htmx call) must be the token this page handed out."""
    sent = sent or request.headers.get("x-csrf-token", "")
    expected = request.state.csrf if getattr(request.state, "web_user", None) else request.cookies.get(CSRF_COOKIE)
    if not expected or not sent or not secrets.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRejected()


def with_csrf_cookie(request: Request, response: Response) -> Response:
    """A signed-out page with a form: make sure the browser holds the double-submit cookie."""
    new = getattr(request.state, "new_csrf", None)
    if new and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE, new, httponly=True, samesite="lax", secure=cookie_secure(request, get_settings()), path="/"
        )
    return response


class LoginThrottle:
    """Failed sign-ins per login name and per client address, with ``limits``."""

    def __init__(self, limit: str, storage_url: str | None) -> None:
        self.item = parse(limit)
        self.limiter = MovingWindowRateLimiter(storage_for(storage_url))

    @staticmethod
    def _keys(username: str, host: str) -> list[tuple[str, str]]:
        name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:24]
        return [("login-fail-user", name), ("login-fail-host", host)]

    async def retry_after(self, username: str, host: str) -> int | None:
        """Seconds to wait when the name or the address has used up its failures, else None."""
        waits = []
        for key in self._keys(username, host):
            if not await self.limiter.test(self.item, *key):
                stats = await self.limiter.get_window_stats(self.item, *key)
                waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        return max(waits) if waits else None

    async def failed(self, username: str, host: str) -> None:
        for key in self._keys(username, host):
            await self.limiter.hit(self.item, *key)


def _throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle


def _login_page(request: Request, next_path: str, username: str = "", error: str = "", status: int = 200) -> Response:
    return with_csrf_cookie(
        request, render(request, "login.html", status_code=status, next=next_path, username=username, error=error)
    )


@router.get("/login")
def login_form(request: Request, web_user: MaybeWebUser, next: str | None = None) -> Response:
    if web_user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    web_user: MaybeWebUser,
    username: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(request, csrf)
    _ = translations(request.state.lang).gettext
    next_path = safe_next(next)
    host = request.client.host if request.client else "unknown"
    throttle = _throttle(request)
    wait = await throttle.retry_after(username, host)
    if wait is not None:
        msg = _("Too many failed sign-ins. Try again in {seconds} seconds.").format(seconds=wait)
        response = _login_page(request, next_path, username, msg, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = user_by_login(session, username)
    if not verify_password(user, password):
        await throttle.failed(username, host)
        return _login_page(request, next_path, username, _("Wrong e-mail or password."), status=400)
    settings = get_settings()
    _row, plain = open_session(session, user, timedelta(hours=settings.session_hours), utcnow())
    session.commit()
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, plain, settings)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, web_user: MaybeWebUser, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    response = RedirectResponse("/login", status_code=303)
    if web_user is not None:
        check_csrf(request, csrf)
        row = session.get(BrowserSession, web_user.session.id)
        close_session(session, web_user.user.actor(), row, utcnow())
        session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/language")
def switch_language(request: Request, lang: str, next: str | None = None) -> Response:
    """The visible "English" / "中文" switch: remembered in a cookie for a year."""
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", secure=cookie_secure(request, get_settings())
        )
    return response


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")
