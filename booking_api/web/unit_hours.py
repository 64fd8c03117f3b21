"""An instrument's opening hours, closures and .ics import, for its lab manager
(/unit/instruments/{id}/hours): the opening rules (weekdays and hours, closed on public holidays and
open on 调休 make-up workdays unless told otherwise) with a form to add one; an 8-week preview
calendar (FullCalendar, vendored; ``hours/preview.json``) of the open hours with the holidays and
make-up workdays of ``instruments.workdays``, closures and extra openings; closures with a public
title and a reason (the instrument's page then says "Closed: <title>") and extra openings; every
rule and closure editable in place (``hours/rules/{id}``, ``hours/exceptions/{id}``: the page with
its form prefilled, posting back there, so a typo or a moved end needs no delete and re-add); and an
``.ics`` import whose dry run lists what would be created before the manager confirms
(``scheduler.calendars.ics_import``, the service behind the API's import). Only the manager's own
unit's instruments: another unit's answers 404."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlmodel import Session, select
from starlette.datastructures import FormData

from instruments import catalogue
from instruments.availability import AvailabilityException, ExceptionKind, OpeningRule, load_opening, zone
from instruments.errors import DomainError, NotFound
from instruments.inventory import Instrument
from instruments.workdays import DayKind, WorkCalendar
from scheduler.calendars import ics_import

from ..deps import SessionDep, commit
from ..timefields import FIRST_YEAR, LAST_YEAR
from .clock import NowDep
from .error_pages import not_found_page
from .instrument_words import Gettext
from .owned import CheckedForm, NotOwned, OwnInstrument, Words, own_instrument
from .roles import ManagerDep
from .signin import check_csrf
from .templating import render
from .unit_instruments import gettext

router = APIRouter(include_in_schema=False)


def N_(message: str) -> str:  # marks a msgid for the catalogue; translated where it is shown
    return message

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
PREVIEW_WEEKS = 8


def day_names(_: Gettext) -> dict[str, str]:
    return {
        "MO": _("Monday"),
        "TU": _("Tuesday"),
        "WE": _("Wednesday"),
        "TH": _("Thursday"),
        "FR": _("Friday"),
        "SA": _("Saturday"),
        "SU": _("Sunday"),
    }


def list_sep(lang: str) -> str:
    return "、" if lang == "zh-CN" else ", "


def rule_days(rule: OpeningRule, _: Gettext, sep: str = "、") -> str:
    """A weekly rule's days in words; any other rule as its RRULE."""
    parts = dict(p.split("=", 1) for p in rule.rrule.split(";") if "=" in p)
    names = day_names(_)
    if parts.get("FREQ") == "WEEKLY" and set(parts) <= {"FREQ", "BYDAY"} and parts.get("BYDAY"):
        days = parts["BYDAY"].split(",")
        if all(d in names for d in days):
            return sep.join(names[d] for d in DAYS if d in days)
    if parts.get("FREQ") == "DAILY" and set(parts) == {"FREQ"}:
        return _("Every day")
    return rule.rrule


def _local(value: str, tz: ZoneInfo) -> datetime | None:
    """A ``datetime-local`` field as an aware time in the instrument's zone (None if it is not one)."""
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        return None
    return at.replace(tzinfo=tz) if at.tzinfo is None else at.astimezone(tz)


def _day(value: str) -> date | None:
    try:
        d = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return d if FIRST_YEAR <= d.year <= LAST_YEAR else None


def _clock(value: str) -> time | None:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        return None


def preview_start(now: datetime, tz: ZoneInfo) -> date:
    """The preview's first day: the Monday of this week in the instrument's zone."""
    today = now.astimezone(tz).date()
    return today - timedelta(days=today.weekday())


