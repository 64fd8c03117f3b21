"""Mail tests: an in-process SMTP server (aiosmtpd, ``booking_api.mail_sink``) and a deliverer
that sends the outbox there with the clock passed in."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from booking_api.mail_sink import MailSink
from scheduler.shared.outbox import deliver_due
from scheduler.shared.smtp import SmtpConfig, sender_for

SENDER = "labshare <noreply@labshare.test>"


@pytest.fixture
def sink(request: pytest.FixtureRequest) -> Iterator[MailSink]:
    """The SMTP server; with LABSHARE_TEST_MAIL_DIR set, what it receives is also written there
    as .eml files, one folder per test (to read the mails the tests send)."""
    keep = os.environ.get("LABSHARE_TEST_MAIL_DIR")
    folder = Path(keep) / re.sub(r"[^\w.-]+", "_", request.node.name) if keep else None
    with MailSink(folder=folder) as s:
        yield s


class Postman:
    """Delivers due mail to the sink and hands out what arrived since the last call."""

    def __init__(self, db, sink: MailSink) -> None:  # noqa: ANN001
        self.db, self.sink, self.seen = db, sink, 0

    def deliver(self, now: datetime, **kw) -> dict[str, int]:  # noqa: ANN003
        kw.setdefault("max_attempts", 3)
        kw.setdefault("backoff_seconds", 60)
        return deliver_due(self.db.engine, sender_for(SmtpConfig.from_url(self.sink.url, 5)), now, sender=SENDER, **kw)

    def new(self, now: datetime) -> list[EmailMessage]:
        self.deliver(now)
        got = self.sink.messages[self.seen :]
        self.seen = len(self.sink.messages)
        return got


@pytest.fixture
def postman(db, sink) -> Postman:  # noqa: ANN001
    return Postman(db, sink)


def body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def html(msg: EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()


def only(msgs: list[EmailMessage], kind: str) -> EmailMessage:
    """The one mail of ``kind`` among ``msgs`` (fails if there are none or several)."""
    mine = [m for m in msgs if m["X-Labshare-Kind"] == kind]
    assert len(mine) == 1, f"{kind}: {[(m['X-Labshare-Kind'], m['To']) for m in msgs]}"
    return mine[0]


def check(msg: EmailMessage, to: str, language: str, *words: str) -> None:
    """``msg`` went to ``to`` in ``language`` and says each of ``words`` (subject or body)."""
    text = f"{msg['Subject']}\n{body(msg)}"
    assert msg["To"] == to and msg["Content-Language"] == language, (msg["To"], msg["Content-Language"])
    for w in words:
        assert w in text, f"{w!r} not in:\n{text}"
    assert "{{" not in text and "{%" not in text
