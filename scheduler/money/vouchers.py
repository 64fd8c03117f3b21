"""Innovation voucher programmes and vouchers (创新券): issue, claim, transfer, apply to a booking,
release, consume, expire (voiding: ``revocation``). Every money movement goes through ``ledger.post``.

Life of a voucher:  issued → (claimed) → reserved by a booking → consumed by the completed
service → redeemed by the provider (see ``redemption``); or expired / revoked. A voucher is bound
to one holder and pays for one booking (one service, one outcome): the part of its face value
that the booking does not use lapses back to the programme budget when the service completes.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import BigInteger, Column
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, func, select

from instruments.actor import Actor, Role
from instruments.audit import record, snapshot
from instruments.db import json_field, utc_field, utcnow
from instruments.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound, PolicyViolation, Violation
from instruments.ids import new_id
from instruments.inventory import Instrument
from instruments.settings import get_settings
from instruments.units import OwnerUnit
from scheduler.booking import credit_code
from scheduler.booking.bookings import Booking, BookingStatus, get_visible
from scheduler.booking.enterprises import Enterprise
from scheduler.money import ledger
from scheduler.money.voucher_rules import ProgrammeRules, expiry_for
from scheduler.shared.mail_prefs import MailKind
from scheduler.shared.notifications import tell


class VoucherStatus(StrEnum):
    issued = "issued"
    claimed = "claimed"
    reserved = "reserved"
    consumed = "consumed"
    redeemed = "redeemed"
    expired = "expired"
    revoked = "revoked"


SPENDABLE = (VoucherStatus.issued, VoucherStatus.claimed)
COMMITTED = (VoucherStatus.issued, VoucherStatus.claimed, VoucherStatus.reserved)


class VoucherProgramme(SQLModel, table=True):
    __tablename__ = "voucher_programme"

    id: str = Field(default_factory=lambda: new_id("prg"), primary_key=True)
    name: str
    region: str = ""
    year: int = Field(index=True)
    total_budget_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    rules: dict[str, Any] = json_field(dict)
    created_at: datetime = utc_field(default_factory=utcnow)

    @property
    def parsed(self) -> ProgrammeRules:
        return ProgrammeRules.model_validate(self.rules)


class Voucher(SQLModel, table=True):
    __tablename__ = "voucher"

    id: str = Field(default_factory=lambda: new_id("vch"), primary_key=True)
    code: str = Field(unique=True, index=True, description="18 characters, the last a check character")
    programme_id: str = Field(foreign_key="voucher_programme.id", index=True)
    voucher_type: str
    holder_enterprise_id: str = Field(foreign_key="enterprise.id", index=True)
    face_value_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: VoucherStatus = Field(default=VoucherStatus.issued, index=True)
    issued_at: datetime = utc_field(default_factory=utcnow)
    expires_at: datetime = utc_field(index=True)
    claimed_at: datetime | None = utc_field(nullable=True, default=None)
    booking_id: str | None = Field(default=None, foreign_key="booking.id", unique=True)
    provider_unit_id: str | None = Field(default=None, foreign_key="owner_unit.id", index=True)
    reserved_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    consumed_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    consumed_at: datetime | None = utc_field(nullable=True, default=None)
    revoked_reason: str = ""


class VoucherTransfer(SQLModel, table=True):
    __tablename__ = "voucher_transfer"

    id: str = Field(default_factory=lambda: new_id("vtr"), primary_key=True)
    voucher_id: str = Field(foreign_key="voucher.id", index=True)
    from_enterprise_id: str = Field(foreign_key="enterprise.id")
    to_enterprise_id: str = Field(foreign_key="enterprise.id")
    at: datetime = utc_field(default_factory=utcnow)
    by_user_id: str | None = None


# --- codes ------------------------------------------------------------------------------------


def new_code() -> str:
    """17 random characters of the 31-letter credit-code alphabet (≈ 84 bits) + a check character."""
    body = "".join(secrets.choice(credit_code.ALPHABET) for _ in range(17))
    return body + credit_code.check_char(body)


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_problem(code: str) -> str | None:
    if len(code) != 18 or any(ch not in credit_code.ALPHABET for ch in code):
        return "a voucher code has 18 letters and digits (no I, O, S, V, Z)"
    if credit_code.check_char(code[:17]) != code[17]:
        return "the check character does not match: the code was probably mistyped"
    return None


# --- programmes -------------------------------------------------------------------------------


def create_programme(session: Session, actor: Actor, programme: VoucherProgramme) -> VoucherProgramme:
    actor.require_admin()
    programme.rules = checked_rules(programme.rules).model_dump(mode="json")
    if programme.total_budget_fen <= 0:
        raise InvalidInput("total_budget_fen must be positive.", field="total_budget_fen")
    session.add(programme)
    session.flush()
    ledger.post(
        session,
        "fund",
        programme.id,
        [(ledger.funding(programme.id), ledger.budget(programme.id), programme.total_budget_fen)],
    )
    record(session, actor, "programme.create", "voucher_programme", programme.id, after=snapshot(programme))
    return programme


def checked_rules(rules: dict[str, Any]) -> ProgrammeRules:
    """A programme's rules document, validated; a refusal names the first bad field
    (``rules.redemption.quarterly.0.opens``) so that no programme is stored that the daily
    housekeeping or a redemption claim could not read."""
    try:
        return ProgrammeRules.model_validate(rules)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["rules", *(str(p) for p in first["loc"])])
        raise InvalidInput(f"{where}: {first['msg']}.", field=where) from None


def get_programme(session: Session, programme_id: str, lock: bool = False) -> VoucherProgramme:
    """The programme (``lock``: its row FOR UPDATE). Unlocked, one already in the session is
    taken from it without a statement (a round checks hundreds of vouchers of one programme);
    a query would return that same object, not refreshed."""
    if not lock and (known := session.identity_map.get(session.identity_key(VoucherProgramme, programme_id))) is not None:
        return known
    q = select(VoucherProgramme).where(VoucherProgramme.id == programme_id)
    prog = session.exec(q.with_for_update() if lock else q).first()
    if prog is None:
        raise NotFound(f"No voucher programme {programme_id!r}.")
    return prog


# --- issuance ---------------------------------------------------------------------------------


def committed_fen(
    session: Session, programme_id: str, enterprise_ids: list[str], excluding_voucher_id: str | None = None
) -> int:
    """Voucher money an enterprise (or group) holds in a programme: face value of live vouchers
    plus what consumed ones used. Caps apply to this. ``excluding_voucher_id`` leaves one voucher
    out (the one being transferred, so that it is not counted on both sides)."""
    if not enterprise_ids:
        return 0
    mine = (Voucher.programme_id == programme_id, col(Voucher.holder_enterprise_id).in_(enterprise_ids))
    if excluding_voucher_id is not None:
        mine = (*mine, Voucher.id != excluding_voucher_id)
    live = session.exec(
        select(func.coalesce(func.sum(Voucher.face_value_fen), 0)).where(*mine, col(Voucher.status).in_(COMMITTED))
    ).one()
    used = session.exec(
        select(func.coalesce(func.sum(Voucher.consumed_fen), 0)).where(
            *mine, col(Voucher.status).in_((VoucherStatus.consumed, VoucherStatus.redeemed))
        )
    ).one()
    return int(live) + int(used)


def cap_violations(
    session: Session,
    prog: VoucherProgramme,
    ent: Enterprise,
    face_fen: int,
    field: str,
    moving_voucher_id: str | None = None,
    reveal_holdings: bool = True,
) -> list[Violation]:
    """Would ``ent`` holding ``face_fen`` more break the programme's per-enterprise or
    per-controller-group yearly cap? The one check behind issuing *and* transferring, so that no
    path lets an enterprise (or group) hold more than the programme allows. ``moving_voucher_id``
    is the voucher being transferred: it is left out of what is already held, so a transfer
    between two enterprises of one group does not count it twice. The caller holds the
    programme row FOR UPDATE, which serialises these checks per programme. With
    ``reveal_holdings=False`` (an enterprise transferring to another) the messages give the caps
    but not what the receiver or its controller group already holds, nor the group's name."""
    rules = prog.parsed
    out = []
    cap = rules.per_enterprise_year_cap_fen
    if cap is not None:
        held = committed_fen(session, prog.id, [ent.id], moving_voucher_id)
        if held + face_fen > cap:
            message = (
                f"{ent.name} already holds {held} fen of vouchers in {prog.name}; the cap is {cap} fen per enterprise "
                f"per year, so at most {max(0, cap - held)} fen more (this voucher is {face_fen} fen)."
                if reveal_holdings
                else f"{ent.name} cannot receive this voucher of {face_fen} fen: it would exceed {prog.name}'s cap of "
                f"{cap} fen per enterprise per year."
            )
            out.append(Violation("enterprise_cap", message, field))
    gcap = rules.per_group_year_cap_fen
    if gcap is not None and ent.controller_group:
        members = list(
            session.exec(select(Enterprise.id).where(Enterprise.controller_group == ent.controller_group)).all()
        )
        held = committed_fen(session, prog.id, members, moving_voucher_id)
        if held + face_fen > gcap:
            message = (
                f"Enterprises controlled by {ent.controller_group} already hold {held} fen of vouchers in {prog.name}; "
                f"the group cap is {gcap} fen, so at most {max(0, gcap - held)} fen more (this voucher is {face_fen} fen)."
                if reveal_holdings
                else f"{ent.name} cannot receive this voucher of {face_fen} fen: it would exceed {prog.name}'s cap of "
                f"{gcap} fen per controller group per year."
            )
            out.append(Violation("group_cap", message, field))
    return out


