"""The public catalogue pages: search with filters, the instrument page (facts, fees, booking rules
in Chinese and English, the week of truthful bookable time with booking links), its calendar's JSON
(the same answer as ``bookable_time``), the owner unit page, and 404/400 pages instead of JSON."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from booking_api.accounts import User, set_password
from fixtures import factories
from instruments.actor import SYSTEM
from scheduler.booking.bookable import bookable_time
from tests.world import TZ

PASSWORD = "correct-horse-battery"
EN = {"Accept-Language": "en"}


def sign_in(client, session, email: str) -> None:
    user = session.exec(select(User).where(User.email == email)).one()
    set_password(session, SYSTEM, user, PASSWORD)
    session.commit()
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    r = client.post("/login", data={"username": email, "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303


def ids_in(html: str) -> list[str]:
    return re.findall(r'data-instrument="([^"]+)"', html)


@pytest.fixture
def catalogue(world, session):
    """Beside the world's XRD, FE-SEM and XPS: a Chinese-named TEM and an NMR of another unit."""
    unit = factories.unit(session, "滨海新区公共检测平台", name_en="Binhai Testing Platform")
    tem = factories.instrument(
        session,
        unit,
        "场发射透射电子显微镜",
        "TEM",
        name_en="Field-emission TEM",
        manufacturer="JEOL",
        model="JEM-F200",
        fee_hour_external_fen=80000,
        service_modes=["operator_run"],
    )
    nmr = factories.instrument(
        session,
        unit,
        "核磁共振波谱仪",
        "NMR",
        name_en="NMR spectrometer",
        manufacturer="Bruker",
        model="AVANCE NEO 600",
        fee_hour_external_fen=60000,
        service_modes=["self_operated"],
    )
    session.commit()
    return {"tem": tem, "nmr": nmr, "unit": unit}


def test_the_catalogue_lists_every_instrument_with_its_fee_and_links(client, world, catalogue):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert set(ids_in(r.text)) == {world.xrd.id, world.sem.id, world.other.id, catalogue["tem"].id, catalogue["nmr"].id}
    assert (
        f'href="/instruments/{world.xrd.id}"' in r.text and f'href="/owner-units/{world.xrd.owner_unit_id}"' in r.text
    )
    assert "¥200.00" in r.text and "¥150.00" in r.text  # the XRD's external fees per hour and per sample
    assert "透射电子显微镜" in r.text  # the TEM's category by its Chinese name (zh-CN by default)
    assert "Transmission electron microscope" in client.get("/", headers=EN).text


@pytest.mark.parametrize("q", ["电镜", "electron microscope", "ELECTRON MICROSCOPE", "Electron  Microscope"])
def test_search_finds_electron_microscopes_in_chinese_and_english_any_case(client, world, catalogue, q):
    found = ids_in(client.get("/", params={"q": q}).text)
    assert set(found) == {world.sem.id, catalogue["tem"].id}


def test_search_ranks_the_named_instrument_first(client, world, catalogue):
    found = ids_in(client.get("/", params={"q": "jem-f200"}).text)
    assert found == [catalogue["tem"].id]
    assert ids_in(client.get("/", params={"q": "核磁"}).text) == [catalogue["nmr"].id]


def test_filters_narrow_and_keep_their_values(client, world, catalogue):
    assert ids_in(client.get("/", params={"category": "sem"}).text) == [world.sem.id]
    assert ids_in(client.get("/", params={"category": "扫描电子显微镜"}).text) == [world.sem.id]
    r = client.get("/", params={"owner_unit": catalogue["unit"].id})
    assert set(ids_in(r.text)) == {catalogue["tem"].id, catalogue["nmr"].id}
    assert f'<option value="{catalogue["unit"].id}" selected>' in r.text
    r = client.get("/", params={"service_mode": "self_operated", "q": "Bruker"})
    assert ids_in(r.text) == [catalogue["nmr"].id] and 'value="Bruker"' in r.text
    r = client.get("/", params={"min_yuan": "500", "max_yuan": "700.50"})
    assert ids_in(r.text) == [catalogue["nmr"].id] and 'value="700.50"' in r.text
    assert set(ids_in(client.get("/", params={"max_yuan": "300"}).text)) == {world.xrd.id, world.sem.id, world.other.id}


