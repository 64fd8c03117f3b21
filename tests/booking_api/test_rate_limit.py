"""Rate limits: past a limit the answer is 429 problem+json with Retry-After, per client address
without a token, per token with one, for failed tokens per address, and for token creation."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from limits.aio.storage import MemoryStorage, RedisStorage

from booking_api.app import create_app
from booking_api.rate_limit import RateLimits, storage_for
from instruments.settings import Settings
from tests.booking_api.conftest import auth

API = "/api/v1"
LOW = RateLimits(anonymous="3/minute", token="4/minute", token_creation="2/minute")


@pytest.fixture
def limited(db):
    with TestClient(create_app(db.url, rate_limits=LOW), raise_server_exceptions=False) as c:
        yield c


def other_address(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=("203.0.113.9", 50000))


def assert_429(r, limit: str) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60
    body = r.json()
    assert body["status"] == 429 and body["limit"] == limit and body["retry_after"] == retry
    assert f"retry in {retry} s" in body["detail"]


def test_anonymous_requests_are_limited_per_address(limited, world):
    for _ in range(3):
        assert limited.get(f"{API}/instruments").status_code == 200
    r = limited.get(f"{API}/categories")  # any public GET counts
    assert_429(r, "rate_limit_anonymous")
    assert "testclient without a token" in r.json()["detail"]
    with other_address(limited.app) as c:  # another address has its own budget
        assert c.get(f"{API}/instruments").status_code == 200
    assert limited.get("/healthz").status_code == 200  # the health check is never limited
    assert limited.get(f"{API}/me", headers=auth(world, "member_a")).status_code == 200  # nor a token


def test_requests_with_a_token_are_limited_per_token(limited, world):
    for _ in range(4):
        assert limited.get(f"{API}/me", headers=auth(world, "member_a")).status_code == 200
    assert_429(limited.get(f"{API}/me", headers=auth(world, "member_a")), "rate_limit_token")
    assert limited.get(f"{API}/me", headers=auth(world, "member_b")).status_code == 200


def test_guessing_tokens_is_limited_per_address_whatever_the_token(limited, world):
    for n in range(3):
        assert limited.get(f"{API}/me", headers={"Authorization": f"Bearer lsk_guess{n}"}).status_code == 401
    r = limited.get(f"{API}/me", headers={"Authorization": "Bearer lsk_guess9"})
    assert_429(r, "rate_limit_anonymous")
    # a real token from the same address is refused too: the address is what guessed
    assert_429(limited.get(f"{API}/me", headers=auth(world, "member_a")), "rate_limit_anonymous")


def test_token_creation_is_limited_per_token_and_per_address(limited, world):
    for n in range(2):
        r = limited.post(f"{API}/tokens", json={"label": f"t{n}"}, headers=auth(world, "member_a"))
        assert r.status_code == 201, r.text
    r = limited.post(f"{API}/tokens", json={"label": "t3"}, headers=auth(world, "member_b"))  # same address
    assert_429(r, "rate_limit_token_creation")
    assert "testclient creating tokens" in r.json()["detail"]
    with other_address(limited.app) as c:  # the same token from elsewhere: its own per-token budget is spent
        r = c.post(f"{API}/tokens", json={"label": "t4"}, headers=auth(world, "member_a"))
        assert_429(r, "rate_limit_token_creation")
        assert "this token creating tokens" in r.json()["detail"]
        r = c.post(f"{API}/tokens", json={"label": "t5"}, headers=auth(world, "member_b"))
        assert r.status_code == 201, r.text


def test_settings_turn_it_off_and_name_the_store():
    assert RateLimits.from_settings(Settings(rate_limit_enabled=False)) is None
    limits = RateLimits.from_settings(
        Settings(rate_limit_enabled=True, rate_limit_anonymous="5/second", redis_url="redis://127.0.0.1:1/0")
    )
    assert limits is not None and limits.anonymous == "5/second"
    assert isinstance(storage_for(None), MemoryStorage)
    assert isinstance(storage_for(limits.storage_url), RedisStorage)  # constructed, not connected


def test_the_environment_variable_turns_it_off(monkeypatch):
    monkeypatch.setenv("LABSHARE_RATE_LIMIT_ENABLED", "false")
    assert Settings().rate_limit_enabled is False
    monkeypatch.setenv("LABSHARE_RATE_LIMIT_ENABLED", "true")
    monkeypatch.setenv("LABSHARE_RATE_LIMIT_ANONYMOUS", "7/hour")
    assert RateLimits.from_settings(Settings()).anonymous == "7/hour"


def test_a_counter_store_that_is_down_lets_requests_through(db, world):
    down = RateLimits(anonymous="1/minute", storage_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    with TestClient(create_app(db.url, rate_limits=down), raise_server_exceptions=False) as c:
        assert [c.get(f"{API}/instruments").status_code for _ in range(2)] == [200, 200]
