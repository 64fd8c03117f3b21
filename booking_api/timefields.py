"""The datetime and date types every API input uses: aware, and within the supported years.

A date far from today is never a real booking, usage record or reporting period, and near the
ends of the calendar it breaks arithmetic: year 1 at +08:00 lies before the first UTC instant, so
converting it to UTC overflows; year 9999 overflows once a default range is added to it. Checking
the range where input enters the API turns those into a 422 naming the field, in one place,
instead of an error deep in the database layer.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

FIRST_YEAR = 2000
LAST_YEAR = 2100


def _in_supported_years(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise PydanticCustomError(
            "date_out_of_range",
            "must lie between the years {first} and {last}",
            {"first": FIRST_YEAR, "last": LAST_YEAR},
        )
    return value


ApiDatetime = Annotated[AwareDatetime, AfterValidator(_in_supported_years)]
"""An aware datetime in the supported years (a naive one is refused: the zone must be explicit)."""

ApiDate = Annotated[date, AfterValidator(_in_supported_years)]
"""A calendar day in the supported years."""
