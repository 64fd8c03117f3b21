"""Steps 4–7 of the enterprise's journey in a real browser, in Chinese and English: submit a
request through the form (keyboard only), an allocation round places it (run here through the
scheduler service, as the programme office would), the inbox names the instrument and the local
time and leads to the request showing "placed" and its booking, the vouchers page shows the
balance, and a complaint is filed on the booking. Each page: a screenshot and an axe check.

The data is this module's own, built relative to the real now: an instrument open 08:00–20:00
every day of the year with no holiday closure, and self-operated use (no operator, no notice) by
a qualified member, so the round finds time tomorrow whatever today is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from booking_api.web.i18n import yuan

from .conftest import PASSWORD, shot, sign_in
from .test_signin_pages import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time

TZ = ZoneInfo("Asia/Shanghai")
INSTRUMENT = "全天开放粉末衍射仪"
WORDS = {
    "zh-CN": {
        "pending": "等待下一轮分配",
        "placed": "已安排（待实验室确认）",
        "see": "查看需求",
        "complaint": "操作员迟到一小时",
        "open": "处理中",
        "submit": "提交需求",
    },
    "en": {
        "pending": "waiting for the next round",
        "placed": "placed (awaiting the lab's confirmation)",
        "see": "See the request",
        "complaint": "The operator came an hour late",
        "open": "open",
        "submit": "Submit the request",
    },
}


def _axe(page, path: str) -> list[str]:
    """The sign-in pages' accessibility check on ``path`` (this journey names its own screenshots)."""
    page.goto(path)
    return axe_violations(page, path)


@dataclass
class Member:
    email: str
    instrument_id: str
    voucher_code: str


@pytest.fixture(scope="module")
def instrument_id(server) -> str:
    from sqlmodel import Session

    from fixtures import factories
    from instruments.actor import SYSTEM
    from instruments.availability import OpeningRule
    from instruments.catalogue import add_opening_rule
    from instruments.db import get_engine

    with Session(get_engine(server.db_url)) as s:
        unit = factories.unit(s, "天津大学分析测试中心")
        inst = factories.instrument(
            s,
            unit,
            INSTRUMENT,
            "XRD",
            hours=(),
            service_modes=["self_operated"],
            fee_hour_external_fen=20000,
            policy={"slot_minutes": 30, "min_minutes": 30, "max_minutes": 240, "lead_minutes": {"self_operated": 0}},
        )
        rule = OpeningRule(
            rrule="FREQ=DAILY",
            start_time=time(8),
            end_time=time(20),
            valid_from=date(2020, 1, 1),
            follows_holidays=False,
        )
        add_opening_rule(s, SYSTEM, inst, rule)
        s.commit()
        return inst.id


def _member(server, instrument_id: str, lang: str, seq: int) -> Member:
    """A new enterprise of its own (so each language's inbox is its own), a qualified member, and
    a claimed voucher of ¥500.00."""
    from sqlmodel import Session

    from fixtures import factories
    from fixtures.voucher_presets import PRESETS
    from instruments.actor import SYSTEM, Role
    from instruments.db import get_engine
    from instruments.inventory import Instrument
    from scheduler.money import vouchers as v

    today = datetime.now(TZ).date()
    with Session(get_engine(server.db_url)) as s:
        ent = factories.enterprise(s, f"旅程测试企业 {lang}", seq)
        email = f"journey-{lang.lower()}@browser.example.cn"
        user, _, actor = factories.user(
            s, Role.enterprise_member, f"赵{lang}", email, password=PASSWORD, enterprise_id=ent.id
        )
        factories.qualify(s, user.id, s.get(Instrument, instrument_id), today - timedelta(days=30))
        prog = v.create_programme(
            s,
            SYSTEM,
            v.VoucherProgramme(
                name=f"{today.year} 旅程创新券",
                year=today.year,
                total_budget_fen=1_000_000,
                rules=PRESETS["shandong_jinan"].model_dump(mode="json"),
            ),
        )
        voucher = v.issue_voucher(s, SYSTEM, prog.id, ent.id, "testing", 50_000)
        v.claim(s, actor, voucher.code)
        s.commit()
        return Member(email, instrument_id, voucher.code)


def _round(server) -> None:
    """The programme office runs a round now, with deterministic solver limits."""
    from instruments.actor import SYSTEM
    from instruments.db import get_engine
    from scheduler.allocation.rounds import run_round

    run_round(get_engine(server.db_url), SYSTEM, time_limit=5, workers=1, deterministic_time=2.0)


def _voucher(server, code: str):
    from sqlmodel import Session, select

    from instruments.db import get_engine
    from scheduler.money.vouchers import Voucher

    with Session(get_engine(server.db_url)) as s:
        return s.exec(select(Voucher).where(Voucher.code == code)).one()


