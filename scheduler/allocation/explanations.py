"""Why a round left a request out, in people's terms: the solver's reasons (``solver.explain``
knows only integer minutes from the round's start) turned into a structured reason — a stable
``code``, the instruments concerned (id and name), the local start and end of the time it looked
at, with offset, and the zone — plus a message naming the instruments and the local dates and
times. The solver stays pure; minutes become datetimes here, where the round's start is known.

Each reason is a JSON object stored in ``BookingRequest.explanation`` and served as is:
``{"code", "message", "instruments": [{"id", "name"}], "start", "end", "timezone", "requests"}``
(``requests``: other requests of the round holding the time, by id; no enterprise is named).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import solver
from instruments.inventory import Instrument
from instruments.settings import get_settings
from scheduler.allocation.round_problem import RoundInput
from scheduler.booking.enterprises import Enterprise


def local(dt: datetime, tz: str) -> str:
    """An instant as the instrument's wall clock says it, for people: ``2026-12-01 09:00``."""
    return f"{dt.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"


def reason(
    code: str,
    message: str,
    instruments: list[Instrument],
    start: datetime | None,
    end: datetime | None,
    tz: str,
    requests: list[str] | None = None,
) -> dict[str, Any]:
    z = ZoneInfo(tz)
    return {
        "code": code,
        "message": message,
        "instruments": [{"id": i.id, "name": i.name} for i in instruments],
        "start": start.astimezone(z).isoformat() if start else None,
        "end": end.astimezone(z).isoformat() if end else None,
        "timezone": tz,
        "requests": list(requests or []),
    }


def _names(instruments: list[Instrument]) -> str:
    if not instruments:
        return "no instrument that serves it"
    names = [i.name for i in instruments[:5]]
    more = len(instruments) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _holder(session: Any, budget_holder: str | None) -> str:
    kind, _, key = (budget_holder or ":").partition(":")
    if kind == "enterprise":
        ent = session.get(Enterprise, key)
        return f"{ent.name}'s" if ent else "your enterprise's"
    if kind == "group":
        return f"the group {key}'s"
    return "the"


def _vouchers(session: Any, inp: RoundInput, u: solver.Unplaced) -> str:
    """The vouchers a funding reason names, by code (the one in ``budget_holder`` first)."""
    named = (u.budget_holder or "").removeprefix("voucher:")
    mine = [v for v in inp.problem.vouchers if u.request in v.pays]
    ids = list(dict.fromkeys([named, *(v.id for v in mine)])) if named else [v.id for v in mine]
    codes = [inp.vouchers[i].code for i in ids if i in inp.vouchers]
    if not codes:
        return "the vouchers"
    return ("voucher " if len(codes) == 1 else "vouchers ") + ", ".join(codes)


def explain_unplaced(session: Any, inp: RoundInput, u: solver.Unplaced) -> dict[str, Any]:
    """One solver reason as a structured reason with a message in people's terms. A request of an
    enterprise suspended from booking had no instrument to go to: that is its reason, worded as
    the booking rule words it."""
    r = inp.problem.request_by_id[u.request]
    if (ent := inp.suspended.get(u.request)) is not None:
        tz = get_settings().default_timezone
        until = ent.booking_suspended_until
        msg = f"{ent.name} may not book until {local(until, tz)} ({tz}) (credit suspension); it stays open for a later round."
        return reason("enterprise_suspended", msg, [], None, until, tz)
    insts = [inp.instruments[i] for i in r.eligible if i in inp.instruments]
    tz = insts[0].timezone if insts else get_settings().default_timezone
    start, end = inp.at(r.release), inp.at(inp.problem.deadline_of(r))
    span = f"between {local(start, tz)} and {local(end, tz)} ({tz})"
    names = _names(insts)
    length = f"{r.duration} minutes"
    if u.code == "no_window":
        msg = (
            f"No free window of {length} (with set-up and clean-up) on {names} {span}: "
            "the opening hours there are closed or already booked. Widen the window or choose another instrument."
        )
    elif u.code == "operator_unavailable":
        msg = (
            f"No qualified operator is free for {length} on {names} {span}"
            + (": their time went to other requests in this round." if u.holders else ".")
            + " Try a self-operated booking or a later deadline."
        )
    elif u.code == "voucher_budget":
        msg = (
            f"It fits on {names} {span}, but the voucher money it needs is more than what is left of "
            f"{_holder(session, u.budget_holder)} voucher budget in this programme."
        )
    elif u.code == "no_voucher":
        msg = (
            f"No voucher of your enterprise can pay for it on {names} {span} (none is spendable there, or the "
            "programme excludes this instrument or service), and it asks not to be paid in cash. Get a voucher "
            "that covers it, or allow paying in cash."
        )
    elif u.code == "voucher_taken":
        msg = (
            f"It fits on {names} {span}, but {_vouchers(session, inp, u)} that could pay for it "
            "fund other requests placed in this round. It stays open for the next round; another voucher or "
            "allowing cash would let it be placed."
        )
    elif u.code == "voucher_expires":
        which = _vouchers(session, inp, u)
        msg = (
            f"{which[0].upper()}{which[1:]} that could pay for it "
            f"{'expires' if which.startswith('voucher ') else 'expire'} before any free time on "
            f"{names} {span}. A voucher valid for longer, or allowing cash, would let it be placed."
        )
    elif u.code == "voucher_cap":
        cap = (u.budget_holder or "").removeprefix("cap:")
        msg = (
            f"It fits on {names} {span}, but what the voucher would pay is more than what is left of "
            f"{inp.cap_labels.get(cap, 'the programme cap')} this year, after the other requests placed in this round."
        )
    elif u.code == "capacity_taken":
        msg = (
            f"Every time {names} could serve it {span} is taken by other bookings or by requests placed in "
            "this round. It stays open for the next round; a later deadline gives it more room."
        )
    elif u.code == "fair_share":
        msg = (
            f"It fits on {names} {span}, but this round limits any one enterprise's share of the contested "
            "time, and placing it would have given your enterprise more than that share. It stays open for the next round."
        )
    else:
        msg = f"It fits on {names} {span} but was not selected in this round; it stays open for the next round."
    return reason(u.code, msg, insts, start, end, tz, list(u.holders))