def issue_voucher(
    session: Session,
    actor: Actor,
    programme_id: str,
    enterprise_id: str,
    voucher_type: str,
    face_value_fen: int | None = None,
    now: datetime | None = None,
) -> Voucher:
    actor.require_admin()
    now = now or utcnow()
    prog = get_programme(session, programme_id, lock=True)  # serialises issuance per programme
    rules = prog.parsed
    vtype = rules.voucher_type(voucher_type)
    if vtype is None:
        known = ", ".join(t.code for t in rules.voucher_types)
        raise InvalidInput(
            f"Programme {prog.name} has no voucher type {voucher_type!r}; it has: {known}.", field="voucher_type"
        )
    face = face_value_fen or vtype.face_value_fen
    if not face or face <= 0:
        raise InvalidInput("face_value_fen must be a positive amount in fen.", field="face_value_fen")
    ent = session.get(Enterprise, enterprise_id)
    if ent is None:
        raise InvalidInput(f"No enterprise {enterprise_id!r}.", field="enterprise_id")
    available = ledger.balance(session, ledger.budget(prog.id))
    if face > available:
        raise Conflict(
            f"Programme {prog.name} has {available} fen left unissued; a voucher of {face} fen does not fit."
        )
    violations = cap_violations(session, prog, ent, face, "face_value_fen")
    if violations:
        raise PolicyViolation(violations)
    v = Voucher(
        code=new_code(),
        programme_id=prog.id,
        voucher_type=vtype.code,
        holder_enterprise_id=ent.id,
        face_value_fen=face,
        issued_at=now,
        expires_at=expiry_for(rules, now),
    )
    session.add(v)
    session.flush()
    ledger.post(session, "issue", prog.id, [(ledger.budget(prog.id), ledger.voucher(v.id), face)], voucher_id=v.id)
    record(session, actor, "voucher.issue", "voucher", v.id, after=snapshot(v))
    tell(
        session,
        MailKind.voucher_issued,
        f"voucher_issued:{v.id}",
        voucher_mail_data(v, prog),
        enterprise_id=ent.id,
        link=f"/api/v1/vouchers/{v.id}",
        now=now,
    )
    return v


