"""Calendar feeds of my bookings: subscribe (a secret URL shown once, with a copy button that also
works without clipboard permission: the URL sits selected in a read-only field), rotate and revoke
with a confirmation step, and the list of my subscriptions (never their secrets). Through
``scheduler.calendars.calendar_feeds``, as ``/api/v1/calendar/subscriptions``; the URL is the
API's ``GET /calendar/feeds/{token}.ics``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from instruments.errors import DomainError, NotFound
from instruments.settings import get_settings
from scheduler.calendars import calendar_feeds as feeds
from scheduler.calendars.calendar_feeds import ScopeKind

from ..deps import SessionDep, commit
from .error_pages import not_found_page
from .i18n import translations
from .signin import WebUser, WebUserDep, check_csrf
from .templating import render

router = APIRouter(include_in_schema=False)
ACTIONS = ("rotate", "revoke")


def _page(request: Request, session: SessionDep, me: WebUser, status: int = 200, **extra) -> Response:
    actor = me.user.actor()
    return render(
        request,
        "feeds.html",
        status_code=status,
        subscriptions=feeds.list_subscriptions(session, actor),
        may_subscribe=bool(actor.enterprise_id),
        zone=get_settings().default_timezone,
        **extra,
    )


def _secret(request: Request, plain: str) -> dict[str, str]:
    url = str(request.url_for("calendar_feed", token=plain))
    return {"url": url, "webcal_url": "webcal://" + url.split("://", 1)[1]}


@router.get("/my/calendar-feeds")
def feeds_page(request: Request, session: SessionDep, me: WebUserDep) -> Response:
    return _page(request, session, me)


@router.post("/my/calendar-feeds")
def subscribe(
    request: Request,
    session: SessionDep,
    me: WebUserDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    label: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """A new feed of my enterprise's bookings; its URL is shown on this answer only."""
    check_csrf(request, csrf)
    actor = me.user.actor()
    _ = translations(request.state.lang).gettext
    if not actor.enterprise_id:
        return _page(
            request, session, me, 403, error=_("Only members of an enterprise subscribe to their bookings here.")
        )
    sub, plain = feeds.create_subscription(session, actor, ScopeKind.enterprise, actor.enterprise_id, label.strip())
    commit(session)
    return _page(request, session, me, created=sub, **_secret(request, plain))


@router.get("/my/calendar-feeds/{sub_id}/{action}")
def confirm(request: Request, sub_id: str, action: str, session: SessionDep, me: WebUserDep) -> Response:
    """The confirmation step before a rotation or a revocation."""
    try:
        if action not in ACTIONS:
            raise NotFound("No such action.")
        sub = feeds.own_subscription(session, me.user.actor(), sub_id)
    except NotFound:
        return not_found_page(request)
    return render(request, "feed_confirm.html", sub=sub, action=action)


@router.post("/my/calendar-feeds/{sub_id}/{action}")
def act(
    request: Request,
    sub_id: str,
    action: str,
    session: SessionDep,
    me: WebUserDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf)
    actor = me.user.actor()
    _ = translations(request.state.lang).gettext
    try:
        if action == "rotate":
            sub, plain = feeds.rotate(session, actor, sub_id)
            commit(session)
            return _page(request, session, me, created=sub, rotated=True, **_secret(request, plain))
        if action == "revoke":
            feeds.revoke(session, actor, sub_id)
            commit(session)
            return RedirectResponse("/my/calendar-feeds?done=revoked", status_code=303)
        raise NotFound("No such action.")
    except NotFound:
        session.rollback()
        return not_found_page(request)
    except DomainError as exc:  # rotating a revoked subscription
        session.rollback()
        return _page(request, session, me, exc.status, error=_("This subscription is revoked; create a new one."))
