"""The lab manager's usage page (/unit/usage): uploading an instrument's usage log as CSV (the
service behind ``POST /api/v1/instruments/{id}/usage/import``: all rows or none, every problem
shown by row and column in the page's language), and the unit's utilisation dashboard for a
chosen year (the current year in the platform's zone by default): effective hours against the
quota, the sharing rate and external users, per instrument and for the unit, with Chart.js
charts (vendored). Figures come from ``scheduler.sharing.indicators`` as the API's
``/api/v1/indicators`` does; nothing is computed here but percentages for display."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import col, select
from starlette.datastructures import UploadFile

from instruments.errors import DomainError, InvalidInput, LimitExceeded, NotFound, PayloadTooLarge
from instruments.inventory import Instrument
from instruments.settings import get_settings
from scheduler.sharing import indicators as ind
from scheduler.sharing import usage as usage_svc

from ..bodies import capped_form
from ..deps import SessionDep
from .clock import NowDep
from .enterprise import Gettext, gettext, zone
from .error_pages import not_found_page
from .roles import ManagerDep
from .signin import check_csrf
from .templating import render

router = APIRouter(include_in_schema=False)
FORM_OVERHEAD = 64 * 1024
FIRST_YEAR, LAST_YEAR = 2000, 2100


def column_names(_: Gettext) -> dict[str, str]:
    """Each CSV column's name for people (the header itself stays as the file has it)."""
    return {
        "started_at": _("Start"),
        "ended_at": _("End"),
        "measure_minutes": _("Measurement minutes"),
        "setup_minutes": _("Set-up minutes"),
        "post_minutes": _("Post-processing minutes"),
        "idle_minutes": _("Idle minutes (not counted)"),
        "samples": _("Samples"),
        "service_mode": _("Service mode"),
        "user_type": _("Internal or external user"),
        "user_name": _("User's name"),
        "enterprise_credit_code": _("Enterprise's credit code"),
        "fee_fen": _("Fee in fen"),
        "fee_yuan": _("Fee in yuan"),
        "voucher_fen": _("Voucher-paid part in fen"),
        "booking_id": _("Booking"),
        "rating": _("Rating"),
        "notes": _("Notes"),
        "*": _("Whole row"),
    }


def column_help(_: Gettext) -> dict[str, str]:
    return {
        "started_at": _(
            "required: date and time, e.g. 2026-03-02T09:00; without an offset it is the instrument's local time"
        ),
        "ended_at": _("required: date and time"),
        "measure_minutes": _("default: the whole session minus the other parts"),
        "setup_minutes": _("default 0"),
        "post_minutes": _("necessary post-processing; default 0"),
        "idle_minutes": _("recorded, never counted as effective; default 0"),
        "samples": _("default 0"),
        "service_mode": _("self_operated, guided, operator_run or remote; default operator_run"),
        "user_type": _("internal or external; default external"),
        "user_name": _("free text"),
        "enterprise_credit_code": _("18 characters, of a registered enterprise"),
        "fee_fen": _("a whole number of fen; or give fee_yuan"),
        "fee_yuan": _("yuan with at most 2 decimals"),
        "voucher_fen": _("default 0"),
        "booking_id": _("optional: the booking this session served"),
        "rating": _("optional: 1 to 5"),
        "notes": _("free text"),
    }


def N_(message: str) -> str:  # marks a msgid for the catalogue; translated where it is shown
    return message


