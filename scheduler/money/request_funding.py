"""How a booking request pays, and what vouchers and caps can really fund it.

A request says ``funding``: ``cash``, ``any_voucher`` (any spendable voucher of its enterprise
that can pay for it) or ``voucher`` (the one named by ``voucher_id``), and ``cash_fallback``.
:func:`submit_funded_request` checks that choice when the request is made; :func:`offers` tells
an allocation round, for every request that wants a voucher, what each usable voucher would pay
on each eligible instrument (the programme's coverage share and exclusions, the related-party
rule, face value and per-order cap: the same rules ``vouchers.reserve_for_booking`` applies) and
until when it is valid; :func:`open_caps` what is still open of each programme's per-enterprise and
per-controller-group yearly caps (the cap minus what vouchers already reserved or consumed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from instruments.actor import Actor
from instruments.db import utcnow
from instruments.errors import InvalidInput
from instruments.inventory import Instrument
from instruments.tariffs import booking_price_fen
from instruments.units import OwnerUnit
from scheduler.booking.booking_requests import BookingRequest, Funding, eligible_instruments, submit_request
from scheduler.booking.bookings import Booking, BookingStatus
from scheduler.booking.enterprises import Enterprise
from scheduler.money.vouchers import SPENDABLE, Voucher, VoucherProgramme, VoucherStatus, is_local, refusals


@dataclass
class Offer:
    """A voucher a round may spend: ``pays[request][instrument]`` in fen (positive only)."""

    voucher: Voucher
    programme: VoucherProgramme
    pays: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenCap:
    id: str
    label: str
    limit_fen: int
    vouchers: list[str]


def draft_booking(req: BookingRequest, inst: Instrument, start: datetime, end: datetime | None = None) -> Booking:
    """The booking ``req`` would become on ``inst`` at ``start`` (not stored): what the
    programme's rules judge before a voucher is matched or reserved."""
    end = end or start
    return Booking(
        instrument_id=inst.id,
        enterprise_id=req.enterprise_id,
        service_mode=str(req.service_mode),
        start=start,
        end=end,
        blocked_start=start,
        blocked_end=end,
        status=BookingStatus.tentative,
        price_fen=booking_price_fen(inst, req.duration_minutes, req.sample_count),
        sample_count=req.sample_count,
    )


def pays_for(
    session: Session,
    v: Voucher,
    prog: VoucherProgramme,
    req: BookingRequest,
    insts: list[Instrument],
    ent: Enterprise | None,
    memo: dict | None = None,
) -> tuple[dict[str, int], list[str]]:
    """What ``v`` would pay for ``req`` on each instrument it can pay for, and the refusals
    (messages) on the others. Validity in time is left out: it depends on the booking's start,
    which the round chooses (``Voucher.expires_at`` becomes the solver voucher's expiry).
    ``memo`` keeps, across vouchers of one programme and type, the part of the fee before the
    face value (a round asks this for every voucher of an enterprise), and the owner units and
    draft bookings it judged."""
    memo = {} if memo is None else memo
    rules = memo.get(("rules", prog.id))
    if rules is None:
        rules = memo[("rules", prog.id)] = prog.parsed
    out: dict[str, int] = {}
    why: list[str] = []
    for inst in insts:
        key = (prog.id, v.voucher_type, req.id, inst.id)
        got = memo.get(key)
        if got is None:
            # the unit and the draft are kept too (the session's identity map holds rows weakly, so
            # asking again would mean a statement each time). The rules read of the draft only its
            # service mode, its price and its start, the start for the expiry left out here: one
            # draft serves every request of the same mode, length and samples on the instrument.
            unit_key = ("unit", inst.owner_unit_id)
            draft_key = ("draft", inst.id, str(req.service_mode), req.duration_minutes, req.sample_count)
            if unit_key not in memo:
                memo[unit_key] = session.get(OwnerUnit, inst.owner_unit_id)
            unit = memo[unit_key]
            draft = memo.get(draft_key)
            if draft is None:
                draft = memo[draft_key] = draft_booking(req, inst, req.earliest_start)
            refused = [x.message for x in refusals(rules, v, draft, inst, ent, unit) if x.code != "expires_first"]
            local = unit is not None and is_local(rules, unit)
            got = memo[key] = (refused, rules.voucher_part_fen(draft.price_fen, local, draft.price_fen + 1), inst.name)
        refused, uncapped, name = got
        amount = max(0, min(uncapped, v.face_value_fen))
        if refused:
            why += refused
        elif amount <= 0:
            why.append(f"{name} has no fee for the voucher to pay.")
        else:
            out[inst.id] = amount
    return out, why


