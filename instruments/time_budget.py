"""A time budget for pure-Python work that cannot be interrupted otherwise.

Recurrence expansion (dateutil, recurring-ical-events) and CSV parsing run third-party loops that
never yield control: a rule that never matches makes dateutil scan to the year 9999 inside a single
``between`` call. ``time_budget`` installs a thread-local trace hook that checks the clock at every
Python function call made inside the block and raises ``LimitExceeded`` once the budget is spent,
so the request ends with a 422 naming the limit instead of running on after its client has left.

Only the current thread is affected (``sys.settrace`` is per thread), the hook is removed when the
block ends, and a tracer already installed (a debugger, coverage) keeps working: it is chained.
Keep the blocks free of database calls, so an interruption never lands inside a driver.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import LimitExceeded


class _Overrun(BaseException):
    """Raised inside the traced code; turned into ``LimitExceeded`` at the block's edge. A
    ``BaseException`` so that third-party ``except Exception`` handlers do not swallow it."""


@contextmanager
def time_budget(seconds: float, what: str, limit: str, hint: str = "") -> Iterator[None]:
    """Run the block for at most ``seconds`` of wall time, else raise ``LimitExceeded``.

    ``what`` says what was being done ("expanding the recurrence of …"), ``limit`` names the setting
    that holds the budget, ``hint`` what the client can change."""
    deadline = time.monotonic() + seconds
    outer = sys.gettrace()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if event == "call" and time.monotonic() > deadline:
            raise _Overrun
        return outer(frame, event, arg) if outer is not None else None

    sys.settrace(tracer)
    try:
        yield
    except _Overrun:
        raise LimitExceeded(
            f"Stopped {what} after the {seconds:g} s time limit ({limit}){'; ' + hint if hint else ''}.",
            limit=limit,
        ) from None
    finally:
        sys.settrace(outer)
