"""A lab manager corrects a closure on the hours page in zh-CN: the 编辑 link opens the closure form
prefilled, the title's typo is fixed and the end moved by an hour, and the list, the note and the
8-week preview show the closure as saved."""

from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from booking_api.accounts import User
from fixtures import factories
from instruments import catalogue
from instruments.actor import SYSTEM
from instruments.availability import AvailabilityException, ExceptionKind
from instruments.db import get_engine, utcnow
from instruments.units import OwnerUnit
from tests.world import next_workday

from .conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def closure(server) -> tuple[str, str, object]:
    """An instrument of the manager's unit with a closure whose title has a typo (维户 for 维护)."""
    day = next_workday(utcnow().astimezone(TZ).date(), 3)
    with Session(get_engine(server.db_url)) as s:
        manager = s.exec(select(User).where(User.email == server.users["manager"])).one()
        unit = s.get(OwnerUnit, manager.owner_unit_id)
        inst = factories.instrument(s, unit, "扫描电镜 SEM-编辑", "SEM")
        exc = catalogue.add_exception(
            s,
            SYSTEM,
            inst,
            AvailabilityException(
                instrument_id=inst.id,
                kind=ExceptionKind.closed,
                start=datetime.combine(day, time(8), TZ),
                end=datetime.combine(day, time(12), TZ),
                title="年度维户",
                reason="更换电子枪",
            ),
        )
        s.commit()
        return inst.id, exc.id, day


def test_a_lab_manager_fixes_a_closures_title_and_moves_its_end(page, server, closure):
    instrument_id, exception_id, day = closure
    page.goto("/language?lang=zh-CN&next=/login")
    sign_in(page, server.users["manager"])
    page.goto(f"/unit/instruments/{instrument_id}/hours")
    rows = page.get_by_test_id("exceptions")
    expect(rows).to_contain_text("年度维户")
    rows.get_by_role("link", name="编辑").click()

    expect(page).to_have_url(re.compile(rf"/hours/exceptions/{exception_id}#exception-form-box$"))
    form = page.get_by_test_id("exception-form")
    expect(page.locator("#exception-form-box summary")).to_have_text("编辑关闭或临时开放")
    expect(page.locator("#title")).to_have_value("年度维户")
    expect(page.locator("#reason")).to_have_value("更换电子枪")
    expect(page.locator("#exc-start")).to_have_value(f"{day}T08:00")
    expect(page.locator("#exc-end")).to_have_value(f"{day}T12:00")
    page.locator("#title").fill("年度维护")
    page.locator("#exc-end").fill(f"{day}T13:00")
    shot(page, "unit-hours-edit-closure-zh-CN")
    form.locator("button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/hours\?done=exception_updated$"))
    expect(page.get_by_test_id("note")).to_have_text("已保存。")
    expect(rows).to_contain_text("年度维护")
    expect(rows).not_to_contain_text("年度维户")
    expect(rows).to_contain_text(f"{day} 08:00–13:00 (Asia/Shanghai)")
    expect(page.locator("#exception-form-box summary")).to_have_text("添加关闭或临时开放")
    expect(page.locator("#preview .fc-event.closure").first).to_contain_text("已关闭：年度维护")
    shot(page, "unit-hours-edited-closure-zh-CN")
    with Session(get_engine(server.db_url)) as s:
        exc = s.get(AvailabilityException, exception_id)
        assert (exc.title, exc.end) == ("年度维护", datetime.combine(day, time(13), TZ))
    # the same edit page in English, by the switch
    page.goto(f"/language?lang=en&next=/unit/instruments/{instrument_id}/hours/exceptions/{exception_id}")
    expect(page.locator("#exception-form-box summary")).to_have_text("Edit the closure or extra opening")
    expect(page.locator("#title")).to_have_value("年度维护")
    expect(page.locator("#exc-end")).to_have_value(f"{day}T13:00")
    shot(page, "unit-hours-edit-closure-en")
