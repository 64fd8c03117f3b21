"""The demo for one fixed day, built once per test run on SQLite and shared by every test process:
the tests that only need "the demo as ``labshare demo --today 2026-11-23`` builds it" copy this file
instead of building it again (a build runs every booking through the real services: one of the
suite's dearest fixtures; bench/RESULTS.md, "The test suite"). Under xdist the workers share the run's temporary root: the first to ask builds the file
under a lock, the others wait for it and copy it. The file is complete on its own (no WAL beside it)
and never written after it is built; a test that writes works on its own copy (``copy_demo``)."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

DEMO_DAY = date(2026, 11, 23)
"""The day the shared demo is built on (as ``tests/test_demo.py``'s TODAY)."""


def _run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of this test run that every xdist worker sees (the workers' base temporary
    directories are siblings in it); without xdist, the run's own base directory."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SQLite file of the demo built on DEMO_DAY with the default seed, built by the first
    test process of the run that asks for it."""
    root = _run_root(tmp_path_factory)
    target = root / f"shared-demo-{DEMO_DAY.isoformat()}.db"
    with (root / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the build fails
        if not target.exists():
            _build(root / f"{target.name}.building", target)
    return target


def _build(work: Path, target: Path) -> None:
    from sqlmodel import Session

    from booking_api.migrate import upgrade
    from fixtures.demo import build_demo
    from instruments.db import get_engine, get_read_engine

    for stale in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{work}"
    upgrade(url)
    engine = get_engine(url)
    with Session(engine) as session:
        build_demo(session, DEMO_DAY)
        session.commit()
    engine.dispose()
    get_read_engine(url).dispose()
    con = sqlite3.connect(work)
    con.execute("PRAGMA journal_mode=DELETE")  # folds the WAL into the file: one file to copy
    con.close()
    work.rename(target)  # others see the whole file or none


def copy_demo(tmp_path_factory: pytest.TempPathFactory, directory: Path) -> str:
    """A private copy of the shared demo in ``directory``; its database URL."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo.db"
    shutil.copyfile(shared_demo_file(tmp_path_factory), path)
    return f"sqlite:///{path}"
