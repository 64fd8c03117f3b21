"""The programme office's enterprises (/office/enterprises): the list (a name or credit code,
unverified, verified or suspended), registration (the unified social credit code checked, its
refusal beside the field), and per enterprise: verify, suspend or restore booking, innovation points
set by hand; the bureau's points list imported from a CSV (all rows or none, audited with its
source). Through the services behind ``routers/enterprises.py``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from instruments.errors import Conflict, DomainError, InvalidInput
from scheduler.booking import credit_code
from scheduler.booking import enterprise_standing as standing
from scheduler.booking import innovation_points as points_svc
from scheduler.booking.enterprises import Enterprise, EnterpriseKind, create_enterprise
from scheduler.sharing.usage import decode_csv

from ..deps import SessionDep
from .clock import NowDep
from .enterprise import Gettext, gettext, zone
from .owned import CsrfChecked, OfficeEnterprise, Words
from .roles import OfficeDep
from .templating import render

router = APIRouter(include_in_schema=False)
MAX_CSV_BYTES = 2_000_000


def kind_label(_: Gettext, kind: str) -> str:
    return {
        "tech_sme": _("Technology-based SME"),
        "high_tech": _("High-tech enterprise"),
        "incubated_team": _("Incubated team"),
        "maker": _("Maker"),
        "other": _("Other"),
    }.get(kind, kind)


def code_problem(_: Gettext, code: str) -> str | None:
    """Why ``code`` is not a unified social credit code, in the page's language (the rules of
    ``scheduler.booking.credit_code``)."""
    if credit_code.problem(code) is None:
        return None
    if len(code) != 18:
        return _("A unified social credit code has 18 characters; this one has {n}.").format(n=len(code))
    bad = sorted({c for c in code if c not in credit_code.ALPHABET})
    if bad:
        return _("These characters cannot appear in a credit code: {chars} (no I, O, S, V or Z).").format(
            chars=" ".join(bad)
        )
    if not code[2:8].isdigit():
        return _("Characters 3 to 8 (the region code) must be digits.")
    return _(
        "The last character (the check character) should be {expected}: a character was probably mistyped."
    ).format(expected=credit_code.check_char(code[:17]))


def _list_page(
    request: Request,
    session,  # noqa: ANN001
    actor,  # noqa: ANN001
    now: datetime,
    values: dict | None = None,
    errors: dict | None = None,
    status: int = 200,
    q: str = "",
    show: str = "",
    imported: dict | None = None,
    import_errors: list[str] | None = None,
) -> Response:
    _ = gettext(request)
    which = standing.Standing(show) if show in standing.Standing.__members__ else None
    rows = standing.list_enterprises(session, actor, q, which, 200, 0, now)
    return render(
        request,
        "office_enterprises.html",
        status_code=status,
        rows=[
            (e, kind_label(_, str(e.kind)), bool(e.booking_suspended_until and e.booking_suspended_until > now))
            for e in rows
        ],
        kinds=[(k.value, kind_label(_, k.value)) for k in EnterpriseKind],
        values=values or {"kind": "tech_sme", "innovation_points": "100"},
        errors=errors or {},
        q=q,
        show=show,
        imported=imported,
        import_errors=import_errors or [],
        registered=request.query_params.get("registered"),
        zone=zone(),
    )


@router.get("/office/enterprises")
def enterprises(
    request: Request, session: SessionDep, actor: OfficeDep, now: NowDep, q: str = "", show: str = ""
) -> Response:
    return _list_page(request, session, actor, now, q=q[:100], show=show)


@router.post("/office/enterprises")
def register(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    now: NowDep,
    csrf: CsrfChecked,
    _: Words,
    name: Annotated[str, Form(max_length=200)] = "",
    credit_code_: Annotated[str, Form(alias="credit_code", max_length=40)] = "",
    kind: Annotated[str, Form(max_length=40)] = "tech_sme",
    controller_group: Annotated[str, Form(max_length=200)] = "",
    innovation_points: Annotated[str, Form(max_length=10)] = "100",
    region: Annotated[str, Form(max_length=200)] = "",
    contact_email: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    values = {
        "name": name,
        "credit_code": credit_code_,
        "kind": kind,
        "controller_group": controller_group,
        "innovation_points": innovation_points,
        "region": region,
        "contact_email": contact_email,
    }
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = _("Give the enterprise's registered name.")
    code = credit_code.normalise(credit_code_)
    if why := code_problem(_, code):
        errors["credit_code"] = why
    if kind not in {k.value for k in EnterpriseKind}:
        errors["kind"] = _("Choose a kind.")
    points = innovation_points.strip()
    if not points.isdigit() or int(points) > points_svc.MAX_POINTS:
        errors["innovation_points"] = _("Enter whole points from 0 to 1000.")
    if not errors:
        try:
            ent = create_enterprise(
                session,
                actor,
                Enterprise(
                    name=name.strip(),
                    credit_code=code,
                    kind=EnterpriseKind(kind),
                    controller_group=controller_group.strip() or None,
                    innovation_points=int(points),
                    region=region.strip(),
                    contact_email=contact_email.strip(),
                ),
            )
        except Conflict:
            session.rollback()
            errors["credit_code"] = _("An enterprise with this credit code is already registered.")
        except InvalidInput as exc:
            session.rollback()
            errors["credit_code" if exc.field == "credit_code" else "name"] = exc.detail
        else:
            session.commit()
            return RedirectResponse(f"/office/enterprises/{ent.id}?registered=1", status_code=303)
    return _list_page(request, session, actor, now, values, errors, 422)


@router.post("/office/enterprises/innovation-points")
async def import_points(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    now: NowDep,
    csrf: CsrfChecked,
    _: Words,
    file: Annotated[UploadFile | None, File()] = None,
    source: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The bureau's points list: all rows or none."""
    problems: list[str] = []
    raw = await file.read(MAX_CSV_BYTES + 1) if file is not None else b""
    if not source.strip():
        problems.append(_("Name the list the points come from (the bureau's list and its date)."))
    if not raw:
        problems.append(_("Choose the CSV file of the list."))
    elif len(raw) > MAX_CSV_BYTES:
        problems.append(_("The file is larger than 2 MB; split it."))
    result = None
    if not problems:
        try:
            rows = points_svc.parse_points_csv(decode_csv(raw))
            result = points_svc.import_points(session, actor, rows, source)
        except points_svc.PointsRefused as exc:
            session.rollback()
            problems = [_("Nothing was imported; correct these rows and import the whole list again.")]
            problems += [bad_points_row(_, b) for b in exc.rows[:50]]
        except InvalidInput as exc:
            session.rollback()
            problems = [points_error(_, exc.detail)]
        else:
            session.commit()
    imported = vars(result) if result is not None else None
    return _list_page(
        request, session, actor, now, imported=imported, import_errors=problems, status=200 if result else 422
    )


