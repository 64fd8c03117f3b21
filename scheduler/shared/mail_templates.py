"""The words of every mail, in zh-CN and English: one Jinja2 text template per kind and language
in ``mail_templates/<language>/<kind>.txt`` whose first line is the subject. The HTML part is the
same text, escaped, in a small layout, so the two parts never say different things.

Templates get the event's data (plain JSON: ids, names, fen, ISO times with offset) and format
it themselves: ``yuan`` for money (¥1,234.50), ``when`` for a time in the instrument's zone with
the zone named, so a mail reads the same whenever and wherever it is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import escape

from scheduler.shared.mail_prefs import DEFAULT_LANGUAGE, LANGUAGES, MailKind

HERE = Path(__file__).parent / "mail_templates"


def yuan(fen: int | None) -> str:
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def when(iso: str | None, tz: str = "Asia/Shanghai") -> str:
    """An ISO time shown in zone ``tz``, the zone named: 2026-12-08 09:00 (Asia/Shanghai)."""
    if not iso:
        return "—"
    return f"{datetime.fromisoformat(iso).astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} ({tz})"


def span(start: str, end: str, tz: str = "Asia/Shanghai") -> str:
    """A time range in zone ``tz``: 2026-12-08 09:00–11:00 (Asia/Shanghai), dates repeated only
    when it crosses midnight."""
    z = ZoneInfo(tz)
    a, b = datetime.fromisoformat(start).astimezone(z), datetime.fromisoformat(end).astimezone(z)
    tail = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
    return f"{a:%Y-%m-%d %H:%M}–{tail} ({tz})"


def day(iso: str | None, tz: str = "Asia/Shanghai") -> str:
    if not iso:
        return "—"
    return f"{datetime.fromisoformat(iso).astimezone(ZoneInfo(tz)):%Y-%m-%d}"


@cache
def _env(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / language),
        undefined=StrictUndefined,
        autoescape=False,  # text mail; the HTML part escapes the rendered text as a whole
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(yuan=yuan, when=when, span=span, day=day)
    return env


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(kind: MailKind | str, language: str, data: dict[str, Any]) -> Rendered:
    """Subject, text and HTML of one mail (unknown language: the platform default)."""
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    out = _env(lang).get_template(f"{MailKind(kind)}.txt").render(**data).strip()
    subject, _, body = out.partition("\n")
    body = body.strip("\n")
    paragraphs = "".join(f"<p>{str(escape(p)).replace(chr(10), '<br>')}</p>" for p in body.split("\n\n"))
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{escape(subject)}</title></head>'
        f'<body style="font-family: sans-serif; line-height: 1.5">{paragraphs}</body></html>'
    )
    return Rendered(subject.strip(), body, html)


_BOOKING = {
    "booking_id": "bkg_example00001",
    "request_id": None,
    "instrument": "Powder XRD",
    "tz": "Asia/Shanghai",
    "start": "2026-12-08T01:00:00+00:00",
    "end": "2026-12-08T03:00:00+00:00",
    "status": "tentative",
    "price_fen": 40000,
    "voucher_fen": 20000,
    "enterprise_fen": 20000,
}
_VOUCHER = {
    "voucher_id": "vch_example00001",
    "code": "TJ2026A0000000001X",
    "programme": "Tianjin 2026 innovation vouchers",
    "face_value_fen": 5000000,
    "expires_at": "2026-12-31T15:59:59+00:00",
    "tz": "Asia/Shanghai",
}
SAMPLES: dict[MailKind, dict[str, Any]] = {
    MailKind.booking_created: _BOOKING,
    MailKind.booking_confirmed: _BOOKING | {"status": "confirmed"},
    MailKind.booking_moved: _BOOKING
    | {"old_start": "2026-12-07T06:00:00+00:00", "old_end": "2026-12-07T08:00:00+00:00"},
    MailKind.booking_cancelled: _BOOKING | {"status": "cancelled", "reason": "instrument maintenance"},
    MailKind.booking_no_show: _BOOKING | {"status": "no_show", "grace_minutes": 30},
    MailKind.booking_reminder: _BOOKING | {"status": "confirmed"},
    MailKind.request_placed: _BOOKING | {"request_id": "req_example00001"},
    MailKind.request_unplaced: {
        "request_id": "req_example00002",
        "instrument": "FE-SEM",
        "reason": "No free time on FE-SEM within your window 2026-12-08 – 2026-12-10 fits 4 h.",
    },
    MailKind.time_offered: _BOOKING
    | {"request_id": "req_example00003", "expires_at": "2026-12-07T02:00:00+00:00"},
    MailKind.voucher_issued: _VOUCHER,
    MailKind.voucher_expiring: _VOUCHER | {"days": 30},
    MailKind.voucher_lapsed: _VOUCHER,
    MailKind.redemption_window_open: {"programme": "Tianjin 2026 innovation vouchers", "window": "2026Q4"},
    MailKind.claim_decided: {
        "item_id": "cli_example00001",
        "programme": "Tianjin 2026 innovation vouchers",
        "voucher_code": "TJ2026A0000000001X",
        "amount_fen": 20000,
        "bonus_fen": 2000,
        "approved": True,
        "reason": "",
    },
    MailKind.batch_paid: {
        "batch_id": "pay_example00001",
        "programme": "Tianjin 2026 innovation vouchers",
        "items": 3,
        "amount_fen": 123450,
        "bonus_fen": 12345,
        "paid_at": "2026-12-06T02:00:00+00:00",
        "tz": "Asia/Shanghai",
    },
    MailKind.report_published: {
        "report_id": "rrp_example00001",
        "year": 2026,
        "rule_set": "tianjin-university@1",
        "total_reward_fen": 500000000,
    },
}
"""Example data of every kind (the ``labshare mail samples`` command, the template tests)."""
