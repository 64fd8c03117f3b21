"""Languages of the web pages: zh-CN by default (or as the browser's Accept-Language asks),
English by a switch remembered in a cookie; Babel catalogues read from
``translations/<locale>/LC_MESSAGES/*.po`` (one file per area of the app — ``messages.po`` for the
shell and account, others named for their pages — merged into one catalogue) and compiled in memory
when first used, so there is no generated file to keep in step and no build step. English is the source language (msgids); a language without a catalogue shows them as they
are. Also the two formats every page needs: money in yuan from integer fen, and an instant in a
named time zone."""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

HERE = Path(__file__).parent / "translations"
LANGUAGES = {"zh-CN": "zh_Hans_CN", "en": None}  # <html lang> → catalogue folder (None: the msgids)
DEFAULT = "zh-CN"
COOKIE = "labshare_lang"


def catalogue_paths(lang: str) -> list[Path]:
    """The ``.po`` files of a language, in name order (none for English, the source language)."""
    folder = LANGUAGES[lang]
    return sorted((HERE / folder / "LC_MESSAGES").glob("*.po")) if folder else []


def catalogue(lang: str) -> Catalog:
    """A language's catalogues merged into one; a message translated in two files must read the
    same in both (``test_web_catalogues`` checks it)."""
    merged = Catalog(locale=LANGUAGES[lang] or "en")
    for path in catalogue_paths(lang):
        with path.open("rb") as f:
            for message in read_po(f, locale=LANGUAGES[lang]):
                if message.id and message.string:
                    merged[message.id] = message
    return merged


@cache
def translations(lang: str) -> NullTranslations:
    """The gettext translations of a language (``zh-CN`` or ``en``)."""
    if not catalogue_paths(lang):
        return NullTranslations()
    buf = io.BytesIO()
    write_mo(buf, catalogue(lang))
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


def local_span(start: datetime, end: datetime, zone: str) -> str:
    """A span in a named zone, the end's date left out when it is the start's:
    2026-12-07 09:00–11:00 (Asia/Shanghai)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("local_span needs timezone-aware datetimes")
    tz = ZoneInfo(zone)
    a, b = start.astimezone(tz), end.astimezone(tz)
    tail = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
    return f"{a:%Y-%m-%d %H:%M}–{tail} ({zone})"
