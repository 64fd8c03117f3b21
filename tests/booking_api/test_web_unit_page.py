"""The unit's public page as its lab manager edits it (/unit/page) and as the API serves its news
and open-service cases (/api/v1/owner-units/{id}/news, /cases), on SQLite and PostgreSQL:
rich-text bodies are sanitised on save (no script, handler or javascript: link survives),
the public /owner-units/{id} page shows what was published, and only the unit's own managers
may change it."""

from __future__ import annotations

import pytest

from booking_api.accounts import User, set_password
from booking_api.web.clock import web_now
from instruments.actor import SYSTEM
from instruments.unit_page import clean_html, clean_item
from instruments.units import OwnerUnit

from .conftest import auth
from .test_web_signin import PASSWORD, csrf_of, sign_in

EVIL = (
    '<p>新增 <strong>冷冻电镜</strong><script>alert("x")</script>'
    '<a href="javascript:alert(1)" onclick="steal()">点我</a>'
    '<img src=x onerror=alert(2)><a href="https://example.cn/n/1">详情</a></p>'
)


def test_clean_html_keeps_simple_formatting_and_links_only():
    out = clean_html(EVIL)
    assert "<strong>冷冻电镜</strong>" in out and '<a href="https://example.cn/n/1" rel="noopener noreferrer">' in out
    for bad in ("<script", "alert(", "javascript:", "onclick", "<img", "onerror"):
        assert bad not in out, bad
    assert clean_item("plain words <b>")["html"] == ""  # a bare string is a title
    assert clean_item({"title": "t", "summary": "a < b"})["html"] == "<p>a &lt; b</p>"
    assert clean_item({"title": "t", "url": "javascript:x"})["url"] == ""


@pytest.fixture
def manager(world, session, client):
    w = world
    set_password(session, SYSTEM, session.get(User, w.manager.user_id), PASSWORD)
    session.commit()
    now = w.at(10)
    client.app.dependency_overrides[web_now] = lambda: now
    assert sign_in(client, "m1@t.cn").status_code == 303
    return w


def unit_of(session, w) -> OwnerUnit:
    session.expire_all()
    unit = session.get(OwnerUnit, w.xrd.owner_unit_id)
    session.commit()  # end the read (SQLite holds its lock for a transaction); nothing is expired
    return unit


def test_the_manager_edits_the_profile_and_rules(manager, client, session, db):
    w = manager
    page = client.get("/unit/page")
    assert page.status_code == 200 and "本单位公开主页" in page.text and "新闻" in page.text
    data = {
        "csrf": csrf_of(page.text),
        "name": "海河大学分析测试中心",
        "name_en": "Haihe University Analysis Centre",
        "profile": "面向社会开放。",
        "management_rules": "校外用户须预约。",
        "contact_name": "王老师",
        "contact_phone": "022-1234",
        "contact_email": "share@haihe.example.cn",
        "address": "天津",
        "website": "https://haihe.example.cn",
    }
    r = client.post("/unit/page", data=data, follow_redirects=False)
    assert r.status_code == 303
    unit = unit_of(session, w)
    assert unit.name == "海河大学分析测试中心" and unit.management_rules == "校外用户须预约。"
    public = client.get(f"/owner-units/{unit.id}").text
    assert "面向社会开放。" in public and "校外用户须预约。" in public and "王老师" in public
    bad = client.post("/unit/page", data={**data, "website": "javascript:alert(1)", "name": ""})
    assert bad.status_code == 422 and 'data-testid="error-website"' in bad.text
    assert unit_of(session, w).website == "https://haihe.example.cn"


