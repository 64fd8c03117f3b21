"""Day-valued RRULEs (opening rules, operators' working hours): parsing, whether a rule ever
yields a day, and a bounded search for its first day.

dateutil's iteration only stops at a match past the range asked for, or at the year 9999: a rule
that never matches (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``) makes every ``between`` scan millions
of days. Whether a rule ever matches is decided exactly and cheaply with the calendar's period:
weekdays and leap days repeat every 400 Gregorian years (146,097 days, a whole number of weeks),
so a rule's days repeat every ``lcm(400 years, its period)``. Moving DTSTART forward (by whole
periods for daily and weekly rules, by whole cycles for the others) to about one cycle before the
year 9999 leaves dateutil one cycle to scan before it gives up.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from dateutil.rrule import rrule, rrulestr

from .errors import InvalidInput

ALLOWED_FREQ = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
CYCLE_DAYS = 146_097  # 400 Gregorian years
CYCLE_YEARS = 400
LAST = datetime(9999, 12, 31)


def rule_parts(text: str) -> dict[str, str]:
    """The RRULE's parts, upper-cased, without the ``RRULE:`` prefix."""
    value = text.strip().upper().removeprefix("RRULE:")
    return dict(p.split("=", 1) for p in value.split(";") if "=" in p)


def parse_rrule(text: str, dtstart: datetime) -> rrule:
    """dateutil's rule for an RRULE value; 422 (field ``rrule``) when it is not a day-valued rule."""
    value = text.strip()
    if value.upper().startswith("RRULE:"):
        value = value[6:]
    freq = rule_parts(value).get("FREQ")
    if freq not in ALLOWED_FREQ:
        raise InvalidInput(
            f"RRULE {text!r} needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY (opening hours are set by start_time/end_time).",
            field="rrule",
        )
    try:
        return rrulestr("RRULE:" + value, dtstart=dtstart)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(f"RRULE {text!r} cannot be parsed: {exc}.", field="rrule") from exc


def _interval(parts: dict[str, str]) -> int:
    try:
        return max(1, int(parts.get("INTERVAL", "1") or 1))
    except ValueError:
        return 1


@lru_cache(maxsize=4096)
def ever_occurs(text: str, dtstart: date) -> bool:
    """Whether the rule, started on ``dtstart``, yields any day at all (COUNT and UNTIL aside)."""
    parts = rule_parts(text)
    parts.pop("COUNT", None)
    parts.pop("UNTIL", None)
    open_ended = ";".join(f"{k}={v}" for k, v in parts.items())
    start = datetime.combine(dtstart, time(0))
    n = _interval(parts)
    freq = parts.get("FREQ")
    if freq == "DAILY" and n == 1 and not parts.keys() & {"BYSETPOS", "BYHOUR", "BYMINUTE", "BYSECOND"}:
        # every day, filtered: the same days as a yearly rule over every day of the year with the
        # same filters (dateutil intersects them all), which scans years instead of days
        parts = {"BYYEARDAY": ",".join(map(str, range(1, 367))), **parts, "FREQ": "YEARLY"}
        open_ended = ";".join(f"{k}={v}" for k, v in parts.items())
        freq = "YEARLY"
    if freq in ("DAILY", "WEEKLY"):
        # no day of the rule depends on where DTSTART sits within its period grid, so any grid
        # point will do: the one that leaves exactly one cycle (plus less than a period) to scan
        period = n * (7 if freq == "WEEKLY" else 1)
        cycle = math.lcm(CYCLE_DAYS, period)
        whole = ((LAST - start).days - cycle) // period
        if whole > 0:
            start += timedelta(days=whole * period)
    else:  # MONTHLY and YEARLY take their default day from DTSTART: move by whole cycles
        cycle_years = math.lcm(CYCLE_YEARS * 12, n) // 12 if freq == "MONTHLY" else math.lcm(CYCLE_YEARS, n)
        whole = (LAST.year - start.year) // cycle_years - 1
        if whole > 0:
            start = start.replace(year=start.year + whole * cycle_years)
    # from here to 9999 is at least one whole cycle, or everything dateutil can represent
    return parse_rrule(open_ended, start).after(start, inc=True) is not None


def first_day(text: str, valid_from: date, valid_until: date | None = None) -> date | None:
    """The rule's first day on or after ``valid_from`` (and not after ``valid_until``), or None.
    Bounded: a rule that ever occurs matches within one cycle of its start."""
    if not ever_occurs(text, valid_from):
        return None
    start = datetime.combine(valid_from, time(0))
    first = parse_rrule(text, start).after(start, inc=True)
    if first is None or (valid_until is not None and first.date() > valid_until):
        return None
    return first.date()


def require_a_day(text: str, valid_from: date, valid_until: date | None = None) -> None:
    """Refuse (422, field ``rrule``) a rule that yields no day between ``valid_from`` and
    ``valid_until``: it would open nothing, and expanding it costs a scan to the year 9999."""
    parse_rrule(text, datetime.combine(valid_from, time(0)))
    if not ever_occurs(text, valid_from):
        raise InvalidInput(
            f"RRULE {text!r} never yields a day (its BYMONTH, BYMONTHDAY, BYDAY… parts exclude each other, "
            "e.g. BYMONTH=2;BYMONTHDAY=30).",
            field="rrule",
        )
    if first_day(text, valid_from, valid_until) is None:
        until = f" and valid_until {valid_until}" if valid_until else ""
        raise InvalidInput(
            f"RRULE {text!r} yields no day between valid_from {valid_from}{until} (check its COUNT and UNTIL).",
            field="rrule",
        )
