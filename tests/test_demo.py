"""The demo data: realistic, deterministic, valid, and the printed curl lines work."""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime

from fastapi.testclient import TestClient
from sqlmodel import col, func, select
from typer.testing import CliRunner

from booking_api.app import create_app
from booking_api.cli import app as cli
from fixtures.demo import TZ, build_demo
from instruments.inventory import Instrument
from instruments.units import OwnerUnit
from scheduler import credit_code
from scheduler.bookings import Booking, BookingStatus
from scheduler.enterprises import Enterprise

TODAY = datetime(2026, 11, 23, tzinfo=TZ).date()


def test_demo_is_realistic_and_valid(db, session):
    demo = build_demo(session, TODAY)
    session.commit()
    assert session.exec(select(func.count()).select_from(OwnerUnit)).one() >= 3
    instruments = session.exec(select(Instrument)).all()
    assert len(instruments) >= 40
    assert len({i.category for i in instruments}) >= 8
    models = {(i.manufacturer, i.model) for i in instruments}
    assert ("Bruker", "AVANCE NEO 600") in models and ("Agilent", "7900") in models
    assert all(i.fee_hour_external_fen > 0 and i.original_value_fen > 0 for i in instruments)
    ents = session.exec(select(Enterprise)).all()
    assert len(ents) >= 20 and all(credit_code.problem(e.credit_code) is None for e in ents)
    bookings = session.exec(select(Booking)).all()
    assert len(bookings) == demo.bookings >= 200
    days = {b.start.astimezone(TZ).date() for b in bookings}
    assert (max(days) - min(days)).days >= 25
    done = [b for b in bookings if b.status == BookingStatus.completed]
    ahead = session.exec(select(Booking).where(col(Booking.status) == BookingStatus.confirmed)).all()
    assert done and ahead and all(b.checked_out_at for b in done)


def test_demo_is_deterministic(db, session):
    def snapshot() -> list[tuple]:
        rows = session.exec(select(Booking).order_by(Booking.id)).all()
        out = [(b.id, b.instrument_id, b.start, b.end, str(b.status)) for b in rows]
        session.rollback()  # end the read transaction before the next write
        return out

    build_demo(session, TODAY, seed=7)
    session.commit()
    first = snapshot()
    db.clean()
    build_demo(session, TODAY, seed=7)
    session.commit()
    assert snapshot() == first


def test_cli_demo_prints_tokens_and_curl_lines_that_work(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert result.output.count("lsk_") >= 5
    curls = [line for line in result.output.splitlines() if line.startswith("curl ")]
    assert len(curls) == 4
    with TestClient(create_app(url)) as client:
        for line in curls:
            args = shlex.split(line)
            target = next(a for a in args if a.startswith("http"))
            path = re.sub(r"^http://[^/]+", "", target)
            headers = dict(h.split(": ", 1) for h in (args[i + 1] for i, a in enumerate(args) if a == "-H"))
            if "-X" in args:
                body = json.loads(args[args.index("-d") + 1])
                r = client.post(path, json=body, headers=headers)
                assert r.status_code == 201, r.text
                assert r.json()["status"] in ("tentative", "confirmed")
            else:
                r = client.get(path, headers=headers)
                assert r.status_code == 200 and r.json(), r.text
