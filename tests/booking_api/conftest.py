from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from booking_api.app import create_app
from tests.world import World


@pytest.fixture
def client(db) -> Iterator[TestClient]:
    with TestClient(create_app(db.url), raise_server_exceptions=False) as c:
        yield c


def auth(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}
