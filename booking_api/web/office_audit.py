"""The programme office's audit log (/office/audit): who did what, when, filtered by the person who
acted (their e-mail or name, in part), the action (or its family, ``voucher.``), the kind of thing
acted on and a period of days in the platform's zone; newest first, 50 a page. The same query as
``GET /api/v1/audit`` (``instruments.audit_search``)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import col, or_, select

from instruments import audit_search
from instruments.audit_search import AuditFilter
from instruments.settings import get_settings

from ..accounts import User
from ..deps import SessionDep
from .i18n import translations
from .roles import OfficeDep
from .templating import render

router = APIRouter(include_in_schema=False)
PAGE = 50


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/office/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    who: str = "",
    action: str = "",
    entity: str = "",
    start: str = "",
    end: str = "",
    page: int = 1,
) -> Response:
    _ = translations(request.state.lang).gettext
    zone = get_settings().default_timezone
    tz = ZoneInfo(zone)
    errors: dict[str, str] = {}
    first, last = _day(start), _day(end)
    for name, raw, parsed in (("start", start, first), ("end", end, last)):
        if raw and parsed is None:
            errors[name] = _("Give a date as YYYY-MM-DD.")
    if first and last and last < first:
        errors["end"] = _("The last day must not be before the first.")
        last = None
    ids = None
    who = who.strip()[:100]
    if who:
        pattern = f"%{who}%"
        ids = list(
            session.exec(
                select(User.id).where(or_(col(User.email).ilike(pattern), col(User.name).ilike(pattern))).limit(500)
            ).all()
        )
    f = AuditFilter(
        actor_user_ids=ids,
        action=action.strip()[:80] or None,
        entity=entity.strip()[:80] or None,
        since=datetime.combine(first, time(0), tz) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(0), tz) if last else None,
    )
    page = max(1, min(page, 10_000))
    total = audit_search.count(session, f)
    rows = audit_search.search(session, f, PAGE, (page - 1) * PAGE)
    people = {
        u.id: u
        for u in session.exec(select(User).where(col(User.id).in_({r.actor_user_id for r in rows if r.actor_user_id})))
    }
    actions, entities = audit_search.kinds(session)
    query = {"who": who, "action": action, "entity": entity, "start": start, "end": end}
    return render(
        request,
        "office_audit.html",
        rows=[
            (r, people.get(r.actor_user_id or ""), _changes(r.before, r.after), f"{r.at.astimezone(tz):%Y-%m-%d %H:%M}")
            for r in rows
        ],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        query=query,
        actions=actions,
        entities=entities,
        errors=errors,
        zone=zone,
    )


def _changes(before: dict | None, after: dict | None) -> str:
    """What changed, in one short line: the fields whose value differs (or the new row's fields)."""
    before, after = before or {}, after or {}
    keys = [k for k in after if before.get(k) != after.get(k)] if before else list(after)
    text = ", ".join(f"{k}={json.dumps(after[k], ensure_ascii=False, default=str)}" for k in keys[:6])
    return text[:160] + ("…" if len(text) > 160 or len(keys) > 6 else "")
