"""CSV import of usage logs: all rows or none, every bad cell reported with its row number."""

from __future__ import annotations

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from booking_api.cli import app as cli_app
from instruments.errors import Forbidden
from scheduler.sharing.usage import ImportRejected, UsageRecord, import_csv

GOOD = """started_at,ended_at,setup_minutes,measure_minutes,post_minutes,idle_minutes,samples,user_type,user_name,fee_yuan,rating
2026-03-02T09:00,2026-03-02T12:00,15,120,30,15,4,external,Li,800.00,5
2026-03-03T09:00+08:00,2026-03-03T10:30+08:00,,,,,0,internal,Wang,90,
2026-03-04T01:00Z,2026-03-04T02:00Z,0,,0,0,1,external,Chen,"1,200.5",3
"""

BAD = """started_at,ended_at,measure_minutes,user_type,fee_yuan,rating,service_mode
2026-03-02T09:00,2026-03-02T10:00,60,external,100,5,operator_run
2026-03-02T11:00,2026-03-02T10:00,60,external,100,,operator_run
not a time,2026-03-02T10:00,60,external,100,,operator_run
2026-03-02T09:00,2026-03-02T10:00,90,visitor,1.234,6,teleport
"""


def count(session) -> int:
    return session.exec(select(func.count()).select_from(UsageRecord)).one()


def test_good_file_imports_every_row_once(session, world):
    res = import_csv(session, world.manager, world.xrd.id, GOOD, "log.csv")
    session.commit()
    assert (res.imported, res.effective_minutes, res.fee_fen) == (3, 165 + 90 + 60, 80_000 + 9_000 + 120_050)
    rows = session.exec(select(UsageRecord).order_by(UsageRecord.started_at)).all()
    assert rows[0].started_at.isoformat() == "2026-03-02T01:00:00+00:00"  # naive = the instrument's zone (+08:00)
    assert [(r.user_name, r.external, r.samples) for r in rows] == [
        ("Li", True, 4),
        ("Wang", False, 0),
        ("Chen", True, 1),
    ]
    assert {r.user_name: r.measure_minutes for r in rows} == {"Li": 120, "Wang": 90, "Chen": 60}
    again = import_csv(session, world.manager, world.xrd.id, GOOD, "log.csv")
    assert again.already_imported and count(session) == 3


def test_bad_file_reports_rows_and_columns_and_imports_nothing(session, world):
    with pytest.raises(ImportRejected) as exc:
        import_csv(session, world.manager, world.xrd.id, BAD)
    got = {(e.row, e.column) for e in exc.value.errors}
    assert got == {
        (3, "ended_at"),
        (4, "started_at"),
        (5, "measure_minutes"),
        (5, "user_type"),
        (5, "fee_yuan"),
        (5, "rating"),
        (5, "service_mode"),
    }
    assert exc.value.extra["imported"] == 0
    session.rollback()
    assert count(session) == 0  # row 2 was fine, and still nothing was imported


def test_header_problems_and_scope(session, world):
    with pytest.raises(ImportRejected) as exc:
        import_csv(session, world.manager, world.xrd.id, "start,ended_at,fee_fen,fee_yuan\n")
    assert {(e.row, e.column) for e in exc.value.errors} == {(1, "start"), (1, "started_at"), (1, "fee_yuan")}
    with pytest.raises(Forbidden):
        import_csv(session, world.other_manager, world.xrd.id, GOOD)


def test_cli_import(db, world, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD)
    bad.write_text(BAD)
    runner = CliRunner()
    res = runner.invoke(cli_app, ["usage", "import", str(bad), "--instrument", world.xrd.id, "--database-url", db.url])
    assert res.exit_code == 1 and "row 5, user_type" in res.output and "nothing was imported" in res.output
    res = runner.invoke(cli_app, ["usage", "import", str(good), "--instrument", world.xrd.id, "--database-url", db.url])
    assert res.exit_code == 0, res.output
    assert "3 usage records imported" in res.output
    with db.session() as s:
        assert count(s) == 3
