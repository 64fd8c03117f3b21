"""Double-entry ledger in integer fen: every money movement is one transaction of lines that sum
to zero, so every balance is a sum and the books always balance.

Accounts (strings, one per holder of money):
    funding:<programme>          the treasury side (credited when a programme is funded)
    budget:<programme>           unissued programme money
    voucher:<voucher>            issued, not yet reserved
    booking:<booking>            reserved by a booking, service not yet done
    claimable:<unit>             consumed by completed services, not yet approved for payment
    payable:<unit>               approved, awaiting a payment batch
    paid:<unit>                  paid out to the provider
    clawback:<unit>              money a provider owes back (fraud)
Debit = positive amount, credit = negative amount.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, Session, SQLModel, func, select

from instruments.db import utc_field, utcnow
from instruments.ids import new_id


class LedgerLine(SQLModel, table=True):
    __tablename__ = "ledger_line"

    id: str = Field(default_factory=lambda: new_id("led"), primary_key=True)
    txn: str = Field(index=True, description="Lines of one transaction share this id and sum to zero")
    at: datetime = utc_field(default_factory=utcnow, index=True)
    account: str = Field(index=True)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    programme_id: str = Field(index=True)
    voucher_id: str | None = Field(default=None, index=True)
    booking_id: str | None = Field(default=None, index=True)
    kind: str = Field(
        index=True,
        description="fund | issue | reserve | release | consume | approve | bonus | pay | revoke | expire | clawback | lapse",
    )
    memo: str = ""


def funding(p: str) -> str:
    return f"funding:{p}"


def budget(p: str) -> str:
    return f"budget:{p}"


def voucher(v: str) -> str:
    return f"voucher:{v}"


def booking(b: str) -> str:
    return f"booking:{b}"


def claimable(u: str) -> str:
    return f"claimable:{u}"


def payable(u: str) -> str:
    return f"payable:{u}"


def paid(u: str) -> str:
    return f"paid:{u}"


def clawback(u: str) -> str:
    return f"clawback:{u}"


def post(
    session: Session,
    kind: str,
    programme_id: str,
    moves: Iterable[tuple[str, str, int]],
    *,
    voucher_id: str | None = None,
    booking_id: str | None = None,
    memo: str = "",
    flush: bool = True,
) -> str:
    """Post one transaction: each move (from_account, to_account, amount) debits ``to`` and
    credits ``from``. Zero moves are skipped; negative amounts are refused. ``flush=False``
    leaves the lines pending in the session (a caller posting many flushes once)."""
    txn = new_id("txn")
    now = utcnow()
    for src, dst, amount in moves:
        if amount < 0:
            raise ValueError(f"negative ledger move {src} → {dst}: {amount}")
        if amount == 0:
            continue
        for account, signed in ((dst, amount), (src, -amount)):
            session.add(
                LedgerLine(
                    txn=txn,
                    at=now,
                    account=account,
                    amount_fen=signed,
                    programme_id=programme_id,
                    voucher_id=voucher_id,
                    booking_id=booking_id,
                    kind=kind,
                    memo=memo,
                )
            )
    if flush:
        session.flush()
    return txn


def balance(session: Session, account: str) -> int:
    return int(
        session.exec(
            select(func.coalesce(func.sum(LedgerLine.amount_fen), 0)).where(LedgerLine.account == account)
        ).one()
    )


def balances(session: Session, prefix: str) -> dict[str, int]:
    rows = session.exec(
        select(LedgerLine.account, func.sum(LedgerLine.amount_fen))
        .where(LedgerLine.account.startswith(prefix))
        .group_by(LedgerLine.account)
    ).all()
    return {a: int(s) for a, s in rows}


@dataclass(frozen=True)
class VoucherUse:
    """What a voucher pays for one booking: held while the service is pending, paid once consumed."""

    booking_id: str
    held_fen: int  # reserved on the booking's account, service not yet done
    paid_fen: int  # consumed: gone to the provider's claimable account

    @property
    def fen(self) -> int:
        return self.held_fen + self.paid_fen


def voucher_uses(session: Session, voucher_id: str) -> list[VoucherUse]:
    """Per booking a voucher was applied to, in the order it was, what it holds or paid there."""
    rows = session.exec(
        select(LedgerLine)
        .where(LedgerLine.voucher_id == voucher_id, LedgerLine.booking_id.is_not(None))  # type: ignore[union-attr]
        .order_by(LedgerLine.at, LedgerLine.id)
    ).all()
    held: dict[str, int] = {}
    paid: dict[str, int] = {}
    for line in rows:
        b = line.booking_id or ""
        held.setdefault(b, 0)
        paid.setdefault(b, 0)
        if line.account == booking(b):
            held[b] += line.amount_fen
        elif line.kind == "consume" and line.account.startswith("claimable:"):
            paid[b] += line.amount_fen
    return [VoucherUse(b, held[b], paid[b]) for b in held]


def total(session: Session) -> int:
    """Sum of every line ever posted: zero when the books balance."""
    return int(session.exec(select(func.coalesce(func.sum(LedgerLine.amount_fen), 0))).one())
