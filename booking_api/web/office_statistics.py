"""The programme office's statistics dashboard (/office/statistics): where the vouchers issued in
a period stand and where their money went (``scheduler.money.voucher_stats.dashboard``), as
figures, charts (Chart.js, vendored), tables in yuan with Chinese headers, and CSV / XLSX
downloads of the same tables. Filters: programme and period (first and last day, in the
platform's zone)."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from instruments.settings import get_settings
from scheduler.money.voucher_stats import dashboard
from scheduler.money.vouchers import VoucherProgramme
from scheduler.shared.spreadsheet_cells import csv_text, safe_row

from ..deps import SessionDep
from .error_pages import not_found_page
from .i18n import translations, yuan
from .instrument_words import category_name
from .roles import OfficeDep
from .templating import render

router = APIRouter(include_in_schema=False)

Table = tuple[str, list[str], list[list[Any]]]  # title, header, rows (amounts as fen ints tagged below)


class Fen(int):
    """An amount in fen in a table cell: shown as yuan on the page, in the CSV and in the XLSX."""


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().default_timezone)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _programmes(session: Session) -> list[VoucherProgramme]:
    q = select(VoucherProgramme).order_by(col(VoucherProgramme.year).desc(), col(VoucherProgramme.created_at).desc())
    return list(session.exec(q.limit(200)).all())


def _period(prog: VoucherProgramme, start: str | None, end: str | None, _) -> tuple[date, date, dict[str, str]]:  # noqa: ANN001
    errors: dict[str, str] = {}
    first, last = _day(start), _day(end)
    if start and first is None:
        errors["start"] = _("Give a date as YYYY-MM-DD.")
    if end and last is None:
        errors["end"] = _("Give a date as YYYY-MM-DD.")
    first = first or date(prog.year, 1, 1)
    last = last or date(prog.year, 12, 31)
    if last < first:
        errors["end"] = _("The last day must not be before the first.")
        last = first
    if (last - first).days > 3660:
        errors["end"] = _("A period is at most ten years.")
        last = first + timedelta(days=3660)
    return first, last, errors


def figures(session: Session, prog: VoucherProgramme, first: date, last: date) -> dict[str, Any]:
    tz = _zone()
    lo = datetime.combine(first, time(0), tz)
    hi = datetime.combine(last + timedelta(days=1), time(0), tz)
    return dashboard(session, prog.id, lo, hi, tz)


def tables(d: dict[str, Any], lang: str) -> list[Table]:
    """The dashboard's tables in the page's language; the downloads are the same tables."""
    _ = translations(lang).gettext
    count, amount = _("Vouchers"), _("Amount (yuan)")
    where = [
        (_("Issued"), d["issued"]["count"], Fen(d["issued"]["amount_fen"])),
        (_("Not used yet"), d["unused"]["count"], Fen(d["unused"]["amount_fen"])),
        (_("Reserved by a booking"), d["reserved"]["count"], Fen(d["reserved"]["amount_fen"])),
        (_("Used by a completed service"), d["used"]["count"], Fen(d["used"]["amount_fen"])),
        (_("Lapsed (expired, and what services did not need)"), d["lapsed"]["count"], Fen(d["lapsed"]["amount_fen"])),
        (_("Revoked"), d["revoked"]["count"], Fen(d["revoked"]["amount_fen"])),
    ]
    c = d["claims"]
    claims = [
        (_("Used, not yet claimed"), c["not_claimed"]["count"], Fen(c["not_claimed"]["amount_fen"]), Fen(0)),
        (
            _("Claims pending a decision"),
            c["pending"]["count"],
            Fen(c["pending"]["amount_fen"]),
            Fen(c["pending"]["bonus_fen"]),
        ),
        (
            _("Approved, not yet paid"),
            c["approved_unpaid"]["count"],
            Fen(c["approved_unpaid"]["amount_fen"]),
            Fen(c["approved_unpaid"]["bonus_fen"]),
        ),
        (_("Paid (redeemed)"), c["paid"]["count"], Fen(c["paid"]["amount_fen"]), Fen(c["paid"]["bonus_fen"])),
        (_("Rejected"), c["rejected"]["count"], Fen(c["rejected"]["amount_fen"]), Fen(c["rejected"]["bonus_fen"])),
    ]
    budget = [
        (_("Programme budget"), Fen(d["budget_fen"])),
        (_("Face value issued"), Fen(d["budget_fen"] - d["unissued_fen"])),
        (_("Budget not issued"), Fen(d["unissued_fen"])),
    ]
    return [
        (_("Where the vouchers stand"), [_("State"), count, amount], [list(r) for r in where]),
        (
            _("Redemption of the used vouchers"),
            [_("Stage"), _("Orders"), amount, _("Provider bonus (yuan)")],
            [list(r) for r in claims],
        ),
        (_("Budget"), [_("Figure"), amount], [list(r) for r in budget]),
        (
            _("By month"),
            [
                _("Month"),
                _("Issued"),
                _("Issued (yuan)"),
                _("Used"),
                _("Used (yuan)"),
                _("Lapsed (yuan)"),
                _("Redeemed"),
                _("Redeemed (yuan)"),
            ],
            [
                [
                    m["month"],
                    m["issued"],
                    Fen(m["issued_fen"]),
                    m["used"],
                    Fen(m["used_fen"]),
                    Fen(m["lapsed_fen"]),
                    m["redeemed"],
                    Fen(m["redeemed_fen"]),
                ]
                for m in d["by_month"]
            ],
        ),
        (
            _("By owner unit"),
            [
                _("Owner unit"),
                _("Vouchers used"),
                _("Used (yuan)"),
                _("Redeemed (yuan)"),
                _("Approved, not yet paid (yuan)"),
                _("Rejected (yuan)"),
                _("Enterprises served"),
            ],
            [
                [
                    u["name"],
                    u["vouchers_used"],
                    Fen(u["amount_used_fen"]),
                    Fen(u["amount_redeemed_fen"]),
                    Fen(u["amount_approved_unpaid_fen"]),
                    Fen(u["amount_rejected_fen"]),
                    u["enterprises_served"],
                ]
                for u in d["by_unit"]
            ],
        ),
        (
            _("By instrument category"),
            [_("Category"), _("Vouchers used"), _("Used (yuan)"), _("Enterprises served"), _("Instruments used")],
            [
                [
                    category_name(k["category"], lang),
                    k["vouchers_used"],
                    Fen(k["amount_used_fen"]),
                    k["enterprises_served"],
                    k["instruments_used"],
                ]
                for k in d["by_category"]
            ],
        ),
    ]


def _plain(v: Any) -> Any:
    return f"{v / 100:.2f}" if isinstance(v, Fen) else v


def tables_csv(ts: list[Table], heading: list[str]) -> str:
    out = [csv_text(heading, [])]
    for title, header, rows in ts:
        out.append(csv_text([title], []))
        out.append(csv_text(header, ([_plain(v) for v in r] for r in rows)))
    return "\n".join(out)


def tables_xlsx(ts: list[Table], heading: list[str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = heading[0][:31]
    ws.append(safe_row(heading))
    ws["A1"].font = Font(bold=True, size=13)
    for n, (title, header, rows) in enumerate(ts):
        sheet = ws if n == 0 else wb.create_sheet(title[:31])
        if n == 0:
            sheet.append([])
        sheet.append(safe_row([title]) if n == 0 else safe_row(header))
        if n == 0:
            sheet.append(safe_row(header))
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
        for r in rows:
            sheet.append(safe_row(Decimal(v) / 100 if isinstance(v, Fen) else v for v in r))
        for col_cells in sheet.columns:
            letter = col_cells[0].column_letter
            sheet.column_dimensions[letter].width = 16 if letter != "A" else 36
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def chart_data(d: dict[str, Any], lang: str) -> dict[str, Any]:
    _ = translations(lang).gettext
    months = d["by_month"]
    return {
        "months": [m["month"] for m in months],
        "series": [
            {"label": _("Issued (yuan)"), "data": [m["issued_fen"] / 100 for m in months]},
            {"label": _("Used (yuan)"), "data": [m["used_fen"] / 100 for m in months]},
            {"label": _("Redeemed (yuan)"), "data": [m["redeemed_fen"] / 100 for m in months]},
            {"label": _("Lapsed (yuan)"), "data": [m["lapsed_fen"] / 100 for m in months]},
        ],
        "units": [u["name"] for u in d["by_unit"]],
        "unit_series": [
            {"label": _("Redeemed (yuan)"), "data": [u["amount_redeemed_fen"] / 100 for u in d["by_unit"]]},
            {
                "label": _("Approved, not yet paid (yuan)"),
                "data": [u["amount_approved_unpaid_fen"] / 100 for u in d["by_unit"]],
            },
            {"label": _("Rejected (yuan)"), "data": [u["amount_rejected_fen"] / 100 for u in d["by_unit"]]},
        ],
    }


@router.get("/office/statistics")
def statistics_page(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    programme: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    lang = request.state.lang
    _ = translations(lang).gettext
    progs = _programmes(session)
    prog = next((p for p in progs if p.id == programme), progs[0] if progs else None)
    if prog is None:
        return render(request, "office_statistics.html", programmes=[], prog=None, errors={})
    first, last, errors = _period(prog, start, end, _)
    d = figures(session, prog, first, last)
    return render(
        request,
        "office_statistics.html",
        programmes=progs,
        prog=prog,
        first=first,
        last=last,
        errors=errors,
        d=d,
        tables=[
            (t, h, [[yuan(v) if isinstance(v, Fen) else v for v in r] for r in rows]) for t, h, rows in tables(d, lang)
        ],
        charts=json.dumps(chart_data(d, lang), ensure_ascii=False),
    )


@router.get("/office/statistics/{programme_id}/export.{fmt}")
def statistics_export(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    programme_id: str,
    fmt: str,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    lang = request.state.lang
    _ = translations(lang).gettext
    prog = session.get(VoucherProgramme, programme_id)
    if prog is None or fmt not in ("csv", "xlsx"):
        return not_found_page(request)
    first, last, _errors = _period(prog, start, end, _)
    d = figures(session, prog, first, last)
    heading = [prog.name, _("{first} to {last}").format(first=first.isoformat(), last=last.isoformat())]
    ts = tables(d, lang)
    name = f"voucher-statistics-{first.isoformat()}-{last.isoformat()}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response("\ufeff" + tables_csv(ts, heading), media_type="text/csv; charset=utf-8", headers=disposition)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(tables_xlsx(ts, heading), media_type=xlsx, headers=disposition)