def voucher_mail_data(v: Voucher, prog: VoucherProgramme) -> dict[str, Any]:
    """What a mail about voucher ``v`` says (plain JSON), its times shown in the platform's zone."""
    return {
        "voucher_id": v.id,
        "code": v.code,
        "programme": prog.name,
        "face_value_fen": v.face_value_fen,
        "expires_at": v.expires_at.isoformat(),
        "tz": get_settings().default_timezone,
    }


# --- holder actions ---------------------------------------------------------------------------


def locked(session: Session, voucher_id: str) -> Voucher:
    """The voucher, its row locked FOR UPDATE (every change to a voucher starts here)."""
    v = session.exec(select(Voucher).where(Voucher.id == voucher_id).with_for_update()).first()
    if v is None:
        raise NotFound(f"No voucher {voucher_id!r}.")
    return v


def find_by_code(session: Session, actor: Actor, code: str, lock: bool = False) -> Voucher:
    norm = normalise_code(code)
    if why := code_problem(norm):
        raise InvalidInput(f"Invalid voucher code: {why}.", field="code")
    q = select(Voucher).where(Voucher.code == norm)
    v = session.exec(q.with_for_update() if lock else q).first()
    if v is None or not can_see_voucher(actor, v):
        raise NotFound("No voucher with this code that you can use.")
    return v


