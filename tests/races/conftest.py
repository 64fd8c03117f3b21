from __future__ import annotations

import pytest

from booking_api.app import create_app


@pytest.fixture
def app(db):  # noqa: ANN001, ANN201 - one app (one engine) shared by every thread's client
    return create_app(db.url)
