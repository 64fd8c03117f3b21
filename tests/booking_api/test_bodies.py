"""Upload bodies: a body that stops arriving is a 408 after ``body_time_limit``, not a wait forever."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from booking_api.bodies import read_capped
from instruments.errors import PayloadTooLarge, RequestTimeout
from instruments.settings import get_settings


def request(messages: list[dict], headers: list[tuple[bytes, bytes]] = ()) -> Request:
    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client sends nothing more
        raise AssertionError("unreachable")

    return Request({"type": "http", "method": "POST", "path": "/", "headers": list(headers)}, receive)


def refuse(size: int) -> None:
    raise PayloadTooLarge(f"{size}", limit="x")


def test_a_body_that_stops_arriving_is_a_408_naming_the_limit(monkeypatch):
    monkeypatch.setattr(get_settings(), "body_time_limit", 0.1)
    trickle = request([{"type": "http.request", "body": b"started_at,", "more_body": True}])
    with pytest.raises(RequestTimeout) as err:
        asyncio.run(read_capped(trickle, 1000, refuse))
    assert err.value.status == 408 and err.value.limit == "body_time_limit"
    assert "11 bytes arrived" in err.value.detail


def test_a_complete_body_is_read_and_a_large_one_refused():
    parts = [{"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.request", "body": b"c"}]
    assert asyncio.run(read_capped(request(parts), 10, refuse)) == b"abc"
    with pytest.raises(PayloadTooLarge):
        asyncio.run(read_capped(request([], [(b"content-length", b"11")]), 10, refuse))
