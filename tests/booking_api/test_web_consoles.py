"""The staff consoles' doors: every page under /unit is a lab manager's and every page under
/office the programme office's; anyone else signed in gets a 403 page that names the account
to use, and a signed-out visitor is sent to sign in. The pages are found from the app's routes,
so a console page added later is covered without being listed here."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

import booking_api.web as web
from booking_api.accounts import User, set_password
from instruments.actor import SYSTEM

from .test_web_signin import PASSWORD, sign_in

OWNER = {"/unit": "manager", "/office": "admin"}


def console_pages() -> list[str]:
    """The GET pages of both consoles that take no path parameter."""
    return sorted(
        r.path
        for router in web.ROUTERS
        for r in router.routes
        if isinstance(r, APIRoute)
        and "GET" in r.methods
        and "{" not in r.path
        and any(r.path == p or r.path.startswith(p + "/") for p in OWNER)
    )


def _sign_in_as(client, session, actor) -> None:
    user = session.get(User, actor.user_id)
    set_password(session, SYSTEM, user, PASSWORD)
    session.commit()
    assert sign_in(client, user.email).status_code == 303


def test_both_consoles_have_a_front_door_and_every_section_in_the_nav(client):
    pages = console_pages()
    assert {"/unit", "/office"} <= set(pages)


@pytest.mark.parametrize("who", ["member_a", "manager", "admin", "operator"])
def test_each_console_page_opens_for_its_role_and_refuses_the_others(client, world, session, who):
    _sign_in_as(client, session, getattr(world, who))
    for path in console_pages():
        owner = next(role for prefix, role in OWNER.items() if path == prefix or path.startswith(prefix + "/"))
        r = client.get(path, headers={"Accept-Language": "zh-CN"}, follow_redirects=False)
        if who == owner:
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
            assert 'class="container console-nav"' in r.text, path
        else:
            assert r.status_code == 403, (who, path, r.status_code)
            assert "这些页面供" in r.text, path


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for path in console_pages():
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path


def test_the_lab_managers_console_lists_its_sections_in_chinese(client, world, session):
    _sign_in_as(client, session, world.manager)
    r = client.get("/unit", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 200
    for word in ("实验室管理员控制台", "仪器", "操作员", "预约", "公开主页"):
        assert word in r.text
    r = client.get("/unit", headers={"Accept-Language": "en"})
    assert "Lab manager&#39;s console" in r.text or "Lab manager's console" in r.text


def test_a_staff_members_home_leads_to_their_console(client, world, session):
    _sign_in_as(client, session, world.admin)
    r = client.get("/home", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 200
    assert 'href="/office"' in r.text and 'href="/office/statistics"' in r.text and 'href="/unit"' not in r.text
