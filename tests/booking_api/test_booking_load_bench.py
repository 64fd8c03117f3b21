"""The booking load bench (``bench/booking_load.py``) still runs end to end: a tiny run on SQLite
books, refuses the conflicts, lets one racer win each slot, lists, finds no overlap, and measures
the server's CPU per request (booking and the stack's floor)."""

from __future__ import annotations

import json

from bench import booking_load


def test_the_load_bench_runs_with_tiny_counts(tmp_path):
    out = tmp_path / "load.json"
    argv = ["--workers", "1", "--bookings", "12", "--clients", "2", "--conflicts", "4", "--race-clients", "3",
            "--race-slots", "2", "--instruments", "2", "--list-repeats", "1", "--floor", "6", "--json", str(out)]  # fmt: skip
    assert booking_load.main(argv) == 0
    result = json.loads(out.read_text())
    phases = {p["phase"]: p for p in result["phases"]}
    assert phases["book"]["statuses"] == {"201": 12}
    assert phases["conflict"]["statuses"] == {"409": 4}
    assert phases["race"]["statuses"] == {"201": 2, "409": 4}
    assert phases["list all"]["statuses"] == {"14": 1}  # 12 booked and the 2 race winners
    assert result["overlaps"] == 0
    assert phases["floor me"]["statuses"] == {"200": 6} and phases["floor healthz"]["statuses"] == {"200": 6}
    cpu = result["cpu_ms_per_request"]
    assert set(cpu) == {"book", "floor healthz", "floor me"}
    assert cpu["book"]["server_s"] > 0 and cpu["book"]["database_s"] == 0  # SQLite: no backend processes
