"""Importing an .ics as blackouts: recurrences expanded (RRULE, EXDATE, RDATE, RECURRENCE-ID),
partial import with per-event errors, dry run, re-import, permissions."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import select

from instruments.availability import AvailabilityException
from tests.booking_api.conftest import auth
from tests.world import TZ

API = "/api/v1"


def stamp(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%M%S")


def ics(*events: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    return (head + "".join(events) + "END:VCALENDAR\r\n").encode()


def vevent(**props: str) -> str:
    lines = ["BEGIN:VEVENT"] + [f"{k.replace('_', '-')}:{v}" if ":" not in k else f"{k}:{v}" for k, v in props.items()]
    return "\r\n".join(lines + ["END:VEVENT"]) + "\r\n"


def post(client, world, data: bytes, who="manager", **params):
    return client.post(
        f"{API}/instruments/{world.xrd.id}/blackouts/import",
        content=data,
        params=params,
        headers={**auth(world, who), "Content-Type": "text/calendar"},
    )


def blackouts(db, world) -> list[tuple[datetime, datetime, str, str]]:
    with db.session() as s:
        rows = s.exec(select(AvailabilityException).where(AvailabilityException.instrument_id == world.xrd.id)).all()
        return sorted((e.start.astimezone(TZ), e.end.astimezone(TZ), e.source, e.reason) for e in rows)


def test_weekly_series_with_exdate_rdate_and_an_overridden_instance(client, db, world):
    d0 = world.day + timedelta(days=7)
    first = datetime.combine(d0, time(8, 0))
    week = timedelta(days=7)
    series = (
        "BEGIN:VEVENT\r\nUID:maint@lab\r\nSUMMARY:Weekly maintenance\r\n"
        f"DTSTART;TZID=Asia/Shanghai:{stamp(first)}\r\nDTEND;TZID=Asia/Shanghai:{stamp(first + timedelta(hours=2))}\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=4\r\n"
        f"EXDATE;TZID=Asia/Shanghai:{stamp(first + week)}\r\n"
        f"RDATE;TZID=Asia/Shanghai:{stamp(first + timedelta(days=1, hours=6))}\r\n"
        "END:VEVENT\r\n"
        # the third instance moves to the afternoon and gets a longer slot
        "BEGIN:VEVENT\r\nUID:maint@lab\r\nSUMMARY:Weekly maintenance (moved)\r\n"
        f"RECURRENCE-ID;TZID=Asia/Shanghai:{stamp(first + 2 * week)}\r\n"
        f"DTSTART;TZID=Asia/Shanghai:{stamp(first + 2 * week + timedelta(hours=6))}\r\n"
        f"DTEND;TZID=Asia/Shanghai:{stamp(first + 2 * week + timedelta(hours=9))}\r\n"
        "END:VEVENT\r\n"
    )
    data = ics(series)
    dry = post(client, world, data, dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and len(dry.json()["created"]) == 4 and blackouts(db, world) == []

    r = post(client, world, data)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] == [] and body["policy"].startswith("partial")
    f = first.replace(tzinfo=TZ)
    expected = [
        (f, f + timedelta(hours=2)),  # instance 1
        (f + timedelta(days=1, hours=6), f + timedelta(days=1, hours=8)),  # RDATE, default duration of the series
        # instance 2 excluded by EXDATE
        (f + 2 * week + timedelta(hours=6), f + 2 * week + timedelta(hours=9)),  # overridden instance 3
        (f + 3 * week, f + 3 * week + timedelta(hours=2)),  # instance 4
    ]
    got = blackouts(db, world)
    assert [(s, e) for s, e, _, _ in got] == expected
    assert {src for _, _, src, _ in got} == {"ics"}
    assert got[2][3] == "Weekly maintenance (moved)"
    assert [c["recurrence_id"] for c in body["created"] if "recurrence_id" in c]

    again = post(client, world, data).json()  # importing the same file twice creates nothing new
    assert again["created"] == [] and again["errors"] == []
    assert len(again["skipped"]) == 4 and all(s["reason"].startswith("already imported") for s in again["skipped"])


def test_good_events_are_imported_and_each_bad_event_is_reported(client, db, world):
    d = world.day + timedelta(days=10)
    at = lambda hh: datetime.combine(d, time(hh))  # noqa: E731
    r = client.post(
        f"{API}/instruments/{world.xrd.id}/exceptions",
        json={
            "kind": "closed",
            "start": at(14).replace(tzinfo=TZ).isoformat(),
            "end": at(16).replace(tzinfo=TZ).isoformat(),
        },
        headers=auth(world, "manager"),
    )
    assert r.status_code in (200, 201), r.text
    data = ics(
        vevent(
            UID="good@x",
            SUMMARY="Calibration",
            **{"DTSTART;TZID=Asia/Shanghai": stamp(at(8)), "DTEND;TZID=Asia/Shanghai": stamp(at(10))},
        ),
        vevent(UID="nostart@x", SUMMARY="Lost", DTEND=stamp(at(11))),
        vevent(UID="backwards@x", SUMMARY="Backwards", DTSTART=stamp(at(12)), DTEND=stamp(at(11))),
        vevent(UID="clash@x", SUMMARY="Clash", DTSTART=stamp(at(15)), DTEND=stamp(at(17))),
        vevent(UID="garbled@x", SUMMARY="Garbled", DTSTART="not-a-date", DTEND=stamp(at(9))),
        vevent(UID="free@x", SUMMARY="Lunch", TRANSP="TRANSPARENT", DTSTART=stamp(at(12)), DTEND=stamp(at(13))),
    )
    r = post(client, world, data)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["uid"] for c in body["created"]] == ["good@x"]
    reasons = {e["uid"]: e["reason"] for e in body["errors"]}
    assert set(reasons) == {"nostart@x", "backwards@x", "clash@x", "garbled@x"}
    assert reasons["nostart@x"] == "no DTSTART"
    assert reasons["backwards@x"] == "end before start"
    assert reasons["clash@x"].startswith("overlaps existing exception")
    assert "unparseable" in reasons["garbled@x"]
    assert {e["summary"] for e in body["errors"]} == {"Lost", "Backwards", "Clash", "Garbled"}
    assert [s["uid"] for s in body["skipped"]] == ["free@x"]
    assert [(s.hour, e.hour, src) for s, e, src, _ in blackouts(db, world)] == [(8, 10, "ics"), (14, 16, "manual")]


def test_import_warns_of_bookings_under_a_blackout_and_checks_input_and_rights(client, db, world):
    r = client.post(
        f"{API}/bookings",
        json={
            "instrument_id": world.xrd.id,
            "start": world.at(9).isoformat(),
            "end": world.at(11).isoformat(),
            "service_mode": "operator_run",
        },
        headers=auth(world, "member_a"),
    )
    assert r.status_code == 201, r.text
    data = ics(
        vevent(UID="m@x", SUMMARY="Repair", DTSTART=stamp(datetime.combine(world.day, time(10))), DURATION="PT3H")
    )
    assert post(client, world, data, who="member_a").status_code == 403
    assert post(client, world, data, who="other_manager").status_code == 403
    body = post(client, world, data).json()
    assert body["created"][0]["conflicting_bookings"] == [r.json()["id"]]
    assert body["created"][0]["end"].endswith("13:00:00+08:00")
    bad = post(client, world, b"this is not a calendar")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert post(client, world, data, horizon_days=0).status_code == 422


LINES = [
    "BEGIN:VEVENT",
    "END:VEVENT",
    "UID:u@x",
    "SUMMARY:s",
    "DTSTART:20261201T090000",
    "DTSTART;TZID=Asia/Shanghai:20261201T090000",
    "DTSTART;VALUE=DATE:20261201",
    "DTSTART:99991231T235959Z",
    "DTSTART:garbage",
    "DTEND:20261201T080000",
    "DTEND:20261201T110000Z",
    "DURATION:P1D",
    "DURATION:-PT1H",
    "RRULE:FREQ=DAILY;COUNT=3",
    "RRULE:FREQ=SECONDLY",
    "RRULE:FREQ=WEEKLY;UNTIL=garbage",
    "EXDATE:20261202T090000",
    "RDATE:20261203T090000",
    "RECURRENCE-ID:20261202T090000",
    "STATUS:CANCELLED",
    "BEGIN:VTIMEZONE",
    "END:VTIMEZONE",
]


def test_no_upload_produces_a_500(client, world):
    """Invariant: whatever .ics-like text is uploaded, the answer is a report (200) or a problem (422)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sampled_from(LINES), max_size=14), st.booleans())
    def check(lines, wrap):
        text = "\r\n".join(lines) + "\r\n"
        if wrap:
            text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" + text + "END:VCALENDAR\r\n"
        r = post(client, world, text.encode(), dry_run="true", horizon_days=30)
        assert r.status_code in (200, 422), r.text

    check()


def test_all_day_events_and_a_too_fine_rule(client, db, world):
    d = world.day + timedelta(days=20)
    allday = vevent(UID="holiday@x", SUMMARY="Lab closed", **{"DTSTART;VALUE=DATE": d.strftime("%Y%m%d")})
    flood = vevent(UID="flood@x", SUMMARY="Every minute", DTSTART=stamp(datetime.combine(d, time(0))), DURATION="PT1M")
    flood = flood.replace("DURATION:PT1M", "DURATION:PT1M\r\nRRULE:FREQ=MINUTELY")
    body = post(client, world, ics(allday, flood), dry_run="true", horizon_days=60).json()
    (created,) = [c for c in body["created"] if c["uid"] == "holiday@x"]
    assert created["start"] == datetime.combine(d, time(0), TZ).isoformat()
    assert created["end"] == datetime.combine(d + timedelta(days=1), time(0), TZ).isoformat()
    assert any(e["uid"] == "flood@x" and "FREQ=MINUTELY is finer" in e["reason"] for e in body["errors"])
