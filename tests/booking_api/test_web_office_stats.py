"""The programme office's statistics, year-end and audit pages: zh-CN words, yuan amounts, the
downloads, the warnings when a budget is not paid out, freezing, and the audit log's filters
(page and API)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from booking_api.accounts import User, set_password
from fixtures.reward_rules import PRESETS as REWARD_PRESETS
from fixtures.voucher_presets import PRESETS
from instruments.actor import SYSTEM
from scheduler.money import vouchers as v
from scheduler.sharing import rewards
from scheduler.sharing.rewards import RewardReport
from tests.usage.helpers import build as build_usage

from .conftest import auth
from .test_web_signin import PASSWORD, csrf_of, sign_in

TZ = ZoneInfo("Asia/Shanghai")

ZH = {"Accept-Language": "zh-CN"}


def _admin(client, session, w) -> None:
    set_password(session, SYSTEM, session.get(User, w.admin.user_id), PASSWORD)
    session.commit()
    assert sign_in(client, "admin@t.cn").status_code == 303


def _issued_on(w) -> date:  # noqa: ANN001
    """The day the test vouchers are issued (the world's days follow the clock: any year)."""
    return (w.at(9) - timedelta(days=3)).astimezone(TZ).date()


def _around(w) -> dict[str, str]:  # noqa: ANN001
    day = _issued_on(w)
    return {"start": (day - timedelta(days=1)).isoformat(), "end": (day + timedelta(days=1)).isoformat()}


def _programme(session, w):
    year = _issued_on(w).year
    prog = v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(
            name=f"{year} 测试创新券",
            year=year,
            total_budget_fen=10_000_000,
            rules=PRESETS["shandong_jinan"].model_dump(mode="json"),
        ),
    )
    now = w.at(9) - timedelta(days=3)
    for ent, face in ((w.ent_a, 100_000), (w.ent_b, 250_050)):
        v.issue_voucher(session, w.admin, prog.id, ent.id, "testing", face, now=now)
    session.commit()
    return prog


def test_statistics_page_in_chinese_with_yuan_and_both_downloads(client, session, world):
    w = world
    prog = _programme(session, w)
    _admin(client, session, w)
    year = _issued_on(w).year
    r = client.get("/office/statistics", params={"programme": prog.id, **_around(w)}, headers=ZH)
    assert r.status_code == 200
    for words in (
        "创新券统计",
        "已发放",
        "已兑付",
        "已失效",
        "未发放预算",
        "已批准、尚未支付",
        "已驳回",
        "按月份",
        "按仪器所属单位",
    ):
        assert words in r.text, words
    assert "¥3,500.50" in r.text  # 100,000 + 250,050 fen issued
    assert "¥96,499.50" in r.text  # budget not issued
    assert "amount_fen" not in r.text and "chart.umd.min.js" in r.text
    english = client.get("/office/statistics", params={"programme": prog.id}, headers={"Accept-Language": "en"})
    assert "Voucher statistics" in english.text and "Budget not issued" in english.text

    base = f"/office/statistics/{prog.id}/export"
    rows = list(
        csv.reader(
            io.StringIO(client.get(base + ".csv", params=_around(w), headers=ZH).text.lstrip("\ufeff"))
        )
    )
    assert rows[0][0] == f"{year} 测试创新券"
    assert ["状态", "张数", "金额（元）"] in rows or any(r[:1] == ["状态"] for r in rows)
    issued = next(r for r in rows if r and r[0] == "已发放")
    assert issued[1:] == ["2", "3500.50"]
    x = client.get(base + ".xlsx", params=_around(w), headers=ZH)
    assert x.status_code == 200 and x.headers["content-disposition"].startswith("attachment")
    wb = load_workbook(io.BytesIO(x.content))
    values = [[c.value for c in row] for row in wb.worksheets[0].iter_rows()]
    row = next(r for r in values if r[0] == "已发放")
    assert float(row[2]) == 3500.50 and len(wb.sheetnames) >= 5
    assert client.get("/office/statistics/prg_nope/export.csv").status_code == 404
    bad = client.get("/office/statistics", params={"programme": prog.id, "start": "2026-13-01"}, headers=ZH)
    assert bad.status_code == 200 and "请按 YYYY-MM-DD 填写日期" in bad.text


