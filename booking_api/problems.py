"""Domain errors → RFC 9457 problem+json, in one place. No client input may produce a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instruments.errors import DomainError

log = logging.getLogger("labshare")
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        slug = type(exc).__name__
        return problem(exc.status, exc.title, exc.detail, f"/problems/{slug}", **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        violations = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
            violations.append(
                {"code": err.get("type", "invalid"), "field": ".".join(loc), "message": err.get("msg", "")}
            )
        detail = "; ".join(f"{v['field']}: {v['message']}" for v in violations)
        return problem(422, "Invalid input", detail, "/problems/InvalidInput", violations=violations)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail))

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # a unique or exclusion constraint refused a write that lost a race: the database referees
        log.info("constraint refused a write: %s", exc.orig)
        return problem(
            409, "Conflict", "The change conflicts with a concurrent one; reload and retry.", "/problems/Conflict"
        )

    @app.exception_handler(OperationalError)
    async def _contention(_: Request, exc: OperationalError) -> JSONResponse:
        # a deadlock or serialisation failure picked this request as the loser: safe to retry
        code = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "diag", None), "sqlstate", None)
        if code in ("40P01", "40001") or "database is locked" in str(exc.orig):
            return problem(409, "Conflict", "The change collided with a concurrent one; retry.", "/problems/Conflict")
        log.exception("database error", exc_info=exc)
        return problem(
            500, "Internal error", "Something went wrong on our side; it has been logged. Please retry later."
        )

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # a value the database cannot hold (e.g. a number out of range) is the client's input
        return problem(
            422, "Invalid input", f"A value is out of range for storage: {exc.orig}", "/problems/InvalidInput"
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # e.g. a date near year 9999 pushed past the calendar's end by a default range
        return problem(422, "Invalid input", "A date or number is out of the supported range (years 2000–2100).", "/problems/InvalidInput")

    @app.exception_handler(ValueError)
    async def _value(_: Request, exc: ValueError) -> JSONResponse:
        # e.g. a naive datetime reaching the database layer
        return problem(422, "Invalid input", str(exc), "/problems/InvalidInput")

    @app.exception_handler(StatementError)
    async def _statement(request: Request, exc: StatementError) -> JSONResponse:
        # a value refused while binding it (e.g. a date whose UTC conversion overflows) is the
        # client's input, like the same error raised outside SQLAlchemy
        if isinstance(exc.orig, OverflowError):
            return await _overflow(request, exc.orig)
        if isinstance(exc.orig, ValueError):
            return await _value(request, exc.orig)
        return _internal_error(exc)

    app.add_middleware(UnexpectedErrors)


def _internal_error(exc: BaseException) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "Internal error", "Something went wrong on our side; it has been logged. Please retry later.")


class UnexpectedErrors:
    """Any other exception becomes a problem+json 500, answered here rather than by Starlette's
    outermost error middleware: that one re-raises after answering, and the server then drops the
    keep-alive connection without a ``Connection: close``, so the client's next request on it fails.
    Answered here, the exchange is complete and the connection stays usable. An error after the
    response has started cannot be answered any more; it propagates and the server closes the
    connection, which is then the honest signal."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            await _internal_error(exc)(scope, receive, send)
