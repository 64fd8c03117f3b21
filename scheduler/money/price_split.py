"""Who pays what for a booking: its price, the voucher's part, the enterprise's part, and what of
the voucher's face value lapses — for a booking that exists (read from its voucher row) and, as a
quote, for a booking a person is about to make (computed by the same programme rules that
``vouchers.apply_to_booking`` applies, so the form shows what the booking will show).

A voucher pays for one booking; the part of its face value the booking does not use lapses back to
the programme budget when the service completes (``vouchers.consume_for_booking``). All integer fen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from instruments.actor import Actor
from instruments.catalogue import get_instrument
from instruments.db import utcnow
from instruments.errors import InvalidInput
from instruments.inventory import Instrument, ServiceMode
from instruments.tariffs import booking_price_fen
from instruments.units import OwnerUnit
from scheduler.booking.bookings import Booking, BookingStatus
from scheduler.booking.enterprises import Enterprise
from scheduler.money.vouchers import (
    SPENDABLE,
    Voucher,
    VoucherProgramme,
    VoucherStatus,
    find_by_code,
    is_local,
    refusals,
)


@dataclass(frozen=True)
class VoucherShare:
    """One voucher's part of a booking's price."""

    voucher_id: str
    code: str
    status: str
    face_value_fen: int
    pays_fen: int
    lapses_fen: int
    expires_at: datetime
    refusals: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class PriceSplit:
    price_fen: int
    voucher_fen: int
    enterprise_fen: int
    lapsed_fen: int
    vouchers: list[VoucherShare]


VOUCHER_COLUMNS = ("id", "code", "status", "face_value_fen", "reserved_fen", "consumed_fen", "expires_at")
"""The voucher's columns its share of a booking reads, in the order ``share_from`` takes them."""


def share_from(
    voucher_id: str,
    code: str,
    status: VoucherStatus,
    face_value_fen: int,
    reserved_fen: int,
    consumed_fen: int,
    expires_at: datetime,
) -> VoucherShare:
    """A voucher's share of the booking it names, from its ``VOUCHER_COLUMNS`` (e.g. a listing's
    row that joins each booking to its voucher): what it consumed once the service completed,
    else what it reserves."""
    pays = consumed_fen if status == VoucherStatus.consumed else reserved_fen
    return VoucherShare(voucher_id, code, str(status), face_value_fen, pays, face_value_fen - pays, expires_at)


def _share(v: Voucher) -> VoucherShare:
    return share_from(*(getattr(v, k) for k in VOUCHER_COLUMNS))


def split_of(price_fen: int, shares: list[VoucherShare]) -> PriceSplit:
    """The split of a booking of ``price_fen`` given the shares of the vouchers that pay for it."""
    if not shares:
        return PriceSplit(price_fen, 0, price_fen, 0, shares)
    paid = sum(s.pays_fen for s in shares)
    return PriceSplit(price_fen, paid, price_fen - paid, sum(s.lapses_fen for s in shares), shares)


def unpaid(booking: Booking) -> PriceSplit:
    """The split of a booking no voucher pays for: the enterprise pays it all. That of a booking
    just made, before it commits (no voucher can name a booking other transactions cannot see
    yet): ``splits_of`` without its query."""
    return PriceSplit(booking.price_fen, 0, booking.price_fen, 0, [])


def splits_of(session: Session, bookings: Iterable[Booking]) -> dict[str, PriceSplit]:
    """The split of each booking, from the voucher rows that reserve or consumed money for it
    (one query for the lot). A cancelled booking's voucher was released: it pays nothing."""
    rows = list(bookings)
    vouchers: dict[str, list[Voucher]] = {}
    if rows:
        for v in session.exec(select(Voucher).where(col(Voucher.booking_id).in_([b.id for b in rows]))).all():
            vouchers.setdefault(v.booking_id or "", []).append(v)
    return {b.id: split_of(b.price_fen, [_share(v) for v in vouchers.get(b.id, [])]) for b in rows}


def mail_data(
    session: Session, booking: Booking, inst: Instrument, *, new: bool = False, split: PriceSplit | None = None
) -> dict[str, Any]:
    """What a mail about ``booking`` says (plain JSON): the instrument, its zone, the times, the
    price and who pays what (``new``: a booking just made, which no voucher can pay yet; ``split``:
    its split already read, e.g. by one ``splits_of`` for many bookings)."""
    if split is None:
        split = unpaid(booking) if new else splits_of(session, [booking])[booking.id]
    return {
        "booking_id": booking.id,
        "request_id": booking.request_id,
        "instrument": inst.name,
        "tz": inst.timezone,
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        "status": str(booking.status),
        "price_fen": split.price_fen,
        "voucher_fen": split.voucher_fen,
        "enterprise_fen": split.enterprise_fen,
    }


