"""Allocation rounds: place all open requests at once, optimally, and say why the rest could not be.

A round (1) reads the open requests and the current schedule in a short read transaction,
(2) solves with no transaction open (instant bookings go on meanwhile), (3) checks the solution
with the solver's independent checker and falls back to value-greedy if it fails, and (4) writes
tentative bookings, the voucher reservations of the placements the solver funded (through the
ledger, ``vouchers.reserve_for_bookings``), the explanations, notifications and the round record
in ONE transaction, re-running every booking rule for each placement (a slot taken by an instant
booking made during the solve becomes an explained 'capacity_taken'; a voucher spent meanwhile,
'voucher_taken'). Any failure in (4) rolls everything back: the
database is left as it was. Existing bookings are fixed busy time: a round never moves them.

Writing is done in bulk, so that its cost hardly grows with the number of placements: the rows
the rules read are locked first (labs, instruments, operators; the requests; the vouchers), the
rules' facts are then read once (``round_facts.RoundFacts``, kept up to date with the round's own
bookings) instead of some twenty statements a placement, and the bookings, audit rows, ledger
lines and mails go in a few multi-row statements.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Field, Session, SQLModel, col, select

import solver
from instruments.actor import Actor
from instruments.audit import Change, record, record_many, snapshot
from instruments.db import json_field, keep, session_scope, utc_field, utcnow
from instruments.errors import Conflict
from instruments.ids import new_id
from instruments.inventory import OPERATOR_MODES, Instrument
from instruments.policy import BookingPolicy, policy_of
from instruments.run_lock import holding
from instruments.tariffs import booking_price_fen
from instruments.units import OwnerUnit
from scheduler.allocation.explanations import explain_unplaced, local, reason
from scheduler.allocation.round_facts import RoundFacts
from scheduler.allocation.round_problem import RoundInput, build_round_input
from scheduler.booking.booking_requests import OPEN_STATUSES, BookingRequest, RequestStatus
from scheduler.booking.bookings import Booking, BookingStatus, collision_text, flush_or_conflict
from scheduler.booking.enterprises import Enterprise
from scheduler.booking.resource_locks import lock_for_booking
from scheduler.booking.rules import Attempt, evaluate
from scheduler.money.price_split import mail_data, splits_of
from scheduler.money.request_funding import draft_booking
from scheduler.money.vouchers import (
    SPENDABLE,
    Voucher,
    VoucherProgramme,
    reservation_problems,
    reserve_for_bookings,
)
from scheduler.shared.mail_prefs import MailKind
from scheduler.shared.notifications import notify
from scheduler.shared.outbox import MailEvent, enqueue_many

Progress = Callable[[str, dict[str, Any]], None]
ROUND_LOCK = "allocation_round"
ROUND_LOCK_MARGIN = timedelta(minutes=15)
"""Beyond twice the solver's time limit: loading and writing a large round, then a crashed
holder's lock may be taken over."""


class RoundStatus(StrEnum):
    completed = "completed"
    failed = "failed"


class AllocationRound(SQLModel, table=True):
    __tablename__ = "allocation_round"

    id: str = Field(default_factory=lambda: new_id("rnd"), primary_key=True)
    started_at: datetime = utc_field(index=True)
    finished_at: datetime | None = utc_field(nullable=True, default=None)
    status: RoundStatus = RoundStatus.completed
    triggered_by: str = Field(default="", description="user id, 'job' or 'cli'")
    horizon_start: datetime = utc_field()
    horizon_end: datetime = utc_field()
    inputs_digest: str = Field(default="", description="sha256 of the solver problem (JSON)")
    requests_considered: int = 0
    placed: int = 0
    unplaced: int = 0
    objective: int = 0
    upper_bound: int | None = None
    gap: float | None = None
    solver_status: str = ""
    method: str = ""
    metrics: dict[str, Any] = json_field(dict)
    error: str = ""


