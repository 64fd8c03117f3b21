"""An instrument's opening hours for its lab manager (/unit/instruments/{id}/hours): opening rules
added and deleted (refusals beside their fields), the 8-week preview's holidays and 调休 make-up
workdays as the national calendar has them, closures with a public title that the instrument's
public page then names, and the .ics import's dry run (nothing written) then its confirmation.
Another unit's instrument answers 404. ``now`` is pinned through ``web_now``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlmodel import select

from booking_api.web.clock import web_now
from instruments.availability import AvailabilityException, OpeningRule
from instruments.workdays import DayKind, WorkCalendar
from tests.world import TZ

from .test_web_unit_instruments import ZH, signed_in

NOW = datetime(2026, 9, 24, 9, 0, tzinfo=TZ)  # a Thursday before the National Day holiday


def pinned(client, now: datetime = NOW) -> None:
    client.app.dependency_overrides[web_now] = lambda: now


def rules_of(session, instrument_id: str) -> list[OpeningRule]:
    """The rows as the app left them, read fresh; the test's transaction is ended at once (on
    SQLite it holds the write lock, and the app's next write would wait for it)."""
    q = select(OpeningRule).where(OpeningRule.instrument_id == instrument_id)
    rows = list(session.exec(q.execution_options(populate_existing=True)).all())
    session.commit()
    return rows


def exceptions_of(session, instrument_id: str) -> list[AvailabilityException]:
    q = select(AvailabilityException).where(AvailabilityException.instrument_id == instrument_id)
    rows = list(session.exec(q.execution_options(populate_existing=True)).all())
    session.commit()
    return rows


def test_the_page_lists_the_rules_in_words_and_answers_404_for_another_unit(client, world, session):
    signed_in(client, session, world.manager)
    pinned(client)
    r = client.get(f"/unit/instruments/{world.xrd.id}/hours", headers=ZH)
    assert r.status_code == 200
    assert "星期一、星期二、星期三、星期四、星期五" in r.text or "周一、周二、周三、周四、周五" in r.text
    assert f'data-src="/unit/instruments/{world.xrd.id}/hours/preview.json"' in r.text
    assert "/static/vendor/fullcalendar/index.global.min.js" in r.text
    for path in ("", "/preview.json"):
        assert client.get(f"/unit/instruments/{world.other.id}/hours{path}", headers=ZH).status_code == 404


