"""``LocalTime``: a time of day on the instrument's (or unit's) wall clock, as "HH:MM".

An opening rule's start and end, or an operator's shift, are local wall-clock times: 08:30 in
Asia/Shanghai stays 08:30 across the year, so they carry no UTC offset. OpenAPI's and JSON
Schema's ``format: time`` means RFC 3339 full-time, which requires an offset, so these fields
are declared as pattern'd strings instead, and served exactly so ("08:30"). Clients that send
"08:30:00" keep working (whole minutes only); an offset is refused, because the zone is the
instrument's, not the client's.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, WithJsonSchema

HH_MM = r"^([01]\d|2[0-3]):[0-5]\d$"
HH_MM_OPTIONAL_SECONDS = r"^([01]\d|2[0-3]):[0-5]\d(:00)?$"
DESCRIPTION = "Local wall-clock time in the instrument's time zone (no offset), HH:MM"


def _whole_local_minute(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("give a local wall-clock time without an offset, HH:MM (the instrument's zone applies)")
    if value.second or value.microsecond:
        raise ValueError("give whole minutes, HH:MM")
    return value


LocalTime = Annotated[
    time,
    AfterValidator(_whole_local_minute),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": HH_MM_OPTIONAL_SECONDS, "description": DESCRIPTION, "examples": ["08:30"]},
        mode="validation",
    ),
    WithJsonSchema(
        {"type": "string", "pattern": HH_MM, "description": DESCRIPTION, "examples": ["08:30"]}, mode="serialization"
    ),
]