def run_round(
    engine: Engine,
    actor: Actor,
    *,
    now: datetime | None = None,
    time_limit: float = 30.0,
    workers: int = 2,
    seed: int = 0,
    triggered_by: str = "",
    progress: Progress | None = None,
    deterministic_time: float | None = None,
    run_id: str = "",
    max_share_bp: int | None = None,
) -> AllocationRound:
    """Run one allocation round end to end; returns the recorded round. ``run_id`` names the run
    that started it (a page following it from another server process finds the round by it).

    ``max_share_bp`` (fairness option, basis points): no enterprise gets more than this share of
    the time placed on contested instruments, those requests of two or more enterprises compete
    for (``solver.fair_share``); recorded in the round's metrics.

    Rounds never overlap: each holds the run lock ``allocation_round`` from reading the requests
    to writing the placements, and a round started meanwhile is refused with ``Busy`` (409). Two
    rounds solving the same requests at once would each write what the other also placed (the
    later one then records its placements as collisions with the first one's bookings)."""
    actor.require_admin()
    lifetime = timedelta(seconds=time_limit * 2) + ROUND_LOCK_MARGIN
    with holding(engine, ROUND_LOCK, triggered_by or actor.user_id or "system", lifetime):
        return _run(
            engine, actor, now, time_limit, workers, seed, triggered_by, progress, deterministic_time, run_id,
            max_share_bp,
        )


def _run(
    engine: Engine,
    actor: Actor,
    now: datetime | None,
    time_limit: float,
    workers: int,
    seed: int,
    triggered_by: str,
    progress: Progress | None,
    deterministic_time: float | None,
    run_id: str = "",
    max_share_bp: int | None = None,
) -> AllocationRound:
    say = progress or (lambda stage, info: None)
    now = now or utcnow()
    started = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        inp = build_round_input(session, now)
        inp.problem.max_share_bp = max_share_bp
        session.commit()  # end the read transaction; objects stay loaded (expire_on_commit=False)
    say("loaded", {"requests": len(inp.problem.requests), "instruments": len(inp.problem.instruments)})
    t = time.perf_counter()
    if inp.problem.requests:
        kw = {"deterministic_time": deterministic_time} if deterministic_time else {}
        alloc = solver.solve(inp.problem, time_limit=time_limit, workers=workers, seed=seed, progress=say, **kw)
        if solver.check(inp.problem, alloc.placements):
            alloc = solver.value_greedy(inp.problem)
            if problems := solver.check(inp.problem, alloc.placements):
                raise RuntimeError(f"no valid allocation: {problems[:3]}")
    else:
        alloc = solver.Allocation([], 0, 0, "OPTIMAL", method="none")
    solve_seconds = time.perf_counter() - t
    say("solved", {"objective": alloc.objective, "upper_bound": alloc.upper_bound, "status": alloc.status})
    # FCFS with the same vouchers, to compare: the funded solver ran it as a candidate already
    fcfs_objective = alloc.stats.get("fcfs_objective")
    if fcfs_objective is None:
        fcfs_objective = solver.fcfs(inp.problem, explain=False).objective if inp.problem.requests else alloc.objective
    with session_scope(engine) as session:
        rnd = _write(session, actor, inp, alloc, now, started, triggered_by or (actor.user_id or "system"))
        rnd.metrics = {
            **rnd.metrics,
            "solve_seconds": round(solve_seconds, 3),
            "fcfs_objective": fcfs_objective,
            "timings": {k: round(v, 3) for k, v in alloc.timings.items()},
            "warnings": inp.warnings,
            "max_share_bp": max_share_bp,
            **({"run_id": run_id} if run_id else {}),
        }
        session.add(rnd)
    say("written", {"round": rnd.id, "placed": rnd.placed, "unplaced": rnd.unplaced})
    return rnd


