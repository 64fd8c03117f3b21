"""A local SMTP server that keeps what it receives (aiosmtpd in a thread): the demo's mail sink,
so a newcomer sees the platform's mail without a mail server, and the mail tests' server.

Every message is kept in memory (``messages``) and, with a ``folder``, written there as
``<n>-<kind>.eml`` (any mail program opens it; ``labshare mail show`` prints the outbox's copy).
"""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _Keep:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        if self.sink.refuse:
            return "451 4.3.0 try again later (the sink is told to refuse)"
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.sink.keep(msg, list(envelope.rcpt_tos))
        return "250 OK"


class MailSink:
    """``with MailSink() as sink:`` serves SMTP on ``sink.url`` until the block ends."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, folder: Path | None = None) -> None:
        self.host, self.port = host, port or free_port(host)
        self.folder = folder
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.refuse = False  # tests: answer 451 to every message
        self._lock = threading.Lock()
        self._controller = Controller(_Keep(self), hostname=host, port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def keep(self, msg: EmailMessage, rcpt: list[str]) -> None:
        with self._lock:
            self.messages.append(msg)
            self.envelopes.append(rcpt)
            n = len(self.messages)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{n:04d}-{msg.get('X-Labshare-Kind', 'mail')}.eml").write_bytes(msg.as_bytes())

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
