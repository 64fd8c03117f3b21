"""The programme office's vouchers (/office/vouchers): the list by programme, status and holder;
issuing one (a programme's voucher type, an enterprise, a face value in yuan) or a whole list from
a CSV, all rows or none (``scheduler.money.bulk_issue``: each bad row named with its column and
reason, nothing issued); and revoking one with a reason (``scheduler.money.revocation``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from instruments.errors import Conflict, DomainError, InvalidInput, InvalidState, NotFound, PolicyViolation
from scheduler.booking.enterprises import Enterprise
from scheduler.money import bulk_issue, ledger, revocation
from scheduler.money import programme_budget as budgets
from scheduler.money import vouchers as svc
from scheduler.sharing.usage import decode_csv

from ..deps import SessionDep
from .enterprise import Gettext, gettext, when, zone
from .office_forms import fen_of, voucher_status_label
from .owned import CsrfChecked, OfficeVoucher, Words
from .roles import OfficeDep
from .templating import render

router = APIRouter(include_in_schema=False)
PAGE = 50
MAX_CSV_BYTES = 2_000_000


def _enterprises(session) -> list[Enterprise]:  # noqa: ANN001
    return list(session.exec(select(Enterprise).order_by(Enterprise.name).limit(2000)).all())


@router.get("/office/vouchers")
def vouchers(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    programme_id: str = "",
    status: str = "",
    enterprise_id: str = "",
    page: int = 0,
) -> Response:
    _ = gettext(request)
    page = max(0, min(page, 10_000))
    which = svc.VoucherStatus(status) if status in svc.VoucherStatus.__members__ else None
    rows = svc.list_vouchers(
        session, actor, programme_id or None, which, PAGE + 1, page * PAGE, enterprise_id=enterprise_id or None
    )
    more, rows = len(rows) > PAGE, rows[:PAGE]
    progs = budgets.list_programmes(session, None, "", 500, 0)
    names = {p.id: p for p in progs}
    holders = {
        e.id: e
        for e in session.exec(select(Enterprise).where(col(Enterprise.id).in_({v.holder_enterprise_id for v in rows})))
    }
    items = []
    for v in rows:
        p = names.get(v.programme_id)
        t = p.parsed.voucher_type(v.voucher_type) if p else None
        items.append(
            {
                "v": v,
                "programme": p.name if p else v.programme_id,
                "type": t.name if t else v.voucher_type,
                "holder": holders[v.holder_enterprise_id].name if v.holder_enterprise_id in holders else "",
                "status": voucher_status_label(_, str(v.status)),
                "expires": when(v.expires_at, zone())[:10],  # the local day
            }
        )
    return render(
        request,
        "office_vouchers.html",
        items=items,
        programmes=progs,
        statuses=[(s.value, voucher_status_label(_, s.value)) for s in svc.VoucherStatus],
        enterprises=_enterprises(session),
        filters={"programme_id": programme_id, "status": status, "enterprise_id": enterprise_id},
        page=page,
        more=more,
        issued=request.query_params.get("issued", ""),
        zone=zone(),
    )


# --- issue: one, or a list ----------------------------------------------------------------------


def _issue_page(
    request: Request,
    session,  # noqa: ANN001
    values: dict,
    errors: dict,
    bulk: dict | None = None,
    status: int = 200,
) -> Response:
    progs = budgets.list_programmes(session, None, "", 500, 0)
    return render(
        request,
        "office_voucher_issue.html",
        status_code=status,
        programmes=[(p, p.parsed.voucher_types) for p in progs],
        enterprises=_enterprises(session),
        values=values,
        errors=errors,
        bulk=bulk or {"errors": [], "values": {"programme_id": values.get("programme_id", "")}},
    )


@router.get("/office/vouchers/new")
def new_vouchers(request: Request, session: SessionDep, actor: OfficeDep, programme_id: str = "") -> Response:
    kind = ""
    if programme_id:
        try:
            kind = f"{programme_id}:{svc.get_programme(session, programme_id).parsed.voucher_types[0].code}"
        except NotFound:
            kind = ""
    return _issue_page(request, session, {"kind": kind, "programme_id": programme_id}, {})


def _issue_refusal(_: Gettext, exc: DomainError) -> tuple[str, str]:
    if isinstance(exc, Conflict):
        return "face_value", _("The programme's budget left to issue does not cover this voucher.")
    if isinstance(exc, PolicyViolation):
        if any(v.code == "group_cap" for v in exc.violations):
            return "face_value", _(
                "This would exceed the programme's yearly cap for the enterprise's controller group."
            )
        return "face_value", _("This would exceed the programme's yearly cap per enterprise.")
    if isinstance(exc, InvalidInput) and exc.field == "face_value_fen":
        return "face_value", _("This voucher type has no default face value: enter one.")
    if isinstance(exc, InvalidInput) and exc.field == "enterprise_id":
        return "enterprise_id", _("Choose a registered enterprise.")
    return "kind", _("Choose a programme and one of its voucher types.")


@router.post("/office/vouchers/new")
def issue_one(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    csrf: CsrfChecked,
    _: Words,
    kind: Annotated[str, Form(max_length=100)] = "",
    enterprise_id: Annotated[str, Form(max_length=40)] = "",
    face_value: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """``kind`` is ``<programme id>:<voucher type code>``; an empty face value takes the type's default."""
    values = {"kind": kind, "enterprise_id": enterprise_id, "face_value": face_value}
    errors: dict[str, str] = {}
    programme_id, _sep, type_code = kind.partition(":")
    if not programme_id or not type_code:
        errors["kind"] = _("Choose a programme and one of its voucher types.")
    if not enterprise_id:
        errors["enterprise_id"] = _("Choose a registered enterprise.")
    fen = fen_of(face_value) if face_value.strip() else None
    if face_value.strip() and fen is None:
        errors["face_value"] = _("Enter an amount in yuan greater than 0, with at most two decimals.")
    if not errors:
        try:
            v = svc.issue_voucher(session, actor, programme_id, enterprise_id, type_code, fen)
        except NotFound:
            session.rollback()
            errors["kind"] = _("Choose a programme and one of its voucher types.")
        except DomainError as exc:
            session.rollback()
            field, text = _issue_refusal(_, exc)
            errors[field] = text
        else:
            session.commit()
            return RedirectResponse(f"/office/vouchers/{v.id}?issued=1", status_code=303)
    return _issue_page(request, session, values, errors, status=422)


