"""A voucher programme as the programme office manages it: the list (by year, a part of the name,
with paging), its budget read from the ledger, and editing its rules (validated like creation,
audited with the rules before and after).

The budget is the programme's ledger accounts summed by kind, so its parts always add up to what
was allocated (plus any provider bonus the ledger paid beyond it): *left* is unissued money,
*issued* what vouchers hold unused, *reserved* what bookings hold until their service is done,
*spent* what completed services consumed (claimable, approved or paid to providers, less what a
fraud finding clawed back)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, literal
from sqlmodel import Session, col, func, select

from instruments.actor import Actor
from instruments.audit import record
from scheduler.money.ledger import LedgerLine
from scheduler.money.vouchers import VoucherProgramme, checked_rules, get_programme

SPENT_PREFIXES = ("claimable:", "payable:", "paid:", "clawback:")
KINDS = ("budget:", "voucher:", "booking:", *SPENT_PREFIXES)


@dataclass(frozen=True)
class Budget:
    allocated_fen: int
    issued_fen: int  # held by vouchers, unused
    reserved_fen: int  # held by bookings until the service is done
    spent_fen: int  # consumed by completed services
    left_fen: int  # unissued


def list_programmes(
    session: Session, year: int | None = None, text: str = "", limit: int = 50, offset: int = 0
) -> list[VoucherProgramme]:
    q = select(VoucherProgramme)
    if year is not None:
        q = q.where(VoucherProgramme.year == year)
    if text.strip():
        q = q.where(col(VoucherProgramme.name).ilike(f"%{text.strip()}%"))
    q = q.order_by(col(VoucherProgramme.year).desc(), VoucherProgramme.name, VoucherProgramme.id)
    return list(session.exec(q.offset(offset).limit(limit)).all())


def budgets(session: Session, programme_ids: list[str]) -> dict[str, Budget]:
    """Each programme's budget, in one query over the ledger."""
    if not programme_ids:
        return {}
    kind = case(*((col(LedgerLine.account).startswith(prefix), prefix) for prefix in KINDS), else_=literal("other"))
    rows = session.exec(
        select(LedgerLine.programme_id, kind, func.sum(LedgerLine.amount_fen))
        .where(col(LedgerLine.programme_id).in_(programme_ids))
        .group_by(LedgerLine.programme_id, kind)
    ).all()
    sums: dict[str, dict[str, int]] = {p: {} for p in programme_ids}
    for programme_id, prefix, total in rows:
        sums[programme_id][prefix] = int(total or 0)
    totals = {
        p.id: p.total_budget_fen
        for p in session.exec(select(VoucherProgramme).where(col(VoucherProgramme.id).in_(programme_ids))).all()
    }
    return {
        p: Budget(
            allocated_fen=totals.get(p, 0),
            issued_fen=s.get("voucher:", 0),
            reserved_fen=s.get("booking:", 0),
            spent_fen=sum(s.get(k, 0) for k in SPENT_PREFIXES),
            left_fen=s.get("budget:", 0),
        )
        for p, s in sums.items()
    }


def budget(session: Session, programme_id: str) -> Budget:
    return budgets(session, [get_programme(session, programme_id).id])[programme_id]


def update_rules(session: Session, actor: Actor, programme_id: str, rules: dict[str, Any]) -> VoucherProgramme:
    """Replace the programme's rules (``InvalidInput`` naming the first bad field, as at creation).
    Vouchers already issued keep their expiry; the new shares and caps apply from now on."""
    actor.require_admin()
    prog = get_programme(session, programme_id, lock=True)
    new = checked_rules(rules).model_dump(mode="json")
    before = {"rules": prog.rules}
    prog.rules = new
    session.add(prog)
    session.flush()
    record(session, actor, "programme.rules", "voucher_programme", prog.id, before=before, after={"rules": new})
    return prog
