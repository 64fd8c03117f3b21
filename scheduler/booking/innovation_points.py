"""Innovation points (创新积分制): the score a science and technology bureau gives each
enterprise, imported as a list of (unified social credit code, points) and used in the weight of
the enterprise's requests in allocation rounds (``solver.WeightConfig.per_innovation_point``).

An import is all rows or none: every row is checked first (a known, valid credit code; whole
points 0–1000; a code once), and a refusal names each bad row. Each enterprise whose points
change gets an audit record with the points before and after and the import's ``source`` (the
bureau's list it came from), so a round's weights can be traced to the list that set them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from instruments.actor import Actor
from instruments.audit import record
from instruments.errors import InvalidInput
from scheduler.booking import credit_code
from scheduler.booking.enterprises import Enterprise

MAX_POINTS = 1000
MAX_ROWS = 20_000
CODE_HEADERS = ("credit_code", "统一社会信用代码")
POINTS_HEADERS = ("points", "innovation_points", "创新积分")


@dataclass
class PointsImport:
    source: str
    rows: int
    updated: int
    unchanged: int
    changes: list[dict] = field(default_factory=list)  # enterprise_id, credit_code, before, after


@dataclass(frozen=True)
class BadRow:
    """One refused row of an import: its number (the first row after the header is 1), the
    column, a reason code (bad_credit_code, listed_twice, bad_points, unknown_enterprise) and the
    value as written, so a page can say it in its reader's language."""

    row: int
    column: str
    code: str
    value: str


class PointsRefused(InvalidInput):
    """Nothing was imported; ``rows`` names every bad row."""

    def __init__(self, errors: list[str], rows: list[BadRow]) -> None:
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__("Nothing was imported: " + "; ".join(errors[:10]) + more + ".", field="rows")
        self.rows = rows


def parse_points_csv(text: str) -> list[tuple[str, object]]:
    """(credit code, points as written) per data row of a CSV with a header naming the two
    columns (English or Chinese, see ``CODE_HEADERS`` / ``POINTS_HEADERS``)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        code_at = next((k for k, h in enumerate(header) if h in CODE_HEADERS), None)
        points_at = next((k for k, h in enumerate(header) if h in POINTS_HEADERS), None)
        if code_at is None or points_at is None:
            raise InvalidInput(
                f"The first row must name the columns {CODE_HEADERS[0]} (or {CODE_HEADERS[1]}) and "
                f"{POINTS_HEADERS[0]} (or {POINTS_HEADERS[2]}).",
                field="body",
            )
        out = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            cells = row + [""] * (max(code_at, points_at) + 1 - len(row))
            out.append((cells[code_at], cells[points_at]))
    except csv.Error as exc:
        raise InvalidInput(f"Unreadable CSV: {exc}.", field="body") from exc
    return out


def import_points(session: Session, actor: Actor, rows: list[tuple[str, object]], source: str) -> PointsImport:
    """Set the points of every listed enterprise (programme admin); all rows or none."""
    actor.require_admin()
    if not source.strip():
        raise InvalidInput("Name the source of the points (e.g. the bureau's list and its date).", field="source")
    if not rows:
        raise InvalidInput("The list has no rows.", field="rows")
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"The list has {len(rows)} rows; at most {MAX_ROWS} at once.", field="rows")
    codes = [credit_code.normalise(str(code)) for code, _ in rows]
    known = {e.credit_code: e for e in session.exec(select(Enterprise).where(col(Enterprise.credit_code).in_(set(codes))))}
    errors: list[str] = []
    bad: list[BadRow] = []
    seen: set[str] = set()
    wanted: list[tuple[Enterprise, int]] = []
    for n, (code, (_, raw)) in enumerate(zip(codes, rows, strict=True), start=1):
        text = str(raw).strip()
        if why := credit_code.problem(code):
            errors.append(f"row {n}: credit code {code!r}: {why}")
            bad.append(BadRow(n, "credit_code", "bad_credit_code", code))
            continue
        if code in seen:
            errors.append(f"row {n}: credit code {code} is listed twice")
            bad.append(BadRow(n, "credit_code", "listed_twice", code))
            continue
        seen.add(code)
        if not text.isdigit() or int(text) > MAX_POINTS:
            errors.append(f"row {n}: points {text!r} are not whole points from 0 to {MAX_POINTS}")
            bad.append(BadRow(n, "points", "bad_points", text))
            continue
        ent = known.get(code)
        if ent is None:
            errors.append(f"row {n}: no registered enterprise has credit code {code}")
            bad.append(BadRow(n, "credit_code", "unknown_enterprise", code))
            continue
        wanted.append((ent, int(text)))
    if errors:
        raise PointsRefused(errors, bad)
    result = PointsImport(source.strip(), len(rows), 0, 0)
    for ent, points in wanted:
        if ent.innovation_points == points:
            result.unchanged += 1
            continue
        before = ent.innovation_points
        ent.innovation_points = points
        session.add(ent)
        record(
            session,
            actor,
            "enterprise.innovation_points",
            "enterprise",
            ent.id,
            before={"innovation_points": before, "source": result.source},
            after={"innovation_points": points, "source": result.source},
        )
        result.updated += 1
        result.changes.append({"enterprise_id": ent.id, "credit_code": ent.credit_code, "before": before, "after": points})
    session.flush()
    return result