def _booking_of(server, request_id: str):
    from sqlmodel import Session, select

    from instruments.db import get_engine
    from scheduler.booking.bookings import Booking

    with Session(get_engine(server.db_url)) as s:
        return s.exec(select(Booking).where(Booking.request_id == request_id)).one()


@pytest.mark.parametrize(("lang", "seq"), [("zh-CN", 41), ("en", 42)])
def test_request_round_inbox_booking_vouchers_complaint(page, server, instrument_id, lang, seq):
    words = WORDS[lang]
    me = _member(server, instrument_id, lang, seq)
    page.goto(f"/language?lang={lang}&next=/login")
    sign_in(page, me.email)
    expect(page.get_by_test_id("who")).to_contain_text(f"赵{lang}")
    problems = {"/my/requests/new": _axe(page, "/my/requests/new")}
    shot(page, f"request-form-{lang}")

    # the form, by keyboard only: fields filled without the mouse, submitted with Enter on the button
    tomorrow = datetime.now(TZ).date() + timedelta(days=1)
    page.get_by_label(re.compile("^(仪器|Instrument)$")).select_option(instrument_id)
    page.locator("#service_mode").select_option("self_operated")
    page.locator("#earliest_start").fill(f"{tomorrow:%Y-%m-%d}T00:00")
    page.locator("#deadline").fill(f"{tomorrow + timedelta(days=2):%Y-%m-%d}T00:00")
    page.locator("#duration_minutes").fill("60")
    page.locator("#voucher").select_option(me.voucher_code)
    page.locator("#notes").focus()
    page.keyboard.type("XRD")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=words["submit"])).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/my/requests/req_\w+$"))
    request_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("status")).to_have_text(words["pending"])
    expect(page.get_by_test_id("suggestions")).to_contain_text("¥200.00")  # 1 h × ¥200.00, before vouchers
    shot(page, f"request-pending-{lang}")

    _round(server)
    booking = _booking_of(server, request_id)
    local = f"{booking.start.astimezone(TZ):%Y-%m-%d %H:%M}"

    page.goto("/my/notifications")
    # two unread: the voucher issued to the enterprise (in the set-up) and the round's outcome
    expect(page.get_by_test_id("unread-count")).to_have_text(re.compile(r"^2\b"))
    note = page.locator("article", has_text=INSTRUMENT)
    expect(note).to_contain_text(local)
    expect(note).to_contain_text("(Asia/Shanghai)")
    shot(page, f"notifications-{lang}")
    problems["/my/notifications"] = _axe(page, "/my/notifications")
    page.locator("article", has_text=INSTRUMENT).get_by_role("link", name=words["see"]).first.click()
    expect(page).to_have_url(re.compile(rf"/my/requests/{request_id}$"))
    expect(page.get_by_test_id("status")).to_have_text(words["placed"])
    expect(page.get_by_test_id("booking-link")).to_have_attribute("href", f"/my/bookings/{booking.id}")
    expect(page.get_by_test_id("outcome")).to_contain_text(
        f"{INSTRUMENT}，{local}" if lang == "zh-CN" else f"{INSTRUMENT}, {local}"
    )
    shot(page, f"request-{lang}")
    problems[f"/my/requests/{request_id}"] = _axe(page, f"/my/requests/{request_id}")

    page.goto("/my/requests")
    expect(page.locator(f"tr[data-request='{request_id}']")).to_contain_text(words["placed"])
    shot(page, f"requests-{lang}")
    problems["/my/requests"] = _axe(page, "/my/requests")

    page.goto("/my/vouchers")
    card = page.locator(f"article[data-voucher='{me.voucher_code}']")
    held = _voucher(server, me.voucher_code)
    assert held.booking_id == booking.id and held.reserved_fen > 0  # the round reserved the chosen voucher
    expect(card.get_by_test_id("balance")).to_have_text(yuan(50_000 - held.reserved_fen))
    expect(card.get_by_test_id("face")).to_have_text("¥500.00")
    shot(page, f"vouchers-{lang}")
    problems["/my/vouchers"] = _axe(page, "/my/vouchers")

    page.goto(f"/my/complaints/new?booking_id={booking.id}")
    expect(page.locator("#booking_id")).to_have_value(booking.id)
    problems["/my/complaints/new"] = _axe(page, f"/my/complaints/new?booking_id={booking.id}")
    page.locator("#text").fill(words["complaint"])
    page.locator("#text").press("Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/my/complaints$"))
    row = page.locator("tr", has_text=words["complaint"])
    expect(row).to_contain_text(INSTRUMENT)
    expect(row.get_by_test_id("complaint-status")).to_contain_text(words["open"])
    shot(page, f"complaints-{lang}")
    problems["/my/complaints"] = _axe(page, "/my/complaints")
    assert all(v == [] for v in problems.values()), problems
