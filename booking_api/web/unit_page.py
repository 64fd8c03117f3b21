"""The lab manager edits their unit's public page (/unit/page): the profile and contact, the
sharing and management rules, and the news items and open-service cases shown on
``/owner-units/{id}``. News and cases have a rich-text body (simple formatting and links) that is
sanitised on save (``instruments.unit_page.clean_html``, the service behind the API's
``/api/v1/owner-units/{id}/news`` and ``/cases``): a script typed into it never reaches a reader."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from instruments import unit_page as pages
from instruments.actor import Actor
from instruments.errors import DomainError, InvalidInput, NotFound
from instruments.units import OwnerUnit

from ..deps import SessionDep, commit
from .clock import NowDep
from .error_pages import not_found_page
from .i18n import translations
from .owned import CsrfChecked
from .roles import ManagerDep
from .templating import render

router = APIRouter(include_in_schema=False)
KINDS = ("news", "cases")


def _(message: str) -> str:  # marks msgids for the catalogue; translated when rendered
    return message


DONE = {
    "profile": _("The unit's page is saved."),
    "news": _("The news item is published."),
    "cases": _("The case is published."),
    "removed": _("Removed from the page."),
}
FIELD_WORDS = {
    "name": _("Give the unit a name."),
    "title": _("Give the item a title."),
    "url": _("A link starts with https:// or http://."),
}


def _unit(session: Session, actor: Actor) -> OwnerUnit:
    unit = session.get(OwnerUnit, actor.owner_unit_id)
    if unit is None:
        raise NotFound("No owner unit.")
    return unit


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    now: datetime,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    failed_kind: str = "",
) -> Response:
    unit = _unit(session, actor)
    return render(
        request,
        "unit_page.html",
        status_code=status,
        unit=unit,
        news=pages.items(unit, "news"),
        cases=pages.items(unit, "cases"),
        allowed=", ".join(f"<{t}>" for t in sorted(pages.ALLOWED_TAGS)),
        today=now.astimezone(ZoneInfo(unit.timezone)).date().isoformat(),
        errors=errors or {},
        values=values or {},
        failed_kind=failed_kind,
        done=DONE.get(request.query_params.get("done", ""), ""),
    )


def _refused(exc: DomainError, lang: str) -> dict[str, str]:
    gettext = translations(lang).gettext
    field = getattr(exc, "field", None) or "form"
    return {field: gettext(FIELD_WORDS[field]) if field in FIELD_WORDS else exc.detail}


@router.get("/unit/page")
def unit_page(request: Request, session: SessionDep, actor: ManagerDep, now: NowDep) -> Response:
    return _page(request, session, actor, now)


@router.post("/unit/page")
def save_profile(
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    now: NowDep,
    csrf: CsrfChecked,
    name: Annotated[str, Form(max_length=200)] = "",
    name_en: Annotated[str, Form(max_length=200)] = "",
    profile: Annotated[str, Form(max_length=20_000)] = "",
    management_rules: Annotated[str, Form(max_length=20_000)] = "",
    contact_name: Annotated[str, Form(max_length=100)] = "",
    contact_phone: Annotated[str, Form(max_length=50)] = "",
    contact_email: Annotated[str, Form(max_length=200)] = "",
    address: Annotated[str, Form(max_length=300)] = "",
    website: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    changes = dict(
        name=name,
        name_en=name_en,
        profile=profile,
        management_rules=management_rules,
        contact_name=contact_name,
        contact_phone=contact_phone,
        contact_email=contact_email,
        address=address,
        website=website,
    )
    try:
        if website.strip() and not website.strip().startswith(("https://", "http://")):
            raise InvalidInput("A link starts with https:// or http://.", field="url")
        pages.update(session, actor, _unit(session, actor), changes)
        commit(session)
    except DomainError as exc:
        session.rollback()
        errors = _refused(exc, request.state.lang)
        if "url" in errors:
            errors["website"] = errors.pop("url")
        return _page(request, session, actor, now, exc.status, errors)
    return RedirectResponse("/unit/page?done=profile", status_code=303)


@router.post("/unit/page/{kind}")
def publish(
    request: Request,
    kind: str,
    session: SessionDep,
    actor: ManagerDep,
    now: NowDep,
    csrf: CsrfChecked,
    title: Annotated[str, Form(max_length=pages.MAX_TITLE)] = "",
    html: Annotated[str, Form(max_length=pages.MAX_BODY)] = "",
    on: Annotated[str, Form(max_length=10)] = "",
    url: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if kind not in KINDS:
        return not_found_page(request)
    unit = _unit(session, actor)
    try:
        day = date.fromisoformat(on) if on else now.astimezone(ZoneInfo(unit.timezone)).date()
    except ValueError:
        day = now.astimezone(ZoneInfo(unit.timezone)).date()
    try:
        pages.publish(session, actor, unit, kind, title, html, day, url)  # type: ignore[arg-type]
        commit(session)
    except DomainError as exc:
        session.rollback()
        values = {"title": title, "html": html, "on": on, "url": url}
        return _page(request, session, actor, now, exc.status, _refused(exc, request.state.lang), values, kind)
    return RedirectResponse(f"/unit/page?done={kind}#{kind}", status_code=303)


@router.post("/unit/page/{kind}/{item_id}/delete")
def remove(
    request: Request,
    kind: str,
    item_id: str,
    session: SessionDep,
    actor: ManagerDep,
    csrf: CsrfChecked,
) -> Response:
    if kind not in KINDS:
        return not_found_page(request)
    try:
        pages.remove(session, actor, _unit(session, actor), kind, item_id)  # type: ignore[arg-type]
        commit(session)
    except NotFound:
        session.rollback()
        return not_found_page(request)
    return RedirectResponse(f"/unit/page?done=removed#{kind}", status_code=303)
