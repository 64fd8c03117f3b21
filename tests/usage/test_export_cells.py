"""Names such as ``=HYPERLINK(…)`` never become live formulas in a CSV or XLSX export: every text
cell starting with = + - @ (or tab / CR) is neutralised; numbers stay numbers."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook, load_workbook

from fixtures.reward_rules import PRESETS
from scheduler.money.voucher_stats import stats_csv
from scheduler.shared.spreadsheet_cells import safe_cell, safe_row
from tests.booking_api.conftest import auth
from tests.usage.helpers import build

EVIL = '=HYPERLINK("http://evil.test","click")'


def test_reward_exports_neutralise_formula_names(client, session, world):
    w = world
    w.xrd.name = EVIL
    w.sem.name = "@SUM(1+1)"
    session.add_all([w.xrd, w.sem])
    build(session, w)
    session.commit()
    rules = {**PRESETS["national"], "code": "cells", "min_value_fen": 0}
    assert client.post("/api/v1/reward-rule-sets", json=rules, headers=auth(w, "admin")).status_code == 201
    r = client.post("/api/v1/rewards/runs", json={"year": 2026, "rule_set": "cells"}, headers=auth(w, "admin"))
    assert r.status_code == 201, r.text
    base = f"/api/v1/rewards/reports/{r.json()['id']}"

    text = client.get(base + "/instruments.csv", headers=auth(w, "admin")).text
    rows = list(csv.DictReader(io.StringIO(text)))
    names = {row["instrument_id"]: row["name"] for row in rows}
    assert names[w.xrd.id] == "'" + EVIL and names[w.sem.id] == "'@SUM(1+1)"
    assert all(not row[c].startswith(("=", "+", "@")) for row in rows for c in row)

    wb = load_workbook(io.BytesIO(client.get(base + "/report.xlsx", headers=auth(w, "admin")).content))
    sheet = wb["仪器"]
    header = [c.value for c in sheet[1]]
    cells = {row[header.index("仪器编号")].value: row for row in sheet.iter_rows(min_row=2)}
    name = cells[w.xrd.id][header.index("名称")]
    assert name.data_type == "s" and name.value == "'" + EVIL
    income = cells[w.xrd.id][header.index("对外服务收入（元）")]  # yuan, a number cell
    assert income.data_type == "n" and income.value > 0
    assert not any(c.data_type == "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)


def test_voucher_statistics_csv_neutralises_a_providers_name():
    stats = {
        "vouchers_issued": 3,
        "amount_issued_fen": -5,
        "top_providers": [{"owner_unit_id": "unt_1", "name": "-cmd|' /C calc'!A0", "orders": 2, "amount_used_fen": 7}],
    }
    rows = list(csv.reader(io.StringIO(stats_csv(stats))))
    assert rows[0] == ["figure", "value"] and rows[1] == ["vouchers_issued", "3"]
    assert rows[2] == ["amount_issued_fen", "-5"]  # a number, unchanged
    assert rows[3] == ["top_provider_1", "'-cmd|' /C calc'!A0 (2 orders, 7 fen)"]


def test_the_cell_rule():
    for bad in ("=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "-", "=", "-x"):
        assert safe_cell(bad) == "'" + bad
    for fine in (-1250, 0, 3.5, -0.25, "-12.50", "+3", "1e5", "Powder XRD", "", None, "a=b"):
        assert safe_cell(fine) == fine
    ws = Workbook().active
    ws.append(safe_row([-1250, "-12.50", "=2+2", -0.5]))
    assert [c.data_type for c in ws[1]] == ["n", "s", "s", "n"]
    assert ws["A1"].value == -1250 and ws["C1"].value == "'=2+2"