def test_a_news_item_is_sanitised_on_save_and_shown_on_the_public_page(manager, client, session, db):
    w = manager
    page = client.get("/unit/page")
    r = client.post(
        "/unit/page/news",
        data={"csrf": csrf_of(page.text), "title": "新增冷冻电镜", "html": EVIL, "on": "2026-11-30", "url": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    stored = unit_of(session, w).news
    assert len(stored) == 1 and "<script" not in stored[0]["html"] and "<strong>冷冻电镜</strong>" in stored[0]["html"]
    public = client.get(f"/owner-units/{w.xrd.owner_unit_id}").text
    assert "新增冷冻电镜" in public and "2026-11-30" in public and "<strong>冷冻电镜</strong>" in public
    for bad in ("<script>alert", "alert(", "javascript:", "onclick", "<img"):
        assert bad not in public, bad
    editor = client.get("/unit/page").text
    assert "新增冷冻电镜" in editor and "<script>alert" not in editor
    item_id = stored[0]["id"]
    gone = client.post(f"/unit/page/news/{item_id}/delete", data={"csrf": csrf_of(editor)}, follow_redirects=False)
    assert gone.status_code == 303 and unit_of(session, w).news == []
    again = client.post(f"/unit/page/news/{item_id}/delete", data={"csrf": csrf_of(editor)}, follow_redirects=False)
    assert again.status_code == 404


def test_a_case_needs_a_title_and_an_http_link(manager, client, session, db):
    w = manager
    csrf = csrf_of(client.get("/unit/page").text)
    r = client.post("/unit/page/cases", data={"csrf": csrf, "title": " ", "html": "<p>x</p>"})
    assert r.status_code == 422 and 'data-testid="error-title"' in r.text and "请填写标题" in r.text
    r = client.post("/unit/page/cases", data={"csrf": csrf, "title": "电池材料表征", "url": "ftp://x"})
    assert r.status_code == 422 and "链接须以 https:// 或 http:// 开头" in r.text
    r = client.post(
        "/unit/page/cases",
        data={"csrf": csrf, "title": "电池材料表征", "html": "<em>三周</em>完成"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    (case,) = unit_of(session, w).service_cases
    assert case["html"] == "<em>三周</em>完成" and case["date"] == w.at(10).date().isoformat()
    assert client.post("/unit/page/other", data={"csrf": csrf, "title": "x"}).status_code == 404


def test_the_api_publishes_lists_and_removes_items_for_the_units_managers_only(world, client, session, db):
    w = world
    unit_id = w.xrd.owner_unit_id
    url = f"/api/v1/owner-units/{unit_id}/news"
    body = {"title": "开放日", "html": EVIL, "date": "2026-12-01"}
    assert client.post(url, json=body, headers=auth(w, "other_manager")).status_code == 403
    assert client.post(url, json=body, headers=auth(w, "member_a")).status_code == 403
    assert client.post(url, json=body).status_code == 401
    r = client.post(url, json=body, headers=auth(w, "manager"))
    assert r.status_code == 201
    item = r.json()
    assert item["date"] == "2026-12-01" and "<script" not in item["html"] and "javascript:" not in item["html"]
    older = client.post(url, json={"title": "旧闻", "date": "2026-01-01"}, headers=auth(w, "manager")).json()
    listed = client.get(url).json()
    assert [i["id"] for i in listed] == [item["id"], older["id"]]  # newest first, public
    assert [i["id"] for i in client.get(url, params={"limit": 1, "offset": 1}).json()] == [older["id"]]
    assert client.delete(f"{url}/{item['id']}", headers=auth(w, "other_manager")).status_code == 403
    assert client.delete(f"{url}/{item['id']}", headers=auth(w, "manager")).status_code == 204
    assert client.delete(f"{url}/{item['id']}", headers=auth(w, "manager")).status_code == 404
    assert client.get(f"/api/v1/owner-units/{unit_id}/cases").json() == []
    assert client.get(f"/api/v1/owner-units/{unit_id}/other").status_code == 404
    bad = client.post(url, json={"title": "x", "url": "javascript:alert(1)"}, headers=auth(w, "manager"))
    assert bad.status_code == 422


def test_the_patch_cleans_news_and_cases_too(world, client, db):
    w = world
    unit_id = w.xrd.owner_unit_id
    r = client.patch(
        f"/api/v1/owner-units/{unit_id}",
        json={"profile": "开放平台", "service_cases": [{"title": "案例", "html": EVIL}]},
        headers=auth(w, "manager"),
    )
    assert r.status_code == 200
    case = r.json()["service_cases"][0]
    assert case["id"] and "<script" not in case["html"] and "<strong>冷冻电镜</strong>" in case["html"]
    assert r.json()["profile"] == "开放平台"
    other = client.patch(f"/api/v1/owner-units/{unit_id}", json={"profile": "x"}, headers=auth(w, "other_manager"))
    assert other.status_code == 403