REASONS: list[tuple[str, str]] = [
    (r"^unknown column", N_("unknown column")),
    (r"^required column is missing$", N_("required column is missing")),
    (r"^give fee_fen or fee_yuan, not both$", N_("give fee_fen or fee_yuan, not both")),
    (r"^required value is empty$", N_("required value is empty")),
    (r"^(?P<value>.+) is not a whole number$", N_("{value} is not a whole number")),
    (r"^(?P<value>-?\d+) is outside (?P<lo>-?\d+)\.\.(?P<hi>-?\d+)$", N_("{value} is outside {lo} to {hi}")),
    (r"^(?P<value>.+) is not an ISO 8601 date-time", N_("{value} is not a date and time such as 2026-03-02T09:30")),
    (r"^(?P<value>.+) is outside the years (?P<lo>\d+)–(?P<hi>\d+)$", N_("{value} is outside the years {lo} to {hi}")),
    (r"^ends before it starts$", N_("ends before it starts")),
    (
        r"^the parts add up to more than the session's (?P<n>\d+) min$",
        N_("the parts add up to more than the session's {n} minutes"),
    ),
    (r"^(?P<value>.+) is not one of ", N_("{value} is not a service mode")),
    (r"^(?P<value>.+) is not internal or external$", N_("{value} is neither internal nor external")),
    (r"^no registered enterprise with code (?P<value>.+)$", N_("no registered enterprise has the code {value}")),
    (r"^(?P<value>.+) is not an amount$", N_("{value} is not an amount")),
    (r"^(?P<value>.+) is not a non-negative amount", N_("{value} is not an amount of yuan with at most 2 decimals")),
    (r"^exceeds the fee$", N_("exceeds the fee")),
    (r"^no booking (?P<value>.+) of this instrument$", N_("no booking {value} of this instrument")),
    (r"^this booking already has a usage record$", N_("this booking already has a usage record")),
    (r"^unreadable CSV", N_("the row is not readable CSV (a quote that never closes?)")),
    (r"^more cells than columns in the header$", N_("more cells than columns in the header")),
    (r"^longer than (?P<n>\d+) characters$", N_("longer than {n} characters")),
    (r"^the file has no data rows$", N_("the file has no data rows")),
]


def reason_text(_: Gettext, reason: str) -> str:
    """A row error's reason in the page's language (its English when it is one not known here)."""
    for pattern, msgid in REASONS:
        m = re.match(pattern, reason)
        if m:
            return _(msgid).format(**m.groupdict())
    return reason


def _instruments(session, unit_id: str) -> list[Instrument]:
    q = select(Instrument).where(Instrument.owner_unit_id == unit_id).order_by(col(Instrument.name))
    return list(session.exec(q).all())


def _pct(value) -> float:  # noqa: ANN001 - a Fraction
    return round(float(value) * 100, 1)


def dashboard(session, unit_id: str, year: int, tz: str) -> dict:
    """The year's indicators per instrument and for the unit, and the charts' data."""
    zone_info = ZoneInfo(tz)
    start, end = datetime(year, 1, 1, tzinfo=zone_info), datetime(year + 1, 1, 1, tzinfo=zone_info)
    scope = ind.Scope(owner_unit_id=unit_id)
    rows = ind.compute(session, start, end, ind.Level.instrument, scope)
    unit = next(iter(ind.compute(session, start, end, ind.Level.unit, scope)), None)

    def view(r: ind.Indicators) -> dict:
        return {
            "name": r.name,
            "effective_hours": round(r.effective_minutes / 60, 1),
            "quota_hours": round(r.quota_minutes / 60, 1),
            "utilisation": _pct(r.utilisation),
            "external_hours": round(r.external_minutes / 60, 1),
            "sharing_rate": _pct(r.sharing_rate),
            "external_users": r.external_users,
            "enterprises": r.enterprises_served,
            "records": r.records,
            "income_fen": r.income_fen,
            "voucher_fen": r.voucher_fen,
        }

    per = [view(r) for r in rows]
    return {"start": start, "end": end, "rows": per, "unit": view(unit) if unit else None}