def can_see_voucher(actor: Actor, v: Voucher) -> bool:
    return actor.is_admin or (actor.role == Role.enterprise_member and actor.enterprise_id == v.holder_enterprise_id)


def _check_live(v: Voucher, now: datetime) -> None:
    if v.status in (VoucherStatus.expired, VoucherStatus.revoked):
        raise InvalidState(f"Voucher {v.code} is {v.status}.")
    if now >= v.expires_at and v.status in SPENDABLE:
        raise InvalidState(f"Voucher {v.code} expired on {v.expires_at.date()}.")


def claim(session: Session, actor: Actor, code: str, now: datetime | None = None) -> Voucher:
    now = now or utcnow()
    v = find_by_code(session, actor, code, lock=True)
    _check_live(v, now)
    if v.status != VoucherStatus.issued:
        raise InvalidState(f"Voucher {v.code} is {v.status}; only issued vouchers can be claimed.")
    before = snapshot(v)
    v.status, v.claimed_at = VoucherStatus.claimed, now
    session.add(v)
    record(session, actor, "voucher.claim", "voucher", v.id, before=before, after=snapshot(v))
    return v


def transfer(session: Session, actor: Actor, code: str, to_enterprise_id: str, now: datetime | None = None) -> Voucher:
    now = now or utcnow()
    found = find_by_code(session, actor, code)
    # programme before voucher (the order issuance and payment batches lock in): the programme
    # row serialises this transfer's cap check with issuance and with other transfers
    prog = get_programme(session, found.programme_id, lock=True)
    v = locked(session, found.id)
    _check_live(v, now)
    if not prog.parsed.transferable:
        raise PolicyViolation([Violation("not_transferable", f"Vouchers of {prog.name} cannot be transferred.")])
    if v.status not in SPENDABLE:
        raise InvalidState(f"Voucher {v.code} is {v.status}; only unused vouchers can be transferred.")
    target = session.get(Enterprise, to_enterprise_id)
    if target is None:
        raise InvalidInput(f"No enterprise {to_enterprise_id!r}.", field="to_enterprise_id")
    violations = cap_violations(
        session,
        prog,
        target,
        v.face_value_fen,
        "to_enterprise_id",
        moving_voucher_id=v.id,
        reveal_holdings=actor.is_admin,
    )
    if violations:
        raise PolicyViolation(violations)
    before = snapshot(v)
    session.add(
        VoucherTransfer(
            voucher_id=v.id,
            from_enterprise_id=v.holder_enterprise_id,
            to_enterprise_id=target.id,
            at=now,
            by_user_id=actor.user_id,
        )
    )
    v.holder_enterprise_id = target.id
    session.add(v)
    record(session, actor, "voucher.transfer", "voucher", v.id, before=before, after=snapshot(v))
    return v


def is_local(rules: ProgrammeRules, unit: OwnerUnit) -> bool:
    return bool(rules.local_region_prefix) and unit.region.startswith(rules.local_region_prefix)