def test_statistics_api_dashboard_endpoint(client, session, world):
    prog = _programme(session, world)
    r = client.get(
        f"/api/v1/voucher-programmes/{prog.id}/dashboard",
        params=_around(world),
        headers=auth(world, "admin"),
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["issued"] == {"count": 2, "amount_fen": 350_050} and d["unissued_fen"] == 10_000_000 - 350_050
    assert (
        client.get(
            f"/api/v1/voucher-programmes/{prog.id}/dashboard",
            params=_around(world),
            headers=auth(world, "manager"),
        ).status_code
        == 403
    )


def _lenient(session, w, budget_fen=None):
    """Rules under which the usage fixture's units reach the paying grade (合格 from 5 points)."""
    doc = {
        **REWARD_PRESETS["national"],
        "code": "lenient",
        "min_value_fen": 0,
        "grades": [{"name": "合格", "min_score": "5"}, {"name": "较差", "min_score": "0"}],
        "reward": {"share": "1/5", "cap_fen": None, "budget_fen": budget_fen},
    }
    rewards.save_rule_set(session, w.admin, doc)
    session.commit()


def _review(client, form):
    page = client.get("/office/year-end", headers=ZH)
    assert page.status_code == 200
    return client.post("/office/year-end/review", data={**form, "csrf": csrf_of(page.text)}, headers=ZH)


def test_year_end_review_warns_when_nothing_is_paid_and_says_why(client, session, world):
    build_usage(session, world)
    session.commit()
    _admin(client, session, world)
    r = _review(client, {"year": "2026", "rule_set": "national", "budget": "100000"})
    assert r.status_code == 200
    assert 'data-testid="warning-no_unit_eligible"' in r.text and "没有单位达到获奖等级" in r.text
    assert 'data-testid="warning-budget_not_paid"' in r.text and "¥100,000.00" in r.text
    assert session.query(RewardReport).count() == 0  # a review freezes nothing


def test_year_end_pays_the_whole_budget_freezes_and_downloads_in_chinese(client, session, world):
    build_usage(session, world)
    _lenient(session, world)
    _admin(client, session, world)
    r = _review(client, {"year": "2026", "rule_set": "lenient", "budget": "12345.67"})
    assert r.status_code == 200
    assert 'data-testid="paid-out"' in r.text and "¥12,345.67" in r.text
    assert "warning-budget_not_paid" not in r.text
    frozen = client.post(
        "/office/year-end/freeze",
        data={"year": "2026", "rule_set": "lenient", "version": "1", "budget": "12345.67", "csrf": csrf_of(r.text)},
        follow_redirects=False,
    )
    assert frozen.status_code == 303
    report = client.get(frozen.headers["location"], headers=ZH)
    assert report.status_code == 200 and 'data-testid="frozen"' in report.text
    rep = session.query(RewardReport).one()
    assert rep.total_reward_fen == 1_234_567 == sum(u["reward_fen"] for u in rep.results["units"])
    rep_id = rep.id
    session.rollback()  # end the read (on SQLite this session's transactions hold the write lock)
    html = client.get(f"/office/year-end/reports/{rep_id}/report.html").text
    assert "年度大型科研仪器开放共享评价与奖励报告" in html and "奖励金额（元）" in html and "12,345.67" in html
    assert "reward_fen" not in html and 'class="table-wrap"' in html
    wb = load_workbook(io.BytesIO(client.get(f"/office/year-end/reports/{rep_id}/report.xlsx").content))
    assert wb.sheetnames == ["概要", "单位", "仪器"]
    header = [c.value for c in wb["单位"][1]]
    total = sum(float(row[header.index("奖励金额（元）")].value) for row in wb["单位"].iter_rows(min_row=2))
    assert round(total, 2) == 12_345.67
    assert client.get("/office/year-end/reports/rwr_nope").status_code == 404
    gone = client.post(
        "/office/year-end/freeze",
        data={"year": "2026", "rule_set": "lenient", "version": "9", "budget": "", "csrf": csrf_of(r.text)},
        headers=ZH,
    )
    assert gone.status_code == 404 and "lenient" in gone.text  # a version that does not exist: said, not a 500
    english = client.get(f"/office/year-end/reports/{rep_id}", headers={"Accept-Language": "en"})
    assert "Year-end rewards 2026" in english.text and "Freeze this report" not in english.text


def test_year_end_form_errors_are_shown_by_their_fields(client, session, world):
    _admin(client, session, world)
    r = _review(client, {"year": "19", "rule_set": "nope", "budget": "abc"})
    assert r.status_code == 200
    assert "请填写 2000 至 2200 之间的年份" in r.text and "请选择规则集" in r.text and "请以元为单位填写预算" in r.text


def test_audit_log_filters_on_the_page_and_in_the_api(client, session, world):
    w = world
    _programme(session, w)  # programme.create and two voucher.issue rows by the admin
    _admin(client, session, w)
    everything = client.get("/office/audit", headers=ZH)
    assert (
        everything.status_code == 200 and "voucher.issue" in everything.text and "programme.create" in everything.text
    )
    issues = client.get("/office/audit", params={"action": "voucher.issue"}, headers=ZH).text
    assert issues.count("<code>voucher.issue</code>") == 2 and "<code>programme.create</code>" not in issues
    family = client.get("/office/audit", params={"action": "voucher."}, headers=ZH).text
    assert family.count("<code>voucher.issue</code>") == 2
    by_who = client.get("/office/audit", params={"who": "m1@t.cn", "action": "voucher.issue"}, headers=ZH).text
    assert "<code>voucher.issue</code>" not in by_who and "没有符合条件的记录" in by_who
    later = client.get("/office/audit", params={"start": "2200-01-01"}, headers=ZH).text
    assert "没有符合条件的记录" in later
    bad = client.get("/office/audit", params={"start": "yesterday"}, headers=ZH).text
    assert "请按 YYYY-MM-DD 填写日期" in bad

    api = client.get("/api/v1/audit", params={"action": "voucher.issue"}, headers=auth(w, "admin")).json()
    assert [x["action"] for x in api] == ["voucher.issue", "voucher.issue"]
    mine = client.get(
        "/api/v1/audit",
        params={"actor_user_id": w.admin.user_id, "entity": "voucher_programme"},
        headers=auth(w, "admin"),
    ).json()
    assert [x["action"] for x in mine] == ["programme.create"]
    none = client.get("/api/v1/audit", params={"since": "2200-01-01T00:00:00+08:00"}, headers=auth(w, "admin")).json()
    assert none == []
    paged = client.get(
        "/api/v1/audit", params={"action": "voucher.", "limit": 1, "offset": 1}, headers=auth(w, "admin")
    )
    assert len(paged.json()) == 1
    assert client.get("/api/v1/audit", headers=auth(w, "manager")).status_code == 403
