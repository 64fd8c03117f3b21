"""The lab manager's console in a real browser, in Chinese (issue 23, first scenario): the manager
publishes a new instrument, gives it weekday hours closed on public holidays (the 8-week preview
draws them), imports a maintenance .ics after its dry-run preview, and assigns an existing operator
to it; an enterprise member then books it operator-run through the booking form, and the public
instrument page labels the maintenance closure.

Days are taken relative to the real today (the next working days at least three days ahead), so
the test passes on any day."""

from __future__ import annotations

import re
from datetime import datetime, time
from urllib.parse import quote as urlquote
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from booking_api.accounts import User
from fixtures import factories
from instruments.db import get_engine, utcnow
from instruments.staff import Operator
from instruments.units import OwnerUnit
from scheduler.booking.bookings import Booking
from tests.world import next_workday

from .conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time

TZ = ZoneInfo("Asia/Shanghai")
NAME = "原子力显微镜 AFM-控制台"
OPERATOR = "赵工（现有操作员）"


@pytest.fixture(scope="module")
def existing_operator(server) -> str:
    """An operator of the manager's unit who runs none of its instruments yet."""
    with Session(get_engine(server.db_url)) as s:
        manager = s.exec(select(User).where(User.email == server.users["manager"])).one()
        unit = s.get(OwnerUnit, manager.owner_unit_id)
        op = factories.operator(s, unit, OPERATOR, [])
        s.commit()
        return op.id


def ics(day) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//labshare//browser test//ZH\r\n"
        "BEGIN:VEVENT\r\nUID:afm-maint@browser.example.cn\r\nSUMMARY:年度维护\r\n"
        f"DTSTART;TZID=Asia/Shanghai:{day:%Y%m%d}T080000\r\nDTEND;TZID=Asia/Shanghai:{day:%Y%m%d}T180000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def test_publish_hours_ics_operator_then_an_enterprise_books_it_operator_run(page, server, existing_operator):
    today = utcnow().astimezone(TZ).date()
    book_day = next_workday(today)
    maintenance_day = next_workday(book_day, 1)

    page.goto("/language?lang=zh-CN&next=/login")
    sign_in(page, server.users["manager"])
    page.goto("/unit/instruments")
    page.get_by_test_id("new-instrument").click()
    expect(page).to_have_url(re.compile(r"/unit/instruments/new$"))
    page.locator("#name").fill(NAME)
    page.locator("#category").fill("AFM")
    page.locator("#manufacturer").fill("Bruker")
    page.locator("#model").fill("Dimension Icon")
    page.locator("#original_value_fen").fill("2,600,000")
    page.locator("#fee_hour_external_fen").fill("400")
    page.locator("#fee_sample_external_fen").fill("120.50")
    expect(page.locator("#mode-operator_run")).to_be_checked()
    shot(page, "unit-instrument-form-zh-CN")
    page.get_by_test_id("save").click()

    # the hours page: no rules yet, the form open with weekdays 08:30–17:30, closed on holidays
    expect(page).to_have_url(re.compile(r"/unit/instruments/ins_\w+/hours\?done=created$"))
    instrument_id = re.search(r"/unit/instruments/(ins_\w+)/hours", page.url).group(1)
    expect(page.get_by_test_id("no-rules")).to_be_visible()
    for day in ("MO", "TU", "WE", "TH", "FR"):
        expect(page.locator(f"#day-{day}")).to_be_checked()
    expect(page.locator("#follows_holidays")).to_be_checked()
    page.get_by_test_id("rule-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("rules")).to_contain_text("08:30–17:30")
    expect(page.locator("#preview .fc-event.open").first).to_be_visible()
    expect(page.locator("#preview .fc-daygrid-day")).to_have_count(56)

    # the maintenance calendar: a dry run first, then confirmed
    page.locator("#file").set_input_files({"name": "maintenance.ics", "mimeType": "text/calendar", "buffer": ics(maintenance_day)})
    page.get_by_test_id("ics-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("dry-run")).to_be_visible()
    expect(page.get_by_test_id("to-create")).to_contain_text("年度维护")
    expect(page.get_by_test_id("to-create")).to_contain_text(f"{maintenance_day} 08:00–18:00 (Asia/Shanghai)")
    shot(page, "unit-ics-preview-zh-CN")
    page.get_by_test_id("confirm").click()
    expect(page).to_have_url(re.compile(r"/hours\?done=imported$"))
    expect(page.get_by_test_id("exceptions")).to_contain_text("年度维护")
    expect(page.locator("#preview .fc-event.closure").first).to_contain_text("已关闭：年度维护")
    shot(page, "unit-hours-zh-CN")

    # the existing operator is given the new instrument
    page.goto("/unit/operators")
    runs = page.get_by_test_id(f"runs-{existing_operator}")
    runs.locator(f"#run-{existing_operator}-{instrument_id}").check()
    runs.locator("button[type=submit]").click()
    expect(page.get_by_test_id("note")).to_be_visible()
    expect(page.locator(f"#run-{existing_operator}-{instrument_id}")).to_be_checked()
    shot(page, "unit-operators-zh-CN")

    page.goto("/unit/instruments")
    row = page.locator(f"tr[data-id='{instrument_id}']")
    expect(row).to_contain_text("¥400.00")
    expect(row).to_contain_text("¥120.50")
    shot(page, "unit-instruments-zh-CN")
    page.locator("header form[action='/logout'] button").click()

    # an enterprise member books it operator-run through the booking form
    sign_in(page, server.users["member"])
    expect(page).to_have_url(re.compile(r"/home$"))
    start = datetime.combine(book_day, time(10, 0), TZ)
    page.goto(
        f"/instruments/{instrument_id}/book?service_mode=operator_run&start={urlquote(start.isoformat())}&duration_minutes=60"
    )
    expect(page.get_by_test_id("start")).to_contain_text(f"{book_day} 10:00 (Asia/Shanghai)")
    page.get_by_test_id("book").click()
    expect(page).to_have_url(re.compile(r"/my/bookings/bkg_\w+\?done=booked$"))
    booking_id = re.search(r"/my/bookings/(bkg_\w+)", page.url).group(1)
    with Session(get_engine(server.db_url)) as s:
        booking = s.get(Booking, booking_id)
        assert booking.service_mode == "operator_run" and booking.operator_id == existing_operator
        assert s.get(Operator, existing_operator).name == OPERATOR

    # the public page labels the maintenance closure
    page.goto(f"/instruments/{instrument_id}?week={maintenance_day}")
    day = page.locator(f'section[data-day="{maintenance_day}"]')
    expect(day).to_contain_text("已关闭：年度维护")