def apply_to_booking(
    session: Session, actor: Actor, booking_id: str, code: str, now: datetime | None = None
) -> Voucher:
    """Reserve a voucher's share of a booking's fee; the enterprise pays the rest."""
    now = now or utcnow()
    booking, inst = get_visible(session, actor, booking_id, lock=True)  # one application per booking at a time
    if not (actor.is_admin or (actor.role == Role.enterprise_member and actor.enterprise_id == booking.enterprise_id)):
        raise Forbidden("Only the booking enterprise applies vouchers to its bookings.")
    v = find_by_code(session, actor, code, lock=True)  # FOR UPDATE: one application at a time
    _check_live(v, now)
    if v.status not in SPENDABLE:
        raise InvalidState(f"Voucher {v.code} is {v.status}; it can no longer pay for a booking.")
    if booking.status not in (BookingStatus.tentative, BookingStatus.confirmed):
        raise InvalidState(
            f"Booking {booking.id} is {booking.status}; vouchers apply to tentative or confirmed bookings."
        )
    if v.holder_enterprise_id != booking.enterprise_id:
        raise Forbidden("A voucher pays only for its holder's bookings.")
    if session.exec(select(Voucher.id).where(Voucher.booking_id == booking.id)).first():
        raise Conflict(f"Booking {booking.id} already has a voucher.")
    return reserve_for_booking(session, actor, v, booking, inst)


def reservation_problems(
    session: Session, v: Voucher, booking: Booking, inst: Instrument
) -> tuple[list[Violation], int]:
    """Why the voucher cannot pay for the booking (the programme's refusals, nothing to pay),
    and what it would pay: the checks :func:`reserve_for_booking` makes, for a caller that wants
    to decide before writing (an allocation round)."""
    prog = get_programme(session, v.programme_id)
    rules = prog.parsed
    ent = session.get(Enterprise, booking.enterprise_id) if booking.enterprise_id else None
    unit = session.get(OwnerUnit, inst.owner_unit_id)
    violations = refusals(rules, v, booking, inst, ent, unit)
    amount = rules.voucher_part_fen(booking.price_fen, unit is not None and is_local(rules, unit), v.face_value_fen)
    if amount <= 0 and not violations:
        violations.append(Violation("nothing_to_pay", f"Booking {booking.id} has no fee for the voucher to pay."))
    return violations, amount


def reserve_for_booking(session: Session, actor: Actor, v: Voucher, booking: Booking, inst: Instrument) -> Voucher:
    """Reserve the voucher's share of the booking's fee through the ledger (voucher → booking
    account), the voucher row naming the booking and the amount. ``v`` is locked FOR UPDATE,
    spendable and held by the booking's enterprise (the caller checked); the programme's rules
    are checked here. The one path behind applying a voucher by hand and an allocation round."""
    return reserve_for_bookings(session, actor, [(v, booking, inst)])[0]


def reserve_for_bookings(
    session: Session, actor: Actor, pairs: list[tuple[Voucher, Booking, Instrument]]
) -> list[Voucher]:
    """:func:`reserve_for_booking` for each (voucher, booking, instrument), every check made
    before anything is written (``PolicyViolation`` on the first that fails): the vouchers are
    written in one flush, then their ledger transactions and audit rows in another (an
    allocation round reserves hundreds)."""
    staged = []
    for v, booking, inst in pairs:
        prog, unit, amount = _share_of(session, v, booking, inst)
        staged.append((v, booking, prog, unit, amount))
    befores = []
    for v, booking, _, unit, amount in staged:
        befores.append(snapshot(v))
        v.status, v.booking_id, v.provider_unit_id, v.reserved_fen = VoucherStatus.reserved, booking.id, unit.id, amount
        session.add(v)
    try:
        session.flush()
    except IntegrityError as exc:  # the unique booking_id: the database has the last word
        which = f"Booking {staged[0][1].id}" if len(staged) == 1 else "One of these bookings"
        raise Conflict(f"{which} already has a voucher (applied just now).") from exc
    for (v, booking, prog, _, amount), before in zip(staged, befores, strict=True):
        ledger.post(
            session,
            "reserve",
            prog.id,
            [(ledger.voucher(v.id), ledger.booking(booking.id), amount)],
            voucher_id=v.id,
            booking_id=booking.id,
            flush=False,
        )
        record(session, actor, "voucher.apply", "voucher", v.id, before=before, after=snapshot(v))
    session.flush()
    return [v for v, *_ in staged]


