"""Languages of the web pages: zh-CN by default (or as the browser's Accept-Language asks),
English by a switch remembered in a cookie; Babel catalogues read from ``translations/*.po`` and
compiled in memory when first used, so there is no generated file to keep in step and no build
step. English is the source language (msgids); a language without a catalogue shows them as they
are. Also the two formats every page needs: money in yuan from integer fen, and an instant in a
named time zone."""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

HERE = Path(__file__).parent / "translations"
LANGUAGES = {"zh-CN": "zh_Hans_CN", "en": None}  # <html lang> → catalogue folder (None: the msgids)
DEFAULT = "zh-CN"
COOKIE = "labshare_lang"


def catalogue_path(lang: str) -> Path | None:
    folder = LANGUAGES[lang]
    return HERE / folder / "LC_MESSAGES" / "messages.po" if folder else None


@cache
def translations(lang: str) -> NullTranslations:
    """The gettext translations of a language (``zh-CN`` or ``en``)."""
    path = catalogue_path(lang)
    if path is None:
        return NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=LANGUAGES[lang])
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the switch's cookie, else the first of the browser's languages
    (by q-value) that is Chinese or English, else zh-CN."""
    if cookie in LANGUAGES:
        return cookie
    wanted: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            wanted.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(wanted):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


def yuan(fen: int) -> str:
    """Integer fen shown as yuan: 123450 → ¥1,234.50 (−¥12.00 for a refund)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def local_time(at: datetime, zone: str) -> str:
    """An instant in a named zone, with the zone named: 2026-12-07 09:00 (Asia/Shanghai)."""
    if at.tzinfo is None:
        raise ValueError("local_time needs a timezone-aware datetime")
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"
