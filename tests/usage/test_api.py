"""HTTP: usage records, CSV import, indicators, rule sets, year-end runs and report exports."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from typer.testing import CliRunner

from booking_api.cli import app as cli_app
from fixtures.reward_rules import PRESETS
from tests.booking_api.conftest import auth

from .helpers import build
from .test_import import BAD, GOOD


def test_usage_endpoints(client, world):
    w = world
    body = {
        "instrument_id": w.xrd.id,
        "started_at": "2026-03-02T09:00:00+08:00",
        "ended_at": "2026-03-02T12:00:00+08:00",
        "setup_minutes": 15,
        "measure_minutes": 120,
        "post_minutes": 30,
        "idle_minutes": 15,
        "enterprise_id": w.ent_a.id,
        "fee_fen": 80_000,
        "source": "walk_in",
    }
    r = client.post("/api/v1/usage", json=body, headers=auth(w, "manager"))
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    assert client.post("/api/v1/usage", json=body, headers=auth(w, "member_a")).status_code == 403
    assert (
        client.post("/api/v1/usage", json={**body, "measure_minutes": 200}, headers=auth(w, "manager")).status_code
        == 422
    )
    assert [u["id"] for u in client.get("/api/v1/usage", headers=auth(w, "member_a")).json()] == [uid]
    assert client.get("/api/v1/usage", headers=auth(w, "member_b")).json() == []
    r = client.post(f"/api/v1/usage/{uid}/rating", json={"rating": 5}, headers=auth(w, "member_a"))
    assert r.status_code == 200 and r.json()["rating"] == 5
    assert (
        client.post(f"/api/v1/usage/{uid}/rating", json={"rating": 4}, headers=auth(w, "member_b")).status_code == 404
    )

    url = f"/api/v1/instruments/{w.xrd.id}/usage/import"
    r = client.post(url, content=BAD.encode(), headers={**auth(w, "manager"), "Content-Type": "text/csv"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    p = r.json()
    assert p["imported"] == 0 and {"row": 3, "column": "ended_at"}.items() <= p["violations"][0].items()
    r = client.post(url, content=GOOD.encode("gb18030"), headers={**auth(w, "manager"), "Content-Type": "text/csv"})
    assert r.status_code == 201 and r.json()["imported"] == 3

    q = {"start": "2026-01-01T00:00:00+08:00", "end": "2027-01-01T00:00:00+08:00"}
    rows = client.get("/api/v1/indicators", params={**q, "level": "unit"}, headers=auth(w, "admin")).json()
    assert {x["key"]: x["effective_minutes"] for x in rows}[w.xrd.owner_unit_id] == 165 + 165 + 90 + 60
    mine = client.get("/api/v1/indicators", params={**q, "level": "unit"}, headers=auth(w, "manager")).json()
    assert [x["key"] for x in mine] == [w.xrd.owner_unit_id]
    assert (
        client.get("/api/v1/indicators", params={**q, "level": "programme"}, headers=auth(w, "manager")).status_code
        == 403
    )
    assert client.get("/api/v1/indicators", params=q, headers=auth(w, "member_a")).status_code == 403


def test_rewards_run_and_exports(client, session, world):
    w = world
    build(session, w)
    anhui = {**PRESETS["national"], "code": "prog", "min_value_fen": 0}
    assert client.post("/api/v1/reward-rule-sets", json=anhui, headers=auth(w, "manager")).status_code == 403
    r = client.post("/api/v1/reward-rule-sets", json=anhui, headers=auth(w, "admin"))
    assert r.status_code == 201 and r.json()["version"] == 1
    bad = {**anhui, "min_grade": "金牌"}
    assert client.post("/api/v1/reward-rule-sets", json=bad, headers=auth(w, "admin")).status_code == 422

    run = {"year": 2026, "rule_set": "prog", "budget_fen": 100_000_00}
    r = client.post("/api/v1/rewards/runs", json=run, headers=auth(w, "admin"))
    assert r.status_code == 201, r.text
    rep = r.json()
    assert rep["created"] and rep["verified"] and rep["version"] == 1
    again = client.post("/api/v1/rewards/runs", json=run, headers=auth(w, "admin")).json()
    assert again["id"] == rep["id"] and again["digest"] == rep["digest"] and not again["created"]
    assert client.post("/api/v1/rewards/runs", json=run, headers=auth(w, "manager")).status_code == 403

    base = f"/api/v1/rewards/reports/{rep['id']}"
    full = client.get(base, headers=auth(w, "admin")).json()
    assert len(full["units"]) == 2 and full["totals"]["budget_fen"] == 100_000_00
    part = client.get(base, headers=auth(w, "manager")).json()
    assert [u["id"] for u in part["units"]] == [w.xrd.owner_unit_id] and part["totals"] is None
    assert client.get(base, headers=auth(w, "member_a")).status_code == 403

    csv_text = client.get(base + "/units.csv", headers=auth(w, "manager")).text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("rank,owner_unit_id,name") and len(lines) == 2 and w.xrd.owner_unit_id in lines[1]
    inst_csv = client.get(base + "/instruments.csv", headers=auth(w, "admin")).text
    assert len(inst_csv.strip().splitlines()) == 4
    wb = load_workbook(io.BytesIO(client.get(base + "/report.xlsx", headers=auth(w, "admin")).content))
    assert wb.sheetnames == ["概要", "单位", "仪器"] and wb["单位"].max_row == 3
    assert [c.value for c in wb["单位"][1]][:3] == ["排名", "名称", "参评仪器数"]
    html = client.get(base + "/report.html", headers=auth(w, "admin")).text
    assert html.count("<svg") == 3 and "各单位奖励（元）" in html and rep["digest"] in html
    listed = client.get("/api/v1/rewards/reports", params={"year": 2026}, headers=auth(w, "admin")).json()
    assert [x["id"] for x in listed] == [rep["id"]]


def test_cli_rewards_writes_exports(db, session, world, tmp_path):
    build(session, world)
    res = CliRunner().invoke(
        cli_app, ["rewards", "2026", "--rule-set", "yunnan", "--database-url", db.url, "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert "report rwr_" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "rewards-2026-instruments.csv",
        "rewards-2026-units.csv",
        "rewards-2026.html",
        "rewards-2026.xlsx",
    ]


def test_year_end_job_is_registered_and_idempotent(db, session, world):
    from sqlmodel import select

    from fixtures.reward_rules import load_presets
    from scheduler.jobs import make_scheduler
    from scheduler.sharing.rewards import RewardReport, run_scheduled_rewards

    job = make_scheduler(db.url).get_job("year_end_rewards")
    assert job is not None and "month='1'" in str(job.trigger) and "day='5'" in str(job.trigger)
    build(session, world)
    load_presets(session, world.admin, ["national", "anhui"])
    session.commit()
    first = run_scheduled_rewards(db.url, 2026)
    assert run_scheduled_rewards(db.url, 2026) == first and len(first) == 2  # one report per rule set, once
    with db.session() as s:
        assert len(s.exec(select(RewardReport)).all()) == 2


def test_far_away_times_are_a_422_not_a_500(client, world):
    q = {"start": "9999-12-31T23:00:00-05:00", "end": "9999-12-31T23:30:00-05:00"}
    assert client.get("/api/v1/indicators", params=q, headers=auth(world, "admin")).status_code == 422
    assert client.get("/api/v1/usage", params=q, headers=auth(world, "admin")).status_code == 422
