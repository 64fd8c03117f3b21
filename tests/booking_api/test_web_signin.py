"""Web sign-in: passwords, sessions in a cookie, CSRF on every form, throttling, logout, password
change and reset, the account pages, language, and /docs from local assets."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from booking_api.accounts import ApiToken, User, set_password
from booking_api.browser_sessions import BrowserSession
from booking_api.web.i18n import local_time, negotiate, yuan
from instruments.actor import SYSTEM
from instruments.audit import AuditLog

from .conftest import auth

PASSWORD = "correct-horse-battery"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, email: str, password: str = PASSWORD, next_path: str = "", lang: str | None = None):
    headers = {"Accept-Language": lang} if lang else {}
    form = client.get("/login", headers=headers)
    return client.post(
        "/login",
        data={"username": email, "password": password, "csrf": csrf_of(form.text), "next": next_path},
        headers=headers,
        follow_redirects=False,
    )


@pytest.fixture
def member(world, session):
    user = session.exec(select(User).where(User.email == "a@t.cn")).first() or session.get(
        User, world.actors["member_a"].user_id
    )
    set_password(session, SYSTEM, user, PASSWORD)
    session.commit()
    return user


def test_sign_in_sets_a_safe_session_cookie_and_names_the_user(client, member, session):
    r = sign_in(client, member.email.upper(), next_path="/account/tokens")
    assert r.status_code == 303 and r.headers["location"] == "/account/tokens"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("labshare_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # plain http in tests; https (or LABSHARE_COOKIE_SECURE) marks it Secure
    home = client.get("/home")
    assert home.status_code == 200 and member.name in home.text and '<html lang="zh-CN">' in home.text
    row = session.exec(select(BrowserSession).where(BrowserSession.user_id == member.id)).one()
    assert row.expires_at > row.created_at and row.token_hash not in cookie  # only the hash is stored
    assert session.exec(select(AuditLog).where(AuditLog.action == "session.open")).first() is not None


def test_wrong_password_and_unknown_user_get_the_same_message(client, member):
    for lang, message in (("zh-CN", "邮箱或密码错误。"), ("en", "Wrong e-mail or password.")):
        wrong = sign_in(client, member.email, "not-the-password", lang=lang)
        unknown = sign_in(client, "nobody@t.cn", "whatever-password", lang=lang)
        assert wrong.status_code == unknown.status_code == 400
        assert message in wrong.text and message in unknown.text
    assert client.get("/home", follow_redirects=False).status_code == 303


def test_a_page_behind_sign_in_sends_to_login_with_next(client):
    r = client.get("/account/tokens?x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account/tokens%3Fx%3D1"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_next_never_leaves_the_site(client, member, target):
    r = sign_in(client, member.email, next_path=target)
    assert r.status_code == 303 and r.headers["location"] == "/home"


def test_every_form_needs_its_csrf_token(client, member):
    client.get("/login")
    r = client.post("/login", data={"username": member.email, "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403 and "labshare" in r.text
    assert sign_in(client, member.email).status_code == 303
    assert client.post("/account/tokens", data={"label": "x", "csrf": "forged"}).status_code == 403
    assert client.post("/logout", data={"csrf": ""}).status_code == 403
    assert client.get("/home").status_code == 200  # still signed in
    page = client.get("/account/tokens")
    htmx = client.post("/account/tokens", data={"label": "hx"}, headers={"X-CSRF-Token": csrf_of(page.text)})
    assert htmx.status_code == 200 and "lsk_" in htmx.text  # htmx calls send the token in a header


def test_failed_sign_ins_are_throttled_per_username(client, member):
    for _ in range(5):
        assert sign_in(client, member.email, "wrong-password-x").status_code == 400
    r = sign_in(client, member.email, PASSWORD, lang="en")  # even the right password waits
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text and int(r.headers["Retry-After"]) >= 1


def test_logout_ends_the_session_on_the_server(client, member, session):
    sign_in(client, member.email)
    stolen = client.cookies.get("labshare_session")
    home = client.get("/home")
    r = client.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    client.cookies.set("labshare_session", stolen)
    assert client.get("/home", follow_redirects=False).status_code == 303


def test_password_change_revokes_other_sessions_and_keeps_this_one(client, member, db):
    from fastapi.testclient import TestClient

    from booking_api.app import create_app

    sign_in(client, member.email)
    with TestClient(create_app(db.url)) as other:
        sign_in(other, member.email)
        assert other.get("/home").status_code == 200
        page = client.get("/account/password")
        bad = client.post(
            "/account/password",
            data={"current": PASSWORD, "new": "short", "confirm": "short", "csrf": csrf_of(page.text)},
        )
        assert bad.status_code == 400 and "密码至少需要 10 个字符。" in bad.text
        r = client.post(
            "/account/password",
            data={"current": PASSWORD, "new": "a-new-long-password", "confirm": "a-new-long-password", "csrf": csrf_of(page.text)},
        )
        assert r.status_code == 200 and "密码已修改" in r.text
        assert other.get("/home", follow_redirects=False).status_code == 303
    assert client.get("/home").status_code == 200
    client.cookies.clear()
    assert sign_in(client, member.email).status_code == 400
    assert sign_in(client, member.email, "a-new-long-password").status_code == 303


def test_tokens_page_creates_shows_once_and_revokes(client, member, session):
    sign_in(client, member.email)
    page = client.get("/account/tokens")
    r = client.post("/account/tokens", data={"label": "lims", "csrf": csrf_of(page.text)})
    secret = re.search(r"(lsk_[\w-]+)", r.text).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json()["id"] == member.id
    assert secret not in client.get("/account/tokens").text
    tok = session.exec(select(ApiToken).where(ApiToken.label == "lims")).one()
    session.commit()  # end the test's read (SQLite: an open transaction blocks the server's write)
    r = client.post(f"/account/tokens/{tok.id}/revoke", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_admin_creates_a_user_with_a_password_and_resets_it(client, world, session):
    body = {"name": "Li", "email": "li@t.cn", "role": "enterprise_member", "enterprise_id": world.ent_a.id}
    r = client.post("/api/v1/users", json=body | {"password": "first-password-1"}, headers=auth(world, "admin"))
    assert r.status_code == 201 and "password" not in r.json() and "password_hash" not in r.json()
    assert sign_in(client, "li@t.cn", "first-password-1").status_code == 303
    uid = r.json()["id"]
    short = client.post(f"/api/v1/users/{uid}/password", json={"password": "x"}, headers=auth(world, "admin"))
    assert short.status_code == 422
    denied = client.post(f"/api/v1/users/{uid}/password", json={"password": "y" * 12}, headers=auth(world, "member_a"))
    assert denied.status_code == 403
    ok = client.post(f"/api/v1/users/{uid}/password", json={"password": "second-password-2"}, headers=auth(world, "admin"))
    assert ok.status_code == 204
    assert client.get("/home", follow_redirects=False).status_code == 303  # the reset ended the session
    assert sign_in(client, "li@t.cn", "second-password-2").status_code == 303
    actions = [a.action for a in session.exec(select(AuditLog).where(AuditLog.entity_id == uid)).all()]
    assert actions.count("user.password") == 2 and "session.revoke_all" in actions


def test_language_default_accept_language_and_switch(client):
    assert '<html lang="zh-CN">' in client.get("/login").text
    en = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in en.text and ">中文<" in en.text
    r = client.get("/language?lang=en&next=/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    page = client.get("/login")
    assert '<html lang="en">' in page.text and "Sign in" in page.text
    assert client.get("/language?lang=en&next=https://evil.example", follow_redirects=False).headers["location"] == "/"


def test_negotiation_and_formats():
    from datetime import UTC, datetime

    assert negotiate(None, None) == "zh-CN"
    assert negotiate(None, "fr, en;q=0.5, zh;q=0.4") == "en"
    assert negotiate("zh-CN", "en") == "zh-CN"
    assert negotiate("klingon", "en") == "en"
    assert yuan(123450) == "¥1,234.50" and yuan(5) == "¥0.05" and yuan(-1200) == "-¥12.00"
    assert local_time(datetime(2026, 12, 7, 1, 0, tzinfo=UTC), "Asia/Shanghai") == "2026-12-07 09:00 (Asia/Shanghai)"
    with pytest.raises(ValueError):
        local_time(datetime(2026, 12, 7, 1, 0), "Asia/Shanghai")


def test_docs_and_redoc_load_only_local_assets(client):
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        urls = re.findall(r'(?:src|href)=["\']([^"\']+)', html)
        assert urls and all(u.startswith("/") for u in urls), urls
        assert "cdn" not in html and "fonts.googleapis" not in html
        for u in urls:
            assert client.get(u).status_code == 200, u