def _page(request: Request, session, actor, now: datetime, year: int | None, status: int = 200, **extra) -> Response:
    _ = gettext(request)
    tz = zone()
    this_year = now.astimezone(ZoneInfo(tz)).year
    year = year or this_year
    data = dashboard(session, actor.owner_unit_id, year, tz)
    chart = {
        "labels": [r["name"] for r in data["rows"]],
        "effective": [r["effective_hours"] for r in data["rows"]],
        "quota": [r["quota_hours"] for r in data["rows"]],
        "sharing": [r["sharing_rate"] for r in data["rows"]],
        "external_users": [r["external_users"] for r in data["rows"]],
        "words": {
            "effective": _("Effective hours"),
            "quota": _("Quota hours"),
            "sharing": _("Sharing rate (%)"),
            "external_users": _("External users"),
        },
    }
    return render(
        request,
        "unit_usage.html",
        status_code=status,
        instruments=_instruments(session, actor.owner_unit_id),
        year=year,
        years=list(range(this_year, this_year - 5, -1)),
        data=data,
        chart=chart,
        columns=[(c, column_names(_).get(c, c), column_help(_).get(c, "")) for c in usage_svc.CSV_COLUMNS],
        max_mb=f"{get_settings().usage_import_max_bytes / 1_000_000:g}",
        zone=tz,
        **extra,
    )


@router.get("/unit/usage")
def unit_usage(
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    now: NowDep,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)] = None,
) -> Response:
    return _page(request, session, actor, now, year)


def _limit_text(_: Gettext, exc: DomainError) -> str:
    s = get_settings()
    if isinstance(exc, PayloadTooLarge):
        return _("The file is larger than {mb:g} MB; split it.").format(mb=s.usage_import_max_bytes / 1_000_000)
    if isinstance(exc, LimitExceeded) and exc.extra.get("limit") == "usage_import_max_rows":
        return _("The file has more than {n} data rows; split it.").format(n=s.usage_import_max_rows)
    if isinstance(exc, LimitExceeded):
        return _("Checking the file took longer than {s:g} seconds; split it.").format(s=s.usage_import_time_limit)
    if "UTF-8" in exc.detail:
        return _("The file is neither UTF-8 nor GB18030 text.")
    return exc.detail


@router.post("/unit/usage")
async def upload_usage(request: Request, session: SessionDep, actor: ManagerDep, now: NowDep) -> Response:
    """Import one instrument's usage CSV: all rows or none."""
    _ = gettext(request)
    limit = get_settings().usage_import_max_bytes
    try:
        form = await capped_form(request, limit + FORM_OVERHEAD, usage_svc.check_csv_size, max_files=1, max_fields=5)
    except PayloadTooLarge as exc:
        return _page(request, session, actor, now, None, status=413, upload_error=_limit_text(_, exc))
    try:
        check_csrf(request, str(form.get("csrf") or ""))
        instrument_id = str(form.get("instrument_id") or "")
        upload = form.get("file")
        raw = await upload.read(limit + 1) if isinstance(upload, UploadFile) else b""
        filename = upload.filename or "" if isinstance(upload, UploadFile) else ""
    finally:
        await form.close()
    inst = session.get(Instrument, instrument_id) if instrument_id else None
    if instrument_id and (inst is None or inst.owner_unit_id != actor.owner_unit_id):
        return not_found_page(request)
    values = {"instrument_id": instrument_id}
    if inst is None:
        return _page(request, session, actor, now, None, 422, upload_error=_("Choose the instrument."), values=values)
    if not raw:
        return _page(request, session, actor, now, None, 422, upload_error=_("Choose a CSV file."), values=values)
    try:
        usage_svc.check_csv_size(len(raw))
        result = usage_svc.import_csv(session, actor, inst.id, usage_svc.decode_csv(raw), filename)
    except usage_svc.ImportRejected as exc:
        session.rollback()
        names = column_names(_)
        errors = [
            {"row": e.row, "column": e.column, "name": names.get(e.column, ""), "reason": reason_text(_, e.reason)}
            for e in exc.errors[:1000]
        ]
        return _page(
            request,
            session,
            actor,
            now,
            None,
            422,
            row_errors=errors,
            error_count=len(exc.errors),
            values=values,
            file_name=filename,
            instrument_name=inst.name,
        )
    except (InvalidInput, LimitExceeded, NotFound) as exc:
        session.rollback()
        return _page(request, session, actor, now, None, exc.status, upload_error=_limit_text(_, exc), values=values)
    session.commit()
    return _page(request, session, actor, now, None, imported=result, instrument_name=inst.name, file_name=filename)