def _share_of(
    session: Session, v: Voucher, booking: Booking, inst: Instrument
) -> tuple[VoucherProgramme, OwnerUnit, int]:
    """What the voucher pays for the booking by its programme's rules (its programme, the
    provider unit, the amount), or ``PolicyViolation`` naming every reason it cannot pay."""
    violations, amount = reservation_problems(session, v, booking, inst)
    if violations:
        raise PolicyViolation(violations)
    return get_programme(session, v.programme_id), session.get(OwnerUnit, inst.owner_unit_id), amount


def refusals(
    rules: ProgrammeRules,
    v: Voucher,
    booking: Booking,
    inst: Instrument,
    ent: Enterprise | None,
    unit: OwnerUnit | None,
) -> list[Violation]:
    out = []
    if ent is not None and unit is not None and ent.controller_group and ent.controller_group == unit.controller_group:
        out.append(
            Violation(
                "related_party",
                f"{ent.name} and {unit.name} share the controller {ent.controller_group}: "
                "vouchers cannot pay for related-party services.",
            )
        )
    if booking.service_mode in rules.excluded_service_modes:
        out.append(Violation("excluded_service", f"The programme does not pay for {booking.service_mode} services."))
    vtype = rules.voucher_type(v.voucher_type)
    if vtype and vtype.service_modes is not None and booking.service_mode not in vtype.service_modes:
        out.append(Violation("excluded_service", f"A {vtype.name} does not pay for {booking.service_mode} services."))
    if vtype and vtype.categories is not None and inst.category not in vtype.categories:
        out.append(Violation("excluded_service", f"A {vtype.name} does not pay for {inst.category} instruments."))
    if booking.start >= v.expires_at:
        out.append(
            Violation("expires_first", f"The voucher expires on {v.expires_at.date()}, before the booking starts.")
        )
    return out


# --- booking life hooks -----------------------------------------------------------------------


def voucher_of(session: Session, booking_id: str, lock: bool = True) -> Voucher | None:
    q = select(Voucher).where(Voucher.booking_id == booking_id)
    return session.exec(q.with_for_update() if lock else q).first()


def release_for_booking(session: Session, actor: Actor, booking_id: str) -> Voucher | None:
    v = voucher_of(session, booking_id)
    if v is None or v.status != VoucherStatus.reserved:
        return v
    before = snapshot(v)
    ledger.post(
        session,
        "release",
        v.programme_id,
        [(ledger.booking(booking_id), ledger.voucher(v.id), v.reserved_fen)],
        voucher_id=v.id,
        booking_id=booking_id,
    )
    v.status = VoucherStatus.claimed if v.claimed_at else VoucherStatus.issued
    v.booking_id, v.provider_unit_id, v.reserved_fen = None, None, 0
    session.add(v)
    record(session, actor, "voucher.release", "voucher", v.id, before=before, after=snapshot(v))
    return v


def reprice_for_booking(session: Session, actor: Actor, booking: Booking, inst: Instrument) -> Voucher | None:
    """A booking with a reserved voucher moved (new time, maybe a new fee): the programme's rules
    are asked again for the new time — a voucher that would not pay for it refuses the move
    (``PolicyViolation``) — and the reservation follows the new fee, the difference posted to the
    ledger, so the voucher's share is what ``apply_to_booking`` would reserve now."""
    v = voucher_of(session, booking.id)
    if v is None or v.status != VoucherStatus.reserved:
        return v
    prog, _unit, amount = _share_of(session, v, booking, inst)
    if amount == v.reserved_fen:
        return v
    before = snapshot(v)
    more, less = max(amount - v.reserved_fen, 0), max(v.reserved_fen - amount, 0)
    ledger.post(
        session,
        "reserve" if more else "release",
        prog.id,
        [
            (ledger.voucher(v.id), ledger.booking(booking.id), more),
            (ledger.booking(booking.id), ledger.voucher(v.id), less),
        ],
        voucher_id=v.id,
        booking_id=booking.id,
        memo="booking moved",
    )
    v.reserved_fen = amount
    session.add(v)
    record(session, actor, "voucher.reprice", "voucher", v.id, before=before, after=snapshot(v))
    return v


