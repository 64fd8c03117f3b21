"""Opening rules are expanded in cached 64-day blocks: the days a rule yields over any window are
exactly those one expansion of that window yields (a property over rules, windows and validity)."""

from __future__ import annotations

from datetime import date, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from instruments import availability
from instruments.availability import OpeningRule

RULES = [
    "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    "FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SA",
    "FREQ=MONTHLY;BYMONTHDAY=15,31",
    "FREQ=DAILY;COUNT=40",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
]
DAY0 = date(2019, 1, 1)


@settings(max_examples=150, deadline=None)
@given(
    rrule=st.sampled_from(RULES),
    valid_from=st.integers(0, 3000),
    valid_for=st.none() | st.integers(0, 900),
    first=st.integers(0, 3500),
    length=st.integers(0, 200),
)
def test_blocks_yield_the_days_of_one_expansion(rrule, valid_from, valid_for, first, length):
    vf = DAY0 + timedelta(days=valid_from)
    until = None if valid_for is None else vf + timedelta(days=valid_for)
    rule = OpeningRule(instrument_id="x", rrule=rrule, start_time=time(8), end_time=time(9), valid_from=vf,
                       valid_until=until)  # fmt: skip
    a = DAY0 + timedelta(days=first)
    b = a + timedelta(days=length)
    lo, hi = max(a, vf), b if until is None else min(b, until)
    want = set(availability._between(rrule, vf, lo, hi)) if lo <= hi else set()
    assert availability._rule_days(rule, a, b) == want