def bad_points_row(_: Gettext, b: points_svc.BadRow) -> str:
    """One refused row of a points list, in the page's language (rows counted after the header)."""
    reason = {
        "bad_credit_code": _("“{value}” is not a unified social credit code"),
        "listed_twice": _("{value} is listed twice"),
        "bad_points": _("“{value}” is not whole points from 0 to 1000"),
        "unknown_enterprise": _("no registered enterprise has the credit code {value}"),
    }.get(b.code, "{value}").format(value=b.value)
    column = _("credit code") if b.column == "credit_code" else _("points")
    return _("Row {row}, column {column}: {reason}.").format(row=b.row, column=column, reason=reason)


def points_error(_: Gettext, detail: str) -> str:
    """An import's refusal of the whole file, in the page's language where it is a known one."""
    if detail.startswith("The first row must name"):
        return _("The first row must name the columns credit_code (or 统一社会信用代码) and points (or 创新积分).")
    if detail.startswith("The list has no rows"):
        return _("The list has no rows.")
    if detail.startswith("Unreadable CSV") or detail.startswith("The file is neither"):
        return _("This file is not a CSV text file (UTF-8 or GB18030).")
    return detail


# --- one enterprise -----------------------------------------------------------------------------


def _detail(
    request: Request, session, ent: Enterprise, now: datetime, errors: dict | None = None, status: int = 200
) -> Response:  # noqa: ANN001
    _ = gettext(request)
    tz = zone()
    suspended = bool(ent.booking_suspended_until and ent.booking_suspended_until > now)
    return render(
        request,
        "office_enterprise.html",
        status_code=status,
        e=ent,
        kind=kind_label(_, str(ent.kind)),
        suspended=suspended,
        errors=errors or {},
        done=request.query_params.get("done", ""),
        registered=request.query_params.get("registered"),
        zone=tz,
        default_until=(now.astimezone(ZoneInfo(tz)).date() + timedelta(days=30)).isoformat(),
    )


