from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from booking_api.app import create_app
from scheduler.calendars.calendar_feeds import clear_caches


@pytest.fixture
def client(db) -> Iterator[TestClient]:
    clear_caches()  # process caches are keyed by ids and data versions; start each test cold
    with TestClient(create_app(db.url), raise_server_exceptions=False) as c:
        yield c
