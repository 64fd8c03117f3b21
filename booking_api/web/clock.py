"""The pages' clock: ``NowDep`` is the real time, a dependency so tests can pin it
(``app.dependency_overrides[web_now]``) and pass ``now`` to the services as the API's tests do."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends

from instruments.db import utcnow


def web_now() -> datetime:
    return utcnow()


NowDep = Annotated[datetime, Depends(web_now)]
