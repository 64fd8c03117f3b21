"""Redemption records as each role may read them: claims (with their items' counts and sums, and
one claim with every order's decision and payment batch), claim items and payment batches,
listed with filters and paging. The one home of "a unit's claims": the API's lists, the lab
manager's /unit/vouchers and the office's /office/redemption all read here. Programme admins
see all; a lab manager sees their own owner unit's claims, items and the batches that pay them
(another unit's answers 404, so nothing reveals what other units claimed); anyone else is
refused. Read-only: filing, decisions and payment stay in ``redemption``."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, func, select

from instruments.actor import Actor, Role
from instruments.errors import Forbidden, NotFound
from instruments.units import OwnerUnit
from scheduler.booking.enterprises import Enterprise
from scheduler.money.redemption import ClaimItem, ItemStatus, PaymentBatch, RedemptionClaim
from scheduler.money.vouchers import Voucher, VoucherProgramme


def unit_scope(actor: Actor, owner_unit_id: str | None = None) -> str | None:
    """The owner unit a list is limited to: the asked one for programme admins (None: all), always
    the lab manager's own (asking for another unit is refused)."""
    if actor.is_admin:
        return owner_unit_id or None
    if actor.role == Role.lab_manager and actor.owner_unit_id:
        if owner_unit_id and owner_unit_id != actor.owner_unit_id:
            raise Forbidden("A lab manager sees only their own owner unit's redemption records.")
        return actor.owner_unit_id
    raise Forbidden("Only programme admins and lab managers see redemption records.")


def claim_status(states: set[str]) -> str:
    """A claim's state from its orders' states: ``pending`` while any order awaits its decision,
    ``paid`` when every approved order is paid and none waits, else ``decided`` (approved,
    rejected, or waiting for a batch)."""
    if not states or ItemStatus.pending.value in states:
        return "pending"
    if ItemStatus.paid.value in states and ItemStatus.approved.value not in states:
        return "paid"
    return "decided"


@dataclass
class ClaimSummary:
    """A claim with its items counted by status and summed (fen), and its programme's name."""

    claim: RedemptionClaim
    counts: dict[str, int] = field(default_factory=dict)
    amount_fen: int = 0
    bonus_fen: int = 0
    programme: str = ""

    @property
    def items(self) -> int:
        return sum(self.counts.values())

    @property
    def status(self) -> str:
        return claim_status({s for s, n in self.counts.items() if n})


