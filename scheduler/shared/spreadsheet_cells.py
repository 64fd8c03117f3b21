"""Cells safe to open in a spreadsheet: the one place every CSV and XLSX export passes its cells.

A text cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before reading one of those) is read by Excel, LibreOffice and WPS as a formula:
an instrument named ``=HYPERLINK("http://evil","click")`` would become a live link in a reward
report (CSV / formula injection, OWASP). Such text gets a leading apostrophe, the spreadsheet
convention for "this is text". Numbers are left alone, both real numbers (``-1250`` stays a number
cell in XLSX) and text that is just a number (``"-12.50"``), which a spreadsheet reads as a number
and never as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value``, or a text value that cannot be read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV document (``\\n`` line ends) whose every cell went through ``safe_cell``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(safe_row(header))
    for r in rows:
        w.writerow(safe_row(r))
    return buf.getvalue()