def _page(
    request: Request,
    session: Session,
    inst: Instrument,
    now: datetime,
    rule_values: dict[str, Any] | None = None,
    rule_errors: dict[str, str] | None = None,
    exc_values: dict[str, Any] | None = None,
    exc_errors: dict[str, str] | None = None,
    ics_error: str = "",
    note: str = "",
    status: int = 200,
    editing_rule: OpeningRule | None = None,
    editing_exception: AvailabilityException | None = None,
) -> Response:
    """The hours page; with ``editing_rule`` (``editing_exception``) the rule (closure) form edits
    that row, prefilled from it unless ``rule_values`` (``exc_values``) carry what was posted."""
    _ = gettext(request)
    tz = zone(inst.timezone)
    today = now.astimezone(tz).date()
    rules = session.exec(
        select(OpeningRule).where(OpeningRule.instrument_id == inst.id).order_by(OpeningRule.valid_from)
    ).all()
    exceptions = session.exec(
        select(AvailabilityException)
        .where(AvailabilityException.instrument_id == inst.id, AvailabilityException.end > now)
        .order_by(AvailabilityException.start)
    ).all()
    first = preview_start(now, tz)
    if editing_rule is not None and rule_values is None:
        rule_values = rule_form_values(editing_rule)
    if editing_exception is not None and exc_values is None:
        exc_values = exception_form_values(editing_exception, tz)
    return render(
        request,
        "unit_hours.html",
        status_code=status,
        inst=inst,
        zone=inst.timezone,
        rules=[(r, rule_days(r, _, list_sep(request.state.lang))) for r in rules],
        exceptions=exceptions,
        days=list(day_names(_).items()),
        rule_values=rule_values
        or {"days": ["MO", "TU", "WE", "TH", "FR"], "start": "08:30", "end": "17:30", "valid_from": today.isoformat(), "follows_holidays": True},
        rule_errors=rule_errors or {},
        exc_values=exc_values or {"kind": "closed"},
        exc_errors=exc_errors or {},
        ics_error=ics_error,
        note=note,
        first=first,
        last=first + timedelta(weeks=PREVIEW_WEEKS, days=-1),
        editing_rule=editing_rule,
        editing_rrule="" if editing_rule is None or weekly_days(editing_rule.rrule) is not None else editing_rule.rrule,
        editing_exception=editing_exception,
    )


def weekly_days(rrule: str) -> list[str] | None:
    """The weekdays of a rule the form can show (weekly on listed days, or daily); None for any
    other RRULE (an interval, a month day: entered through the API)."""
    parts = dict(p.split("=", 1) for p in rrule.upper().split(";") if "=" in p)
    if parts.get("FREQ") == "DAILY" and set(parts) == {"FREQ"}:
        return list(DAYS)
    if parts.get("FREQ") == "WEEKLY" and set(parts) == {"FREQ", "BYDAY"}:
        days = parts["BYDAY"].split(",")
        if days and all(d in DAYS for d in days):
            return [d for d in DAYS if d in days]
    return None


def rule_form_values(rule: OpeningRule) -> dict[str, Any]:
    """A rule as its form's fields."""
    return {
        "days": weekly_days(rule.rrule) or [],
        "start": rule.start_time.strftime("%H:%M"),
        "end": rule.end_time.strftime("%H:%M"),
        "valid_from": rule.valid_from.isoformat(),
        "valid_until": rule.valid_until.isoformat() if rule.valid_until else "",
        "follows_holidays": rule.follows_holidays,
        "label": rule.label,
    }


def exception_form_values(exc: AvailabilityException, tz: ZoneInfo) -> dict[str, Any]:
    """A closure or extra opening as its form's fields (``datetime-local``: the instrument's wall clock)."""
    return {
        "kind": str(exc.kind),
        "title": exc.title,
        "reason": exc.reason,
        "start": f"{exc.start.astimezone(tz):%Y-%m-%dT%H:%M}",
        "end": f"{exc.end.astimezone(tz):%Y-%m-%dT%H:%M}",
    }


NOTES = {
    "created": N_("The instrument is published. Give it opening hours so it can be booked."),
    "rule": N_("The opening rule is added."),
    "rule_deleted": N_("The opening rule is deleted."),
    "exception": N_("Added."),
    "exception_deleted": N_("Deleted."),
    "rule_updated": N_("The opening rule is updated."),
    "exception_updated": N_("Saved."),
    "imported": N_("The calendar is imported."),
}


@router.get("/unit/instruments/{instrument_id}/hours")
def hours_page(
    request: Request, session: SessionDep, actor: ManagerDep, inst: OwnInstrument, now: NowDep, _: Words, done: str = ""
) -> Response:
    return _page(request, session, inst, now, note=_(NOTES[done]) if done in NOTES else "")


