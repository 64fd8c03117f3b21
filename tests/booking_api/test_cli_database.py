"""The CLI's database: every command defaults to the demo's database; a missing or empty one is
refused with a hint and no file is left behind; the demo honours LABSHARE_HOST/LABSHARE_PORT,
never replaces real data unasked, and leaves nothing but its database in the working directory."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select
from typer.testing import CliRunner

from booking_api.accounts import User
from booking_api.cli import app as cli
from booking_api.migrate import upgrade
from fixtures import factories
from instruments.actor import Role
from instruments.db import get_engine, session_scope
from instruments.run_lock import RunLock
from instruments.settings import DEFAULT_DATABASE_URL, Settings, get_settings

from .test_serve import free_port
from .test_serve_workers import wait_for

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    ["rewards", "2026"],
    ["round", "--time-limit", "1"],
    ["vouchers", "stats"],
    ["usage", "import", str(Path(__file__)), "--instrument", "ins_x"],
]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """A working directory of its own, and no database named by the environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("LABSHARE_DATABASE_URL", "DATABASE_URL", "LABSHARE_HOST", "LABSHARE_PORT"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_the_demo_and_every_command_share_one_default_database():
    assert Settings.model_fields["database_url"].default == DEFAULT_DATABASE_URL == "sqlite:///labshare.db"
    demo = next(c for c in cli.registered_commands if c.name == "demo" or getattr(c.callback, "__name__", "") == "demo")
    params = demo.callback.__defaults__
    assert any(getattr(p, "default", None) == DEFAULT_DATABASE_URL for p in params)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_command_refuses_a_missing_database_with_a_hint_and_creates_no_file(clean_env, command):
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 2, result.output
    assert "labshare demo" in result.output and "labshare migrate" in result.output
    assert f"sqlite:///{clean_env / 'labshare.db'}" in result.output  # the default, named as the very file
    assert not (clean_env / "labshare.db").exists()
    assert sorted(p.name for p in clean_env.iterdir()) == []


def test_a_command_refuses_a_database_without_tables(clean_env, monkeypatch):
    path = clean_env / "other.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # a database, but not labshare's
        conn.execute(text("CREATE TABLE notes (x INTEGER)"))
    engine.dispose()
    monkeypatch.setenv("LABSHARE_DATABASE_URL", f"sqlite:///{path}")
    result = CliRunner().invoke(cli, ["rewards", "2026"])
    assert result.exit_code == 2, result.output
    assert "has no labshare tables" in result.output and "labshare demo" in result.output


def test_migrate_creates_the_tables_a_command_then_uses(clean_env):
    migrated = CliRunner().invoke(cli, ["migrate"])
    assert migrated.exit_code == 0 and f"sqlite:///{clean_env / 'labshare.db'}" in migrated.output, migrated.output
    assert (clean_env / "labshare.db").is_file()
    result = CliRunner().invoke(cli, ["vouchers", "stats"])
    assert result.exit_code == 1 and "No such voucher programme" in result.output  # past the check: an empty platform


def test_the_demo_refuses_to_replace_a_database_with_real_users(clean_env):
    url = f"sqlite:///{clean_env / 'labshare.db'}"
    upgrade(url)
    with session_scope(get_engine(url)) as s:
        factories.user(s, Role.programme_admin, "Boss", "boss@factory.cn")
    result = CliRunner().invoke(cli, ["demo", "--no-serve"])
    assert result.exit_code == 2, result.output
    assert "--replace" in result.output and "1 users" in result.output
    with session_scope(get_engine(url)) as s:
        assert [u.email for u in s.exec(select(User)).all()] == ["boss@factory.cn"]  # untouched


def test_demo_honours_labshare_port_and_leaves_only_its_database_in_the_working_directory(tmp_path):
    """``labshare demo`` as ``make demo`` runs it (default database, jobs on), then Ctrl-C; the
    logins and curl lines it prints work against the server it started."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("LABSHARE_DATABASE_URL", "DATABASE_URL")}
    env |= {"LABSHARE_PORT": str(port), "LABSHARE_RUN_JOBS": "true", "PYTHONPATH": str(ROOT)}
    log = (tmp_path.parent / f"{tmp_path.name}-demo.log").open("wb")  # outside the directory watched
    proc = subprocess.Popen(
        [sys.executable, "-m", "booking_api.cli", "demo", "--today", "2026-11-23"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:

        def up() -> bool:
            assert proc.poll() is None, Path(log.name).read_text()[-3000:]
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for("the demo serves on LABSHARE_PORT", up, deadline=300)  # builds the demo first
        with session_scope(get_engine(f"sqlite:///{tmp_path / 'labshare.db'}")) as s:
            wait_for("the demo's process leads the jobs", lambda: s.get(RunLock, "job_leader"))
        _printed_logins_and_curl_lines_work(Path(log.name).read_text())
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
    assert f"http://127.0.0.1:{port}/api/v1/instruments" in Path(log.name).read_text()  # the printed curl lines too
    assert {p.name for p in tmp_path.iterdir()} <= {"labshare.db", "labshare.db-wal", "labshare.db-shm"}


def _printed_logins_and_curl_lines_work(output: str) -> None:
    """What the demo prints works against the server it started: a ``login:`` line per role (no
    spaces inside a field) signs in, and each ``curl`` line answers as a newcomer expects."""
    assert output.count("lsk_") >= 5
    logins = [line.split() for line in output.splitlines() if line.startswith("login: ")]
    assert sorted(parts[1] for parts in logins) == ["enterprise_member", "lab_manager", "operator", "programme_admin"]
    assert all(len(parts) == 4 for parts in logins)  # login: ROLE USERNAME PASSWORD
    curls = [line for line in output.splitlines() if line.startswith("curl ")]
    assert len(curls) == 4
    base = re.search(r"http://127\.0\.0\.1:\d+", curls[0]).group(0)
    for _, role, username, password in logins:
        with httpx.Client(base_url=base, timeout=30) as client:
            form = client.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            r = client.post("/login", data={"username": username, "password": password, "csrf": csrf})
            assert r.status_code == 303, (role, r.text)
            assert client.get("/home").status_code == 200
    for line in curls:
        args = shlex.split(line)
        target = next(a for a in args if a.startswith("http"))
        headers = dict(h.split(": ", 1) for h in (args[i + 1] for i, a in enumerate(args) if a == "-H"))
        if "-X" in args:
            r = httpx.post(target, json=json.loads(args[args.index("-d") + 1]), headers=headers, timeout=30)
            assert r.status_code == 201, r.text
            assert r.json()["status"] in ("tentative", "confirmed")
        else:
            r = httpx.get(target, headers=headers, timeout=30)
            assert r.status_code == 200 and r.json(), r.text
