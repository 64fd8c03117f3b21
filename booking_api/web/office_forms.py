"""What the programme office's forms share: amounts typed in yuan and shares typed in percent,
read into integer fen and basis points (None when the text is not one), and the wording of a
service mode or voucher status on the office's pages."""

from __future__ import annotations

import re

from instruments.db import MAX_FEN

from .enterprise import Gettext

_AMOUNT = re.compile(r"^\d{1,13}(\.\d{1,2})?$")


def fen_of(text: str, allow_zero: bool = False) -> int | None:
    """``1,234.5`` yuan → 123450 fen; None when it is not an amount with at most two decimals."""
    text = text.replace(",", "").replace("¥", "").strip()
    if not _AMOUNT.match(text):
        return None
    whole, _, cents = text.partition(".")
    fen = int(whole) * 100 + int((cents + "00")[:2])
    return fen if (allow_zero or fen > 0) and fen <= MAX_FEN else None


def yuan_text(fen: int | None) -> str:
    """Fen as the yuan a form field shows (``123450`` → ``1234.5``; None → empty)."""
    if fen is None:
        return ""
    whole, cents = divmod(fen, 100)
    return f"{whole}" if not cents else f"{whole}.{cents:02d}".rstrip("0")


def bp_of(text: str) -> int | None:
    """``50`` or ``12.5`` percent → basis points (0–10000), None when it is not one."""
    text = text.replace("%", "").strip()
    if not re.match(r"^\d{1,3}(\.\d{1,2})?$", text):
        return None
    whole, _, cents = text.partition(".")
    bp = int(whole) * 100 + int((cents + "00")[:2])
    return bp if bp <= 10000 else None


def pct_text(bp: int) -> str:
    whole, cents = divmod(bp, 100)
    return f"{whole}" if not cents else f"{whole}.{cents:02d}".rstrip("0")


def voucher_status_label(_: Gettext, status: str) -> str:
    return {
        "issued": _("issued, not claimed"),
        "claimed": _("claimed"),
        "reserved": _("reserved by a booking"),
        "consumed": _("used"),
        "redeemed": _("redeemed by the lab"),
        "expired": _("expired"),
        "revoked": _("revoked"),
    }.get(status, status)
