"""Instant-booking suggestions: the best free slots for one request against today's schedule.

Uses ``solver.place`` on the one-request problem (every existing booking is fixed busy time),
so a suggestion honours windows, buffers, lead times, operators and lab capacity exactly as a
round would; each is then booked through the normal rules when the enterprise accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

import solver
from instruments.actor import Actor
from instruments.availability import zone
from instruments.db import utcnow
from instruments.errors import InvalidState
from instruments.tariffs import booking_price_fen
from scheduler.allocation.round_problem import build_round_input
from scheduler.booking.booking_requests import OPEN_STATUSES, get_request


@dataclass
class Suggestion:
    instrument_id: str
    instrument_name: str
    start: datetime
    end: datetime
    operator_id: str | None
    price_fen: int = 0  # what the slot would cost the enterprise before vouchers (external fee)


def suggest(
    session: Session, actor: Actor, request_id: str, k: int = 5, now: datetime | None = None
) -> list[Suggestion]:
    req = get_request(session, actor, request_id)
    if req.status not in OPEN_STATUSES:
        raise InvalidState(f"Request {req.id} is {req.status}; only pending or unplaced requests get suggestions.")
    inp = build_round_input(session, now or utcnow(), only=[req])
    if not inp.problem.requests:
        return []
    out = []
    for p in solver.place(inp.problem, [], inp.problem.requests[0], k=k):
        inst = inp.instruments[p.instrument]
        tz = zone(inst.timezone)
        start = inp.at(p.start).astimezone(tz)
        end = start + timedelta(minutes=req.duration_minutes)
        price = booking_price_fen(inst, req.duration_minutes, req.sample_count)
        out.append(Suggestion(inst.id, inst.name, start, end, p.operator, price))
    return out