def row_reason(_: Gettext, e: bulk_issue.RowError) -> str:
    """A bad row's reason in the page's language, from its code and facts."""
    facts = e.facts
    if e.code == "bad_credit_code":
        return _("“{value}” is not a unified social credit code.").format(value=facts.get("value", ""))
    if e.code == "unknown_enterprise":
        return _("No registered enterprise has the credit code {value}.").format(value=facts.get("value", ""))
    if e.code == "unknown_type":
        return _("The programme has no voucher type “{value}”; it has: {known}.").format(
            value=facts.get("value", ""), known="、".join(facts.get("known", []))
        )
    if e.code == "bad_amount":
        return _("“{value}” is not an amount in yuan greater than 0 with at most two decimals.").format(
            value=facts.get("value", "")
        )
    if e.code == "no_default":
        return _("This voucher type has no default face value: enter one.")
    if e.code == "over_budget":
        from .i18n import yuan

        return _("The programme's budget left to issue ({left}) does not cover this row and the rows above it.").format(
            left=yuan(int(facts.get("left_fen", 0)))
        )
    if e.code == "over_cap":
        if "group_cap" in facts.get("caps", []):
            return _("This would exceed the programme's yearly cap for the enterprise's controller group.")
        return _("This would exceed the programme's yearly cap per enterprise.")
    return e.detail


def column_name(_: Gettext, column: str) -> str:
    return {
        "credit_code": _("credit code (credit_code)"),
        "voucher_type": _("voucher type (voucher_type)"),
        "face_value": _("face value (face_value)"),
    }.get(column, column)


