"""Usage CSV edge cases and limits: classic-Mac line endings parse; an oversized cell, a signalling
NaN and a year-0001 date are row and column errors; a file over the size or row limit is refused
before its rows are checked, saying which limit."""

from __future__ import annotations

import time as clock

import pytest
from typer.testing import CliRunner

from booking_api.cli import app as cli_app
from instruments.errors import LimitExceeded
from instruments.settings import get_settings
from scheduler.sharing.usage import ImportRejected, import_csv
from tests.booking_api.conftest import auth

from .test_import import GOOD

HEAD = "started_at,ended_at,fee_yuan,notes\n"
ROW = "2026-03-02T09:00,2026-03-02T10:00,100,ok\n"


def post(client, world, body: bytes, **headers: str):
    return client.post(
        f"/api/v1/instruments/{world.xrd.id}/usage/import",
        content=body,
        headers={**auth(world, "manager"), "Content-Type": "text/csv", **headers},
    )


def test_classic_mac_line_endings_import_like_any_other(session, world):
    res = import_csv(session, world.manager, world.xrd.id, GOOD.replace("\n", "\r"))
    assert res.imported == 3


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("2026-03-02T09:00,2026-03-02T10:00,sNaN,x", "fee_yuan", "is not an amount"),
        ("2026-03-02T09:00,2026-03-02T10:00,-Infinity,x", "fee_yuan", "is not an amount"),
        ("2026-03-02T09:00,2026-03-02T10:00,1E+999999999,x", "fee_yuan", "is not an amount"),
        ("0001-01-01T00:00,2026-03-02T10:00,10,x", "started_at", "outside the years 1970–2200"),
        ("2026-03-02T09:00,9999-12-31T23:59+14:00,10,x", "ended_at", "outside the years 1970–2200"),
        ("2026-03-02T09:00,2026-03-02T10:00,10," + "n" * 131_073, "notes", "longer than"),
    ],
)
def test_a_bad_cell_is_a_row_and_column_error(client, world, row, column, reason):
    r = post(client, world, (HEAD + ROW + row + "\n").encode())
    assert r.status_code == 422, r.text
    (v,) = r.json()["violations"]
    assert (v["row"], v["column"]) == (3, column) and reason in v["message"]


def test_an_over_long_cell_in_a_quoted_multi_line_field_is_reported_too(session, world):
    with pytest.raises(ImportRejected) as err:
        import_csv(
            session,
            world.manager,
            world.xrd.id,
            HEAD + ROW + '2026-03-02T09:00,2026-03-02T10:00,10,"' + "n\n" * 70_000 + '"\n',
        )
    (e,) = err.value.errors
    assert (e.row, e.column) == (3, "notes")


def test_a_file_over_the_size_limit_is_413_before_it_is_read(client, world, monkeypatch):
    monkeypatch.setattr(get_settings(), "usage_import_max_bytes", 1_000)
    r = post(client, world, (HEAD + ROW * 40).encode())
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["limit"] == "usage_import_max_bytes" and "1000 bytes" in body["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_streamed_body_without_a_length_is_cut_off_at_the_size_limit(client, world, monkeypatch):
    monkeypatch.setattr(get_settings(), "usage_import_max_bytes", 1_000)
    def chunks():  # sent chunked, without Content-Length: the stream itself is counted
        yield HEAD.encode()
        for _ in range(1_000):
            yield ROW.encode()

    r = post(client, world, chunks())
    assert r.status_code == 413, r.text
    assert r.json()["limit"] == "usage_import_max_bytes"


def test_a_file_over_the_row_limit_is_refused_before_its_rows_are_checked(client, world, monkeypatch):
    monkeypatch.setattr(get_settings(), "usage_import_max_rows", 5)
    r = post(client, world, (HEAD + ROW * 5).encode())
    assert r.status_code == 201, r.text
    r = post(client, world, (HEAD + "not a time,x,y,z\n" * 6).encode())  # every row bad: not even looked at
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["limit"] == "usage_import_max_rows" and "more than 5 data rows" in body["detail"]


def test_the_default_limits_refuse_300000_rows_quickly(client, world):
    t0 = clock.monotonic()
    r = post(client, world, (HEAD + ROW * 300_000).encode())
    assert clock.monotonic() - t0 < 5  # took 76 s
    assert r.status_code == 413 and r.json()["limit"] == "usage_import_max_bytes"
    t0 = clock.monotonic()
    r = post(client, world, ("started_at,ended_at\n" + "x,y\n" * 300_000).encode())  # small enough, too many rows
    assert clock.monotonic() - t0 < 5
    assert r.status_code == 422 and r.json()["limit"] == "usage_import_max_rows"


def test_the_check_stops_at_its_time_limit(session, world, monkeypatch):
    monkeypatch.setattr(get_settings(), "usage_import_time_limit", 0.0)
    with pytest.raises(LimitExceeded) as err:
        import_csv(session, world.manager, world.xrd.id, HEAD + ROW * 3)
    assert err.value.limit == "usage_import_time_limit"


def test_cli_refuses_an_oversized_file_and_undecodable_bytes(db, world, tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "usage_import_max_bytes", 1_000)
    big, binary = tmp_path / "big.csv", tmp_path / "binary.csv"
    big.write_text(HEAD + ROW * 40)
    binary.write_bytes(b"\xff\xfe\x00\x81\x30\xff" * 10)
    runner = CliRunner()
    for path, words in ((big, "usage_import_max_bytes"), (binary, "neither UTF-8 nor GB18030")):
        res = runner.invoke(
            cli_app, ["usage", "import", str(path), "--instrument", world.xrd.id, "--database-url", db.url]
        )
        assert res.exit_code == 1 and words in res.output, res.output
