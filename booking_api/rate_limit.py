"""Rate limits at the door, with the ``limits`` package: 429 problem+json with ``Retry-After``.

What is counted (each limit a ``limits`` string such as ``"120/minute"``, from settings):
- a request without a token, per client address (``rate_limit_anonymous``): the public catalogue,
  availability, feeds and pages;
- a request with a token, per token (``rate_limit_token``; the token is hashed before it is used
  as a key, so no secret reaches the counter store);
- a failed authentication (401), per client address, against the anonymous limit: guessing
  tokens costs as much as anonymous requests, whatever token each guess sends;
- token creation (``POST …/tokens``), per client address and per token (``rate_limit_token_creation``).

Counters live in memory (one process), or in Redis when ``LABSHARE_REDIS_URL`` is set (shared by
every worker; needs the ``redis`` extra). ``LABSHARE_RATE_LIMIT_ENABLED=false`` turns it all off.
The client address is the one the ASGI server reports (behind a proxy: uvicorn's
``--proxy-headers`` with ``--forwarded-allow-ips``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instruments.settings import Settings

from .problems import problem

log = logging.getLogger("labshare")
EXEMPT = ("/healthz",)
STRATEGIES = {"moving-window": MovingWindowRateLimiter, "fixed-window": FixedWindowRateLimiter}


@dataclass(frozen=True)
class RateLimits:
    """The limits one app enforces (``limits`` strings) and where its counters live."""

    anonymous: str = "120/minute"
    token: str = "600/minute"
    token_creation: str = "10/minute"
    strategy: str = "moving-window"
    storage_url: str | None = None  # redis://… ; None: this process's memory

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits | None:
        if not settings.rate_limit_enabled:
            return None
        return cls(
            settings.rate_limit_anonymous,
            settings.rate_limit_token,
            settings.rate_limit_token_creation,
            settings.rate_limit_strategy,
            settings.redis_url,
        )


def storage_for(url: str | None) -> Storage:
    """The counter store: in memory, or Redis (``redis://`` / ``rediss://``) through redis-py."""
    if not url:
        return storage_from_string("async+memory://")
    if url.startswith(("redis://", "rediss://", "redis+unix://")):
        return storage_from_string("async+" + url, implementation="redispy")
    return storage_from_string(url)


def _host(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            kind, _, cred = value.decode("latin-1").partition(" ")
            if kind.lower() == "bearer" and cred.strip():
                return hashlib.sha256(cred.strip().encode()).hexdigest()[:24]
    return None


class RateLimitMiddleware:
    """ASGI middleware: counts each request against the limits that apply, answers 429 past one."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits
        self.items: dict[str, RateLimitItem] = {
            "rate_limit_anonymous": parse(limits.anonymous),
            "rate_limit_token": parse(limits.token),
            "rate_limit_token_creation": parse(limits.token_creation),
        }
        try:
            strategy = STRATEGIES[limits.strategy]
        except KeyError as exc:
            raise ValueError(
                f"rate_limit_strategy must be one of {', '.join(STRATEGIES)}, not {limits.strategy!r}"
            ) from exc
        self.limiter: RateLimiter = strategy(storage_for(limits.storage_url))

    def _checks(self, scope: Scope, host: str, token: str | None) -> list[tuple[str, tuple[str, ...], str, bool]]:
        """(limit name, key, who, counts this request) for every limit this request meets."""
        checks = []
        if token is None:
            checks.append(("rate_limit_anonymous", ("anon", host), f"{host} without a token", True))
        else:
            # an address that has been guessing is refused before its guess gets a counter of its own
            checks.append(("rate_limit_anonymous", ("auth-fail", host), f"{host} with failed tokens", False))
            checks.append(("rate_limit_token", ("token", token), "this token", True))
        if scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/tokens"):
            checks.append(("rate_limit_token_creation", ("create-token", host), f"{host} creating tokens", True))
            if token is not None:
                checks.append(
                    ("rate_limit_token_creation", ("create-token", token), "this token creating tokens", True)
                )
        return checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        host, token = _host(scope), _token(scope)
        for name, key, who, counts in self._checks(scope, host, token):
            item = self.items[name]
            try:
                ok = await (self.limiter.hit(item, *key) if counts else self.limiter.test(item, *key))
            except Exception:  # noqa: BLE001 - a counter store that is down must not take the API with it
                log.warning("rate limit store unavailable; request let through", exc_info=True)
                break
            if not ok:
                await self._refuse(scope, receive, send, name, item, key, who)
                return
        status: dict[str, int] = {}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status.get("code") == 401:
            try:
                await self.limiter.hit(self.items["rate_limit_anonymous"], "auth-fail", host)
            except Exception:  # noqa: BLE001
                log.warning("rate limit store unavailable; failed authentication not counted", exc_info=True)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, name: str, item: RateLimitItem, key: tuple[str, ...], who: str
    ) -> None:
        stats = await self.limiter.get_window_stats(item, *key)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        response = problem(
            429,
            "Too many requests",
            f"More than {item} requests from {who} (limit {name}); retry in {retry} s.",
            "/problems/RateLimited",
            limit=name,
            retry_after=retry,
        )
        response.headers["Retry-After"] = str(retry)
        await response(scope, receive, send)


def install(app: Any, limits: RateLimits | None) -> None:
    """Add the middleware when ``limits`` is given (None: no rate limit)."""
    if limits is not None:
        app.add_middleware(RateLimitMiddleware, limits=limits)