@dataclass(frozen=True)
class Quote:
    """The split of a booking not yet made: ``chosen`` is the voucher it would use (the one asked
    for by code, else the one that pays most), ``vouchers`` every voucher of the enterprise that
    could be tried, each with what it would pay or why it cannot."""

    price_fen: int
    minutes: int
    split: PriceSplit
    chosen: VoucherShare | None
    vouchers: list[VoucherShare]


def quote(
    session: Session,
    actor: Actor,
    instrument_id: str,
    start: datetime,
    end: datetime,
    service_mode: ServiceMode,
    sample_count: int = 0,
    code: str | None = None,
    now: datetime | None = None,
) -> Quote:
    """What a booking of this slot would cost and what each of the enterprise's vouchers would pay
    (no booking rule is checked here: ``POST /bookings`` does that)."""
    now = now or utcnow()
    if end <= start:
        raise InvalidInput("end must be after start.", field="end")
    inst = get_instrument(session, instrument_id)
    minutes = int((end - start).total_seconds() // 60)
    ent = session.get(Enterprise, actor.enterprise_id) if actor.enterprise_id else None
    price = booking_price_fen(inst, minutes, sample_count)  # the external fee: what an enterprise pays
    draft = Booking(
        instrument_id=inst.id,
        enterprise_id=ent.id if ent else None,
        service_mode=service_mode.value,
        start=start,
        end=end,
        blocked_start=start,
        blocked_end=end,
        status=BookingStatus.tentative,
        price_fen=price,
        sample_count=sample_count,
    )
    candidates: list[Voucher] = []
    if ent is not None:
        candidates = list(
            session.exec(
                select(Voucher)
                .where(col(Voucher.holder_enterprise_id) == ent.id, col(Voucher.status).in_(list(SPENDABLE)))
                .order_by(col(Voucher.expires_at), col(Voucher.id))
            ).all()
        )
    wanted = find_by_code(session, actor, code) if code else None
    if wanted is not None and wanted.id not in {v.id for v in candidates}:
        candidates.append(wanted)
    unit = session.get(OwnerUnit, inst.owner_unit_id)
    shares = [_would_pay(session, v, draft, inst, ent, unit, now) for v in candidates]
    usable = [s for s in shares if not s.refusals]
    if wanted is not None:
        chosen = next(s for s in shares if s.voucher_id == wanted.id)
    else:
        chosen = max(usable, key=lambda s: (s.pays_fen, -s.expires_at.timestamp()), default=None)
    paid = chosen.pays_fen if chosen is not None and not chosen.refusals else 0
    lapsed = chosen.lapses_fen if chosen is not None and not chosen.refusals else 0
    used = [chosen] if chosen is not None and not chosen.refusals else []
    return Quote(price, minutes, PriceSplit(price, paid, price - paid, lapsed, used), chosen, shares)


def _would_pay(
    session: Session,
    v: Voucher,
    draft: Booking,
    inst: Instrument,
    ent: Enterprise | None,
    unit: OwnerUnit | None,
    now: datetime,
) -> VoucherShare:
    why = []
    if v.status not in SPENDABLE:
        why.append(
            {"code": "not_spendable", "message": f"Voucher {v.code} is {v.status}; it cannot pay for a booking."}
        )
    elif now >= v.expires_at:
        why.append({"code": "expired", "message": f"Voucher {v.code} expired on {v.expires_at.date()}."})
    if ent is None or v.holder_enterprise_id != ent.id:
        why.append({"code": "not_holder", "message": "A voucher pays only for its holder's bookings."})
    prog = session.get(VoucherProgramme, v.programme_id)
    pays = 0
    if prog is not None:
        rules = prog.parsed
        why += [{"code": x.code, "message": x.message} for x in refusals(rules, v, draft, inst, ent, unit)]
        local = unit is not None and is_local(rules, unit)
        pays = rules.voucher_part_fen(draft.price_fen, local, v.face_value_fen)
        if pays <= 0 and not why:
            why.append({"code": "nothing_to_pay", "message": "This booking has no fee for the voucher to pay."})
    if why:
        pays = 0
    return VoucherShare(
        v.id,
        v.code,
        str(v.status),
        v.face_value_fen,
        pays,
        v.face_value_fen - pays if not why else 0,
        v.expires_at,
        why,
    )
