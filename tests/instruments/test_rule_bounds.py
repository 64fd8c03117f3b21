"""Opening rules that never open are refused at creation (naming the field), and expanding rules
already stored is bounded: a never-occurring rule costs no scan to the year 9999, and a slow
expansion stops at ``rrule_time_limit`` with a 422 naming it."""

from __future__ import annotations

import time as clock
from datetime import date, datetime, time, timedelta

import pytest

from instruments import availability
from instruments.availability import OpeningRule
from instruments.recurrence import ever_occurs, first_day, require_a_day
from instruments.settings import get_settings
from tests.booking_api.conftest import auth
from tests.world import TZ

API = "/api/v1"
NEVER = "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"


@pytest.mark.parametrize(
    ("rule", "occurs"),
    [
        (NEVER, False),
        ("FREQ=WEEKLY;BYMONTH=4;BYMONTHDAY=31", False),
        ("FREQ=MONTHLY;INTERVAL=12;BYMONTH=6", False),  # from January: every 12th month is a January
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", True),  # a leap day on a Monday: rare, but it happens
        ("FREQ=DAILY;INTERVAL=2;BYMONTHDAY=1", True),
        ("FREQ=DAILY;INTERVAL=2;BYMONTH=2;BYMONTHDAY=30", False),
        ("FREQ=WEEKLY;INTERVAL=3;BYDAY=SU", True),
    ],
)
def test_ever_occurs_decides_in_bounded_time(rule, occurs):
    t0 = clock.monotonic()
    assert ever_occurs(rule, date(2026, 1, 1)) is occurs
    assert clock.monotonic() - t0 < 10  # a scan to 9999 took about 8 s; the cycle check well under 1 s


def test_first_day_respects_valid_until_and_count():
    assert first_day("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", date(2026, 1, 1)) == date(2028, 2, 29)
    assert first_day("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", date(2026, 1, 1), date(2027, 12, 31)) is None
    assert first_day("FREQ=DAILY;UNTIL=20251231", date(2026, 1, 1)) is None


@pytest.mark.parametrize(
    ("rule", "until", "message"),
    [
        (NEVER, None, "never yields a day"),
        (
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
            date(2027, 6, 1),
            "yields no day between valid_from 2026-01-01 and valid_until 2027-06-01",
        ),
    ],
)
def test_a_rule_without_a_day_is_refused_naming_the_field(rule, until, message):
    from instruments.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        require_a_day(rule, date(2026, 1, 1), until)
    assert err.value.field == "rrule" and message in err.value.detail


def test_creating_a_never_occurring_opening_rule_is_a_422_naming_rrule(client, world):
    r = client.post(
        f"{API}/instruments/{world.xrd.id}/opening-rules",
        json={"rrule": NEVER, "start_time": "09:00", "end_time": "17:00", "valid_from": "2026-01-01"},
        headers=auth(world, "manager"),
    )
    assert r.status_code == 422, r.text
    (v,) = r.json()["violations"]
    assert v["field"] == "rrule" and "never yields a day" in v["message"]


def test_an_operator_shift_that_never_occurs_is_refused(client, world):
    r = client.post(
        f"{API}/owner-units/{world.xrd.owner_unit_id}/operators",
        json={"name": "Night owl", "working_hours": [{"rrule": NEVER, "start": "09:00", "end": "17:00"}]},
        headers=auth(world, "manager"),
    )
    assert r.status_code == 422, r.text
    assert "never yields a day" in r.text


def test_a_stored_never_occurring_rule_costs_no_scan_and_opens_nothing(client, db, world):
    start = datetime.combine(world.day, time(0), TZ)

    def open_times(k: int) -> list:
        lo = start + timedelta(days=k)
        r = client.get(
            f"{API}/instruments/{world.xrd.id}/availability",
            params={"start": lo.isoformat(), "end": (lo + timedelta(days=60)).isoformat()},
        )
        assert r.status_code == 200, r.text
        return r.json()["open"]

    before = [open_times(k) for k in range(3)]
    with db.session() as s:  # stored before such rules were refused
        s.add(
            OpeningRule(
                instrument_id=world.xrd.id,
                rrule=NEVER,
                start_time=time(6),
                end_time=time(23),
                valid_from=date(2026, 1, 2),
            )
        )
        s.commit()
    t0 = clock.monotonic()
    after = [open_times(k) for k in range(3)]  # each a new window: the old code scanned to 9999 for each
    assert clock.monotonic() - t0 < 10  # was 5-9 s of CPU per query
    assert after == before


def test_a_slow_expansion_stops_at_the_time_limit(client, db, world, monkeypatch):
    monkeypatch.setattr(get_settings(), "rrule_time_limit", 0.05)

    def slow_between(*args):  # stands in for a rule dateutil needs long to expand
        while True:
            clock.monotonic()
            (lambda: None)()

    monkeypatch.setattr(availability, "_between", slow_between)
    availability._occurrences.cache_clear()
    r = client.get(f"{API}/instruments/{world.xrd.id}/availability")
    availability._occurrences.cache_clear()
    assert r.status_code == 422, r.text
    assert r.json()["limit"] == "rrule_time_limit"
    assert "0.05 s time limit (rrule_time_limit)" in r.json()["detail"]


@pytest.mark.parametrize(
    "filters",
    [
        "BYMONTH=2;BYMONTHDAY=29",
        "BYDAY=MO,FR;BYMONTH=1,7",
        "BYWEEKNO=1,53;BYDAY=SU",
        "BYYEARDAY=-1,100",
        "BYMONTHDAY=-1;BYDAY=SA,SU",
        "WKST=SU;BYWEEKNO=20",
    ],
)
def test_a_daily_rule_and_its_yearly_form_yield_the_same_days(filters):
    """``ever_occurs`` reads a daily rule as a yearly rule over every day of the year."""
    from instruments.recurrence import parse_rrule

    start, end = datetime(2026, 1, 1), datetime(2034, 12, 31)
    daily = parse_rrule(f"FREQ=DAILY;{filters}", start).between(start, end, inc=True)
    every_day = ",".join(map(str, range(1, 367)))
    parts = dict(p.split("=") for p in filters.split(";"))
    yearly_text = ";".join(f"{k}={v}" for k, v in {"BYYEARDAY": every_day, **parts, "FREQ": "YEARLY"}.items())
    yearly = parse_rrule(yearly_text, start).between(start, end, inc=True)
    assert daily == yearly and daily
