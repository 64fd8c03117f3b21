"""A payment batch's payment file for the finance office: one row per order with the provider,
the voucher, the enterprise that used it and the amounts in yuan, then a total row; as CSV
(UTF-8 with a byte-order mark, so Excel reads the Chinese) or XLSX. The headers are Chinese
whatever the reader's page language: the file goes to a Chinese finance office."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.money.redemption import ClaimItem, PaymentBatch
from scheduler.money.redemption_lists import ItemFacts

HEADERS = (
    "序号",
    "服务机构",
    "创新券编号",
    "使用企业",
    "预约编号",
    "兑付金额（元）",
    "奖励金额（元）",
    "合计（元）",
)
TOTAL = "合计"


def yuan_text(fen: int) -> str:
    """12345 fen → "123.45" (no currency sign: a spreadsheet cell)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def rows(items: list[ClaimItem], facts: dict[str, ItemFacts]) -> list[tuple[int, str, str, str, str, int, int, int]]:
    """(n, unit, voucher code, enterprise, booking id, amount, bonus, total), amounts in fen."""
    out = []
    for n, i in enumerate(items, start=1):
        f = facts[i.id]
        out.append(
            (
                n,
                f.unit,
                f.voucher_code,
                f.enterprise,
                i.booking_id,
                i.amount_fen,
                i.bonus_fen,
                i.amount_fen + i.bonus_fen,
            )
        )
    return out


def title(batch: PaymentBatch, programme: str, zone: str) -> str:
    """The file's first line: which batch, which programme, when it was made (and paid)."""

    def at(t: datetime) -> str:
        return f"{t.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"

    paid = f"，付款于 {at(batch.paid_at)}" if batch.paid_at else "，未付款"
    return f"兑付批次 {batch.id}（{programme}），生成于 {at(batch.created_at)}{paid}"


def to_csv(
    batch: PaymentBatch, programme: str, items: list[ClaimItem], facts: dict[str, ItemFacts], zone: str
) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([title(batch, programme, zone)])
    w.writerow(HEADERS)
    table = rows(items, facts)
    for n, unit, code, ent, booking, amount, bonus, total in table:
        w.writerow([n, unit, code, ent, booking, yuan_text(amount), yuan_text(bonus), yuan_text(total)])
    w.writerow([TOTAL, "", "", "", "", *(yuan_text(sum(r[k] for r in table)) for k in (5, 6, 7))])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(
    batch: PaymentBatch, programme: str, items: list[ClaimItem], facts: dict[str, ItemFacts], zone: str
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "兑付明细"
    ws.append([title(batch, programme, zone)])
    ws.append(list(HEADERS))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    table = rows(items, facts)
    for n, unit, code, ent, booking, amount, bonus, total in table:
        ws.append([n, unit, code, ent, booking, amount / 100, bonus / 100, total / 100])
    ws.append([TOTAL, "", "", "", "", *(sum(r[k] for r in table) / 100 for k in (5, 6, 7))])
    for row in ws.iter_rows(min_row=3, min_col=6, max_col=8):
        for cell in row:
            cell.number_format = "#,##0.00"
    for letter, width in zip("ABCDEFGH", (6, 28, 22, 28, 18, 14, 14, 14), strict=True):
        ws.column_dimensions[letter].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