def consume_for_booking(
    session: Session, actor: Actor, booking: Booking, now: datetime | None = None
) -> Voucher | None:
    """The service is done: the reserved amount (re-capped by the final fee) becomes claimable by
    the provider; the unused face value lapses back to the programme budget."""
    v = voucher_of(session, booking.id)
    if v is None or v.status != VoucherStatus.reserved:
        return v
    prog = get_programme(session, v.programme_id)
    rules = prog.parsed
    unit = session.get(OwnerUnit, v.provider_unit_id)
    final = min(v.reserved_fen, rules.voucher_part_fen(booking.price_fen, is_local(rules, unit), v.face_value_fen))
    before = snapshot(v)
    ledger.post(
        session,
        "consume",
        prog.id,
        [
            (ledger.booking(booking.id), ledger.claimable(v.provider_unit_id), final),
            (ledger.booking(booking.id), ledger.budget(prog.id), v.reserved_fen - final),
            (ledger.voucher(v.id), ledger.budget(prog.id), v.face_value_fen - v.reserved_fen),
        ],
        voucher_id=v.id,
        booking_id=booking.id,
    )
    v.status, v.consumed_fen, v.consumed_at = VoucherStatus.consumed, final, now or utcnow()
    session.add(v)
    record(session, actor, "voucher.consume", "voucher", v.id, before=before, after=snapshot(v))
    return v


# --- programme office actions -----------------------------------------------------------------




def expire_due(
    session: Session, actor: Actor, now: datetime | None = None, programme_id: str | None = None
) -> list[Voucher]:
    """Expire every unused voucher past its validity (the daily job), of one programme when
    ``programme_id`` is given. Idempotent."""
    now = now or utcnow()
    q = select(Voucher).where(col(Voucher.status).in_(SPENDABLE), Voucher.expires_at <= now)
    if programme_id is not None:
        q = q.where(Voucher.programme_id == programme_id)
    due = session.exec(q.order_by(Voucher.id).with_for_update()).all()
    for v in due:
        ledger.post(
            session,
            "expire",
            v.programme_id,
            [(ledger.voucher(v.id), ledger.budget(v.programme_id), v.face_value_fen)],
            voucher_id=v.id,
        )
        before = snapshot(v)
        v.status = VoucherStatus.expired
        session.add(v)
        record(session, actor, "voucher.expire", "voucher", v.id, before=before, after=snapshot(v))
        tell(
            session,
            MailKind.voucher_lapsed,
            f"voucher_lapsed:{v.id}",
            voucher_mail_data(v, get_programme(session, v.programme_id)),
            enterprise_id=v.holder_enterprise_id,
            link=f"/api/v1/vouchers/{v.id}",
            now=now,
        )
    return list(due)


def list_vouchers(
    session: Session,
    actor: Actor,
    programme_id: str | None,
    status: VoucherStatus | None,
    limit: int,
    offset: int,
    enterprise_id: str | None = None,
) -> list[Voucher]:
    """Vouchers, newest first: an enterprise member's own, all for programme admins (of one holder
    with ``enterprise_id``). The vouchers used at one unit (what a lab manager sees) are that
    unit's voucher orders, ``unit_orders.orders``."""
    q = select(Voucher)
    if enterprise_id:
        q = q.where(Voucher.holder_enterprise_id == enterprise_id)
    if actor.role == Role.enterprise_member and actor.enterprise_id:
        q = q.where(Voucher.holder_enterprise_id == actor.enterprise_id)
    elif not actor.is_admin:
        raise Forbidden("Only programme admins, lab managers and voucher holders list vouchers.")
    if programme_id:
        q = q.where(Voucher.programme_id == programme_id)
    if status:
        q = q.where(Voucher.status == status)
    return list(session.exec(q.order_by(col(Voucher.issued_at).desc()).offset(offset).limit(limit)).all())
