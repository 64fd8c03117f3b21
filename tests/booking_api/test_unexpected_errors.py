"""An unexpected error still answers a problem+json 500, and the keep-alive connection it came on
stays usable (the server neither drops it silently nor leaves the client guessing).

A real uvicorn server on 127.0.0.1 (its socket bound and listening before the server thread starts,
so no waiting is needed) and one httpx client with keep-alive: the peer port the server sees tells
whether the same connection carried the requests before and after the error.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import uvicorn
from fastapi import Request
from fastapi.testclient import TestClient
from sqlmodel import select

from booking_api.app import create_app
from booking_api.deps import SessionDep
from scheduler.booking.bookings import Booking


@pytest.fixture
def server(tmp_path) -> Iterator[str]:
    app = create_app(f"sqlite:///{tmp_path / 'unused.db'}")

    @app.get("/test/boom")
    def boom() -> None:
        raise RuntimeError("a bug, not the client's fault")

    @app.get("/test/peer")
    def peer(request: Request) -> dict:
        return {"port": request.client.port}

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    srv = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off", timeout_keep_alive=30))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
        sock.close()
    assert not thread.is_alive()


def test_an_unexpected_error_answers_500_and_keeps_the_connection(server):
    with httpx.Client(base_url=server, timeout=10) as client:
        before = client.get("/test/peer").json()["port"]
        r = client.get("/test/boom")
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["title"] == "Internal error" and "a bug" not in r.text  # nothing internal leaks
        assert r.headers.get("connection", "").lower() != "close"
        after = client.get("/test/peer")
        assert after.status_code == 200 and after.json()["port"] == before  # the same connection


def test_a_value_refused_while_binding_it_is_422(db):
    """Defence in depth behind the validated date type: an overflow raised inside SQLAlchemy's
    parameter binding (wrapped in its StatementError) reaches the OverflowError answer."""
    app = create_app(db.url)

    @app.get("/test/year-one")
    def year_one(session: SessionDep) -> list:
        year_one = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=8)))
        return list(session.exec(select(Booking.id).where(Booking.start > year_one)).all())

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/test/year-one")
    assert r.status_code == 422 and "2000" in r.json()["detail"], r.text