def test_adding_and_deleting_an_opening_rule(client, world, session):
    csrf = signed_in(client, session, world.manager)
    pinned(client)
    before = len(rules_of(session, world.xrd.id))
    r = client.post(
        f"/unit/instruments/{world.xrd.id}/hours/rules",
        data={
            "csrf": csrf,
            "days": ["SA"],
            "start": "09:00",
            "end": "12:00",
            "valid_from": "2026-10-01",
            "follows_holidays": "1",
            "label": "周六上午",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    rules = rules_of(session, world.xrd.id)
    new = next(x for x in rules if x.label == "周六上午")
    assert len(rules) == before + 1
    assert (new.rrule, new.start_time, new.end_time, new.follows_holidays) == (
        "FREQ=WEEKLY;BYDAY=SA",
        time(9),
        time(12),
        True,
    )
    r = client.post(
        f"/unit/instruments/{world.xrd.id}/hours/rules/{new.id}/delete", data={"csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and len(rules_of(session, world.xrd.id)) == before


def test_a_rule_without_days_or_ending_before_it_starts_is_refused_beside_the_field(client, world, session):
    csrf = signed_in(client, session, world.manager)
    pinned(client)
    url = f"/unit/instruments/{world.xrd.id}/hours/rules"
    base = {"csrf": csrf, "start": "09:00", "end": "12:00", "valid_from": "2026-10-01"}
    r = client.post(url, data=base, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-days"' in r.text and "请至少选择一天" in r.text
    r = client.post(url, data={**base, "days": ["MO"], "end": "08:00"}, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-end"' in r.text
    r = client.post(url, data={**base, "days": ["MO"], "valid_until": "2026-09-01"}, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-valid_until"' in r.text
    # another unit's instrument, another unit's rule
    other_rules = rules_of(session, world.other.id)
    other_rule = other_rules[0]
    r = client.post(f"/unit/instruments/{world.other.id}/hours/rules", data={**base, "days": ["MO"]})
    assert r.status_code == 404
    r = client.post(f"/unit/instruments/{world.xrd.id}/hours/rules/{other_rule.id}/delete", data={"csrf": csrf})
    assert r.status_code == 404
    assert len(rules_of(session, world.other.id)) == len(other_rules)


def test_the_preview_shows_eight_weeks_with_holidays_and_make_up_workdays(client, world, session):
    signed_in(client, session, world.manager)
    pinned(client)
    data = client.get(f"/unit/instruments/{world.xrd.id}/hours/preview.json", headers=ZH).json()
    first = date(2026, 9, 21)  # the Monday of NOW's week
    assert data["start"] == first.isoformat() and data["end"] == (first + timedelta(weeks=8)).isoformat()
    cal = WorkCalendar()
    days = [first + timedelta(days=i) for i in range(56)]
    holidays = {d.isoformat() for d in days if cal.kind(d) == DayKind.holiday}
    makeups = {d.isoformat() for d in days if cal.kind(d) == DayKind.makeup_workday}
    assert holidays  # National Day falls in these weeks
    assert {e["start"] for e in data["events"] if e["kind"] == "holiday"} == holidays
    assert {e["start"] for e in data["events"] if e["kind"] == "makeup"} == makeups
    opened = {e["start"][:10] for e in data["events"] if e["kind"] == "open"}
    assert not opened & holidays  # the weekday rule follows the holidays
    assert makeups <= opened  # and opens on the make-up workdays
    labels = {e["start"]: e["title"] for e in data["events"] if e["kind"] == "holiday_label"}
    assert set(labels) == holidays and labels["2026-10-01"] == "节假日：国庆节"  # named in Chinese


def test_a_closure_with_a_title_is_named_on_the_public_instrument_page(client, world, session):
    csrf = signed_in(client, session, world.manager)
    pinned(client)
    day = world.day
    r = client.post(
        f"/unit/instruments/{world.xrd.id}/hours/exceptions",
        data={
            "csrf": csrf,
            "kind": "closed",
            "title": "维护",
            "reason": "更换X射线管",
            "start": f"{day}T08:00",
            "end": f"{day}T18:00",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    [exc] = [e for e in exceptions_of(session, world.xrd.id) if e.title == "维护"]
    assert exc.start == datetime.combine(day, time(8), TZ) and exc.reason == "更换X射线管"
    client.post("/logout", data={"csrf": csrf})
    client.cookies.clear()
    page = client.get(f"/instruments/{world.xrd.id}?week={day}", headers=ZH)
    assert "已关闭：维护（更换X射线管）" in page.text
    en = client.get(f"/instruments/{world.xrd.id}?week={day}", headers={"Accept-Language": "en"})
    assert "Closed: 维护 (更换X射线管)" in en.text


def test_an_overlapping_closure_or_one_ending_before_it_starts_is_refused(client, world, session):
    csrf = signed_in(client, session, world.manager)
    pinned(client)
    url = f"/unit/instruments/{world.xrd.id}/hours/exceptions"
    day = world.day
    ok = {"csrf": csrf, "kind": "closed", "title": "维护", "start": f"{day}T08:00", "end": f"{day}T12:00"}
    assert client.post(url, data=ok, follow_redirects=False).status_code == 303
    r = client.post(url, data={**ok, "start": f"{day}T11:00", "end": f"{day}T13:00"}, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-start"' in r.text and "重叠" in r.text
    r = client.post(url, data={**ok, "start": f"{day}T14:00", "end": f"{day}T13:00"}, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-end"' in r.text
    assert len([e for e in exceptions_of(session, world.xrd.id) if e.title == "维护"]) == 1
    [exc] = [e for e in exceptions_of(session, world.xrd.id) if e.title == "维护"]
    r = client.post(f"/unit/instruments/{world.other.id}/hours/exceptions", data=ok)
    assert r.status_code == 404
    r = client.post(f"{url}/{exc.id}/delete", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and exceptions_of(session, world.xrd.id) == []


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//unit hours//EN
BEGIN:VEVENT
UID:maint-1@example.org
SUMMARY:年度维护
DTSTART;TZID=Asia/Shanghai:20261013T080000
DTEND;TZID=Asia/Shanghai:20261013T180000
END:VEVENT
BEGIN:VEVENT
UID:called-off@example.org
SUMMARY:Called off
STATUS:CANCELLED
DTSTART;TZID=Asia/Shanghai:20261020T080000
DTEND;TZID=Asia/Shanghai:20261020T120000
END:VEVENT
END:VCALENDAR
"""


def test_the_ics_import_previews_then_creates_on_confirmation(client, world, session):
    csrf = signed_in(client, session, world.manager)
    pinned(client)
    url = f"/unit/instruments/{world.xrd.id}/hours/import"
    r = client.post(url, data={"csrf": csrf}, files={"file": ("plan.ics", ICS.encode(), "text/calendar")}, headers=ZH)
    assert r.status_code == 200
    assert 'data-testid="dry-run"' in r.text and "年度维护" in r.text
    assert "2026-10-13 08:00–18:00 (Asia/Shanghai)" in r.text
    assert "日历中已取消" in r.text  # the cancelled event is listed as left out, in Chinese
    assert exceptions_of(session, world.xrd.id) == []  # a dry run writes nothing
    r = client.post(url, data={"csrf": csrf, "confirm": "1", "ics": ICS}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=imported")
    [exc] = exceptions_of(session, world.xrd.id)
    assert (exc.title, exc.source, exc.start) == ("年度维护", "ics", datetime(2026, 10, 13, 8, tzinfo=TZ))
    # the same file again: nothing new
    r = client.post(url, data={"csrf": csrf}, files={"file": ("plan.ics", ICS.encode(), "text/calendar")}, headers=ZH)
    assert "已导入过" in r.text and 'data-testid="confirm"' not in r.text


def test_the_ics_import_refuses_no_file_a_non_calendar_and_another_units_instrument(client, world, session):
    csrf = signed_in(client, session, world.manager)
    pinned(client)
    url = f"/unit/instruments/{world.xrd.id}/hours/import"
    r = client.post(url, data={"csrf": csrf}, headers=ZH)
    assert r.status_code == 422 and 'data-testid="ics-error"' in r.text
    r = client.post(url, data={"csrf": csrf}, files={"file": ("x.ics", b"hello", "text/calendar")}, headers=ZH)
    assert r.status_code == 422 and "这不是 iCalendar" in r.text
    r = client.post(
        f"/unit/instruments/{world.other.id}/hours/import",
        data={"csrf": csrf, "confirm": "1", "ics": ICS},
        headers=ZH,
    )
    assert r.status_code == 404 and exceptions_of(session, world.other.id) == []


def test_the_apis_closure_title_labels_the_public_page_too(client, world, session):
    from .conftest import auth

    day = world.day
    body = {"start": f"{day}T08:00:00+08:00", "end": f"{day}T18:00:00+08:00", "title": "Maintenance", "reason": "Maintenance"}
    r = client.post(f"/api/v1/instruments/{world.xrd.id}/exceptions", json=body, headers=auth(world, "manager"))
    assert r.status_code == 201 and r.json()["title"] == "Maintenance"
    page = client.get(f"/instruments/{world.xrd.id}?week={day}", headers={"Accept-Language": "en"})
    assert "Closed: Maintenance<" in page.text  # a reason that says no more than the title is not repeated
    page = client.get(f"/instruments/{world.xrd.id}?week={day}", headers=ZH)
    assert "已关闭：Maintenance" in page.text
