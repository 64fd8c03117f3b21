"""Year-end reward reports as CSV, XLSX and a printable HTML page with inline SVG charts.

Everything is rendered from a frozen ``RewardReport`` (its inputs snapshot and results), never
from live data, so a report printed today matches the one printed next year. ``part`` is what the
reader may see (``rewards.part_for``): a lab manager gets their own unit's rows only.
"""

from __future__ import annotations

import io
from html import escape
from typing import Any

from scheduler.shared.spreadsheet_cells import csv_text, safe_row
from scheduler.sharing.rewards import RewardReport


def _yuan(fen: int | None) -> str:
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def _inputs_by_key(report: RewardReport, kind: str) -> dict[str, dict[str, Any]]:
    return {x["key"]: x for x in report.inputs.get(kind, [])}


UNIT_COLUMNS = [
    "rank",
    "owner_unit_id",
    "name",
    "instruments",
    "effective_hours",
    "external_hours",
    "sharing_rate",
    "income_internal_fen",
    "income_external_fen",
    "voucher_fen",
    "external_users",
    "enterprises_served",
    "score",
    "grade",
    "eligible",
    "basis_fen",
    "formula_reward_fen",
    "reward_fen",
    "reward_yuan",
]
INSTRUMENT_COLUMNS = [
    "rank",
    "instrument_id",
    "name",
    "owner_unit_id",
    "original_value_fen",
    "quota_minutes",
    "effective_minutes",
    "external_minutes",
    "utilisation",
    "sharing_rate",
    "income_internal_fen",
    "income_external_fen",
    "voucher_fen",
    "external_users",
    "enterprises_served",
    "average_rating",
    "no_show_rate",
    "score",
    "grade",
]


def unit_rows(report: RewardReport, part: dict[str, Any]) -> list[dict[str, Any]]:
    ins = _inputs_by_key(report, "units")
    rows = []
    for e in sorted(part["units"], key=lambda e: (e["rank"], e["id"])):
        x = ins.get(e["id"], {})
        rows.append(
            {
                **{k: x.get(k, "") for k in UNIT_COLUMNS},
                "rank": e["rank"],
                "owner_unit_id": e["id"],
                "name": e["name"],
                "instruments": e["instruments"],
                "sharing_rate": x.get("sharing_rate_display", ""),
                "score": e["score_display"],
                "grade": e["grade"],
                "eligible": "yes" if e["eligible"] else "no",
                "basis_fen": e["basis_fen"],
                "formula_reward_fen": e["formula_reward_fen"],
                "reward_fen": e["reward_fen"],
                "reward_yuan": _yuan(e["reward_fen"]),
            }
        )
    return rows


def instrument_rows(report: RewardReport, part: dict[str, Any]) -> list[dict[str, Any]]:
    ins = _inputs_by_key(report, "instruments")
    rows = []
    for e in sorted(part["instruments"], key=lambda e: (e["rank"], e["id"])):
        x = ins.get(e["id"], {})
        row = {k: x.get(k, "") for k in INSTRUMENT_COLUMNS}
        for k in ("utilisation", "sharing_rate", "average_rating", "no_show_rate"):
            row[k] = x.get(k + "_display", "")
        row.update(rank=e["rank"], instrument_id=e["id"], name=e["name"], score=e["score_display"], grade=e["grade"])
        rows.append(row)
    return rows


def to_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    return csv_text(columns, ([r.get(c, "") for c in columns] for r in rows))


