"""Sending one message over SMTP, configured by one URL (``LABSHARE_SMTP_URL``).

The client is the standard library's ``smtplib``: the delivery job runs in APScheduler's worker
thread, where a blocking client is the simple fit (an async client such as aiosmtplib would need
an event loop of its own there), and it is maintained with Python itself, so no dependency.

URL forms: ``smtp://host:port`` (plain, for a local relay or the demo's sink),
``smtp://user:pass@host:587?starttls=true`` (upgrade with STARTTLS), ``smtps://user:pass@host:465``
(TLS from the first byte). User and password are percent-decoded.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from instruments.errors import InvalidInput

TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: bool = False  # implicit TLS (smtps)
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 20.0

    @classmethod
    def from_url(cls, url: str, timeout: float = 20.0) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise InvalidInput(f"LABSHARE_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://.")
        if not parts.hostname:
            raise InvalidInput("LABSHARE_SMTP_URL names no host.")
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            tls=tls,
            starttls=not tls and query.get("starttls", "") in TRUE,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=timeout,
        )


def sender_for(config: SmtpConfig) -> Callable[[EmailMessage], None]:
    """A function sending one message per SMTP conversation (raises on any refusal)."""

    def send(msg: EmailMessage) -> None:
        context = ssl.create_default_context()
        if config.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with client:
            if config.starttls:
                client.starttls(context=context)
            if config.username:
                client.login(config.username, config.password or "")
            refused = client.send_message(msg)
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)

    return send