def _write(
    session: Session,
    actor: Actor,
    inp: RoundInput,
    alloc: solver.Allocation,
    now: datetime,
    started: datetime,
    triggered_by: str,
) -> AllocationRound:
    """Write the round's answers in the caller's transaction. Every row the placements' rules read
    is locked first, in the one fixed order (labs, instruments, operators; then the round's
    requests and the vouchers it spends, each by id, each in one statement); the rules' facts are
    then read once (``RoundFacts``) and every booking rule runs for each placement against them
    and the round's own placements before it. The bookings go in together; the database refusing
    one (an overlap its constraint sees) sends them in one at a time, the refused one explained."""
    explanations: dict[str, list[dict[str, Any]]] = {
        u.request: [explain_unplaced(session, inp, u)] for u in alloc.unplaced
    }
    placements = sorted(alloc.placements, key=lambda p: (p.instrument, p.start))
    # every shared row the placements' rules read, locked up front in the one fixed order
    locked = lock_for_booking(session, [p.instrument for p in placements])
    reqs = _lock_requests(session, {p.request for p in placements} | set(explanations))
    spent = _lock_vouchers(session, {p.voucher for p in placements if p.voucher})
    facts = RoundFacts.load(
        session, locked, inp.t0 - timedelta(days=1), inp.horizon_end + timedelta(days=1), now,
        {r.user_id for r in reqs.values() if r.user_id},
    )  # fmt: skip
    ent_ids = sorted({r.enterprise_id for r in reqs.values()})
    enterprises = {e.id: e for e in session.exec(select(Enterprise).where(col(Enterprise.id).in_(ent_ids))).all()}
    policies = {i: policy_of(session, i) for i in locked}
    # what the voucher checks read again for each placement, held for the transaction (the
    # identity map holds rows weakly: dropped, each check would read them again)
    units = sorted({i.owner_unit_id for i in locked.values() if i.owner_unit_id})
    progs = sorted({v.programme_id for v in spent.values()})
    keep(
        session,
        *enterprises.values(),
        *(session.exec(select(OwnerUnit).where(col(OwnerUnit.id).in_(units))).all() if units else []),
        *(session.exec(select(VoucherProgramme).where(col(VoucherProgramme.id).in_(progs))).all() if progs else []),
    )
    decided: list[tuple[BookingRequest, Booking, Voucher | None]] = []
    for p in placements:
        req = reqs.get(p.request)
        if req is None or req.status not in OPEN_STATUSES:
            continue  # withdrawn or answered while the round was solving
        inst = locked[p.instrument]
        booking, voucher, why = _place(
            session, actor, inp, req, p, now, inst, policies[inst.id], enterprises.get(req.enterprise_id), facts,
            spent,
        )  # fmt: skip
        if booking is None:
            explanations[req.id] = why
            continue
        facts.add(booking)
        decided.append((req, booking, voucher))
    refused = _insert_bookings(session, [b for _, b, _ in decided], locked)
    for req, booking, _ in decided:
        if booking.id in refused:
            explanations[req.id] = refused[booking.id]
    decided = [d for d in decided if d[1].id not in refused]
    record_many(session, actor, [("booking.create", "booking", b.id, None, snapshot(b)) for _, b, _ in decided])
    # in this transaction: the round's failure leaves no reservation
    reserve_for_bookings(session, actor, [(v, b, locked[b.instrument_id]) for _, b, v in decided if v is not None])
    changes: list[Change] = []
    placed_ids: list[str] = []
    placed_bookings: dict[str, Booking] = {}
    hours = 0.0
    for req, booking, _ in decided:
        before = snapshot(req)
        req.status, req.explanation = RequestStatus.allocated, []
        # the same columns set as for the unplaced ones: the flush then sends every request's
        # UPDATE in one executemany instead of alternating groups (rows go in id order)
        flag_modified(req, "explanation")
        session.add(req)
        changes.append(("request.allocate", "booking_request", req.id, before, snapshot(req)))
        placed_ids.append(req.id)
        placed_bookings[req.id] = booking
        hours += req.duration_minutes / 60
    unplaced: dict[str, dict[str, Any]] = {}
    for rid, why in explanations.items():
        req = reqs.get(rid)
        if req is None or req.status not in OPEN_STATUSES:
            continue
        unplaced[rid] = why[0] if why else {}
        before = snapshot(req)
        req.status, req.explanation = RequestStatus.unplaced, why
        session.add(req)
        changes.append(("request.unplaced", "booking_request", req.id, before, snapshot(req)))
    record_many(session, actor, changes)
    _notify(session, inp, placed_bookings, explanations)
    served = {inp.requests[r].enterprise_id for r in placed_ids}
    rnd = AllocationRound(
        started_at=started,
        finished_at=utcnow(),
        triggered_by=triggered_by,
        horizon_start=inp.t0,
        horizon_end=inp.horizon_end,
        inputs_digest=inp.digest(),
        requests_considered=len(inp.problem.requests),
        placed=len(placed_ids),
        unplaced=len(inp.problem.requests) - len(placed_ids),
        objective=sum(inp.problem.request_by_id[r].weight for r in placed_ids),
        upper_bound=alloc.upper_bound,
        gap=alloc.gap,
        solver_status=alloc.status,
        method=alloc.method,
        metrics={
            "accepted_hours": round(hours, 2),
            "enterprises_served": len(served),
            "solver_objective": alloc.objective,
            "unplaced_reasons": dict(Counter(e[0]["code"] for e in explanations.values() if e)),
            "voucher_fen_reserved": _reserved_fen(session, [b.id for b in placed_bookings.values()]),
            # the round's own answers, kept with it (a request's explanation is what its latest
            # round said): which requests it placed, and why each of the others was not
            "outcomes": {
                "placed": {rid: b.id for rid, b in placed_bookings.items()},
                "unplaced": unplaced,
            },
        },
    )
    session.add(rnd)
    session.flush()
    record(session, actor, "round.run", "allocation_round", rnd.id, after=snapshot(rnd))
    return rnd