def test_free_time_within_a_week_filter_uses_the_api_filter(client, world, catalogue, session):
    """XRD and co. open on weekdays 08:30–17:30: within any 7 days there is such a day."""
    found = set(ids_in(client.get("/", params={"this_week": "1"}).text))
    assert world.xrd.id in found and world.sem.id in found


def test_no_result_says_so_with_a_hint(client, world, catalogue):
    r = client.get("/", params={"q": "回旋加速器"})
    assert r.status_code == 200 and ids_in(r.text) == [] and 'data-testid="empty"' in r.text
    assert "没有符合条件的仪器" in r.text
    assert "No instrument matches." in client.get("/", params={"q": "cyclotron"}, headers=EN).text


@pytest.mark.parametrize(
    "params",
    [
        {"min_yuan": "abc"},
        {"max_yuan": "-5"},
        {"min_yuan": "1e400"},
        {"service_mode": "teleport"},
        {"owner_unit": "unit_nope"},
        {"q": "x" * 500},
    ],
)
def test_a_bad_filter_is_a_400_page_not_a_500(client, world, params):
    r = client.get("/", params=params)
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert 'data-testid="error"' in r.text


def test_the_instrument_page_states_facts_fees_and_rules_in_both_languages(client, world):
    zh = client.get(f"/instruments/{world.xrd.id}")
    assert zh.status_code == 200 and '<html lang="zh-CN">' in zh.text
    assert "¥200.00" in zh.text and "¥150.00" in zh.text
    assert f'href="/owner-units/{world.xrd.owner_unit_id}"' in zh.text
    assert "委托测试（送样）：须至少提前 1 天预约。" in zh.text  # POLICY: operator_run 24 h ahead
    assert "最多可提前 60 天预约。" in zh.text
    assert "须在开始前至少 1 天取消。" in zh.text
    en = client.get(f"/instruments/{world.xrd.id}", headers=EN)
    assert "Operator-run (sample submission): book at least 1 day(s) ahead." in en.text
    assert "You can book at most 60 days ahead." in en.text
    assert "A booking lasts from 30 min to 4 hour(s), starting and ending on the 30-minute grid." in en.text
    assert "An enterprise holds at most 3 future bookings of this instrument." in en.text
    sem = client.get(f"/instruments/{world.sem.id}", headers=EN)
    assert "held 30 min before and 30 min after each booking" in sem.text


def test_signed_out_visitors_see_the_opening_time_and_a_sign_in_link(client, world):
    r = client.get(f"/instruments/{world.xrd.id}", params={"week": world.day.isoformat()})
    assert 'href="/login?next=/instruments/' + world.xrd.id + '"' in r.text
    assert "08:30–12:00, 13:30–17:30" in r.text  # world.day is a working day
    assert "/book?" not in r.text and 'id="calendar"' not in r.text
    assert (
        client.get(f"/instruments/{world.xrd.id}/bookable.json", params={"service_mode": "operator_run"}).status_code
        == 401
    )


def test_staff_see_the_opening_time_with_a_note(client, world, session):
    sign_in(client, session, "m1@t.cn")
    r = client.get(f"/instruments/{world.xrd.id}")
    assert 'data-testid="staff-note"' in r.text and "/book?" not in r.text


def _service_week(session, world, mode: str, minutes: int):
    start = datetime.combine(world.day, time(0), TZ)
    return bookable_time(
        session,
        world.member_a,
        world.xrd.id,
        mode,
        duration_minutes=minutes,
        start=start,
        end=start + timedelta(days=7),
    )


