"""The lab manager's operators (/unit/operators): the unit's operators with the instruments each may
run (an existing operator is given another instrument, or taken off one, by ticking it), their
working hours, a form to add an operator; and who is qualified to operate which instrument
themselves, until when, with a form to qualify someone and a way to withdraw it. Through
``instruments.staffing``, the service behind the API's ``/operators/{id}/instruments`` and
``/qualifications``. Only the manager's own unit: another unit's operator or qualification
answers 404."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, func, select
from starlette.datastructures import FormData

from instruments import staffing
from instruments.actor import Actor
from instruments.availability import zone
from instruments.errors import DomainError
from instruments.inventory import Instrument
from instruments.staff import Operator, Qualification

from ..accounts import User
from ..deps import SessionDep, commit
from .clock import NowDep
from .error_pages import not_found_page
from .instrument_words import Gettext
from .owned import CheckedForm, OwnOperator, Words
from .roles import ManagerDep
from .templating import render
from .unit_hours import DAYS, day_names, list_sep
from .unit_instruments import gettext

router = APIRouter(include_in_schema=False)


def N_(message: str) -> str:  # marks a msgid for the catalogue; translated where it is shown
    return message

EXPIRING_DAYS = 30


def shift_words(shift: dict[str, str], _: Gettext, sep: str = "、") -> str:
    """A stored shift in words: "Monday、Tuesday 08:30–17:30" (its RRULE when not weekly by day)."""
    parts = dict(p.split("=", 1) for p in shift.get("rrule", "").split(";") if "=" in p)
    names = day_names(_)
    days = parts.get("BYDAY", "").split(",")
    if parts.get("FREQ") == "WEEKLY" and set(parts) <= {"FREQ", "BYDAY"} and all(d in names for d in days):
        when = sep.join(names[d] for d in DAYS if d in days)
    elif parts.get("FREQ") == "DAILY" and set(parts) == {"FREQ"}:
        when = _("Every day")
    else:
        when = shift.get("rrule", "")
    return f"{when} {shift.get('start', '')}–{shift.get('end', '')}"


def _form_shift(working_hours: list[dict[str, str]]) -> dict[str, Any]:
    """The change form's values: the first shift's days and hours (weekdays 08:30–17:30 if none)."""
    first = working_hours[0] if working_hours else {}
    parts = dict(p.split("=", 1) for p in first.get("rrule", "").split(";") if "=" in p)
    days = [d for d in parts.get("BYDAY", "").split(",") if d in DAYS] if parts.get("FREQ") == "WEEKLY" else []
    return {
        "days": days or ["MO", "TU", "WE", "TH", "FR"],
        "start": first.get("start", "08:30"),
        "end": first.get("end", "17:30"),
    }


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    now: datetime,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    note: str = "",
    status: int = 200,
) -> Response:
    _ = gettext(request)
    unit = actor.owner_unit_id
    instruments = session.exec(
        select(Instrument).where(Instrument.owner_unit_id == unit).order_by(Instrument.name)
    ).all()
    names = {i.id: i.name for i in instruments}
    ops = session.exec(select(Operator).where(Operator.owner_unit_id == unit).order_by(Operator.name)).all()
    runs = staffing.instruments_of(session, [o.id for o in ops])
    sep = list_sep(request.state.lang)
    operators = [
        {
            "op": o,
            "runs": runs[o.id],
            "shifts": [shift_words(s, _, sep) for s in o.working_hours],
            "form": _form_shift(o.working_hours),
        }
        for o in ops
    ]
    today = now.astimezone(zone(instruments[0].timezone if instruments else "Asia/Shanghai")).date()
    quals = session.exec(
        select(Qualification, User)
        .join(User, User.id == Qualification.user_id)
        .where(Qualification.instrument_id.in_(list(names)))  # type: ignore[attr-defined]
        .order_by(Qualification.expires_on, User.name)
    ).all()
    qualifications = [
        {
            "q": q,
            "user": u,
            "instrument": names.get(q.instrument_id, q.instrument_id),
            "state": _state(q, today, _),
        }
        for q, u in quals
    ]
    return render(
        request,
        "unit_operators.html",
        status_code=status,
        operators=operators,
        instruments=instruments,
        names=names,
        qualifications=qualifications,
        days=list(day_names(_).items()),
        errors=errors or {},
        values=values or {"granted_on": today.isoformat(), "days": ["MO", "TU", "WE", "TH", "FR"]},
        note=note,
    )


def _state(q: Qualification, today: date, _: Gettext) -> tuple[str, str]:
    if not q.valid_on(today):
        return "expired", _("Expired") if q.expires_on and q.expires_on < today else _("Not yet valid")
    if q.expires_on is not None and (q.expires_on - today).days <= EXPIRING_DAYS:
        return "expiring", _("Expires soon")
    return "valid", _("Valid now")


NOTES = {
    "instruments": N_("Saved: the operator's instruments."),
    "hours": N_("Saved: the working hours."),
    "operator": N_("The operator is added."),
    "qualified": N_("The qualification is recorded."),
    "withdrawn": N_("The qualification is withdrawn."),
}


@router.get("/unit/operators")
def operators_page(request: Request, session: SessionDep, actor: ManagerDep, now: NowDep, done: str = "") -> Response:
    _ = gettext(request)
    return _page(request, session, actor, now, note=_(NOTES[done]) if done in NOTES else "")


@router.post("/unit/operators/{operator_id}/instruments")
def set_instruments(
    request: Request, session: SessionDep, actor: ManagerDep, form: CheckedForm, op: OwnOperator, now: NowDep, _: Words
) -> Response:
    """Which of the unit's instruments this operator may run (the ticked ones, and only those)."""
    try:
        staffing.set_instruments(session, actor, op, [str(i) for i in form.getlist("instrument_ids")])
    except DomainError:
        session.rollback()
        errors = {f"instruments-{op.id}": _("Choose among your unit's instruments.")}
        return _page(request, session, actor, now, errors=errors, status=422)
    commit(session)
    return RedirectResponse("/unit/operators?done=instruments", status_code=303)