@router.get("/unit/instruments/{instrument_id}/hours/preview.json")
def preview_json(
    request: Request, instrument_id: str, session: SessionDep, actor: ManagerDep, now: NowDep
) -> Response:
    """Eight weeks from this week's Monday for the preview calendar: the open hours, each
    public holiday and 调休 make-up workday with its name, the closures (with their titles) and
    extra openings. Times are the instrument's wall clock without an offset (the page names the zone)."""
    try:
        inst = own_instrument(instrument_id, session, actor)
    except NotOwned:
        return JSONResponse({"detail": "not found"}, status_code=404)
    _ = gettext(request)
    tz = zone(inst.timezone)
    first = preview_start(now, tz)
    lo = datetime.combine(first, time(0), tz)
    hi = datetime.combine(first + timedelta(weeks=PREVIEW_WEEKS), time(0), tz)
    events: list[dict[str, Any]] = []
    opening, warnings = load_opening(session, inst.id, tz, lo, hi)
    for s, e in opening:
        events.append(
            {
                "start": _wall(s, tz),
                "end": _wall(e, tz),
                "title": "",  # the times say it; the legend names the colour
                "classNames": ["open"],
                "display": "block",
                "kind": "open",
            }
        )
    cal = WorkCalendar.load(session, first, first + timedelta(weeks=PREVIEW_WEEKS))
    for i in range(PREVIEW_WEEKS * 7):
        d = first + timedelta(days=i)
        kind = cal.kind(d)
        if kind == DayKind.holiday:
            name = holiday_name(cal, d, request.state.lang) or _("Public holiday")
            events += _all_day(d, _("Holiday: {name}").format(name=name), "holiday")
        elif kind == DayKind.makeup_workday:
            events += _all_day(d, _("Make-up workday (调休)"), "makeup")
    rows = session.exec(
        select(AvailabilityException).where(
            AvailabilityException.instrument_id == inst.id,
            AvailabilityException.start < hi,
            AvailabilityException.end > lo,
        )
    ).all()
    for x in rows:
        closed = x.kind == ExceptionKind.closed
        label = x.title or x.reason
        title = _("Closed: {title}").format(title=label) if closed and label else _("Closed") if closed else _("Extra opening")
        events.append(
            {
                "start": _wall(x.start, tz),
                "end": _wall(x.end, tz),
                "title": title,
                "classNames": ["closure" if closed else "extra"],
                "display": "block",
                "kind": "closed" if closed else "extra_open",
            }
        )
    return JSONResponse(
        {
            "timezone": inst.timezone,
            "start": first.isoformat(),
            "end": (first + timedelta(weeks=PREVIEW_WEEKS)).isoformat(),
            "events": events,
            "warnings": warnings + cal.warnings,
        }
    )


def _wall(t: datetime, tz: ZoneInfo) -> str:
    return f"{t.astimezone(tz):%Y-%m-%dT%H:%M:%S}"


def _all_day(d: date, title: str, kind: str) -> list[dict[str, Any]]:
    """A holiday or make-up workday: the day shaded, and its name as a label in the day."""
    day = {"start": d.isoformat(), "end": (d + timedelta(days=1)).isoformat(), "allDay": True}
    return [
        {**day, "display": "background", "classNames": [kind], "kind": kind},
        {**day, "display": "block", "title": title, "classNames": [f"{kind}-label"], "kind": f"{kind}_label"},
    ]


@lru_cache(maxsize=32)
def _names_in(year: int, language: str) -> dict[date, str]:
    return dict(holidays.country_holidays("CN", years=year, language=language).items())


def holiday_name(cal: WorkCalendar, d: date, lang: str) -> str | None:
    """The holiday's name in the page's language: the platform's own override name as entered,
    else the holiday library's name (which speaks Chinese as well as English)."""
    if d in cal.overrides:
        return cal.holiday_name(d)
    return _names_in(d.year, "zh_CN" if lang == "zh-CN" else "en_US").get(d) or cal.holiday_name(d)


def _rule_error(field: str, _: Gettext) -> str:
    return {
        "days": _("Choose at least one day."),
        "start": _("Give a time like 08:30."),
        "end": _("The end must be after the start (a rule cannot cross midnight; add two)."),
        "valid_from": _("Give a date like 2026-12-07."),
        "valid_until": _("The last day must not be before the first."),
        "rrule": _("These days never occur between the first and the last day."),
    }.get(field, _("This value is not allowed."))


