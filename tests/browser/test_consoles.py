"""The staff consoles' front doors in a real browser: a lab manager and the programme office land
on their console from /home, see every section, and another role is turned away with a page that
names the account to use. Screenshots: unit-console-zh-CN, office-console-zh-CN, console-refused-zh-CN."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from booking_api.web.consoles import SECTIONS

from .conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time


@pytest.mark.parametrize(("who", "role", "door", "heading"), [
    ("manager", "lab_manager", "/unit", "实验室管理员控制台"),
    ("admin", "programme_admin", "/office", "创新券管理办公室"),
])  # fmt: skip
def test_staff_land_on_their_console_and_reach_every_section(page, server, who, role, door, heading):
    sign_in(page, server.users[who])
    page.goto("/home")
    page.locator("main").get_by_role("link", name=heading).click()
    expect(page).to_have_url(f"{server.url}{door}")
    expect(page.locator("h1")).to_have_text(heading)
    sections = page.locator(".console-sections article h2 a")
    expect(sections).to_have_count(len(SECTIONS[role]))
    nav = page.get_by_role("navigation", name="控制台")
    for s in SECTIONS[role]:
        expect(nav.locator(f'a[href="{s.path}"]')).to_be_visible()
    shot(page, f"{door.strip('/')}-console-zh-CN")


def test_an_enterprise_member_is_turned_away_from_the_consoles(page, server):
    sign_in(page, server.users["member"])
    for door in ("/unit", "/office/statistics"):
        response = page.goto(door)
        assert response.status == 403
        expect(page.get_by_role("alert")).to_contain_text("这些页面供")
    shot(page, "console-refused-zh-CN")