def _shift(form: FormData, _: Gettext, key: str) -> tuple[tuple[str, time, time] | None, dict[str, str]]:
    days = [d for d in DAYS if d in form.getlist("days")]
    errors: dict[str, str] = {}
    try:
        start = time.fromisoformat(str(form.get("start", "")).strip())
        end = time.fromisoformat(str(form.get("end", "")).strip())
    except ValueError:
        return None, {key: _("Give the hours like 08:30 and 17:30.")}
    if not days:
        errors[key] = _("Choose at least one day.")
    elif end <= start:
        errors[key] = _("The end must be after the start (a shift cannot cross midnight).")
    if errors:
        return None, errors
    return ("FREQ=WEEKLY;BYDAY=" + ",".join(days), start, end), {}


@router.post("/unit/operators/{operator_id}/hours")
def set_hours(
    request: Request, session: SessionDep, actor: ManagerDep, form: CheckedForm, op: OwnOperator, now: NowDep, _: Words
) -> Response:
    """Replace the operator's working hours by one weekly shift (days, from–to). Closed on public
    holidays and at work on 调休 make-up workdays, as the booking rules read them."""
    key = f"hours-{op.id}"
    shift, errors = _shift(form, _, key)
    if shift is not None:
        try:
            staffing.set_working_hours(session, actor, op, [shift])
        except DomainError:
            session.rollback()
            errors = {key: _("These hours are not allowed.")}
    if errors:
        return _page(request, session, actor, now, errors=errors, status=422)
    commit(session)
    return RedirectResponse("/unit/operators?done=hours", status_code=303)


@router.post("/unit/operators/new")
def add_operator(
    request: Request, session: SessionDep, actor: ManagerDep, form: CheckedForm, now: NowDep, _: Words
) -> Response:
    """A new operator of the unit with one weekly shift and the instruments ticked."""
    values = {
        "name": str(form.get("name", "")).strip(),
        "email": str(form.get("email", "")).strip(),
        "days": [str(d) for d in form.getlist("days")],
        "start": str(form.get("start", "")),
        "end": str(form.get("end", "")),
        "instrument_ids": [str(i) for i in form.getlist("instrument_ids")],
    }
    errors: dict[str, str] = {}
    if not 1 <= len(values["name"]) <= 100:
        errors["name"] = _("Give the operator's name (at most 100 characters).")
    if len(values["email"]) > 200:
        errors["email"] = _("At most {n} characters.").format(n=200)
    shift, shift_errors = _shift(form, _, "hours-new")
    errors.update(shift_errors)
    if not errors and shift is not None:
        try:
            staffing.create_operator(
                session,
                actor,
                actor.owner_unit_id or "",
                values["name"],
                values["email"],
                [shift],
                values["instrument_ids"],
            )
        except DomainError:
            session.rollback()
            errors["instrument_ids"] = _("Choose among your unit's instruments.")
    if errors:
        return _page(request, session, actor, now, errors=errors, values=values, status=422)
    commit(session)
    return RedirectResponse("/unit/operators?done=operator", status_code=303)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


@router.post("/unit/operators/qualifications")
def qualify(
    request: Request, session: SessionDep, actor: ManagerDep, form: CheckedForm, now: NowDep, _: Words
) -> Response:
    """Qualify a person (by their account's e-mail) to operate one of the unit's instruments themselves."""
    values = {k: str(form.get(k, "")).strip() for k in ("user_email", "instrument_id", "granted_on", "expires_on")}
    errors: dict[str, str] = {}
    user = (
        session.exec(select(User).where(func.lower(User.email) == values["user_email"].lower())).first()
        if values["user_email"]
        else None
    )
    if user is None:
        errors["user_email"] = _("There is no account with this e-mail.")
    inst = session.get(Instrument, values["instrument_id"]) if values["instrument_id"] else None
    if inst is None or inst.owner_unit_id != actor.owner_unit_id:
        errors["instrument_id"] = _("Choose one of your unit's instruments.")
    granted = _day(values["granted_on"])
    if granted is None:
        errors["granted_on"] = _("Give a date like 2026-12-07.")
    expires = _day(values["expires_on"]) if values["expires_on"] else None
    if values["expires_on"] and expires is None:
        errors["expires_on"] = _("Give a date like 2027-12-31.")
    if not errors and user is not None and inst is not None and granted is not None:
        try:
            staffing.grant_qualification(session, actor, user.id, inst, granted, expires)
        except DomainError:
            session.rollback()
            errors["expires_on"] = _("The expiry must not be before the day it is granted.")
    if errors:
        return _page(request, session, actor, now, errors=errors, values=values, status=422)
    commit(session)
    return RedirectResponse("/unit/operators?done=qualified", status_code=303)


@router.post("/unit/operators/qualifications/{qualification_id}/delete")
def withdraw(
    request: Request, qualification_id: str, session: SessionDep, actor: ManagerDep, form: CheckedForm
) -> Response:
    try:
        staffing.revoke_qualification(session, actor, qualification_id)
    except DomainError:
        return not_found_page(request)
    commit(session)
    return RedirectResponse("/unit/operators?done=withdrawn", status_code=303)