def _rule_input(form: FormData, _: Gettext, keep_rrule: str = "") -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """The rule form as posted: its values (to show again), the refusals beside their fields, and
    the rule's fields when there are none. ``keep_rrule``: an edited rule's RRULE that the form
    cannot show as days, kept when no day is ticked."""
    values = {
        "days": [d for d in form.getlist("days") if d in DAYS],
        "start": str(form.get("start", "")),
        "end": str(form.get("end", "")),
        "valid_from": str(form.get("valid_from", "")),
        "valid_until": str(form.get("valid_until", "")),
        "follows_holidays": bool(form.get("follows_holidays")),
        "label": str(form.get("label", ""))[:200],
    }
    errors: dict[str, str] = {}
    start, end = _clock(values["start"]), _clock(values["end"])
    valid_from = _day(values["valid_from"])
    valid_until = _day(values["valid_until"]) if values["valid_until"].strip() else None
    if not values["days"] and not keep_rrule:
        errors["days"] = _rule_error("days", _)
    if start is None:
        errors["start"] = _rule_error("start", _)
    if end is None:
        errors["end"] = _("Give a time like 17:30.")
    if valid_from is None:
        errors["valid_from"] = _rule_error("valid_from", _)
    if values["valid_until"].strip() and valid_until is None:
        errors["valid_until"] = _("Give a date like 2026-12-31.")
    fields = {
        "rrule": "FREQ=WEEKLY;BYDAY=" + ",".join(d for d in DAYS if d in values["days"]) if values["days"] else keep_rrule,
        "start_time": start,
        "end_time": end,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "follows_holidays": values["follows_holidays"],
        "label": values["label"],
    }
    return values, errors, fields


def _rule_refusal(e: DomainError, _: Gettext) -> dict[str, str]:
    """A refusal of the catalogue's ``validate_rule`` beside the form's field."""
    field = getattr(e, "field", None) or "rrule"
    field = {"end_time": "end", "start_time": "start"}.get(field, field)
    return {field if field in ("end", "start", "valid_until", "valid_from") else "days": _rule_error(field, _)}


@router.post("/unit/instruments/{instrument_id}/hours/rules")
def add_rule(
    request: Request, session: SessionDep, actor: ManagerDep, form: CheckedForm, inst: OwnInstrument, now: NowDep, _: Words
) -> Response:
    """Add a weekly opening rule: the chosen weekdays, from–to, valid from a day (until one)."""
    values, errors, fields = _rule_input(form, _)
    if not errors:
        try:
            catalogue.add_opening_rule(session, actor, inst, OpeningRule(instrument_id=inst.id, **fields))
        except DomainError as e:
            session.rollback()
            errors = _rule_refusal(e, _)
    if errors:
        return _page(request, session, inst, now, rule_values=values, rule_errors=errors, status=422)
    commit(session)
    return RedirectResponse(f"/unit/instruments/{inst.id}/hours?done=rule", status_code=303)


def _own_row(session: Session, model: type, row_id: str, inst: Instrument) -> Any:
    """The instrument's rule or exception, or None (another instrument's, or none)."""
    row = session.get(model, row_id)
    return row if row is not None and row.instrument_id == inst.id else None


@router.get("/unit/instruments/{instrument_id}/hours/rules/{rule_id}")
def edit_rule_page(
    request: Request, rule_id: str, session: SessionDep, actor: ManagerDep, inst: OwnInstrument, now: NowDep
) -> Response:
    """The hours page with the rule form editing this rule, prefilled."""
    rule = _own_row(session, OpeningRule, rule_id, inst)
    if rule is None:
        return not_found_page(request)
    return _page(request, session, inst, now, editing_rule=rule)


@router.post("/unit/instruments/{instrument_id}/hours/rules/{rule_id}")
def update_rule(
    request: Request,
    rule_id: str,
    session: SessionDep,
    actor: ManagerDep,
    form: CheckedForm,
    inst: OwnInstrument,
    now: NowDep,
    _: Words,
) -> Response:
    """Save an edited opening rule (checked as an added one is); refusals re-show the form."""
    rule = _own_row(session, OpeningRule, rule_id, inst)
    if rule is None:
        return not_found_page(request)
    keep = "" if weekly_days(rule.rrule) is not None else rule.rrule
    values, errors, fields = _rule_input(form, _, keep_rrule=keep)
    if not errors:
        try:
            catalogue.update_opening_rule(session, actor, inst, rule.id, fields)
        except NotFound:
            return not_found_page(request)
        except DomainError as e:
            session.rollback()
            errors = _rule_refusal(e, _)
    if errors:
        rule = _own_row(session, OpeningRule, rule_id, inst)
        return _page(request, session, inst, now, rule_values=values, rule_errors=errors, status=422, editing_rule=rule)
    commit(session)
    return RedirectResponse(f"/unit/instruments/{inst.id}/hours?done=rule_updated", status_code=303)