def list_claims(
    session: Session,
    actor: Actor,
    programme_id: str | None = None,
    owner_unit_id: str | None = None,
    status: ItemStatus | None = None,
    window: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[RedemptionClaim]:
    """Claims, newest first; ``status``: those with at least one item in it (``pending``: the queue)."""
    unit = unit_scope(actor, owner_unit_id)
    q = select(RedemptionClaim)
    if unit:
        q = q.where(RedemptionClaim.owner_unit_id == unit)
    if programme_id:
        q = q.where(RedemptionClaim.programme_id == programme_id)
    if window:
        q = q.where(RedemptionClaim.window == window)
    if status:
        q = q.where(col(RedemptionClaim.id).in_(select(ClaimItem.claim_id).where(ClaimItem.status == status)))
    q = q.order_by(col(RedemptionClaim.filed_at).desc(), col(RedemptionClaim.id))
    return list(session.exec(q.offset(offset).limit(limit)).all())


def summaries(session: Session, claims: list[RedemptionClaim]) -> list[ClaimSummary]:
    """Each claim with its items' counts by status and sums, and its programme's name, in two queries."""
    if not claims:
        return []
    progs = names_of(session, VoucherProgramme, {c.programme_id for c in claims})
    out = {c.id: ClaimSummary(c, programme=progs.get(c.programme_id, c.programme_id)) for c in claims}
    rows = session.exec(
        select(
            ClaimItem.claim_id,
            ClaimItem.status,
            func.count(),
            func.sum(ClaimItem.amount_fen),
            func.sum(ClaimItem.bonus_fen),
        )
        .where(col(ClaimItem.claim_id).in_(list(out)))
        .group_by(ClaimItem.claim_id, ClaimItem.status)
    ).all()
    for claim_id, status, n, amount, bonus in rows:
        s = out[claim_id]
        s.counts[str(status)] = int(n)
        s.amount_fen += int(amount or 0)
        s.bonus_fen += int(bonus or 0)
    return [out[c.id] for c in claims]


def get_claim(session: Session, actor: Actor, claim_id: str) -> tuple[RedemptionClaim, list[ClaimItem]]:
    """A claim and its items (404 for a claim of another unit than a lab manager's own)."""
    unit = unit_scope(actor)
    claim = session.get(RedemptionClaim, claim_id)
    if claim is None or (unit and claim.owner_unit_id != unit):
        raise NotFound(f"No redemption claim {claim_id!r}.")
    items = session.exec(select(ClaimItem).where(ClaimItem.claim_id == claim.id).order_by(col(ClaimItem.id))).all()
    return claim, list(items)


@dataclass
class DetailItem:
    """One order of a claim, with its voucher's code and the batch that pays it (if any)."""

    item: ClaimItem
    voucher_code: str
    batch: PaymentBatch | None


@dataclass
class ClaimDetail:
    """A claim with every order's decision and payment."""

    claim: RedemptionClaim
    programme: str
    items: list[DetailItem] = field(default_factory=list)

    @property
    def status(self) -> str:
        return claim_status({str(i.item.status) for i in self.items})

    @property
    def amount_fen(self) -> int:
        return sum(i.item.amount_fen for i in self.items)

    @property
    def bonus_fen(self) -> int:
        return sum(i.item.bonus_fen for i in self.items)


def claim_detail(session: Session, actor: Actor, claim_id: str) -> ClaimDetail:
    """A claim with its orders' voucher codes, decisions and payment batches (``get_claim``'s scope)."""
    claim, items = get_claim(session, actor, claim_id)
    vouchers = rows_of(session, Voucher, {i.voucher_id for i in items})
    batches = rows_of(session, PaymentBatch, {i.batch_id for i in items if i.batch_id})
    programme = names_of(session, VoucherProgramme, {claim.programme_id}).get(claim.programme_id, claim.programme_id)
    return ClaimDetail(
        claim,
        programme,
        [
            DetailItem(i, vouchers[i.voucher_id].code if i.voucher_id in vouchers else i.voucher_id, batches.get(i.batch_id or ""))
            for i in items
        ],
    )


def list_items(
    session: Session,
    actor: Actor,
    claim_id: str | None = None,
    status: ItemStatus | None = None,
    voucher_id: str | None = None,
    batch_id: str | None = None,
    owner_unit_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[ClaimItem]:
    """Claim items, in claim order then item id."""
    unit = unit_scope(actor, owner_unit_id)
    q = select(ClaimItem).join(RedemptionClaim, RedemptionClaim.id == ClaimItem.claim_id)
    if unit:
        q = q.where(RedemptionClaim.owner_unit_id == unit)
    if claim_id:
        q = q.where(ClaimItem.claim_id == claim_id)
    if status:
        q = q.where(ClaimItem.status == status)
    if voucher_id:
        q = q.where(ClaimItem.voucher_id == voucher_id)
    if batch_id:
        q = q.where(ClaimItem.batch_id == batch_id)
    q = q.order_by(col(RedemptionClaim.filed_at), col(ClaimItem.claim_id), col(ClaimItem.id))
    return list(session.exec(q.offset(offset).limit(limit)).all())


def list_batches(
    session: Session,
    actor: Actor,
    programme_id: str | None = None,
    paid: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[PaymentBatch]:
    """Payment batches, newest first; a lab manager's: those that pay at least one of their unit's items."""
    unit = unit_scope(actor)
    q = select(PaymentBatch)
    if unit:
        q = q.where(col(PaymentBatch.id).in_(_unit_batches(unit)))
    if programme_id:
        q = q.where(PaymentBatch.programme_id == programme_id)
    if paid is True:
        q = q.where(col(PaymentBatch.paid_at).is_not(None))
    elif paid is False:
        q = q.where(col(PaymentBatch.paid_at).is_(None))
    q = q.order_by(col(PaymentBatch.created_at).desc(), col(PaymentBatch.id))
    return list(session.exec(q.offset(offset).limit(limit)).all())


def _unit_batches(unit: str):  # noqa: ANN202 - a select of batch ids
    return (
        select(ClaimItem.batch_id)
        .join(RedemptionClaim, RedemptionClaim.id == ClaimItem.claim_id)
        .where(RedemptionClaim.owner_unit_id == unit, col(ClaimItem.batch_id).is_not(None))
    )


def get_batch(session: Session, actor: Actor, batch_id: str) -> tuple[PaymentBatch, list[ClaimItem]]:
    """A batch and its items (a lab manager's: only their unit's items; 404 when none is)."""
    unit = unit_scope(actor)
    batch = session.get(PaymentBatch, batch_id)
    if batch is None:
        raise NotFound(f"No payment batch {batch_id!r}.")
    q = (
        select(ClaimItem)
        .join(RedemptionClaim, RedemptionClaim.id == ClaimItem.claim_id)
        .where(ClaimItem.batch_id == batch.id)
    )
    if unit:
        q = q.where(RedemptionClaim.owner_unit_id == unit)
    items = list(session.exec(q.order_by(col(RedemptionClaim.owner_unit_id), col(ClaimItem.id))).all())
    if unit and not items:
        raise NotFound(f"No payment batch {batch_id!r}.")
    return batch, items


def batchable(session: Session) -> list[tuple[VoucherProgramme, int, int]]:
    """Programmes with approved orders not yet in a batch: (programme, orders, amount + bonus fen)."""
    rows = session.exec(
        select(RedemptionClaim.programme_id, func.count(), func.sum(ClaimItem.amount_fen + ClaimItem.bonus_fen))
        .join(RedemptionClaim, RedemptionClaim.id == ClaimItem.claim_id)
        .where(ClaimItem.status == ItemStatus.approved, col(ClaimItem.batch_id).is_(None))
        .group_by(RedemptionClaim.programme_id)
    ).all()
    progs = {
        p.id: p
        for p in session.exec(select(VoucherProgramme).where(col(VoucherProgramme.id).in_([r[0] for r in rows]))).all()
    }
    return sorted(((progs[p], int(n), int(s or 0)) for p, n, s in rows if p in progs), key=lambda r: r[0].name)


@dataclass(frozen=True)
class ItemFacts:
    """What a person needs beside a claim item's ids: the voucher's code, the enterprise that used
    it, the provider unit, the programme."""

    voucher_code: str
    enterprise: str
    unit: str
    programme: str


def item_facts(session: Session, items: list[ClaimItem]) -> dict[str, ItemFacts]:
    """Facts for each item id, in four queries whatever the number of items."""
    if not items:
        return {}
    claims = rows_of(session, RedemptionClaim, {i.claim_id for i in items})
    vouchers = rows_of(session, Voucher, {i.voucher_id for i in items})
    ents = names_of(session, Enterprise, {v.holder_enterprise_id for v in vouchers.values()})
    units = names_of(session, OwnerUnit, {c.owner_unit_id for c in claims.values()})
    progs = names_of(session, VoucherProgramme, {c.programme_id for c in claims.values()})
    out = {}
    for i in items:
        v, c = vouchers.get(i.voucher_id), claims[i.claim_id]
        out[i.id] = ItemFacts(
            voucher_code=v.code if v else i.voucher_id,
            enterprise=ents.get(v.holder_enterprise_id, "") if v else "",
            unit=units.get(c.owner_unit_id, c.owner_unit_id),
            programme=progs.get(c.programme_id, c.programme_id),
        )
    return out


def rows_of(session: Session, model, ids: set[str]) -> dict:  # noqa: ANN001 - a table with an id
    """The rows of ``model`` with these ids, by id, in one query."""
    if not ids:
        return {}
    return {r.id: r for r in session.exec(select(model).where(col(model.id).in_(ids))).all()}


def names_of(session: Session, model, ids: set[str]) -> dict[str, str]:  # noqa: ANN001 - a table with id and name
    return {i: r.name for i, r in rows_of(session, model, ids).items()}
