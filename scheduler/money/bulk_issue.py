"""Issuing a programme's vouchers from a list (a CSV the programme office keeps in a spreadsheet):
all rows or none. Every row is checked, and issued through ``vouchers.issue_voucher`` (so budget
and caps count the rows above it) inside a savepoint; if any row is refused, the savepoint is
rolled back, nothing is issued, and ``BulkRefused`` names every bad row with its column and a
reason as structured facts (a code and its numbers) that a page says in its own language.

The CSV's first row names the columns, in English or Chinese (``COLUMNS``); a row's number is its
line in the file (the header is line 1). Face values are yuan with at most two decimals; an empty
face value takes the voucher type's default."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from instruments.actor import Actor
from instruments.db import MAX_FEN
from instruments.errors import Conflict, DomainError, InvalidInput, PolicyViolation
from scheduler.booking import credit_code
from scheduler.booking.enterprises import Enterprise
from scheduler.money import ledger
from scheduler.money.vouchers import Voucher, get_programme, issue_voucher

MAX_ROWS = 5_000
COLUMNS: dict[str, tuple[str, ...]] = {
    "credit_code": ("credit_code", "统一社会信用代码"),
    "voucher_type": ("voucher_type", "券种"),
    "face_value": ("face_value", "face_value_yuan", "面额", "面额(元)", "面额（元）", "面值", "面值(元)", "面值（元）"),
}
YUAN = re.compile(r"^\d{1,13}(\.\d{1,2})?$")


@dataclass(frozen=True)
class IssueRow:
    line: int
    credit_code: str
    voucher_type: str
    face_value: str


@dataclass(frozen=True)
class RowError:
    """One bad row: its line, the column at fault, a reason code with its facts, and the English."""

    line: int
    column: str
    code: str
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)


class BulkRefused(InvalidInput):
    """Nothing was issued: ``errors`` names every bad row."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "; ".join(f"line {e.line}, {e.column}: {e.detail}" for e in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"Nothing was issued: {shown}{more}.", field="rows")
        self.extra["rows"] = [{"line": e.line, "column": e.column, "code": e.code, "detail": e.detail} for e in errors]


def parse_issue_csv(text: str) -> list[IssueRow]:
    """The data rows of the list (blank lines skipped); ``InvalidInput`` when the header does not
    name the columns or the file is not CSV."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        where = {name: next((k for k, h in enumerate(header) if h in names), None) for name, names in COLUMNS.items()}
        missing = [name for name in ("credit_code", "voucher_type") if where[name] is None]
        if missing:
            raise InvalidInput(
                "The first row must name the columns credit_code (or 统一社会信用代码), voucher_type (or 券种) "
                "and optionally face_value (or 面额).",
                field="file",
                missing=missing,
            )
        out = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            cells = row + [""] * (len(header) + 1 - len(row))

            def cell(name: str, cells: list[str] = cells) -> str:
                k = where[name]
                return cells[k].strip() if k is not None else ""

            out.append(IssueRow(reader.line_num, cell("credit_code"), cell("voucher_type"), cell("face_value")))
    except csv.Error as exc:
        raise InvalidInput(f"Unreadable CSV: {exc}.", field="file") from exc
    if not out:
        raise InvalidInput("The list has no rows.", field="file")
    if len(out) > MAX_ROWS:
        raise InvalidInput(f"The list has {len(out)} rows; at most {MAX_ROWS} at once.", field="file")
    return out


def yuan_to_fen(text: str) -> int | None:
    """``1234.5`` → 123450; None when it is not a positive amount of yuan with at most 2 decimals."""
    text = text.replace(",", "").replace("¥", "").strip()
    if not YUAN.match(text):
        return None
    whole, _, cents = text.partition(".")
    fen = int(whole) * 100 + int((cents + "00")[:2])
    return fen if 0 < fen <= MAX_FEN else None


def _row_problems(row: IssueRow, ent: Enterprise | None, types: dict[str, Any]) -> list[RowError]:
    out = []
    code = credit_code.normalise(row.credit_code)
    if why := credit_code.problem(code):
        out.append(RowError(row.line, "credit_code", "bad_credit_code", why, {"value": row.credit_code}))
    elif ent is None:
        out.append(
            RowError(
                row.line, "credit_code", "unknown_enterprise", f"no registered enterprise has {code}", {"value": code}
            )
        )
    vtype = types.get(row.voucher_type)
    if vtype is None:
        known = ", ".join(types)
        out.append(
            RowError(
                row.line,
                "voucher_type",
                "unknown_type",
                f"the programme has no voucher type {row.voucher_type!r} (it has: {known})",
                {"value": row.voucher_type, "known": list(types)},
            )
        )
    if row.face_value:
        if yuan_to_fen(row.face_value) is None:
            out.append(
                RowError(
                    row.line,
                    "face_value",
                    "bad_amount",
                    f"{row.face_value!r} is not an amount of yuan (at most two decimals, more than 0)",
                    {"value": row.face_value},
                )
            )
    elif vtype is not None and not vtype.face_value_fen:
        out.append(
            RowError(row.line, "face_value", "no_default", "the voucher type has no default face value: give one", {})
        )
    return out


def _refusal(session: Session, programme_id: str, row: IssueRow, exc: DomainError) -> RowError:
    """A refusal of ``issue_voucher`` for one row, as its column and reason."""
    if isinstance(exc, Conflict):  # the budget: what is left when this row's turn comes
        left = ledger.balance(session, ledger.budget(programme_id))
        return RowError(row.line, "face_value", "over_budget", exc.detail, {"left_fen": left})
    if isinstance(exc, PolicyViolation):
        return RowError(row.line, "face_value", "over_cap", exc.detail, {"caps": [v.code for v in exc.violations]})
    return RowError(row.line, getattr(exc, "field", None) or "face_value", "refused", exc.detail, {})


def issue_from_rows(
    session: Session, actor: Actor, programme_id: str, rows: list[IssueRow], now: datetime | None = None
) -> list[Voucher]:
    """Issue one voucher per row, all or none (``BulkRefused`` naming every bad row)."""
    actor.require_admin()
    prog = get_programme(session, programme_id)
    types = {t.code: t for t in prog.parsed.voucher_types}
    codes = {credit_code.normalise(r.credit_code) for r in rows}
    known = {e.credit_code: e for e in session.exec(select(Enterprise).where(col(Enterprise.credit_code).in_(codes)))}
    errors: list[RowError] = []
    issued: list[Voucher] = []
    savepoint = session.begin_nested()
    for row in rows:
        ent = known.get(credit_code.normalise(row.credit_code))
        problems = _row_problems(row, ent, types)
        if problems or ent is None:
            errors += problems
            continue
        face = yuan_to_fen(row.face_value) if row.face_value else None
        try:
            issued.append(issue_voucher(session, actor, prog.id, ent.id, row.voucher_type, face, now=now))
        except DomainError as exc:  # its checks come before any write: the rows after it are still checked
            errors.append(_refusal(session, prog.id, row, exc))
    if errors:
        savepoint.rollback()
        raise BulkRefused(errors)
    savepoint.commit()
    return issued