def submit_funded_request(
    session: Session, actor: Actor, req: BookingRequest, now: datetime | None = None
) -> BookingRequest:
    """``booking_requests.submit_request`` plus the funding check: a named voucher must be the
    enterprise's, spendable, valid before the deadline and able to pay for one of the eligible
    instruments; ``any_voucher`` needs no voucher now (one may be issued before the round)."""
    now = now or utcnow()
    if req.funding == Funding.voucher and not req.voucher_id:
        raise InvalidInput("funding 'voucher' needs voucher_id: the voucher that pays.", field="voucher_id")
    if req.funding != Funding.voucher and req.voucher_id:
        raise InvalidInput("voucher_id goes with funding 'voucher' only.", field="voucher_id")
    if req.funding == Funding.cash and req.cash_fallback:
        raise InvalidInput("cash_fallback goes with a voucher funding only.", field="cash_fallback")
    req = submit_request(session, actor, req, now)
    if req.funding != Funding.voucher:
        return req
    v = session.get(Voucher, req.voucher_id)
    if v is None or v.holder_enterprise_id != req.enterprise_id:
        raise InvalidInput(f"No voucher {req.voucher_id!r} held by your enterprise.", field="voucher_id")
    if v.status not in SPENDABLE:
        raise InvalidInput(
            f"Voucher {v.code} is {v.status}; only an issued or claimed voucher can pay for a request.",
            field="voucher_id",
        )
    if v.expires_at <= max(req.earliest_start, now):
        raise InvalidInput(
            f"Voucher {v.code} expires on {v.expires_at.date()}, before the request's time can start.",
            field="voucher_id",
        )
    prog = session.get(VoucherProgramme, v.programme_id)
    ent = session.get(Enterprise, req.enterprise_id)
    pays, why = pays_for(session, v, prog, req, eligible_instruments(session, req), ent)
    if not pays:
        raise InvalidInput(
            f"Voucher {v.code} cannot pay for this request: " + " ".join(dict.fromkeys(why)), field="voucher_id"
        )
    return req


def offers(
    session: Session, reqs: list[BookingRequest], eligible_of: dict[str, list[Instrument]], t0: datetime
) -> list[Offer]:
    """The vouchers a round may spend on ``reqs``: spendable, valid after ``t0``, held by the
    enterprise of a request that wants a voucher (the named one for ``funding = voucher``)."""
    wanting = [r for r in reqs if r.funding != Funding.cash]
    if not wanting:
        return []
    rows = session.exec(
        select(Voucher)
        .where(
            col(Voucher.holder_enterprise_id).in_({r.enterprise_id for r in wanting}),
            col(Voucher.status).in_(list(SPENDABLE)),
            Voucher.expires_at > t0,
        )
        .order_by(col(Voucher.expires_at), col(Voucher.id))
    ).all()
    progs: dict[str, VoucherProgramme] = {}
    ents: dict[str, Enterprise | None] = {}
    memo: dict = {}
    by_ent: dict[str, list[BookingRequest]] = {}
    for r in wanting:
        by_ent.setdefault(r.enterprise_id, []).append(r)
    out = []
    for v in rows:
        prog = progs.get(v.programme_id) or session.get(VoucherProgramme, v.programme_id)
        if prog is None:
            continue
        progs[prog.id] = prog
        offer = Offer(v, prog)
        for r in by_ent.get(v.holder_enterprise_id, []):
            if r.funding == Funding.voucher and r.voucher_id != v.id:
                continue
            if v.expires_at <= r.earliest_start:
                continue  # expires before the request can start
            if r.enterprise_id not in ents:
                ents[r.enterprise_id] = session.get(Enterprise, r.enterprise_id)
            pays, _ = pays_for(session, v, prog, r, eligible_of.get(r.id, []), ents[r.enterprise_id], memo)
            if pays:
                offer.pays[r.id] = pays
        if offer.pays:
            out.append(offer)
    return out


def _spent(session: Session, programme_id: str, enterprise_ids: list[str]) -> int:
    """What vouchers of the programme held by these enterprises already pay: reserved amounts
    and consumed ones."""
    rows = session.exec(
        select(Voucher.status, Voucher.reserved_fen, Voucher.consumed_fen).where(
            Voucher.programme_id == programme_id, col(Voucher.holder_enterprise_id).in_(enterprise_ids)
        )
    ).all()
    total = 0
    for status, reserved, consumed in rows:
        if status == VoucherStatus.reserved:
            total += reserved
        elif status in (VoucherStatus.consumed, VoucherStatus.redeemed):
            total += consumed
    return total


def open_caps(session: Session, found: list[Offer]) -> list[OpenCap]:
    """Per programme, the per-enterprise and per-controller-group yearly caps still open for
    the offered vouchers (never below zero)."""
    out = []
    by_key: dict[tuple[str, str], list[Offer]] = {}
    for o in found:
        by_key.setdefault((o.programme.id, o.voucher.holder_enterprise_id), []).append(o)
    groups: dict[tuple[str, str], list[Offer]] = {}
    for (pid, eid), mine in sorted(by_key.items()):
        prog = mine[0].programme
        rules = prog.parsed
        ent = session.get(Enterprise, eid)
        if rules.per_enterprise_year_cap_fen is not None:
            left = rules.per_enterprise_year_cap_fen - _spent(session, pid, [eid])
            out.append(
                OpenCap(
                    f"enterprise:{eid}:{pid}",
                    f"{ent.name if ent else eid}'s cap in {prog.name}",
                    max(0, left),
                    [o.voucher.id for o in mine],
                )
            )
        if rules.per_group_year_cap_fen is not None and ent is not None and ent.controller_group:
            groups.setdefault((pid, ent.controller_group), []).extend(mine)
    for (pid, group), mine in sorted(groups.items()):
        prog = mine[0].programme
        members = list(session.exec(select(Enterprise.id).where(Enterprise.controller_group == group)).all())
        left = (prog.parsed.per_group_year_cap_fen or 0) - _spent(session, pid, members)
        out.append(
            OpenCap(
                f"group:{group}:{pid}",
                f"the cap of the enterprises controlled by {group} in {prog.name}",
                max(0, left),
                [o.voucher.id for o in mine],
            )
        )
    return out
