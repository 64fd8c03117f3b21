from __future__ import annotations

import pytest

from booking_api.app import create_app


@pytest.fixture
def app(db):  # noqa: ANN001, ANN201 - one app (one engine) shared by every thread's client
    return create_app(db.url)


@pytest.fixture
def w(world, session):  # noqa: ANN001, ANN201
    """The test world with both enterprises' members trained on the XRD (self-operated use)."""
    from datetime import date

    from fixtures import factories

    for member in (world.member_a, world.member_b):
        factories.qualify(session, member.user_id, world.xrd, date(2020, 1, 1))
    session.commit()
    return world
