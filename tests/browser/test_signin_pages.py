"""Sign-in and the account pages in a real browser, in Chinese and English; /docs and /redoc
render from local assets; an axe check finds no serious accessibility violation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one chromium at a time


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_sign_in_names_the_user_and_enterprise(page, server, lang):
    page.goto("/login")
    if lang == "en":
        page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    shot(page, f"login-{lang}")
    sign_in(page, server.users["member"])
    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.get_by_test_id("who")).to_have_text("王芳 · 天津云析科技有限公司")
    expect(page.get_by_test_id("role")).to_have_text("企业用户" if lang == "zh-CN" else "Enterprise member")
    expect(page.locator("h1")).to_have_text("欢迎，王芳" if lang == "zh-CN" else "Welcome, 王芳")
    shot(page, f"home-{lang}")


@pytest.mark.parametrize(("lang", "message"), [("zh-CN", "邮箱或密码错误。"), ("en", "Wrong e-mail or password.")])
def test_wrong_password_says_so(page, server, lang, message):
    page.goto(f"/language?lang={lang}&next=/login")
    sign_in(page, server.users["manager"], "not-the-password")
    expect(page.get_by_test_id("error")).to_have_text(message)
    expect(page).to_have_url(re.compile(r"/login$"))
    shot(page, f"login-error-{lang}")


def test_language_switch_is_remembered(page, server):
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/login")  # a new load: the cookie remembers
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_a_page_behind_sign_in_redirects_and_comes_back(page, server):
    page.goto("/account/tokens")
    expect(page).to_have_url(re.compile(r"/login\?next=/account/tokens$"))
    page.fill("input[name=username]", server.users["member"])
    page.fill("input[name=password]", PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/account/tokens$"))


def test_logout(page, server):
    sign_in(page, server.users["admin"])
    expect(page.get_by_test_id("who")).to_have_text("平台管理员")
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/home")
    expect(page).to_have_url(re.compile(r"/login\?next=/home$"))


def test_password_change(page, server):
    email = server.new_user("pwchange")
    sign_in(page, email)
    page.goto("/account/password")
    shot(page, "password-zh-CN")
    page.get_by_label("当前密码").fill(PASSWORD)
    page.get_by_label("新密码", exact=True).fill("a-brand-new-password")
    page.get_by_label("再次输入新密码").fill("a-brand-new-password")
    page.locator("main button[type=submit]").click()
    expect(page.get_by_test_id("done")).to_contain_text("密码已修改")
    page.get_by_role("button", name="退出登录").click()
    sign_in(page, email, PASSWORD)
    expect(page.get_by_test_id("error")).to_be_visible()
    sign_in(page, email, "a-brand-new-password")
    expect(page).to_have_url(re.compile(r"/home$"))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_tokens_create_and_revoke(page, server, lang):
    email = server.new_user(f"tokens-{lang.lower()}")
    page.goto(f"/language?lang={lang}&next=/login")
    sign_in(page, email)
    page.goto("/account/tokens")
    page.get_by_label("标签（令牌的用途）" if lang == "zh-CN" else "Label (what the token is for)").fill("my-lims")
    page.get_by_role("button", name="创建令牌" if lang == "zh-CN" else "Create a token").click()
    secret = page.get_by_test_id("secret").inner_text()
    assert secret.startswith("lsk_")
    shot(page, f"tokens-{lang}")
    me = page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.ok and me.json()["email"] == email
    row = page.locator("tr", has_text="my-lims")
    row.get_by_role("button").click()
    expect(page.locator("tr", has_text="my-lims")).to_contain_text("已吊销" if lang == "zh-CN" else "revoked")
    assert page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status == 401


def test_docs_and_redoc_render_without_internet(page, server):
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("labshare", timeout=20_000)
    shot(page, "docs", full_page=False)
    page.goto("/redoc")
    expect(page.locator("h1").first).to_contain_text("labshare", timeout=20_000)
    shot(page, "redoc", full_page=False)


AXE = "/static/vendor/axe-core/axe.min.js"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_no_serious_accessibility_violations(page, server, lang):
    page.goto(f"/language?lang={lang}&next=/login")
    found = {"/login": _axe(page, "/login", lang)}
    sign_in(page, server.users["member"])
    for path in ("/home", "/account/password", "/account/tokens"):
        found[path] = _axe(page, path, lang)
    assert all(v == [] for v in found.values()), found


def _axe(page, path: str, lang: str, wait_for: str | None = None) -> list[str]:
    """Labels on every visible input, then axe-core's serious and critical violations; a screenshot
    of each page in each language on the way (after ``wait_for`` shows, for pages that load more)."""
    page.goto(path)
    if wait_for:
        expect(page.locator(wait_for).first).to_be_visible(timeout=10_000)
    shot(page, f"page{path.replace('/', '-')}-{lang}")
    return axe_violations(page, path)


def axe_violations(page, path: str) -> list[str]:
    """On the page as it is: labels on every visible input, then axe-core's serious and critical
    violations."""
    for inp in page.locator("input:not([type=hidden]):not([hidden])").all():
        ident = inp.get_attribute("id")
        assert ident and page.locator(f"label[for='{ident}']").count() == 1, f"{path}: an input without a label"
    page.add_script_tag(url=AXE)
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']}: {v['help']}" for v in result if v["impact"] in ("serious", "critical")]