def _lock_requests(session: Session, ids: set[str]) -> dict[str, BookingRequest]:
    """The round's requests, read fresh and locked FOR UPDATE in one statement, by id (a request
    withdrawn or answered meanwhile shows its new status)."""
    out: dict[str, BookingRequest] = {}
    ordered = sorted(ids)
    for k in range(0, len(ordered), _LOCK_CHUNK):
        q = (
            select(BookingRequest)
            .where(col(BookingRequest.id).in_(ordered[k : k + _LOCK_CHUNK]))
            .order_by(col(BookingRequest.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        out.update((r.id, r) for r in session.exec(q).all())
    return out


def _lock_vouchers(session: Session, ids: set[str]) -> dict[str, Voucher]:
    """The vouchers the solver matched, read fresh and locked FOR UPDATE in one statement, by id
    (``vouchers.locked`` for many)."""
    if not ids:
        return {}
    q = (
        select(Voucher)
        .where(col(Voucher.id).in_(sorted(ids)))
        .order_by(col(Voucher.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {v.id: v for v in session.exec(q).all()}


_LOCK_CHUNK = 5000  # ids per locking statement (ascending across chunks: the order stays fixed)


def _insert_bookings(
    session: Session, bookings: list[Booking], instruments: dict[str, Instrument]
) -> dict[str, list[dict[str, Any]]]:
    """Insert the round's bookings, all in one savepoint; if the database refuses one (its overlap
    constraint: a booking the rules could not see), one savepoint each instead, and each refused
    booking's explanation (``capacity_taken``) by its id."""
    if not bookings:
        return {}
    try:
        with session.begin_nested():
            session.add_all(bookings)
            session.flush()
        return {}
    except IntegrityError:
        pass  # the savepoint rolled back: not one of them is written
    refused: dict[str, list[dict[str, Any]]] = {}
    for booking in bookings:
        try:
            flush_or_conflict(session, booking)
        except Conflict:  # the database refused an overlap: explain it, don't fail the round
            if booking in session:
                session.expunge(booking)
            inst = instruments[booking.instrument_id]
            slot = f"{local(booking.start, inst.timezone)}–{local(booking.end, inst.timezone)[-5:]} ({inst.timezone})"
            refused[booking.id] = [
                reason(
                    "capacity_taken",
                    f"Another booking took {inst.name}, {slot}, during the round.",
                    [inst],
                    booking.start,
                    booking.end,
                    inst.timezone,
                )
            ]
    return refused


def _reserved_fen(session: Session, booking_ids: list[str]) -> int:
    """What the round's vouchers reserved for its bookings (fen)."""
    if not booking_ids:
        return 0
    rows = session.exec(select(Voucher.reserved_fen).where(col(Voucher.booking_id).in_(booking_ids))).all()
    return int(sum(rows))


def _place(
    session: Session,
    actor: Actor,
    inp: RoundInput,
    req: BookingRequest,
    p: solver.Placement,
    now: datetime,
    inst: Instrument,
    policy: BookingPolicy,
    enterprise: Enterprise | None,
    facts: RoundFacts,
    spent: dict[str, Voucher],
) -> tuple[Booking | None, Voucher | None, list[dict[str, Any]]]:
    """One placement as a tentative booking (not yet written), after every booking rule agrees
    (``inst`` and the rows its rules read are locked by the caller, ``facts`` read after that);
    with the voucher that pays for it, if any."""
    start = inp.at(p.start)
    end = start + timedelta(minutes=req.duration_minutes)
    attempt = Attempt(
        session, actor, inst, policy, start, end, str(req.service_mode), enterprise, req.user_id, now,
        facts=facts.for_attempt(inst.id, req.user_id, req.enterprise_id),
    )  # fmt: skip
    violations = evaluate(attempt)
    if violations:
        code = "capacity_taken" if any(v.code == "overlap" for v in violations) else violations[0].code
        # the explanation is the requesting enterprise's to read: a collision shows its time, not whose
        taken = "; ".join(f"The time collides with {collision_text(None, b, inst, attempt.tz)}." for b in attempt.collisions)
        msg = "; ".join(taken if v.code == "overlap" and taken else v.message for v in violations)
        slot = f"{local(start, inst.timezone)}–{local(end, inst.timezone)[-5:]} ({inst.timezone})"
        return None, None, [
            reason(
                code,
                f"The slot the round found on {inst.name}, {slot}, is no longer free: {msg}",
                [inst],
                start,
                end,
                inst.timezone,
            )
        ]
    price = booking_price_fen(inst, req.duration_minutes, req.sample_count)
    voucher, why = _voucher_for(session, req, p, inst, start, end, spent)
    if why:
        return None, None, why
    operator_id = None
    if str(req.service_mode) in {str(m) for m in OPERATOR_MODES}:
        free = [o.id for o in attempt.operators]
        operator_id = p.operator if p.operator in free else (free[0] if free else None)
    lo, hi = attempt.blocked
    booking = Booking(
        instrument_id=inst.id,
        enterprise_id=req.enterprise_id,
        user_id=req.user_id,
        request_id=req.id,
        operator_id=operator_id,
        service_mode=str(req.service_mode),
        start=start,
        end=end,
        blocked_start=lo,
        blocked_end=hi,
        status=BookingStatus.tentative,
        price_fen=price,
        sample_count=req.sample_count,
        notes=req.notes,
        source="round",
    )
    if voucher is not None:
        spent.pop(voucher.id)  # one voucher funds one booking
    return booking, voucher, []


def _voucher_for(
    session: Session,
    req: BookingRequest,
    p: solver.Placement,
    inst: Instrument,
    start: datetime,
    end: datetime,
    spent: dict[str, Voucher],
) -> tuple[Voucher | None, list[dict[str, Any]]]:
    """The voucher the solver matched to the placement, locked (``spent``: by the caller) and
    checked again (it may have been spent, revoked or transferred while the round solved); if it
    can no longer pay, the request is placed in cash when it allows that, else it is explained and
    left out."""
    if p.voucher is None:
        return None, []
    v = spent.get(p.voucher)
    problems = []
    if v is None:
        code = p.voucher
        problems.append(f"voucher {code} no longer exists or already pays for another booking of this round")
    else:
        code = v.code
        draft = draft_booking(req, inst, start, end)
        if v.status not in SPENDABLE or v.holder_enterprise_id != req.enterprise_id:
            problems.append(f"voucher {v.code} is {v.status} and no longer held for this request")
        else:
            problems += [x.message for x in reservation_problems(session, v, draft, inst)[0]]
    if not problems:
        return v, []
    if req.cash_fallback:
        return None, []
    slot = f"{local(start, inst.timezone)}–{local(end, inst.timezone)[-5:]} ({inst.timezone})"
    return None, [
        reason(
            "voucher_taken",
            f"The round placed it on {inst.name}, {slot}, with voucher {code}, but the voucher can no longer "
            f"pay for it: {'; '.join(problems)}. It stays open for the next round.",
            [inst],
            start,
            end,
            inst.timezone,
        )
    ]


def _notify(
    session: Session, inp: RoundInput, placed: dict[str, Booking], explanations: dict[str, list[dict[str, Any]]]
) -> None:
    """One message per enterprise naming, for each placed request, the instrument and the local
    time it got (and its booking), and for each one left out, why; ``data`` holds the same facts
    structured (kind ``round_outcome``) for the web inbox to say in its reader's language."""
    by_ent: dict[str, list[str]] = defaultdict(list)
    missed: dict[str, list[str]] = defaultdict(list)
    facts: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: {"placed": [], "unplaced": []})
    for rid, b in placed.items():
        inst = inp.instruments.get(b.instrument_id)
        name, tz = (inst.name, inst.timezone) if inst else (b.instrument_id, "Asia/Shanghai")
        when = f"{local(b.start, tz)}–{local(b.end, tz)[-5:]} ({tz})"
        ent = inp.requests[rid].enterprise_id
        by_ent[ent].append(f"{name}, {when}: request {rid}, booking {b.id}")
        facts[ent]["placed"].append(
            {
                "request_id": rid,
                "booking_id": b.id,
                "instrument": {"id": b.instrument_id, "name": name},
                "start": b.start.isoformat(),
                "end": b.end.isoformat(),
                "timezone": tz,
            }
        )
    for rid, why in explanations.items():
        if rid in inp.requests and why:
            ent = inp.requests[rid].enterprise_id
            missed[ent].append(f"{rid}: {why[0]['message']}")
            facts[ent]["unplaced"].append({"request_id": rid, "reason": why[0]})
    _mail_requests(session, inp, placed, explanations)
    for ent in sorted(set(by_ent) | set(missed)):
        lines = ["Placed (tentative, awaiting the lab's confirmation):"] + by_ent[ent] if by_ent[ent] else []
        lines += ["Not placed:"] + missed[ent] if missed[ent] else []
        notify(
            session,
            f"Allocation round: {len(by_ent[ent])} placed, {len(missed[ent])} not placed",
            "\n".join(lines),
            enterprise_id=ent,
            link="/my/requests",
            kind="round_outcome",
            data={k: sorted(v, key=lambda x: x["request_id"]) for k, v in facts[ent].items()},
        )


def _mail_requests(
    session: Session, inp: RoundInput, placed: dict[str, Booking], explanations: dict[str, list[dict[str, Any]]]
) -> None:
    """One mail per request to the person who made it: where and when it was placed and who pays
    what, or why not. A request left out again for the same reason is not mailed again. The
    splits are read in one statement, the mails written in bulk (``outbox.enqueue_many``)."""
    events: list[MailEvent] = []
    splits = splits_of(session, placed.values())
    for rid, b in placed.items():
        inst = inp.instruments.get(b.instrument_id)
        if inst is not None:
            req = inp.requests[rid]
            events.append(
                MailEvent(
                    MailKind.request_placed,
                    f"request_placed:{rid}:{b.id}",
                    mail_data(session, b, inst, split=splits[b.id]),
                    req.user_id,
                    req.enterprise_id,
                )
            )
    for rid, why in explanations.items():
        req = inp.requests.get(rid)
        if req is None or not why:
            continue
        inst = inp.instruments.get(req.instrument_id or "")
        events.append(
            MailEvent(
                MailKind.request_unplaced,
                f"request_unplaced:{rid}:{why[0]['code']}",
                {"request_id": rid, "instrument": inst.name if inst else "—", "reason": why[0]["message"]},
                req.user_id,
                req.enterprise_id,
            )
        )
    enqueue_many(session, events)


def latest_rounds(session: Session, limit: int = 20, offset: int = 0) -> list[AllocationRound]:
    q = select(AllocationRound).order_by(AllocationRound.started_at.desc()).offset(offset).limit(limit)  # type: ignore[union-attr]
    return list(session.exec(q).all())
