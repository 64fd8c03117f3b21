from __future__ import annotations

import pytest

from tests.routed_app import app_for


@pytest.fixture
def app(db):  # noqa: ANN001, ANN201 - one app (one engine) shared by every thread's client
    return app_for(db.url)
