"""Bounded .ics imports: rules finer than blackouts need are refused per event, an old DTSTART is
not iterated from (same occurrences as a full expansion), and the occurrence, size and time limits
each refuse with a message naming the limit."""

from __future__ import annotations

import time as clock
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr

from instruments.settings import get_settings
from scheduler.calendars.ics_import import import_blackouts
from tests.calendar.test_ics_import import ics, post
from tests.world import TZ

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def series(dtstart: str, rule: str, duration: str = "PT1H", uid: str = "s@x") -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:Service\r\nDTSTART;TZID=Asia/Shanghai:{dtstart}\r\n"
        f"DURATION:{duration}\r\nRRULE:{rule}\r\nEND:VEVENT\r\n"
    )


@pytest.mark.parametrize("freq", ["SECONDLY", "MINUTELY"])
def test_a_rule_finer_than_hourly_is_refused_per_event_without_expanding(client, db, world, freq):
    other = series("20261220T080000", "FREQ=WEEKLY", uid="weekly@x")
    t0 = clock.monotonic()
    r = post(client, world, ics(series("19700101T000000", f"FREQ={freq}", "PT1S"), other), dry_run="true")
    assert clock.monotonic() - t0 < 5  # used to run for minutes and grow to gigabytes
    assert r.status_code == 200, r.text
    (err,) = r.json()["errors"]
    assert err["uid"] == "s@x" and f"FREQ={freq} is finer than blackouts need" in err["reason"]
    assert any(c["uid"] == "weekly@x" for c in r.json()["created"])


def test_more_than_24_occurrences_a_day_is_refused_per_event(client, db, world):
    r = post(
        client,
        world,
        ics(series("20261220T000000", "FREQ=DAILY;BYHOUR=8,9,10;BYMINUTE=0,5,10,15,20,25,30,35,40")),
        dry_run="true",
    )
    (err,) = r.json()["errors"]
    assert "27 occurrences a day" in err["reason"] and "at most 24" in err["reason"]


@pytest.mark.parametrize(
    ("dtstart", "rule", "duration"),
    [
        ("19000101T080000", "FREQ=DAILY", "PT2H"),
        ("19000102T083000", "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH", "PT1H"),
        ("19000101T230000", "FREQ=HOURLY;INTERVAL=7", "PT30M"),
        ("19000131T090000", "FREQ=MONTHLY", "PT1H"),  # only months with a 31st
        ("19000105T090000", "FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR", "PT1H"),
        ("19040229T090000", "FREQ=YEARLY", "PT1H"),  # every leap day
        ("19660101T220000", "FREQ=DAILY;INTERVAL=11", "P3D"),  # longer than its period: overlaps
    ],
)
def test_an_old_dtstart_gives_the_same_occurrences_as_a_full_expansion(session, world, dtstart, rule, duration):
    horizon = 731 if "YEARLY" in rule or "MONTHLY" in rule else 40
    report = import_blackouts(
        session,
        world.manager,
        world.xrd.id,
        ics(series(dtstart, rule, duration)),
        dry_run=True,
        horizon_days=horizon,
        now=NOW,
    )
    got = sorted(i.start for i in report.created + report.errors + report.skipped if i.start)
    length = {
        "PT2H": timedelta(hours=2),
        "PT1H": timedelta(hours=1),
        "PT30M": timedelta(minutes=30),
        "P3D": timedelta(days=3),
    }[duration]
    full = rrulestr(f"RRULE:{rule}", dtstart=datetime.strptime(dtstart, "%Y%m%dT%H%M%S"))
    lo, hi = (
        NOW.astimezone(TZ).replace(tzinfo=None),
        (NOW + timedelta(days=horizon)).astimezone(TZ).replace(tzinfo=None),
    )
    want = [d.replace(tzinfo=TZ) for d in full.between(lo - length, hi, inc=False) if d + length > lo and d < hi]
    assert got == want and want


def test_a_rule_that_never_matches_runs_into_the_time_limit(client, db, world, monkeypatch):
    monkeypatch.setattr(get_settings(), "ics_import_time_limit", 0.3)
    never = series("20260101T080000", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=3")  # dateutil scans to 9999
    t0 = clock.monotonic()
    r = post(client, world, ics(never), dry_run="true")
    assert clock.monotonic() - t0 < 5
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["limit"] == "ics_import_time_limit"
    assert "0.3 s time limit (ics_import_time_limit)" in body["detail"]


def test_the_occurrence_limit_refuses_the_series_that_crosses_it(client, db, world, monkeypatch):
    monkeypatch.setattr(get_settings(), "ics_max_occurrences", 30)
    # the import's horizon starts at the real clock: a weekly series from tomorrow has exactly two
    # occurrences in the 10 days, whatever weekday today is
    tomorrow = datetime.now(TZ).date() + timedelta(days=1)
    small = series(f"{tomorrow:%Y%m%d}T080000", "FREQ=WEEKLY", uid="weekly@x")
    hourly = series("20261201T000000", "FREQ=HOURLY;INTERVAL=2", "PT1H", uid="hourly@x")
    body = post(client, world, ics(small, hourly), dry_run="true", horizon_days=10).json()
    assert [c["uid"] for c in body["created"]] == ["weekly@x", "weekly@x"]
    (err,) = body["errors"]
    assert err["uid"] == "hourly@x" and "more than 30 occurrences" in err["reason"]
    assert "ics_max_occurrences" in err["reason"]


def test_a_file_over_the_size_limit_is_413_before_parsing(client, db, world):
    body = b"BEGIN:VCALENDAR\r\n" + b"X-PAD:" + b"x" * 2_100_000 + b"\r\nEND:VCALENDAR\r\n"
    r = post(client, world, body, dry_run="true")
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["limit"] == "ics_max_bytes"
