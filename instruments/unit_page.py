"""What an owner unit publishes about itself beyond its facts: news items and open-service cases,
each a title, a date, a rich-text body and an optional web link, kept in the unit's ``news`` and
``service_cases`` JSON lists. Their bodies are HTML that a lab manager typed, shown to anyone on
the public page, so they are sanitised on save (``clean_html``, with the maintained ``nh3``
sanitiser): only simple formatting and http(s)/mailto links survive, never a script, an event
handler, a style or an image. The API and the lab manager's pages both go through here."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

import nh3
from sqlmodel import Session

from .actor import Actor
from .audit import record, snapshot
from .errors import InvalidInput, NotFound
from .ids import new_id
from .units import OwnerUnit

Kind = Literal["news", "cases"]
FIELD: dict[str, str] = {"news": "news", "cases": "service_cases"}
"""The API's and the pages' name of a list → the unit's column that holds it."""

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "a", "blockquote", "h3", "h4"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}
MAX_TITLE = 200
MAX_BODY = 20_000
MAX_ITEMS = 200


def clean_html(text: str) -> str:
    """``text`` with everything but simple formatting and links removed (scripts with their
    content); links get ``rel="noopener noreferrer"``."""
    return nh3.clean(
        text or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        clean_content_tags={"script", "style"},
        link_rel="noopener noreferrer",
    ).strip()


def plain_text(html: str) -> str:
    """The words of a cleaned body without its tags (for a summary in a list)."""
    return re.sub(r"\s+", " ", nh3.clean(html or "", tags=set())).strip()


def clean_item(raw: Any) -> dict[str, str]:
    """One news item or case as stored: an id, title, date (ISO), cleaned HTML body and link.
    Older free-form items (a plain string, a ``summary`` or ``text`` instead of a body) keep their
    words as an escaped paragraph."""
    if not isinstance(raw, dict):
        raw = {"title": str(raw)}
    body = raw.get("html")
    if body is None:
        words = str(raw.get("summary") or raw.get("body") or raw.get("text") or "")
        body = f"<p>{nh3.clean_text(words)}</p>" if words else ""
    url = str(raw.get("url") or "").strip()
    return {
        "id": str(raw.get("id") or new_id("item")),
        "title": str(raw.get("title") or "").strip()[:MAX_TITLE],
        "date": str(raw.get("date") or "")[:10],
        "html": clean_html(str(body))[:MAX_BODY],
        "url": url if url.startswith(("https://", "http://")) else "",
    }


def items(unit: OwnerUnit, kind: Kind) -> list[dict[str, str]]:
    """The unit's news or cases as shown: cleaned again on the way out, newest date first."""
    listed = [clean_item(raw) for raw in getattr(unit, FIELD[kind]) or []]
    return sorted(listed, key=lambda i: i["date"], reverse=True)


def publish(
    session: Session,
    actor: Actor,
    unit: OwnerUnit,
    kind: Kind,
    title: str,
    html: str,
    on: date | None = None,
    url: str = "",
) -> dict[str, str]:
    """Add a news item or a case to the unit's page (its lab managers); returns it as stored."""
    actor.require_unit_manager(unit.id, unit.name)
    if not title.strip():
        raise InvalidInput("Give the item a title.", field="title")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"The title is longer than {MAX_TITLE} characters.", field="title")
    if len(html) > MAX_BODY:
        raise InvalidInput(f"The text is longer than {MAX_BODY} characters.", field="html")
    if url.strip() and not url.strip().startswith(("https://", "http://")):
        raise InvalidInput("A link starts with https:// or http://.", field="url")
    current = list(getattr(unit, FIELD[kind]) or [])
    if len(current) >= MAX_ITEMS:
        raise InvalidInput(f"A unit publishes at most {MAX_ITEMS} items of a kind; remove an old one.", field="title")
    item = clean_item({"title": title, "html": html, "date": (on or date.today()).isoformat(), "url": url})
    _store(session, actor, unit, kind, [*current, item])
    return item


def remove(session: Session, actor: Actor, unit: OwnerUnit, kind: Kind, item_id: str) -> None:
    """Take a news item or a case off the unit's page (its lab managers)."""
    actor.require_unit_manager(unit.id, unit.name)
    current = [clean_item(raw) for raw in getattr(unit, FIELD[kind]) or []]
    kept = [i for i in current if i["id"] != item_id]
    if len(kept) == len(current):
        raise NotFound(f"No item {item_id!r} on this unit's page.")
    _store(session, actor, unit, kind, kept)


PROFILE_FIELDS = (
    "name",
    "name_en",
    "address",
    "contact_name",
    "contact_phone",
    "contact_email",
    "website",
    "profile",
    "management_rules",
)
"""What a lab manager edits about their unit (plain text; the page escapes it)."""


def update(session: Session, actor: Actor, unit: OwnerUnit, changes: dict[str, Any]) -> OwnerUnit:
    """Edit the unit's page (its lab managers): the profile fields given (``None``: unchanged),
    and ``news`` / ``service_cases`` as whole lists, cleaned item by item."""
    actor.require_unit_manager(unit.id, unit.name)
    before = snapshot(unit)
    for key, value in changes.items():
        if value is None:
            continue
        if key in PROFILE_FIELDS:
            setattr(unit, key, value.strip() if isinstance(value, str) else value)
        elif key in ("news", "service_cases"):
            setattr(unit, key, [clean_item(raw) for raw in value[:MAX_ITEMS]])
        else:
            raise InvalidInput(f"{key} cannot be edited here.", field=key)
    if not unit.name:
        raise InvalidInput("The unit needs a name.", field="name")
    session.add(unit)
    session.flush()
    record(session, actor, "owner_unit.update", "owner_unit", unit.id, before=before, after=snapshot(unit))
    return unit


def _store(session: Session, actor: Actor, unit: OwnerUnit, kind: Kind, new: list[dict[str, str]]) -> None:
    before = snapshot(unit)
    setattr(unit, FIELD[kind], new)  # a new list, so the JSON column is written
    session.add(unit)
    session.flush()
    record(session, actor, f"owner_unit.{kind}", "owner_unit", unit.id, before=before, after=snapshot(unit))
