"""``labshare mail`` reads the outbox from the shell; the demo's SMTP sink receives what the
delivery command sends and writes it out as .eml files a newcomer can open."""

from __future__ import annotations

import os
from datetime import timedelta
from email import message_from_bytes, policy

from typer.testing import CliRunner

from booking_api.cli import _start_mail_sink
from booking_api.cli import app as cli
from instruments.settings import get_settings
from scheduler import booking_actions as actions


def test_mail_commands_and_the_demo_sink(db, session, world, tmp_path, monkeypatch):
    w = world
    now = w.at(8) - timedelta(days=2)
    b = actions.book(session, w.member_a, actions.BookingInput(w.xrd.id, w.at(9), w.at(11), "operator_run"), now=now)
    session.commit()
    run = CliRunner()
    listed = run.invoke(cli, ["mail", "list", "--lines", "5", "--database-url", db.url])
    assert listed.exit_code == 0, listed.output
    assert "queued" in listed.output and "booking_created" in listed.output and "a@t.cn" in listed.output
    assert "Powder XRD" in listed.output and "¥400.00" in listed.output

    monkeypatch.delenv("LABSHARE_SMTP_URL", raising=False)
    monkeypatch.delenv("LABSHARE_MAIL_INTERVAL_SECONDS", raising=False)
    get_settings.cache_clear()
    sink = _start_mail_sink(0, tmp_path / "mail", db.url)
    try:
        assert os.environ["LABSHARE_SMTP_URL"] == sink.url and get_settings().smtp_url == sink.url
        sent = run.invoke(cli, ["mail", "deliver", "--database-url", db.url])
        assert sent.exit_code == 0 and "'sent': 1" in sent.output, sent.output
    finally:
        sink.stop()
        monkeypatch.delenv("LABSHARE_SMTP_URL", raising=False)
        monkeypatch.delenv("LABSHARE_MAIL_INTERVAL_SECONDS", raising=False)
        get_settings.cache_clear()
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert [f.name for f in files] == ["0001-booking_created.eml"]
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["To"] == "a@t.cn" and b.id in msg.get_body(("plain",)).get_content()

    mail_id = msg["Message-ID"].strip("<>").split("@")[0]
    shown = run.invoke(cli, ["mail", "show", mail_id, "--database-url", db.url])
    assert shown.exit_code == 0 and "Status: sent" in shown.output and "Subject: 预约已提交" in shown.output
    assert run.invoke(cli, ["mail", "retry", mail_id, "--database-url", db.url]).exit_code == 1  # not failed
    assert run.invoke(cli, ["mail", "list", "--status", "nonsense", "--database-url", db.url]).exit_code == 2
    samples = run.invoke(cli, ["mail", "samples", "--language", "en", "--lines", "1"])
    assert samples.exit_code == 0 and samples.output.count("[") >= 16
