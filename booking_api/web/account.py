"""The signed-in person's pages: home (who you are, where to go), password change, and their own
API tokens (list, create — shown once — and revoke), through the same services as the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import select

from instruments.db import utcnow
from instruments.errors import NotFound
from instruments.settings import get_settings

from ..accounts import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    ApiToken,
    User,
    issue_token,
    revoke_token,
    set_password,
    verify_password,
)
from ..browser_sessions import open_session, revoke_all
from ..deps import SessionDep
from .i18n import translations
from .signin import WebUserDep, check_csrf, set_session_cookie
from .templating import render

router = APIRouter(include_in_schema=False)


@router.get("/home")
def home(request: Request, me: WebUserDep) -> Response:
    return render(request, "home.html")


@router.get("/account/password")
def password_form(request: Request, me: WebUserDep) -> Response:
    return render(request, "password.html", min_length=PASSWORD_MIN_LENGTH)


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    me: WebUserDep,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    confirm: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Change your own password: every session of yours ends, this browser gets a new one."""
    check_csrf(request, csrf)
    _ = translations(request.state.lang).gettext
    user = session.get(User, me.user.id)
    error = ""
    if not verify_password(user, current):
        error = _("The current password is wrong.")
    elif new != confirm:
        error = _("The new password and its repetition differ.")
    elif len(new) < PASSWORD_MIN_LENGTH:
        error = _("A password needs at least {n} characters.").format(n=PASSWORD_MIN_LENGTH)
    elif len(new) > PASSWORD_MAX_LENGTH:
        error = _("A password may have at most {n} characters.").format(n=PASSWORD_MAX_LENGTH)
    if error:
        return render(request, "password.html", status_code=400, error=error, min_length=PASSWORD_MIN_LENGTH)
    now = utcnow()
    actor = user.actor()
    set_password(session, actor, user, new)
    revoke_all(session, actor, user.id, now)
    settings = get_settings()
    row, plain = open_session(session, user, timedelta(hours=settings.session_hours), now)
    session.commit()
    request.state.csrf = row.csrf_token
    response = render(request, "password.html", done=True, min_length=PASSWORD_MIN_LENGTH)
    set_session_cookie(response, request, plain, settings)
    return response


def _tokens_page(request: Request, session: SessionDep, me: WebUserDep, **extra) -> Response:
    rows = session.exec(
        select(ApiToken).where(ApiToken.user_id == me.user.id).order_by(ApiToken.created_at.desc())  # type: ignore[union-attr]
    ).all()
    return render(request, "tokens.html", tokens=rows, zone=get_settings().default_timezone, **extra)


@router.get("/account/tokens")
def tokens(request: Request, session: SessionDep, me: WebUserDep) -> Response:
    return _tokens_page(request, session, me)


@router.post("/account/tokens")
def create_token(
    request: Request,
    session: SessionDep,
    me: WebUserDep,
    label: Annotated[str, Form(max_length=100)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A new API token for yourself: its secret is shown on this answer only."""
    check_csrf(request, csrf)
    tok, plain = issue_token(session, session.get(User, me.user.id), label.strip())
    session.commit()
    return _tokens_page(request, session, me, created=tok, secret=plain)


@router.post("/account/tokens/{token_id}/revoke")
def revoke(
    request: Request,
    token_id: str,
    session: SessionDep,
    me: WebUserDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        revoke_token(session, me.user.actor(), token_id)
    except NotFound:
        pass  # someone else's or unknown: nothing of yours to revoke; the list shows what is
    session.commit()
    return RedirectResponse("/account/tokens", status_code=303)
