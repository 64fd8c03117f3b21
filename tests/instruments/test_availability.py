"""Published availability: RRULE hours, blackouts, public holidays and 调休 make-up workdays."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from instruments.availability import (
    AvailabilityException,
    ExceptionKind,
    OpeningRule,
    opening_intervals,
    validate_rule,
)
from instruments.errors import InvalidInput
from instruments.workdays import CalendarOverride, DayKind, WorkCalendar
from tests.world import TZ

WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"


def rules() -> list[OpeningRule]:
    return [
        OpeningRule(
            instrument_id="i", rrule=WEEKDAYS, start_time=time(8, 30), end_time=time(12), valid_from=date(2026, 1, 1)
        ),
        OpeningRule(
            instrument_id="i",
            rrule=WEEKDAYS,
            start_time=time(13, 30),
            end_time=time(17, 30),
            valid_from=date(2026, 1, 1),
        ),
    ]


def day_spans(day: date, exceptions=(), calendar: WorkCalendar | None = None) -> list[tuple[str, str]]:
    start = datetime.combine(day, time(0), TZ)
    end = datetime.combine(day, time(23, 59), TZ)
    spans = opening_intervals(rules(), list(exceptions), calendar or WorkCalendar(), TZ, start, end)
    return [(f"{s:%H:%M}", f"{e:%H:%M}") for s, e in spans]


def test_weekday_rule_gives_two_periods_on_a_working_day():
    assert day_spans(date(2026, 11, 24)) == [("08:30", "12:00"), ("13:30", "17:30")]  # a Tuesday


def test_weekend_is_closed():
    assert day_spans(date(2026, 11, 28)) == []  # Saturday


def test_public_holiday_is_closed():
    assert WorkCalendar().kind(date(2026, 10, 1)) == DayKind.holiday
    assert day_spans(date(2026, 10, 1)) == []  # National Day, a Thursday
    assert day_spans(date(2026, 10, 7)) == []  # day off moved from Saturday 10 Oct


def test_makeup_workday_opens_on_a_saturday():
    # 2026-10-10 is a Saturday worked in exchange for 7 October (调休).
    assert WorkCalendar().kind(date(2026, 10, 10)) == DayKind.makeup_workday
    assert day_spans(date(2026, 10, 10)) == [("08:30", "12:00"), ("13:30", "17:30")]


def test_rule_that_ignores_holidays_stays_open():
    r = OpeningRule(
        instrument_id="i",
        rrule="FREQ=DAILY",
        start_time=time(9),
        end_time=time(10),
        valid_from=date(2026, 1, 1),
        follows_holidays=False,
    )
    start, end = datetime(2026, 10, 1, tzinfo=TZ), datetime(2026, 10, 2, tzinfo=TZ)
    assert len(opening_intervals([r], [], WorkCalendar(), TZ, start, end)) == 1


def test_blackout_cuts_opening_hours():
    exc = AvailabilityException(
        instrument_id="i",
        kind=ExceptionKind.closed,
        start=datetime(2026, 11, 24, 10, 0, tzinfo=TZ),
        end=datetime(2026, 11, 24, 14, 0, tzinfo=TZ),
    )
    assert day_spans(date(2026, 11, 24), [exc]) == [("08:30", "10:00"), ("14:00", "17:30")]


def test_extra_opening_adds_time():
    exc = AvailabilityException(
        instrument_id="i",
        kind=ExceptionKind.open,
        start=datetime(2026, 11, 28, 9, 0, tzinfo=TZ),
        end=datetime(2026, 11, 28, 11, 0, tzinfo=TZ),
    )
    assert day_spans(date(2026, 11, 28), [exc]) == [("09:00", "11:00")]


def test_override_wins_over_library():
    cal = WorkCalendar(
        {date(2026, 11, 24): CalendarOverride(day=date(2026, 11, 24), is_workday=False, name="区级停电")}
    )
    assert day_spans(date(2026, 11, 24), calendar=cal) == []
    assert cal.holiday_name(date(2026, 11, 24)) == "区级停电"


def test_unknown_year_degrades_with_a_warning():
    cal = WorkCalendar()
    # 2027's schedule is not in the library yet: Saturday stays a weekend, with a warning.
    assert cal.kind(date(2027, 2, 20)) == DayKind.weekend
    assert cal.warnings and "2027" in cal.warnings[0]
    assert WorkCalendar().kind(date(2026, 3, 3)) == DayKind.workday


def test_override_makeup_day_in_unknown_year_opens_and_silences_warning():
    day = date(2027, 2, 20)
    cal = WorkCalendar({day: CalendarOverride(day=day, is_workday=True, name="补班")})
    assert cal.kind(day) == DayKind.makeup_workday
    assert day_spans(day, calendar=cal) == [("08:30", "12:00"), ("13:30", "17:30")]
    assert cal.warnings == []


def test_rule_valid_until_limits_it():
    r = OpeningRule(
        instrument_id="i",
        rrule=WEEKDAYS,
        start_time=time(9),
        end_time=time(10),
        valid_from=date(2026, 1, 1),
        valid_until=date(2026, 11, 23),
    )
    start, end = datetime(2026, 11, 23, tzinfo=TZ), datetime(2026, 11, 25, tzinfo=TZ)
    assert [s.date() for s, _ in opening_intervals([r], [], WorkCalendar(), TZ, start, end)] == [date(2026, 11, 23)]


def test_interval_rule_every_other_week_keeps_its_phase_far_from_valid_from():
    r = OpeningRule(
        instrument_id="i",
        rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
        start_time=time(9),
        end_time=time(10),
        valid_from=date(2020, 1, 6),
    )
    start, end = datetime(2026, 11, 1, tzinfo=TZ), datetime(2026, 12, 1, tzinfo=TZ)
    days = [s.date() for s, _ in opening_intervals([r], [], WorkCalendar(), TZ, start, end)]
    assert days and all((d - date(2020, 1, 6)).days % 14 == 0 for d in days)
    assert days == [date(2026, 11, 2), date(2026, 11, 16), date(2026, 11, 30)]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule"),
        ({"rrule": "nonsense"}, "rrule"),
        ({"rrule": "FREQ=HOURLY"}, "rrule"),
        ({"start_time": time(12), "end_time": time(8)}, "end_time"),
        ({"valid_until": date(2025, 1, 1)}, "valid_until"),
    ],
)
def test_bad_rules_name_the_field(kwargs, field):
    base = {
        "instrument_id": "i",
        "rrule": WEEKDAYS,
        "start_time": time(8),
        "end_time": time(12),
        "valid_from": date(2026, 1, 1),
    }
    with pytest.raises(InvalidInput) as err:
        validate_rule(OpeningRule(**{**base, **kwargs}))
    assert err.value.field == field
