"""An instrument's opening hours for its lab manager (/unit/instruments/{id}/hours): opening rules
added, edited through their prefilled form and deleted (refusals beside their fields), the 8-week
preview's holidays and 调休 make-up workdays as the national calendar has them, closures with a
public title that the instrument's public page then names, closures edited in place (they may
overlap their own old times, not another), and the .ics import's dry run (nothing written) then its
confirmation. Another unit's instrument, rule or closure answers 404. ``now`` is pinned through
``web_now``."""

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


def _add_closure(client, world, csrf: str, title: str, lo: str, hi: str) -> AvailabilityException:
    day = world.day
    r = client.post(
        f"/unit/instruments/{world.xrd.id}/hours/exceptions",
        data={"csrf": csrf, "kind": "closed", "title": title, "reason": "换灯丝", "start": f"{day}T{lo}", "end": f"{day}T{hi}"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return r


def test_a_closure_is_edited_through_its_prefilled_form(client, world, session):
    csrf = signed_in(client, session, world.manager)
    pinned(client, datetime.combine(world.day - timedelta(days=1), time(9), TZ))
    _add_closure(client, world, csrf, "维户", "08:00", "12:00")
    [exc] = exceptions_of(session, world.xrd.id)
    hours = client.get(f"/unit/instruments/{world.xrd.id}/hours", headers=ZH).text
    edit_url = f"/unit/instruments/{world.xrd.id}/hours/exceptions/{exc.id}"
    assert f'href="{edit_url}#exception-form-box"' in hours and ">编辑<" in hours
    page = client.get(edit_url, headers=ZH)
    assert page.status_code == 200 and "编辑关闭或临时开放" in page.text
    assert f'action="{edit_url}"' in page.text
    assert 'value="维户"' in page.text and f'value="{world.day}T12:00"' in page.text and 'value="换灯丝"' in page.text
    r = client.post(
        edit_url,
        data={"csrf": csrf, "kind": "closed", "title": "维护", "reason": "换灯丝", "start": f"{world.day}T08:00", "end": f"{world.day}T13:00"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("done=exception_updated")
    assert "已保存。" in client.get(r.headers["location"], headers=ZH).text
    [again] = exceptions_of(session, world.xrd.id)
    assert (again.id, again.title, again.end) == (exc.id, "维护", datetime.combine(world.day, time(13), TZ))


def test_an_edited_closure_ending_before_it_starts_or_overlapping_another_is_refused_beside_the_field(
    client, world, session
):
    csrf = signed_in(client, session, world.manager)
    pinned(client, datetime.combine(world.day - timedelta(days=1), time(9), TZ))
    _add_closure(client, world, csrf, "一", "08:00", "10:00")
    _add_closure(client, world, csrf, "二", "14:00", "16:00")
    first = next(e for e in exceptions_of(session, world.xrd.id) if e.title == "一")
    url = f"/unit/instruments/{world.xrd.id}/hours/exceptions/{first.id}"
    ok = {"csrf": csrf, "kind": "closed", "title": "一", "start": f"{world.day}T08:00", "end": f"{world.day}T10:00"}
    r = client.post(url, data={**ok, "end": f"{world.day}T07:00"}, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-end"' in r.text
    assert f'action="{url}"' in r.text and f'value="{world.day}T07:00"' in r.text  # the form as posted, still editing
    r = client.post(url, data={**ok, "end": f"{world.day}T15:00"}, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-start"' in r.text and "重叠" in r.text
    # moved an hour later: it overlaps only its own old times
    assert client.post(url, data={**ok, "start": f"{world.day}T09:00", "end": f"{world.day}T11:00"}, follow_redirects=False).status_code == 303
    again = next(e for e in exceptions_of(session, world.xrd.id) if e.id == first.id)
    assert (again.start, again.end) == (datetime.combine(world.day, time(9), TZ), datetime.combine(world.day, time(11), TZ))


def test_an_opening_rule_is_edited_through_its_prefilled_form(client, world, session):
    csrf = signed_in(client, session, world.manager)
    pinned(client)
    rule = min(rules_of(session, world.xrd.id), key=lambda x: x.start_time)  # the morning's
    url = f"/unit/instruments/{world.xrd.id}/hours/rules/{rule.id}"
    assert f'href="{url}#rule-form-box"' in client.get(f"/unit/instruments/{world.xrd.id}/hours", headers=ZH).text
    page = client.get(url, headers=ZH)
    assert page.status_code == 200 and "编辑开放规则" in page.text and f'action="{url}"' in page.text
    assert f'value="{rule.start_time:%H:%M}"' in page.text and f'value="{rule.valid_from}"' in page.text
    assert page.text.count(" checked>") >= 5  # the weekdays ticked (and the holiday box if it follows them)
    data = {"csrf": csrf, "days": ["MO", "WE"], "start": "09:00", "end": "11:30", "valid_from": str(rule.valid_from), "label": "晚开"}
    r = client.post(url, data={**data, "end": "08:00"}, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-end"' in r.text and f'action="{url}"' in r.text
    r = client.post(url, data={**data, "days": []}, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-days"' in r.text
    r = client.post(url, data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=rule_updated")
    assert "开放规则已更新。" in client.get(r.headers["location"], headers=ZH).text
    again = next(x for x in rules_of(session, world.xrd.id) if x.id == rule.id)
    assert (again.rrule, again.start_time, again.end_time, again.label, again.follows_holidays) == (
        "FREQ=WEEKLY;BYDAY=MO,WE",
        time(9),
        time(11, 30),
        "晚开",
        False,
    )


def test_another_units_rule_or_closure_answers_404_and_an_edit_without_its_csrf_token_403(client, world, session):
    from instruments import catalogue

    csrf = signed_in(client, session, world.manager)
    pinned(client)
    other_rule = rules_of(session, world.other.id)[0]
    other_exc = catalogue.add_exception(
        session,
        world.other_manager,
        world.other,
        AvailabilityException(instrument_id=world.other.id, start=world.at(8), end=world.at(10), title="别家"),
    )
    session.commit()
    rule_data = {"csrf": csrf, "days": ["MO"], "start": "09:00", "end": "12:00", "valid_from": "2026-10-01"}
    exc_data = {"csrf": csrf, "kind": "closed", "title": "x", "start": f"{world.day}T08:00", "end": f"{world.day}T09:00"}
    for url, data in (
        (f"/unit/instruments/{world.xrd.id}/hours/rules/{other_rule.id}", rule_data),  # my instrument, their rule
        (f"/unit/instruments/{world.other.id}/hours/rules/{other_rule.id}", rule_data),  # their instrument
        (f"/unit/instruments/{world.xrd.id}/hours/exceptions/{other_exc.id}", exc_data),
        (f"/unit/instruments/{world.other.id}/hours/exceptions/{other_exc.id}", exc_data),
    ):
        assert client.get(url, headers=ZH).status_code == 404, url
        assert client.post(url, data=data, headers=ZH).status_code == 404, url
    mine = rules_of(session, world.xrd.id)[0]
    r = client.post(f"/unit/instruments/{world.xrd.id}/hours/rules/{mine.id}", data={**rule_data, "csrf": "forged"})
    assert r.status_code == 403
    again = next(x for x in rules_of(session, world.xrd.id) if x.id == mine.id)
    assert (again.rrule, again.label) == (mine.rrule, mine.label)
    _add_closure(client, world, csrf, "我的", "08:00", "09:00")
    [exc] = exceptions_of(session, world.xrd.id)
    no_token = {k: v for k, v in exc_data.items() if k != "csrf"}
    r = client.post(f"/unit/instruments/{world.xrd.id}/hours/exceptions/{exc.id}", data=no_token)
    assert r.status_code == 403 and exceptions_of(session, world.xrd.id)[0].title == "我的"
    [theirs] = exceptions_of(session, world.other.id)
    assert theirs.title == "别家"


def test_a_rule_the_form_cannot_show_as_days_keeps_its_rrule_unless_days_are_ticked(client, world, session):
    from instruments import catalogue

    csrf = signed_in(client, session, world.manager)
    pinned(client)
    rule = catalogue.add_opening_rule(
        session,
        world.manager,
        world.xrd,
        OpeningRule(rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=SA", start_time=time(9), end_time=time(12), valid_from=date(2026, 10, 3)),
    )
    session.commit()
    url = f"/unit/instruments/{world.xrd.id}/hours/rules/{rule.id}"
    page = client.get(url, headers=ZH)
    assert 'data-testid="rule-rrule"' in page.text and "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA" in page.text
    data = {"csrf": csrf, "start": "09:00", "end": "12:30", "valid_from": "2026-10-03", "label": "隔周六"}
    assert client.post(url, data=data, follow_redirects=False).status_code == 303
    again = next(x for x in rules_of(session, world.xrd.id) if x.id == rule.id)
    assert (again.rrule, again.end_time, again.label) == ("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA", time(12, 30), "隔周六")
    assert client.post(url, data={**data, "days": ["SU"]}, follow_redirects=False).status_code == 303
    assert next(x for x in rules_of(session, world.xrd.id) if x.id == rule.id).rrule == "FREQ=WEEKLY;BYDAY=SU"
