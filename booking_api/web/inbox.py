"""Notifications: the enterprise's inbox, newest first, unread ones marked, read one by one or all
at once, and the unread count the navigation shows (fetched by htmx). A round's outcome is said
in the reader's language from the message's structured facts (instrument, local time, request and
booking); an event that was also mailed (a booking made, moved, cancelled; a voucher issued…) is
told with its mail's words in the reader's language; other messages show their text. Reads and marks through the same table and scope as
``routers/rounds.py``'s notifications."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, func, select

from instruments.db import utcnow
from scheduler.shared.mail_prefs import MailKind
from scheduler.shared.mail_templates import render as mail_words
from scheduler.shared.notifications import Notification

from ..deps import SessionDep
from .enterprise import Gettext, gettext, reason_text, span, zone
from .error_pages import not_found_page
from .offers import offers_by_id
from .roles import MemberDep
from .signin import MaybeWebUser, check_csrf
from .templating import render

router = APIRouter(include_in_schema=False)
MAIL_KINDS = {str(k) for k in MailKind}


def _mine(actor):  # noqa: ANN001, ANN202 - a select
    return select(Notification).where(Notification.enterprise_id == actor.enterprise_id)


def _link(link: str) -> str:
    """Where a message points, as a page (old messages point into the API)."""
    if link.startswith("/api/v1/requests"):
        return "/my/requests" + link[len("/api/v1/requests") :]
    if link.startswith("/api/v1/bookings"):
        return "/my/bookings" + link[len("/api/v1/bookings") :]
    return link if link.startswith("/") and not link.startswith("//") else ""


def _lines(_: Gettext, note: Notification, lang: str) -> tuple[str, list[dict]]:
    """A message's heading and its lines, each with the page it leads to."""
    if note.kind == "round_outcome":
        placed, unplaced = note.data.get("placed", []), note.data.get("unplaced", [])
        heading = _("Allocation round: {placed} placed, {unplaced} not placed").format(
            placed=len(placed), unplaced=len(unplaced)
        )
        lines = [
            {
                "text": _("Placed on {instrument}, {time}: awaiting the lab's confirmation.").format(
                    instrument=p["instrument"]["name"], time=span(p["start"], p["end"], p["timezone"])
                ),
                "href": f"/my/requests/{p['request_id']}",
                "link": _("See the request"),
            }
            for p in placed
        ]
        lines += [
            {
                "text": _("Not placed: {reason}").format(reason=reason_text(_, u["reason"])),
                "href": f"/my/requests/{u['request_id']}",
                "link": _("See the request"),
            }
            for u in unplaced
        ]
        return heading, lines
    href = _link(note.link)
    subject, text = note.subject, note.body
    if note.kind in MAIL_KINDS and note.data:  # an event that was also mailed: told in the reader's language
        try:
            words = mail_words(note.kind, lang, note.data)
            subject, text = words.subject, words.text
        except Exception:  # noqa: BLE001 - an older message whose facts no longer fit: its stored text
            pass
    body = [{"text": line, "href": "", "link": ""} for line in text.splitlines() if line.strip()]
    if href:
        body.append({"text": "", "href": href, "link": _("Open")})
    return subject, body


@router.get("/my/notifications")
def inbox(request: Request, session: SessionDep, actor: MemberDep) -> Response:
    _ = gettext(request)
    notes = session.exec(
        _mine(actor).order_by(col(Notification.created_at).desc(), col(Notification.id)).limit(200)
    ).all()
    offered = offers_by_id(_, session, actor, [n.data["offer_id"] for n in notes if n.kind == "time_offered" and n.data.get("offer_id")])
    items = []
    for n in notes:
        heading, lines = _lines(_, n, request.state.lang)
        offer = offered.get(n.data.get("offer_id", "")) if n.kind == "time_offered" else None
        items.append({"n": n, "heading": heading, "lines": lines, "offers": [offer] if offer else []})
    unread = sum(1 for n in notes if n.read_at is None)
    return render(request, "inbox.html", items=items, unread=unread, zone=zone())


@router.post("/my/notifications/{notification_id}/read")
def mark_read(
    request: Request,
    notification_id: str,
    session: SessionDep,
    actor: MemberDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf)
    note = session.exec(_mine(actor).where(Notification.id == notification_id)).first()
    if note is None:
        return not_found_page(request)
    note.read_at = note.read_at or utcnow()
    session.add(note)
    session.commit()
    return RedirectResponse("/my/notifications", status_code=303)


@router.post("/my/notifications/read-all")
def mark_all_read(
    request: Request, session: SessionDep, actor: MemberDep, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    check_csrf(request, csrf)
    now = utcnow()
    for note in session.exec(_mine(actor).where(col(Notification.read_at).is_(None))).all():
        note.read_at = now
        session.add(note)
    session.commit()
    return RedirectResponse("/my/notifications", status_code=303)


@router.get("/my/notifications/badge")
def badge(request: Request, session: SessionDep, web_user: MaybeWebUser) -> Response:
    """The unread count beside the navigation's link (an htmx fragment; empty when none)."""
    if web_user is None or not web_user.user.enterprise_id:
        return HTMLResponse("")
    n = session.exec(
        select(func.count())
        .select_from(Notification)
        .where(Notification.enterprise_id == web_user.user.enterprise_id, col(Notification.read_at).is_(None))
    ).one()
    if not n:
        return HTMLResponse("")
    _ = gettext(request)
    label = escape(_("{n} unread").format(n=n))
    return HTMLResponse(
        f'<span class="badge" data-testid="unread-count" title="{label}">{n}<span class="visually-hidden"> {label}</span></span>'
    )
