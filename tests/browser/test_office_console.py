"""The programme office's statistics, year-end and audit pages in a real browser, on the demo's own
data (a copy of the run's shared demo, ``fixtures.demo.build_demo`` for a fixed day — see
``tests/shared_demo.py`` — served by a server of this module's own, so the other browser tests keep
their small database): the statistics show issued, used and redeemed amounts and a CSV download
arrives; a year-end run with a budget pays it out to the fen (the page says so), is frozen, and its
printable report opens in Chinese; the audit log filters. Screenshots in zh-CN:
office-statistics-zh-CN, office-year-end-zh-CN, office-year-end-report-zh-CN, office-audit-zh-CN."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.shared_demo import copy_demo

from .conftest import PASSWORD, Server, _free_port, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time


@pytest.fixture(scope="session")  # started once however the browser tests are ordered
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import uvicorn
    from sqlmodel import Session, select

    from booking_api.accounts import User, set_password
    from booking_api.app import create_app
    from instruments.actor import SYSTEM
    from instruments.db import get_engine

    db_url = copy_demo(tmp_path_factory, tmp_path_factory.mktemp("office"))  # written to: a copy
    with Session(get_engine(db_url)) as s:
        admin = s.exec(select(User).where(User.email == "admin@labshare.example.cn")).one()
        set_password(s, SYSTEM, admin, PASSWORD)
        s.commit()
    port = _free_port()
    config = uvicorn.Config(
        create_app(db_url, run_jobs=False, rate_limits=None), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo server did not start")
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", db_url, {"admin": "admin@labshare.example.cn"})
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser_context_args(browser_context_args: dict, demo_server: Server) -> dict:
    return {**browser_context_args, "base_url": demo_server.url, "accept_downloads": True}


@pytest.fixture
def outside_requests(page, demo_server: Server) -> Iterator[list[str]]:
    """As the conftest's, for this module's server."""
    own = urlsplit(demo_server.url).netloc
    seen: list[str] = []

    def watch(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("data", "blob", "about") and parts.netloc != own:
            seen.append(request.url)

    page.on("request", watch)
    yield seen


def test_statistics_show_issued_used_redeemed_and_a_download_arrives(page, demo_server):
    sign_in(page, demo_server.users["admin"])
    page.goto("/office/statistics")
    expect(page.locator("h1")).to_have_text("创新券统计")
    for testid in ("issued", "used", "redeemed"):
        expect(page.get_by_test_id(testid)).to_contain_text("¥")
    assert page.get_by_test_id("issued").inner_text() != "¥0.00"
    assert page.get_by_test_id("redeemed").inner_text() != "¥0.00"
    page.wait_for_function("document.querySelector('#chart-months').width > 0")
    wide = page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    assert not wide, "the statistics page overflows sideways"
    shot(page, "office-statistics-zh-CN")
    with page.expect_download() as got:
        page.get_by_test_id("export-csv").click()
    text = open(got.value.path(), encoding="utf-8-sig").read()
    assert "已发放" in text and "金额（元）" in text and "amount_fen" not in text


def test_year_end_pays_out_the_budget_freezes_and_the_report_opens(page, demo_server):
    sign_in(page, demo_server.users["admin"])
    page.goto("/office/year-end")
    page.fill("input[name=year]", "2026")
    page.select_option("select[name=rule_set]", "national")
    page.fill("input[name=budget]", "1000000")
    page.get_by_role("button", name="评价并审阅").click()
    expect(page.get_by_test_id("paid-out")).to_contain_text("¥1,000,000.00")
    expect(page.get_by_test_id("total-reward")).to_have_text("¥1,000,000.00")
    rewards = [t.replace("¥", "").replace(",", "") for t in page.get_by_test_id("reward").all_inner_texts()]
    assert round(sum(float(r) for r in rewards), 2) == 1_000_000.00
    expect(page.get_by_test_id("warning-poor_units")).to_be_visible()  # the quiet unit, named
    shot(page, "office-year-end-zh-CN")
    page.get_by_role("button", name="固化此报告").click()
    expect(page.get_by_test_id("frozen")).to_be_visible()
    with page.context.expect_page() as opened:
        page.get_by_test_id("report-html").click()
    report = opened.value
    report.wait_for_load_state()
    expect(report.locator("h1")).to_contain_text("年度大型科研仪器开放共享评价与奖励报告")
    expect(report.locator("body")).to_contain_text("¥1,000,000.00")
    shot(report, "office-year-end-report-zh-CN")
    report.close()


def test_audit_log_filters_by_action(page, demo_server):
    sign_in(page, demo_server.users["admin"])
    page.goto("/office/audit")
    page.select_option("select[name=action]", "batch.paid")
    page.get_by_role("button", name="筛选").click()
    rows = page.get_by_test_id("audit").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("batch.paid")
    page.goto("/office/audit")
    shot(page, "office-audit-zh-CN")
