"""``labshare mail``: the outbox from the shell: list and read mail, retry failed mail, deliver
due mail now, and print a sample of every kind in both languages."""

from __future__ import annotations

import typer
from rich.console import Console

from instruments.db import get_engine, session_scope
from instruments.settings import get_settings

console = Console()
DbUrl = typer.Option(None, "--database-url", envvar=["LABSHARE_DATABASE_URL", "DATABASE_URL"], help="SQLAlchemy URL")

mail_app = typer.Typer(help="The mail outbox.", no_args_is_help=True)


def _say(text: str) -> None:
    console.print(text, soft_wrap=True, highlight=False, markup=False)


@mail_app.command("list")
def mail_list(
    status: str = typer.Option(None, help="queued, sending, sent or failed"),
    limit: int = typer.Option(50, min=1, max=1000),
    lines: int = typer.Option(0, min=0, help="Also print the first N lines of each body"),
    database_url: str | None = DbUrl,
) -> None:
    """Mail in the outbox, newest first: status, attempts, recipient, subject (and last error)."""
    from scheduler.shared.outbox import MailStatus, list_mail

    try:
        wanted = MailStatus(status) if status else None
    except ValueError:
        raise typer.BadParameter(f"{status!r}: use one of {', '.join(MailStatus)}.", param_hint="--status") from None
    with session_scope(get_engine(database_url or get_settings().database_url)) as session:
        rows = list_mail(session, status=wanted, limit=limit)
        for m in rows:
            _say(f"{m.id}  {m.status:<7} ×{m.attempts}  {m.kind:<22} {m.language:<5} {m.recipient}  {m.subject}")
            if m.last_error:
                _say(f"    last error: {m.last_error}")
            for line in [x for x in m.text_body.splitlines() if x.strip()][:lines]:
                _say(f"    | {line}")
    if not rows:
        _say("No mail.")


@mail_app.command("show")
def mail_show(mail_id: str, database_url: str | None = DbUrl) -> None:
    """One mail as it is (or will be) sent."""
    from scheduler.shared.outbox import OutboxMail, message_of

    with session_scope(get_engine(database_url or get_settings().database_url)) as session:
        mail = session.get(OutboxMail, mail_id)
        if mail is None:
            _say(f"No mail {mail_id!r}.")
            raise typer.Exit(1)
        msg = message_of(mail, get_settings().mail_from)
    for k in ("From", "To", "Subject", "Date", "Message-ID"):
        _say(f"{k}: {msg[k]}")
    _say(f"Status: {mail.status}, attempts {mail.attempts}" + (f", last error: {mail.last_error}" if mail.last_error else ""))
    _say("")
    _say(mail.text_body)


@mail_app.command("retry")
def mail_retry(mail_id: str, database_url: str | None = DbUrl) -> None:
    """Put a failed mail back in the queue, due now."""
    from instruments.errors import DomainError
    from scheduler.shared.outbox import retry

    try:
        with session_scope(get_engine(database_url or get_settings().database_url)) as session:
            mail = retry(session, mail_id)
    except DomainError as exc:
        _say(exc.detail)
        raise typer.Exit(1) from None
    _say(f"{mail.id} queued again for {mail.recipient}.")


@mail_app.command("deliver")
def mail_deliver(database_url: str | None = DbUrl) -> None:
    """Send due mail now (what the delivery job does every LABSHARE_MAIL_INTERVAL_SECONDS)."""
    from scheduler.jobs import run_mail_delivery

    if not get_settings().smtp_url:
        _say("LABSHARE_SMTP_URL is not set: mail waits in the outbox.")
        raise typer.Exit(1)
    _say(str(run_mail_delivery(database_url or get_settings().database_url)))


@mail_app.command("samples")
def mail_samples(
    language: str = typer.Option(None, help="zh-CN or en (default: both)"),
    lines: int = typer.Option(3, min=0, help="Body lines to print"),
) -> None:
    """A sample of every kind of mail, rendered from its template with example data."""
    from scheduler.shared.mail_prefs import LANGUAGES
    from scheduler.shared.mail_templates import SAMPLES, render

    for kind, data in SAMPLES.items():
        for lang in [language] if language else LANGUAGES:
            r = render(kind, lang, data)
            _say(f"[{kind} · {lang}] {r.subject}")
            for line in [x for x in r.text.splitlines() if x.strip()][:lines]:
                _say(f"    {line}")