@router.post("/office/vouchers/bulk")
async def issue_list(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    csrf: CsrfChecked,
    _: Words,
    programme_id: Annotated[str, Form(max_length=40)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    raw = await file.read(MAX_CSV_BYTES + 1) if file is not None else b""
    problems: list[str] = []
    rows_bad: list[dict] = []
    if not programme_id:
        problems.append(_("Choose the programme the vouchers belong to."))
    if not raw:
        problems.append(_("Choose the CSV file of the list."))
    elif len(raw) > MAX_CSV_BYTES:
        problems.append(_("The file is larger than 2 MB; split it."))
    if not problems:
        try:
            issued = bulk_issue.issue_from_rows(
                session, actor, programme_id, bulk_issue.parse_issue_csv(decode_csv(raw))
            )
        except NotFound:
            session.rollback()
            problems.append(_("Choose the programme the vouchers belong to."))
        except bulk_issue.BulkRefused as exc:
            session.rollback()
            rows_bad = [
                {"line": e.line, "column": column_name(_, e.column), "reason": row_reason(_, e)} for e in exc.errors
            ]
        except InvalidInput as exc:
            session.rollback()
            if exc.detail.startswith("The first row must name"):
                problems.append(
                    _(
                        "The first row must name the columns credit_code (or 统一社会信用代码), voucher_type (or 券种) and optionally face_value (or 面额)."
                    )
                )
            elif exc.detail.startswith("The list has no rows"):
                problems.append(_("The list has no rows."))
            elif exc.detail.startswith("The list has"):
                problems.append(_("The list has too many rows: at most 5000 at once."))
            else:
                problems.append(_("This file is not a CSV text file (UTF-8 or GB18030)."))
        else:
            session.commit()
            return RedirectResponse(
                f"/office/vouchers?programme_id={programme_id}&issued={len(issued)}", status_code=303
            )
    bulk = {
        "errors": problems,
        "rows": rows_bad,
        "values": {"programme_id": programme_id},
        "file": file.filename if file else "",
    }
    return _issue_page(request, session, {"programme_id": programme_id}, {}, bulk, status=422)


# --- one voucher: revoke ------------------------------------------------------------------------


def _detail(request: Request, session, v: svc.Voucher, error: str = "", status: int = 200) -> Response:  # noqa: ANN001
    _ = gettext(request)
    prog = svc.get_programme(session, v.programme_id)
    t = prog.parsed.voucher_type(v.voucher_type)
    holder = session.get(Enterprise, v.holder_enterprise_id)
    return render(
        request,
        "office_voucher.html",
        status_code=status,
        v=v,
        programme=prog,
        type=t.name if t else v.voucher_type,
        holder=holder,
        status=voucher_status_label(_, str(v.status)),
        balance_fen=ledger.balance(session, ledger.voucher(v.id)),
        can_revoke=v.status not in (svc.VoucherStatus.revoked, svc.VoucherStatus.expired),
        used=v.status in (svc.VoucherStatus.consumed, svc.VoucherStatus.redeemed),
        error=error,
        issued=request.query_params.get("issued"),
        revoked=request.query_params.get("revoked"),
        zone=zone(),
    )


@router.get("/office/vouchers/{voucher_id}")
def voucher(request: Request, session: SessionDep, actor: OfficeDep, v: OfficeVoucher) -> Response:
    return _detail(request, session, v)


@router.post("/office/vouchers/{voucher_id}/revoke")
def revoke(
    request: Request,
    voucher_id: str,
    session: SessionDep,
    actor: OfficeDep,
    csrf: CsrfChecked,
    v: OfficeVoucher,
    _: Words,
    reason: Annotated[str, Form(max_length=500)] = "",
    fraud: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    if not reason.strip():
        return _detail(request, session, v, _("Give the reason for revoking it."), 422)
    try:
        revocation.revoke(session, actor, voucher_id, reason.strip(), bool(fraud))
    except InvalidState:
        session.rollback()
        v = session.get(svc.Voucher, voucher_id, populate_existing=True)
        if v.status == svc.VoucherStatus.expired:
            return _detail(request, session, v, _("This voucher has expired: there is nothing to revoke."), 409)
        return _detail(
            request,
            session,
            v,
            _(
                "This voucher is already used: only a fraud finding can revoke it now (its money is clawed back from the lab)."
            ),
            409,
        )
    session.commit()
    return RedirectResponse(f"/office/vouchers/{voucher_id}?revoked=1", status_code=303)
