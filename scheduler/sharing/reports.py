"""Year-end reward reports as CSV, XLSX and a printable HTML page with inline SVG charts.

Everything is rendered from a frozen ``RewardReport`` (its inputs snapshot and results), never
from live data, so a report printed today matches the one printed next year. ``part`` is what the
reader may see (``rewards.part_for``): a lab manager gets their own unit's rows only.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

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


# The XLSX and HTML reports are documents for people in the programme office and the units: Chinese
# headers (the CSV exports above keep their field names for programs), amounts in yuan, times in
# hours, each owner unit by its name.
LABELS = {
    "rank": "排名",
    "owner_unit_id": "单位编号",
    "unit_name": "单位",
    "instrument_id": "仪器编号",
    "name": "名称",
    "instruments": "参评仪器数",
    "original_value_fen": "原值（元）",
    "quota_minutes": "定额机时（小时）",
    "effective_minutes": "有效机时（小时）",
    "external_minutes": "对外服务机时（小时）",
    "effective_hours": "有效机时（小时）",
    "external_hours": "对外服务机时（小时）",
    "utilisation": "使用率",
    "sharing_rate": "共享率",
    "income_internal_fen": "校内收入（元）",
    "income_external_fen": "对外服务收入（元）",
    "voucher_fen": "创新券支付（元）",
    "external_users": "校外用户数",
    "enterprises_served": "服务企业数",
    "average_rating": "平均评价",
    "no_show_rate": "爽约率",
    "score": "得分",
    "grade": "等级",
    "eligible": "符合奖励条件",
    "basis_fen": "计奖基数（元）",
    "formula_reward_fen": "按公式奖励（元）",
    "reward_fen": "奖励金额（元）",
}
UNIT_REPORT_COLUMNS = [
    "rank",
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
    "owner_unit_id",
]
INSTRUMENT_REPORT_COLUMNS = [
    "rank",
    "name",
    "unit_name",
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
    "instrument_id",
]


PERCENT_KEYS = ("utilisation", "sharing_rate", "no_show_rate")


def _report_value(key: str, value: Any) -> Any:
    """A cell for people: fen as yuan (an exact Decimal, a number cell), minutes as hours, yes/no as 是/否."""
    if key.endswith("_fen") and isinstance(value, int):
        return Decimal(value) / 100
    if key.endswith("_minutes") and isinstance(value, int):
        return round(Decimal(value) / 60, 2)
    if key == "eligible":
        return "是" if value == "yes" else "否"
    if key in PERCENT_KEYS and value not in ("", None):
        return f"{float(value) * 100:.1f}%"
    return value


def report_rows(report: RewardReport, part: dict[str, Any], level: str) -> tuple[list[str], list[list[Any]]]:
    """The units' or instruments' table of the XLSX and HTML reports: Chinese headers, cells for people."""
    names = {u["id"]: u["name"] for u in part["units"]}
    names.update({x["key"]: x.get("name", "") for x in report.inputs.get("units", []) if x["key"] not in names})
    if level == "units":
        columns, rows = UNIT_REPORT_COLUMNS, unit_rows(report, part)
    else:
        columns, rows = INSTRUMENT_REPORT_COLUMNS, instrument_rows(report, part)
    out = []
    for r in rows:
        r = {**r, "unit_name": names.get(r.get("owner_unit_id", ""), r.get("owner_unit_id", ""))}
        out.append([_report_value(c, r.get(c, "")) for c in columns])
    return [LABELS[c] for c in columns], out


def yuan_text(fen: int | None) -> str:
    """¥1,234.50 for people (the CSV's ``reward_yuan`` stays 1234.50 for programs)."""
    if fen is None:
        return ""
    sign, fen = ("-" if fen < 0 else ""), abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def period_text(report: RewardReport) -> str:
    """The evaluated period as days in the rule set's zone: 2026-01-01 至 2026-12-31（Asia/Shanghai）."""
    name = report.inputs.get("rule_set", {}).get("document", {}).get("timezone", "Asia/Shanghai")
    tz = ZoneInfo(name)
    last = report.period_end.astimezone(tz) - timedelta(days=1)
    return f"{report.period_start.astimezone(tz):%Y-%m-%d} 至 {last:%Y-%m-%d}（{name}）"


def summary_rows(report: RewardReport, part: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("规则集", f"{report.rule_set_code} 第 {report.rule_set_version} 版"),
        ("报告", f"{report.id} 第 {report.version} 版"),
        ("评价期间", period_text(report)),
        ("摘要（SHA-256）", report.digest),
    ]
    t = part.get("totals")
    if t:
        rows += [
            ("奖励总额（元）", Decimal(t["reward_fen"]) / 100),
            ("预算（元）", Decimal(t["budget_fen"]) / 100 if t["budget_fen"] is not None else "未设预算"),
            ("未分配（元）", Decimal(t["unallocated_fen"]) / 100),
            ("获奖单位数", t["units_rewarded"]),
            ("参评仪器数", t["instruments_evaluated"]),
        ]
    return rows


def to_xlsx(report: RewardReport, part: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "概要"
    ws.append(safe_row([f"{report.year} 年度大型科研仪器开放共享评价与奖励"]))
    ws["A1"].font = Font(bold=True, size=14)
    for label, value in summary_rows(report, part):
        ws.append(safe_row([label, value]))
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 40
    for title, level in (("单位", "units"), ("仪器", "instruments")):
        sheet = wb.create_sheet(title)
        header, rows = report_rows(report, part, level)
        sheet.append(safe_row(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for r in rows:
            sheet.append(safe_row(r))
        for n, label in enumerate(header):
            sheet.column_dimensions[sheet.cell(1, n + 1).column_letter].width = max(10, len(label) * 2 + 2)
        sheet.freeze_panes = "C2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- HTML with inline SVG ------------------------------------------------------------------------


def bar_chart(title: str, items: list[tuple[str, float]], unit: str = "", width: int = 640, decimals: int = 2) -> str:
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
        parts.append(f'<text x="{left + w + 4}" y="{y + 13}" font-size="12">{value:,.{decimals}f}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def utilisation_histogram(values: list[float]) -> list[tuple[str, float]]:
    bins = [0] * 11
    for v in values:
        bins[min(10, int(v * 10))] += 1
    labels = [f"{i * 10}–{i * 10 + 10} %" for i in range(10)] + ["≥ 100 %"]
    return list(zip(labels, [float(b) for b in bins], strict=True))


def _cell_text(v: Any) -> str:
    if isinstance(v, Decimal):
        return f"{v:,.2f}"
    return str(v)


def to_html(report: RewardReport, part: dict[str, Any]) -> str:
    units = unit_rows(report, part)
    insts = instrument_rows(report, part)
    util = [float(r["utilisation"] or 0) for r in insts]
    charts = [
        bar_chart("仪器使用率分布（台数）", utilisation_histogram(util), " 台", decimals=0),
        bar_chart(
            "各单位对外服务机时",
            sorted(((u["name"], float(u["external_hours"] or 0)) for u in units), key=lambda t: -t[1]),
            " 小时",
        ),
        bar_chart(
            "各单位奖励（元）",
            sorted(((u["name"], u["reward_fen"] / 100) for u in units), key=lambda t: -t[1]),
        ),
    ]

    def table(level: str) -> str:
        header, rows = report_rows(report, part, level)
        head = "".join(f'<th scope="col">{escape(c)}</th>' for c in header)
        body = "".join("<tr>" + "".join(f"<td>{escape(_cell_text(v))}</td>" for v in r) + "</tr>" for r in rows)
        return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'

    totals = part.get("totals")
    summary = ""
    if totals:
        budget = totals["budget_fen"]
        summary = (
            f"<p>奖励总额 <b>{yuan_text(totals['reward_fen'])}</b>"
            + (
                f"，预算 {yuan_text(budget)}，未分配 {yuan_text(totals['unallocated_fen'])}"
                if budget is not None
                else ""
            )
            + f"；获奖单位 {totals['units_rewarded']} 个，参评仪器 {totals['instruments_evaluated']} 台。</p>"
        )
        if budget is not None and totals["unallocated_fen"] > 0:
            summary += (
                f'<p class="warn">预算未全部发放：{yuan_text(totals["unallocated_fen"])} 未分配'
                "（没有单位达到获奖等级，或获奖单位均已达到奖励上限）。</p>"
            )
    poor = [u["name"] for u in units if u["owner_unit_id"] in set(part.get("poor_units", []))]
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{report.year} 年度开放共享评价与奖励报告</title>
<style>
body {{ font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 2em; max-width: 100%; }}
.table-wrap {{ overflow-x: auto; max-width: 100%; }}
table {{ border-collapse: collapse; font-size: 12px; margin: 1em 0; }}
th, td {{ border: 1px solid #bbb; padding: 2px 6px; text-align: right; white-space: nowrap; }}
th {{ background: #eee; white-space: normal; min-width: 4em; }} td:nth-child(2), td:nth-child(3) {{ text-align: left; }}
.warn {{ border-left: 4px solid #c62828; padding: .3em .8em; background: #fdecea; }}
.charts svg {{ display: block; margin: 1em 0; max-width: 100%; height: auto; }}
@media print {{ .charts svg {{ break-inside: avoid; }} table {{ break-inside: auto; }} .table-wrap {{ overflow: visible; }} }}
</style></head><body>
<h1>{report.year} 年度大型科研仪器开放共享评价与奖励报告</h1>
<p>规则集 <b>{escape(report.rule_set_code)}</b> 第 {report.rule_set_version} 版 · 报告 {escape(report.id)}
第 {report.version} 版 · 评价期间 {period_text(report)} ·
摘要 <code>{report.digest}</code></p>
{summary}
{"<p>评为较差的单位：" + escape("、".join(poor)) + "</p>" if poor else ""}
<div class="charts">{"".join(charts)}</div>
<h2>单位</h2>{table("units")}
<h2>仪器</h2>{table("instruments")}
</body></html>
"""
