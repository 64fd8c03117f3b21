"""Freed time offered, in a real browser: another enterprise's booking is cancelled, the offers
job offers its time to the member's waiting request; the request's page and the inbox show the
offer with Accept / Decline (Chinese, and the inbox in English), and accepting books it.

The data is this module's own, relative to the real now: an instrument open 08:00–20:00 every day,
self-operated use by qualified members, the cancelled booking tomorrow 10:00–12:00."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def offered(server) -> dict:
    from sqlmodel import Session

    from fixtures import factories
    from instruments.actor import SYSTEM, Role
    from instruments.availability import OpeningRule
    from instruments.catalogue import add_opening_rule
    from instruments.db import get_engine, utcnow
    from scheduler import booking_actions as actions
    from scheduler.booking.booking_requests import BookingRequest, submit_request
    from scheduler.time_offers import run_offer_pass

    engine = get_engine(server.db_url)
    today = datetime.now(TZ).date()
    tomorrow = today + timedelta(days=1)
    with Session(engine) as s:
        unit = factories.unit(s, "天津理工大学分析测试中心")
        inst = factories.instrument(
            s, unit, "空出时段测试衍射仪", "XRD", hours=(), service_modes=["self_operated"], fee_hour_external_fen=20000,
            policy={"slot_minutes": 30, "min_minutes": 30, "max_minutes": 240, "lead_minutes": {"self_operated": 0}},
        )
        add_opening_rule(s, SYSTEM, inst, OpeningRule(rrule="FREQ=DAILY", start_time=time(8), end_time=time(20),
                                                      valid_from=date(2020, 1, 1), follows_holidays=False))
        actors = {}
        for key, seq in (("waiting", 71), ("other", 72)):
            ent = factories.enterprise(s, f"空出时段{key}企业", seq)
            user, _, actor = factories.user(s, Role.enterprise_member, f"孙{key}", f"offers-{key}@browser.example.cn",
                                            password=PASSWORD, enterprise_id=ent.id)
            factories.qualify(s, user.id, inst, today - timedelta(days=30))
            actors[key] = actor
        s.commit()
        start = datetime.combine(tomorrow, time(10), TZ)
        booking = actions.book(s, actors["other"], actions.BookingInput(inst.id, start, start + timedelta(hours=2), "self_operated"))
        req = submit_request(s, actors["waiting"], BookingRequest(
            enterprise_id="", instrument_id=inst.id, service_mode="self_operated", duration_minutes=120,
            earliest_start=datetime.combine(tomorrow, time(8), TZ), deadline=datetime.combine(tomorrow, time(20), TZ)))
        s.commit()
        actions.cancel(s, SYSTEM, booking.id, "仪器维护")
        s.commit()
        request_id = req.id
    done = run_offer_pass(engine, utcnow())
    assert done["offered"] == 1, done
    return {"request_id": request_id, "email": "offers-waiting@browser.example.cn"}


def test_the_offer_on_the_request_page_and_in_the_inbox_then_accepted(page, offered):
    sign_in(page, offered["email"])
    page.goto(f"/my/requests/{offered['request_id']}")
    expect(page.get_by_text("为此申请提供的空出时段")).to_be_visible()
    expect(page.get_by_test_id("offer-status")).to_have_text("状态：待答复")
    shot(page, "offers-request-zh")
    page.goto("/my/notifications")
    expect(page.get_by_test_id("accept-offer")).to_be_visible()
    shot(page, "offers-inbox-zh")
    page.goto("/language?lang=en&next=/my/notifications")
    expect(page.get_by_test_id("accept-offer")).to_have_text("Accept and book")
    shot(page, "offers-inbox-en")
    page.goto("/language?lang=zh-CN&next=/my/notifications")
    page.goto(f"/my/requests/{offered['request_id']}")
    page.get_by_test_id("accept-offer").click()
    expect(page.get_by_test_id("offer-status")).to_have_text("状态：已接受：已预约")
    shot(page, "offers-accepted-zh")