@router.post("/unit/instruments/{instrument_id}/hours/rules/{rule_id}/delete")
def delete_rule(
    request: Request, rule_id: str, session: SessionDep, actor: ManagerDep, form: CheckedForm, inst: OwnInstrument
) -> Response:
    try:
        catalogue.remove_opening_rule(session, actor, inst, rule_id)
    except DomainError:
        return not_found_page(request)
    commit(session)
    return RedirectResponse(f"/unit/instruments/{inst.id}/hours?done=rule_deleted", status_code=303)


def _exception_input(
    form: FormData, tz: ZoneInfo, _: Gettext
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """The closure form as posted: its values, the refusals beside their fields, and the
    exception's fields when there are none."""
    values = {k: str(form.get(k, "")).strip() for k in ("kind", "title", "reason", "start", "end")}
    errors: dict[str, str] = {}
    if values["kind"] not in {k.value for k in ExceptionKind}:
        errors["kind"] = _("Choose a closure or an extra opening.")
    if len(values["title"]) > 200:
        errors["title"] = _("At most {n} characters.").format(n=200)
    if len(values["reason"]) > 500:
        errors["reason"] = _("At most {n} characters.").format(n=500)
    start, end = _local(values["start"], tz), _local(values["end"], tz)
    if start is None:
        errors["start"] = _("Give a date and time.")
    if end is None:
        errors["end"] = _("Give a date and time.")
    elif start is not None and end <= start:
        errors["end"] = _("The end must be after the start.")
    fields: dict[str, Any] = {}
    if not errors:
        fields = {
            "kind": ExceptionKind(values["kind"]),
            "start": start,
            "end": end,
            "title": values["title"],
            "reason": values["reason"],
        }
    return values, errors, fields


def _exception_refusal(e: DomainError, _: Gettext) -> dict[str, str]:
    if "overlaps" in e.detail:
        return {"start": _("This overlaps another closure or extra opening; change or delete that one first.")}
    return {"end" if getattr(e, "field", None) == "end" else "start": e.detail}


@router.post("/unit/instruments/{instrument_id}/hours/exceptions")
def add_exception(
    request: Request, session: SessionDep, actor: ManagerDep, form: CheckedForm, inst: OwnInstrument, now: NowDep, _: Words
) -> Response:
    """Add a closure (a blackout with a public title and a reason) or an extra opening."""
    values, errors, fields = _exception_input(form, zone(inst.timezone), _)
    if not errors:
        try:
            catalogue.add_exception(session, actor, inst, AvailabilityException(instrument_id=inst.id, **fields))
        except DomainError as e:
            session.rollback()
            errors = _exception_refusal(e, _)
    if errors:
        return _page(request, session, inst, now, exc_values=values, exc_errors=errors, status=422)
    commit(session)
    return RedirectResponse(f"/unit/instruments/{inst.id}/hours?done=exception", status_code=303)


@router.get("/unit/instruments/{instrument_id}/hours/exceptions/{exception_id}")
def edit_exception_page(
    request: Request, exception_id: str, session: SessionDep, actor: ManagerDep, inst: OwnInstrument, now: NowDep
) -> Response:
    """The hours page with the closure form editing this closure or extra opening, prefilled."""
    exc = _own_row(session, AvailabilityException, exception_id, inst)
    if exc is None:
        return not_found_page(request)
    return _page(request, session, inst, now, editing_exception=exc)


@router.post("/unit/instruments/{instrument_id}/hours/exceptions/{exception_id}")
def update_exception(
    request: Request,
    exception_id: str,
    session: SessionDep,
    actor: ManagerDep,
    form: CheckedForm,
    inst: OwnInstrument,
    now: NowDep,
    _: Words,
) -> Response:
    """Save an edited closure or extra opening (it may overlap its own old times, not another)."""
    exc = _own_row(session, AvailabilityException, exception_id, inst)
    if exc is None:
        return not_found_page(request)
    values, errors, fields = _exception_input(form, zone(inst.timezone), _)
    if not errors:
        try:
            catalogue.update_exception(session, actor, inst, exc.id, fields)
        except NotFound:
            return not_found_page(request)
        except DomainError as e:
            session.rollback()
            errors = _exception_refusal(e, _)
    if errors:
        exc = _own_row(session, AvailabilityException, exception_id, inst)
        return _page(
            request, session, inst, now, exc_values=values, exc_errors=errors, status=422, editing_exception=exc
        )
    commit(session)
    return RedirectResponse(f"/unit/instruments/{inst.id}/hours?done=exception_updated", status_code=303)


@router.post("/unit/instruments/{instrument_id}/hours/exceptions/{exception_id}/delete")
def delete_exception(
    request: Request, exception_id: str, session: SessionDep, actor: ManagerDep, form: CheckedForm, inst: OwnInstrument
) -> Response:
    try:
        catalogue.remove_exception(session, actor, inst, exception_id)
    except DomainError:
        return not_found_page(request)
    commit(session)
    return RedirectResponse(f"/unit/instruments/{inst.id}/hours?done=exception_deleted", status_code=303)


def ics_reason(reason: str, _: Gettext) -> str:
    """An import's reason for skipping or refusing an event, in the page's language where known."""
    known = (
        ("in the past", _("In the past.")),
        ("cancelled", _("Cancelled in the calendar.")),
        ("marked free", _("Marked free in the calendar.")),
        ("already imported", _("Already imported.")),
        ("overlaps existing exception", _("Overlaps a closure or extra opening already entered.")),
        ("overlaps event", _("Overlaps another event of this file.")),
        ("no DTSTART", _("The event has no start.")),
        ("no end", _("The event has no end.")),
        ("end before start", _("The event ends before it starts.")),
        ("zero length", _("The event has no length.")),
    )
    for prefix, words in known:
        if reason.startswith(prefix):
            return words
    return _("Not usable: {reason}").format(reason=reason)


async def _ics_bytes(form: FormData) -> bytes | None:
    """The uploaded file, or the text the preview carries to its confirmation."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) or hasattr(upload, "read"):
        data = await upload.read(ics_import.MAX_BYTES + 1)  # type: ignore[union-attr]
        if data:
            return data
    text = form.get("ics")
    return str(text).encode() if text else None


async def ics_data(request: Request) -> tuple[FormData, bytes | None]:
    """The posted form (files up to the import's limit) and the calendar's bytes, once the CSRF
    token is checked."""
    form = await request.form(max_part_size=ics_import.MAX_BYTES + 1)
    check_csrf(request, str(form.get("csrf", "")))
    return form, await _ics_bytes(form)


@router.post("/unit/instruments/{instrument_id}/hours/import")
def import_ics(
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    now: NowDep,
    _: Words,
    posted: tuple[FormData, bytes | None] = Depends(ics_data),
    inst: Instrument = Depends(own_instrument),
) -> Response:
    """An ``.ics`` file's dry run (``confirm`` empty: nothing is written, the page lists what would
    be created, skipped and refused) or its import (``confirm=1``: the same file, written)."""
    form, data = posted
    if not data:
        return _page(request, session, inst, now, ics_error=_("Choose an .ics file."), status=422)
    confirm = bool(form.get("confirm"))
    try:
        report = ics_import.import_blackouts(session, actor, inst.id, data, dry_run=not confirm, now=now)
    except DomainError as e:
        session.rollback()
        message = (
            _("The file is larger than 2 MB; split it.")
            if e.status == 413
            else _("This is not an iCalendar (.ics) file.")
            if getattr(e, "field", None) == "body"
            else e.detail
        )
        return _page(request, session, inst, now, ics_error=message, status=e.status)
    if confirm:
        commit(session)
        return RedirectResponse(f"/unit/instruments/{inst.id}/hours?done=imported", status_code=303)
    session.rollback()
    return render(
        request,
        "unit_ics_preview.html",
        inst=inst,
        zone=inst.timezone,
        created=report.created,
        skipped=[(i, ics_reason(i.reason, _)) for i in report.skipped],
        errors=[(i, ics_reason(i.reason, _)) for i in report.errors],
        ics=data.decode("utf-8", errors="replace"),
    )
