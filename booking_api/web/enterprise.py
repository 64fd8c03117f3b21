"""What the enterprise's own pages share (requests, vouchers, notifications, complaints): the
signed-in enterprise member as an ``Actor`` (``roles.MemberDep``), the words
for request statuses and service modes, and a round's reason said in the page's language from its
structured facts (instruments, local start and end, zone) rather than the platform's English."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request

from instruments.settings import get_settings

from .i18n import translations
from .instrument_words import service_mode_name

Gettext = Callable[[str], str]


def gettext(request: Request) -> Gettext:
    return translations(request.state.lang).gettext


def zone() -> str:
    return get_settings().default_timezone


def status_label(_: Gettext, status: str) -> str:
    return {
        "pending": _("waiting for the next round"),
        "allocated": _("placed (awaiting the lab's confirmation)"),
        "booked": _("booked"),
        "unplaced": _("not placed"),
        "withdrawn": _("withdrawn"),
        "expired": _("expired"),
    }.get(status, status)


def mode_label(_: Gettext, mode: str) -> str:
    """A service mode's name (one wording on every page: ``instrument_words``)."""
    return service_mode_name(mode, _)


def when(at: datetime | str, tz: str) -> str:
    """An instant on the wall clock of ``tz``, without the zone (a span names it once)."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return f"{at.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"


def span(start: datetime | str | None, end: datetime | str | None, tz: str) -> str:
    """``2026-12-07 08:00 – 2026-12-08 18:00 (Asia/Shanghai)``, the end's date left out on the same day."""
    if start is None or end is None:
        return ""
    a, b = when(start, tz), when(end, tz)
    if a[:10] == b[:10]:
        b = b[11:]
    return f"{a} – {b} ({tz})"


def reason_text(_: Gettext, reason: dict[str, Any], minutes: int | None = None) -> str:
    """Why a round did not place a request, in the page's language, from the reason's facts."""
    names = "、".join(i["name"] for i in reason.get("instruments") or []) or _("no instrument that serves it")
    tz = reason.get("timezone") or zone()
    facts = {"instruments": names, "span": span(reason.get("start"), reason.get("end"), tz), "minutes": minutes or ""}
    code = reason.get("code", "")
    if code == "no_window":
        text = _(
            "No free window of {minutes} minutes on {instruments} in {span}: the opening hours there are closed "
            "or already booked. Widen the window or choose another instrument."
        )
    elif code == "operator_unavailable":
        text = _(
            "No qualified operator is free for {minutes} minutes on {instruments} in {span}. "
            "Try a self-operated booking or a later deadline."
        )
    elif code == "voucher_budget":
        text = _(
            "It fits on {instruments} in {span}, but the voucher money it needs is more than what is left "
            "of the programme's budget for it."
        )
    elif code == "capacity_taken":
        text = _(
            "Every time {instruments} could serve it in {span} is taken by other bookings or by requests placed "
            "in this round. It stays open for the next round; a later deadline gives it more room."
        )
    elif code == "not_selected":
        text = _(
            "It fits on {instruments} in {span} but was not selected in this round; it stays open for the next round."
        )
    elif code == "fair_share":
        text = _(
            "It fits on {instruments} in {span}, but this round limits any one enterprise's share of the contested "
            "time and your enterprise had reached it. It stays open for the next round."
        )
    elif code == "enterprise_suspended":
        text = _("Your enterprise may not book for now: its booking is suspended (credit rules).")
    else:  # a booking rule refused the slot the round found
        text = _("The time the round found on {instruments}, {span}, is no longer free.")
    return text.format(**facts)