@router.get("/office/enterprises/{enterprise_id}")
def enterprise(request: Request, session: SessionDep, actor: OfficeDep, ent: OfficeEnterprise, now: NowDep) -> Response:
    return _detail(request, session, ent, now)


def _done(enterprise_id: str, what: str) -> Response:
    return RedirectResponse(f"/office/enterprises/{enterprise_id}?done={what}", status_code=303)


def _refused(request: Request, session, ent: Enterprise, now: datetime, field: str, text: str) -> Response:  # noqa: ANN001
    session.rollback()
    session.refresh(ent)
    return _detail(request, session, ent, now, {field: text}, 409 if field == "form" else 422)


def _standing(request: Request, session, ent: Enterprise, now: datetime, act, refusal: str, done: str) -> Response:  # noqa: ANN001
    """Verify or restore: the change, or the page again with ``refusal`` when the state does not allow it."""
    try:
        act()
    except DomainError:
        return _refused(request, session, ent, now, "form", refusal)
    session.commit()
    return _done(ent.id, done)


@router.post("/office/enterprises/{enterprise_id}/verify")
def verify(
    request: Request, session: SessionDep, actor: OfficeDep, csrf: CsrfChecked, ent: OfficeEnterprise, now: NowDep, _: Words
) -> Response:
    verified = _("This enterprise is already verified.")
    return _standing(request, session, ent, now, lambda: standing.verify(session, actor, ent.id, now), verified, "verified")


@router.post("/office/enterprises/{enterprise_id}/suspend")
def suspend(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    csrf: CsrfChecked,
    ent: OfficeEnterprise,
    now: NowDep,
    _: Words,
    until: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Suspend booking through the local day ``until`` (the suspension ends at the next midnight)."""
    try:
        last = date.fromisoformat(until.strip())
    except ValueError:
        return _refused(request, session, ent, now, "until", _("Enter the last day of the suspension."))
    if not reason.strip():
        return _refused(request, session, ent, now, "reason", _("Give the reason for the suspension."))
    ends = datetime.combine(last + timedelta(days=1), time(0), ZoneInfo(zone()))
    try:
        standing.suspend(session, actor, ent.id, ends, reason, now)
    except InvalidInput:
        return _refused(request, session, ent, now, "until", _("The last day of the suspension must not be in the past."))
    session.commit()
    return _done(ent.id, "suspended")


@router.post("/office/enterprises/{enterprise_id}/restore")
def restore(
    request: Request, session: SessionDep, actor: OfficeDep, csrf: CsrfChecked, ent: OfficeEnterprise, now: NowDep, _: Words
) -> Response:
    not_suspended = _("This enterprise is not suspended.")
    return _standing(
        request, session, ent, now, lambda: standing.restore(session, actor, ent.id, now), not_suspended, "restored"
    )


@router.post("/office/enterprises/{enterprise_id}/points")
def set_points(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    csrf: CsrfChecked,
    ent: OfficeEnterprise,
    now: NowDep,
    _: Words,
    points: Annotated[str, Form(max_length=10)] = "",
    source: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """One enterprise's points, audited with where they come from (the same import, one row)."""
    text = points.strip()
    if not text.isdigit() or int(text) > points_svc.MAX_POINTS:
        return _refused(request, session, ent, now, "points", _("Enter whole points from 0 to 1000."))
    if not source.strip():
        return _refused(request, session, ent, now, "source", _("Say where the points come from."))
    points_svc.import_points(session, actor, [(ent.credit_code, text)], source)
    session.commit()
    return _done(ent.id, "points")
