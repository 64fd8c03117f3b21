"""Database rows → ``solver.Problem``: the one place where datetimes become integer minutes.

Minute 0 is the round's horizon start ``t0`` (now, rounded up to the 30-minute grid). For every
open request the eligible instruments contribute their opening intervals over the horizon as
windows. The solver keeps a booking and its set-up/clean-up buffers inside one window, while the
platform only asks the booking itself to lie in opening hours, so windows are widened by the
instrument's buffers. Every live booking is fixed busy time (its blocked range), so a round never
moves an existing booking. Operators' windows are their working hours minus their assigned
bookings. Release times include each instrument's lead time for the request's service mode.
Every request that wants a voucher (``funding`` not cash) gets the vouchers that can pay for it
(``request_funding.offers``: what each pays on each instrument, its expiry in minutes) and the
programme caps still open (``request_funding.open_caps``); the solver matches at most one voucher
to each placed request (``solver.funding``). Such a request counts as voucher-funded in its
weight when some voucher can pay for it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

import solver
from instruments.availability import load_opening, opening_intervals, zone
from instruments.intervals import subtract
from instruments.inventory import BOOKABLE_STATUSES, OPERATOR_MODES, Instrument
from instruments.policy import BookingPolicy, lead_minutes_for
from instruments.staff import Operator, OperatorInstrument
from instruments.units import Lab
from instruments.workdays import WorkCalendar
from scheduler.booking.booking_requests import (
    OPEN_STATUSES,
    BookingRequest,
    Funding,
    eligible_among,
    external_instruments,
)
from scheduler.booking.bookings import LIVE, Booking
from scheduler.booking.enterprises import Enterprise
from scheduler.booking.operators import working_rules
from scheduler.money.request_funding import offers, open_caps
from scheduler.money.vouchers import Voucher

SLOT = 30
MAX_HORIZON = timedelta(days=92)


@dataclass
class RoundInput:
    t0: datetime
    horizon_end: datetime
    problem: solver.Problem
    requests: dict[str, BookingRequest]
    instruments: dict[str, Instrument]
    warnings: list[str] = field(default_factory=list)
    vouchers: dict[str, Voucher] = field(default_factory=dict)  # the vouchers offered to the solver
    cap_labels: dict[str, str] = field(default_factory=dict)  # solver cap id -> its name for people
    # requests of enterprises suspended from booking at the round's time: given to the solver with
    # no instrument, so that they hold no time another request could use, and explained as such
    suspended: dict[str, Enterprise] = field(default_factory=dict)

    def minutes(self, dt: datetime) -> int:
        return int((dt - self.t0).total_seconds() // 60)

    def at(self, minute: int) -> datetime:
        return self.t0 + timedelta(minutes=minute)

    def digest(self) -> str:
        blob = json.dumps(solver.problem_to_json(self.problem), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def ceil_to_grid(dt: datetime, step: int = SLOT) -> datetime:
    base = dt.replace(second=0, microsecond=0)
    if base < dt:
        base += timedelta(minutes=1)
    over = (base.hour * 60 + base.minute) % step
    return base + timedelta(minutes=(step - over) % step)


def _lab_full(session: Session, lab: Lab, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """When existing bookings already fill the lab to capacity. (The solver's lab capacity knows
    only the round's own placements; times the lab is partly used are re-checked by the booking
    rules when the round writes, and a placement that would overfill the lab is explained.)"""
    rows = session.exec(
        select(Booking.start, Booking.end)
        .join(Instrument, Instrument.id == Booking.instrument_id)
        .where(Instrument.lab_id == lab.id, col(Booking.status).in_(LIVE), Booking.end > start, Booking.start < end)
    ).all()
    events = sorted([(s, 1) for s, _ in rows] + [(e, -1) for _, e in rows])
    out, level, since = [], 0, None
    for t, step in events:
        level += step
        if level >= lab.capacity and since is None:
            since = t
        elif level < lab.capacity and since is not None:
            out.append((since, t))
            since = None
    return out


def build_round_input(
    session: Session,
    now: datetime,
    weights: solver.WeightConfig | None = None,
    only: list[BookingRequest] | None = None,
) -> RoundInput:
    """The problem of all open requests (or of ``only`` these, e.g. for suggestions)."""
    t0 = ceil_to_grid(now)
    query = (
        select(BookingRequest)
        .where(col(BookingRequest.status).in_(OPEN_STATUSES), BookingRequest.deadline > t0)
        .order_by(BookingRequest.created_at, BookingRequest.id)
    )
    reqs = list(only) if only is not None else list(session.exec(query).all())
    horizon_end = min(max((r.deadline for r in reqs), default=t0 + timedelta(days=1)), t0 + MAX_HORIZON)
    inp = RoundInput(t0, horizon_end, solver.Problem(horizon_minutes=0, instruments=[], requests=[]), {}, {})
    policies: dict[str, BookingPolicy] = {}
    eligible_of: dict[str, list[Instrument]] = {}
    external = external_instruments(session) if reqs else []
    ent_ids = sorted({r.enterprise_id for r in reqs})
    loaded = {e.id: e for e in session.exec(select(Enterprise).where(col(Enterprise.id).in_(ent_ids)))} if reqs else {}
    for r in reqs:
        if (ent := loaded.get(r.enterprise_id)) is not None and ent.suspended_at(now):
            inp.suspended[r.id] = ent
            eligible_of[r.id] = []
            continue
        insts = [i for i in eligible_among(external, r) if i.status in BOOKABLE_STATUSES]
        eligible_of[r.id] = insts
        for i in insts:
            inp.instruments[i.id] = i
            if i.id not in policies:  # once: an instrument without a policy would be asked again
                policies[i.id] = session.get(BookingPolicy, i.id) or BookingPolicy(instrument_id=i.id)
    H = inp.minutes(horizon_end)
    problem = inp.problem
    problem.horizon_minutes = max(H, 1)
    problem.slot_minutes = SLOT

    def clip(a: datetime, b: datetime) -> tuple[int, int]:
        return max(0, inp.minutes(a)), min(H, inp.minutes(b))

    labs: dict[str, Lab] = {}
    for inst in inp.instruments.values():
        pol = policies[inst.id]
        spans, warnings = load_opening(session, inst.id, zone(inst.timezone), t0, horizon_end)
        inp.warnings.extend(w for w in warnings if w not in inp.warnings)
        setup, cleanup = pol.setup_minutes, pol.cleanup_minutes
        windows = [(max(0, inp.minutes(s) - setup), min(H, inp.minutes(e) + cleanup)) for s, e in spans]
        windows = [w for w in windows if w[0] < w[1]]
        busy = [
            clip(b.blocked_start, b.blocked_end)
            for b in session.exec(
                select(Booking).where(
                    Booking.instrument_id == inst.id,
                    col(Booking.status).in_(LIVE),
                    Booking.blocked_end > t0 - timedelta(minutes=setup + cleanup),
                    Booking.blocked_start < horizon_end + timedelta(minutes=setup + cleanup),
                )
            ).all()
        ]
        if inst.lab_id and inst.lab_id not in labs:
            lab = session.get(Lab, inst.lab_id)
            if lab is not None:
                labs[lab.id] = lab
        problem.instruments.append(
            solver.Instrument(
                inst.id,
                windows,
                [b for b in busy if b[0] < b[1]],
                inst.lab_id if inst.lab_id in labs else None,
                setup,
                cleanup,
            )
        )
    problem.labs = [solver.Lab(lab.id, lab.capacity) for lab in labs.values()]
    for lab in labs.values():
        full = [clip(s, e) for s, e in _lab_full(session, lab, t0, horizon_end)]
        for ins in problem.instruments:
            if ins.lab == lab.id:
                ins.busy.extend(iv for iv in full if iv[0] < iv[1])

    ops = session.exec(
        select(Operator, OperatorInstrument.instrument_id)
        .join(OperatorInstrument, OperatorInstrument.operator_id == Operator.id)
        .where(col(OperatorInstrument.instrument_id).in_(list(inp.instruments)))
    ).all()
    by_op: dict[str, tuple[Operator, list[str]]] = {}
    for op, iid in ops:
        by_op.setdefault(op.id, (op, []))[1].append(iid)
    calendar = WorkCalendar.load(session, t0.date() - timedelta(days=8), horizon_end.date() + timedelta(days=8))
    for op, iids in by_op.values():
        tz = zone(inp.instruments[iids[0]].timezone)
        shifts = opening_intervals(working_rules(op), [], calendar, tz, t0, horizon_end)
        taken = [
            (b.start, b.end)
            for b in session.exec(
                select(Booking).where(Booking.operator_id == op.id, col(Booking.status).in_(LIVE), Booking.end > t0)
            ).all()
        ]
        free = [clip(s, e) for s, e in subtract(shifts, taken)]
        problem.operators.append(solver.Operator(op.id, [w for w in free if w[0] < w[1]], sorted(iids)))

    enterprises: dict[str, Enterprise] = {}
    found = offers(session, reqs, eligible_of, t0)
    fundable = {rid for o in found for rid in o.pays}
    for o in found:
        inp.vouchers[o.voucher.id] = o.voucher
        expires = inp.minutes(o.voucher.expires_at)
        problem.vouchers.append(
            solver.Voucher(o.voucher.id, o.voucher.holder_enterprise_id, o.pays, expires if expires < H else None)
        )
    for cap in open_caps(session, found):
        inp.cap_labels[cap.id] = cap.label
        problem.caps.append(solver.Cap(cap.id, cap.limit_fen, cap.vouchers))
    for order, r in enumerate(reqs):
        ent = loaded.get(r.enterprise_id)
        if ent is None:
            continue
        enterprises[ent.id] = ent
        insts = eligible_of[r.id]
        lead = max((lead_minutes_for(policies[i.id], str(r.service_mode)) for i in insts), default=0)
        release = ceil_to_grid(max(r.earliest_start, now + timedelta(minutes=lead)))
        waiting = max(0.0, (now - r.created_at).total_seconds() / 86400)
        problem.requests.append(
            solver.Request(
                id=r.id,
                enterprise=r.enterprise_id,
                duration=r.duration_minutes,
                eligible=[i.id for i in insts],
                release=max(0, inp.minutes(release)),
                deadline=min(H, inp.minutes(r.deadline)),
                weight=solver.weight_of(r.priority, ent.innovation_points, waiting, r.id in fundable, weights),
                price_per_hour={i.id: i.fee_hour_external_fen for i in insts},
                needs_operator=str(r.service_mode) in {str(m) for m in OPERATOR_MODES},
                preferred_start=inp.minutes(r.preferred_start) if r.preferred_start else None,
                submitted=order,
                funding="cash" if r.funding == Funding.cash else "voucher",
                cash_fallback=r.cash_fallback,
            )
        )
        inp.requests[r.id] = r
    problem.enterprises = [solver.Enterprise(e.id) for e in enterprises.values()]
    return inp
