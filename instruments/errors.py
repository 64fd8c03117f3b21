"""The domain error family. Every layer raises these; ``booking_api`` maps them to HTTP once.

Each error carries a human message a person can act on; rule failures carry a list of
``Violation`` (stable code + message), conflicts carry the bookings collided with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import field as dataclass_field
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One failed rule: ``code`` is stable (clients may switch on it), ``message`` is for people
    (English, data in it). ``params`` holds the same data structured (names, local times, limits),
    so a page can say it in the reader's language; the API's ``as_dict`` leaves it out."""

    code: str
    message: str
    field: str | None = None
    params: dict[str, Any] = dataclass_field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            d["field"] = self.field
        return d


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Unauthorized(DomainError):
    status = 401
    title = "Authentication required"


class InvalidInput(DomainError):
    """Input that is well-formed JSON but makes no sense (reported as 422, naming the field)."""

    status = 422
    title = "Invalid input"

    def __init__(self, detail: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.field = field
        self.extra.setdefault("violations", [Violation("invalid", detail, field).as_dict()])


class Conflict(DomainError):
    status = 409
    title = "Conflict"

    def __init__(self, detail: str, conflicts: list[dict[str, Any]] | None = None, **extra: Any):
        super().__init__(detail, **extra)
        if conflicts is not None:
            self.extra["conflicts"] = conflicts


class InvalidState(Conflict):
    """The object is in a state that does not allow the action (e.g. cancel a completed booking)."""

    title = "Not allowed in the current state"


class PolicyViolation(DomainError):
    status = 422
    title = "Booking policy not met"

    def __init__(self, violations: list[Violation], **extra: Any) -> None:
        detail = "; ".join(v.message for v in violations)
        super().__init__(detail, **extra)
        self.violations = violations
        self.extra["violations"] = [v.as_dict() for v in violations]


@dataclass
class Warnings:
    """Non-fatal notes returned next to a result (e.g. an unknown holiday year)."""

    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        if message not in self.items:
            self.items.append(message)


class LimitExceeded(DomainError):
    """A request would do more work than the platform allows (occurrences, rows, seconds).

    ``limit`` names the setting or constant that refused it, so the client knows what to shrink
    (a shorter horizon, a split file, a simpler rule)."""

    status = 422
    title = "Limit exceeded"

    def __init__(self, detail: str, limit: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.limit = limit
        self.extra["limit"] = limit
        self.extra.setdefault("violations", [Violation("limit_exceeded", detail, field).as_dict()])


class PayloadTooLarge(LimitExceeded):
    """The request body is larger than the endpoint accepts; refused before it is parsed."""

    status = 413
    title = "Payload too large"


class RequestTimeout(LimitExceeded):
    """The client took longer than allowed to send its request."""

    status = 408
    title = "Request timeout"