def to_xlsx(report: RewardReport, part: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append(safe_row([f"Open-sharing evaluation {report.year}"]))
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(safe_row(["Rule set", f"{report.rule_set_code} v{report.rule_set_version}"]))
    ws.append(safe_row(["Report", f"{report.id} v{report.version}"]))
    ws.append(safe_row(["Period", f"{report.period_start.isoformat()} – {report.period_end.isoformat()}"]))
    ws.append(safe_row(["Digest (SHA-256)", report.digest]))
    if part.get("totals"):
        t = part["totals"]
        ws.append(safe_row(["Total rewards (fen)", t["reward_fen"]]))
        ws.append(safe_row(["Budget (fen)", t["budget_fen"] if t["budget_fen"] is not None else "none"]))
        ws.append(safe_row(["Unallocated (fen)", t["unallocated_fen"]]))
    for title, rows, columns in (
        ("Units", unit_rows(report, part), UNIT_COLUMNS),
        ("Instruments", instrument_rows(report, part), INSTRUMENT_COLUMNS),
    ):
        sheet = wb.create_sheet(title)
        sheet.append(safe_row(columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for r in rows:
            sheet.append(safe_row(r.get(c, "") for c in columns))
        sheet.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- HTML with inline SVG ------------------------------------------------------------------------


def bar_chart(title: str, items: list[tuple[str, float]], unit: str = "", width: int = 640) -> str:
    """A horizontal bar chart as inline SVG (no JavaScript)."""
    items = items[:30]
    bar_h, gap, left = 18, 6, 220
    height = 30 + len(items) * (bar_h + gap)
    top = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for n, (label, value) in enumerate(items):
        y = 28 + n * (bar_h + gap)
        w = int((width - left - 90) * value / top)
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{escape(label[:32])}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{max(w, 1)}" height="{bar_h}" fill="#3b6ea5"/>')
        parts.append(f'<text x="{left + w + 4}" y="{y + 13}" font-size="12">{value:,.2f}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def utilisation_histogram(values: list[float]) -> list[tuple[str, float]]:
    bins = [0] * 11
    for v in values:
        bins[min(10, int(v * 10))] += 1
    labels = [f"{i * 10}–{i * 10 + 10} %" for i in range(10)] + ["≥ 100 %"]
    return list(zip(labels, [float(b) for b in bins], strict=True))


def to_html(report: RewardReport, part: dict[str, Any]) -> str:
    units = unit_rows(report, part)
    insts = instrument_rows(report, part)
    util = [float(r["utilisation"] or 0) for r in insts]
    charts = [
        bar_chart("Utilisation distribution (instruments)", utilisation_histogram(util)),
        bar_chart(
            "External service hours by unit",
            sorted(((u["name"], float(u["external_hours"] or 0)) for u in units), key=lambda t: -t[1]),
            " h",
        ),
        bar_chart(
            "Rewards by unit (RMB)",
            sorted(((u["name"], u["reward_fen"] / 100) for u in units), key=lambda t: -t[1]),
        ),
    ]

    def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
        head = "".join(f"<th>{escape(c)}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>" for r in rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    totals = part.get("totals")
    summary = ""
    if totals:
        summary = (
            f"<p>Total rewards: <b>{_yuan(totals['reward_fen'])} RMB</b>"
            + (f" of a budget of {_yuan(totals['budget_fen'])} RMB" if totals["budget_fen"] is not None else "")
            + f"; {totals['units_rewarded']} units rewarded, {totals['instruments_evaluated']} instruments evaluated.</p>"
        )
    poor = [u["name"] for u in units if u["owner_unit_id"] in set(part.get("poor_units", []))]
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>Open-sharing evaluation {report.year}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 12px; margin: 1em 0; }}
th, td {{ border: 1px solid #bbb; padding: 2px 6px; text-align: right; }}
th {{ background: #eee; }} td:nth-child(2), td:nth-child(3) {{ text-align: left; }}
.charts svg {{ display: block; margin: 1em 0; }}
@media print {{ .charts svg {{ break-inside: avoid; }} table {{ break-inside: auto; }} }}
</style></head><body>
<h1>Open-sharing evaluation and rewards {report.year}</h1>
<p>Rule set <b>{escape(report.rule_set_code)}</b> v{report.rule_set_version} · report {escape(report.id)}
v{report.version} · period {report.period_start:%Y-%m-%d} – {report.period_end:%Y-%m-%d} (UTC) ·
digest <code>{report.digest}</code></p>
{summary}
{"<p>Graded 较差 (named): " + escape(", ".join(poor)) + "</p>" if poor else ""}
<div class="charts">{"".join(charts)}</div>
<h2>Units</h2>{table(units, UNIT_COLUMNS)}
<h2>Instruments</h2>{table(insts, INSTRUMENT_COLUMNS)}
</body></html>
"""