def test_bookable_json_is_the_service_answer_with_booking_links(client, world, session):
    sign_in(client, session, "a@t.cn")
    r = client.get(
        f"/instruments/{world.xrd.id}/bookable.json",
        params={"service_mode": "operator_run", "duration_minutes": "60", "start": world.day.isoformat()},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    bt = _service_week(session, world, "operator_run", 60)
    assert bt.slots, "the world's XRD has an operator and opens on world.day"
    assert [(s["start"], s["end"]) for s in body["slots"]] == [
        (s.astimezone(TZ).isoformat(), e.astimezone(TZ).isoformat()) for s, e in bt.slots
    ]
    assert [(c["start"], c["reason"]) for c in body["closed"]] == [
        (c.start.astimezone(TZ).isoformat(), c.reason) for c in bt.closed
    ]
    first = body["slots"][0]
    parts = urlsplit(first["url"])
    assert parts.path == f"/instruments/{world.xrd.id}/book"
    assert parse_qs(parts.query) == {
        "service_mode": ["operator_run"],
        "start": [first["start"]],
        "duration_minutes": ["60"],
    }
    assert "%2B08%3A00" in first["url"]  # the offset survives the query string
    assert first["local_start"] == first["start"][:19]


def test_the_week_list_links_every_bookable_start_to_the_booking_form(client, world, session):
    sign_in(client, session, "a@t.cn")
    r = client.get(
        f"/instruments/{world.xrd.id}",
        params={"service_mode": "operator_run", "duration_minutes": "60", "week": world.day.isoformat()},
    )
    assert r.status_code == 200 and 'id="calendar"' in r.text
    bt = _service_week(session, world, "operator_run", 60)
    links = re.findall(r'href="(/instruments/[^"]+/book\?[^"]+)"', r.text)
    assert len(links) == len(bt.slots)
    s0 = bt.slots[0][0].astimezone(TZ)
    assert links[0].replace("&amp;", "&") == (
        f"/instruments/{world.xrd.id}/book?service_mode=operator_run&start={s0:%Y-%m-%dT%H%%3A%M}%3A00%2B08%3A00"
        "&duration_minutes=60"
    )
    assert "节假日" in r.text or "不在开放时间内" in r.text  # the weekend's closed time has its reason


def test_a_sample_count_books_by_samples(client, world, session):
    sign_in(client, session, "a@t.cn")
    r = client.get(
        f"/instruments/{world.xrd.id}/bookable.json",
        params={"service_mode": "operator_run", "sample_count": "3", "start": world.day.isoformat()},
    )
    body = r.json()
    assert body["duration_minutes"] == 90  # 3 × 30 min per sample (the default policy)
    assert (
        body["slots"]
        and "sample_count=3" in body["slots"][0]["url"]
        and "duration_minutes" not in body["slots"][0]["url"]
    )


def test_refusals_that_apply_to_every_slot_are_said_in_plain_words(client, world, session):
    sign_in(client, session, "a@t.cn")
    r = client.get(
        f"/instruments/{world.xrd.id}",
        params={"service_mode": "self_operated", "duration_minutes": "60", "week": world.day.isoformat()},
    )
    assert 'data-testid="blocked"' in r.text and "自主操作须经实验室培训" in r.text and "/book?" not in r.text
    en = client.get(
        f"/instruments/{world.xrd.id}",
        params={"service_mode": "self_operated", "duration_minutes": "60", "week": world.day.isoformat()},
        headers=EN,
    )
    assert "you hold no valid qualification" in en.text


@pytest.mark.parametrize(
    "params", [{"week": "someday"}, {"week": "2999-01-01"}, {"duration_minutes": "0"}, {"sample_count": "lots"}]
)
def test_bad_week_or_length_is_a_400_page(client, world, session, params):
    sign_in(client, session, "a@t.cn")
    r = client.get(f"/instruments/{world.xrd.id}", params=params)
    assert r.status_code == 400 and 'data-testid="error"' in r.text
    as_json = {("start" if k == "week" else k): v for k, v in params.items()}
    j = client.get(f"/instruments/{world.xrd.id}/bookable.json", params={"service_mode": "operator_run", **as_json})
    assert j.status_code == 400 and j.json()["detail"]


def test_unknown_instrument_or_unit_is_a_404_page_in_the_users_language(client, world):
    r = client.get("/instruments/ins_missing")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html") and "未找到" in r.text
    r = client.get("/owner-units/unit_missing", headers=EN)
    assert r.status_code == 404 and "Not found" in r.text and "unit_missing" in r.text


def test_the_owner_unit_page_shows_profile_rules_labs_instruments_news_and_contact(client, world, session):
    unit = factories.unit(
        session,
        "天津大学分析测试中心",
        profile="面向社会开放的分析测试平台。",
        management_rules="校外用户须签订服务协议。",
        contact_name="刘老师",
        contact_email="share@tju.example.cn",
        news=[{"title": "新增冷冻电镜", "date": "2026-11-01", "url": "https://tju.example.cn/news/1"}],
        service_cases=[{"title": "为某企业完成电池材料表征", "summary": "三周完成"}, "plain case"],
    )
    factories.lab(session, unit, "电镜室", building="B 楼", room="101")
    inst = factories.instrument(session, unit, "冷冻电镜", "TEM")
    session.commit()
    r = client.get(f"/owner-units/{unit.id}")
    text = r.text
    for expected in (
        "面向社会开放的分析测试平台。",
        "校外用户须签订服务协议。",
        "电镜室",
        "新增冷冻电镜",
        "三周完成",
        "plain case",
        "刘老师",
    ):
        assert expected in text
    assert f'href="/instruments/{inst.id}"' in text and 'href="https://tju.example.cn/news/1"' in text
    assert (
        "共享与管理制度" in text
        and "Sharing and management rules" in client.get(f"/owner-units/{unit.id}", headers=EN).text
    )
    old = client.get(f"/owner-units/{world.xrd.owner_unit_id}")
    assert "FE-SEM" in old.text


def test_pages_escape_what_units_publish(client, world, session):
    evil = factories.unit(
        session,
        "<script>alert(1)</script> Lab",
        news=[{"title": "<img src=x onerror=alert(1)>", "url": "javascript:alert(1)"}],
    )
    session.commit()
    r = client.get(f"/owner-units/{evil.id}")
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text
    assert "<img src=x" not in r.text and "javascript:" not in r.text


def test_closed_days_name_their_holiday_or_maintenance(client, world, session):
    """A declared closure (calendar override) shows its name; a maintenance blackout its title."""
    from instruments.availability import AvailabilityException, ExceptionKind
    from instruments.catalogue import add_exception
    from instruments.workdays import CalendarOverride

    holiday, maintenance = world.day, world.day + timedelta(days=1)
    session.add(CalendarOverride(day=holiday, is_workday=False, name="校庆"))
    add_exception(
        session,
        SYSTEM,
        world.xrd,
        AvailabilityException(
            instrument_id=world.xrd.id,
            kind=ExceptionKind.closed,
            start=world.at(8, 0, maintenance),
            end=world.at(18, 0, maintenance),
            reason="annual service",
        ),
    )
    session.commit()
    week = {"week": holiday.isoformat()}
    zh = client.get(f"/instruments/{world.xrd.id}", params=week).text
    assert "节假日：校庆" in zh and "维护：annual service" in zh
    en = client.get(f"/instruments/{world.xrd.id}", params=week, headers=EN).text
    assert "Public holiday: 校庆" in en and "Maintenance: annual service" in en
    sign_in(client, session, "a@t.cn")
    body = client.get(
        f"/instruments/{world.xrd.id}/bookable.json",
        params={"service_mode": "operator_run", "duration_minutes": "60", "start": holiday.isoformat()},
        headers=EN,
    ).json()
    labels = {c["label"] for c in body["closed"]}
    assert {"Public holiday: 校庆", "Maintenance: annual service"} <= labels
    assert not any(s["start"].startswith((holiday.isoformat(), maintenance.isoformat())) for s in body["slots"])
