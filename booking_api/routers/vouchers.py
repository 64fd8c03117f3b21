"""Innovation vouchers: programmes, issuance, holder actions, statistics."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from instruments import catalogue
from instruments.actor import Role
from instruments.db import MAX_FEN
from instruments.errors import InvalidInput
from instruments.inventory import ServiceMode
from instruments.settings import get_settings
from scheduler.money import bulk_issue, ledger, price_split, programme_budget, revocation, unit_orders
from scheduler.money import vouchers as svc
from scheduler.money.voucher_rules import ProgrammeRules
from scheduler.money.voucher_stats import dashboard, programme_stats, stats_csv
from scheduler.sharing.usage import check_csv_size, decode_csv

from ..bodies import read_capped
from ..deps import ActorDep, AdminDep, PageDep, SessionDep, commit
from ..idempotency import IdempotencyKey, once
from ..schemas import PriceSplitOut, VoucherShareOut
from ..timefields import ApiDate, ApiDatetime

router = APIRouter(prefix="/api/v1", tags=["vouchers"])


class ProgrammeIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "2026 天津市科技创新券",
                    "region": "天津市",
                    "year": 2026,
                    "total_budget_fen": 1_000_000_000,
                    "preset": "shanghai",
                }
            ]
        }
    }
    name: str = Field(min_length=1, max_length=200)
    region: str = ""
    year: int = Field(ge=2000, le=2100)
    total_budget_fen: int = Field(gt=0, le=MAX_FEN)
    preset: str | None = Field(
        default=None, description="Start from a published rule set: shanghai, shandong_jinan, liaocheng, yuhuan"
    )
    rules: ProgrammeRules | None = None


class ProgrammeOut(BaseModel):
    programme: svc.VoucherProgramme
    unissued_fen: int


class IssueIn(BaseModel):
    enterprise_id: str
    voucher_type: str
    face_value_fen: int | None = Field(default=None, gt=0, le=MAX_FEN)


class CodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=40, description="The voucher code (dashes and spaces ignored)")


class TransferIn(CodeIn):
    to_enterprise_id: str


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    fraud: bool = False


class VoucherOut(BaseModel):
    id: str
    code: str
    programme_id: str
    voucher_type: str
    holder_enterprise_id: str
    face_value_fen: int
    status: str
    issued_at: datetime
    expires_at: datetime
    booking_id: str | None
    reserved_fen: int
    consumed_fen: int
    balance_fen: int = Field(description="Money the voucher itself still holds (ledger)")


def _out(session, v: svc.Voucher) -> VoucherOut:
    return VoucherOut(
        **{**v.model_dump(), "status": str(v.status), "balance_fen": ledger.balance(session, ledger.voucher(v.id))}
    )


@router.post(
    "/voucher-programmes",
    response_model=ProgrammeOut,
    status_code=201,
    summary="Create and fund a programme (programme admin)",
)
def create_programme(
    body: ProgrammeIn, session: SessionDep, actor: AdminDep, idempotency_key: IdempotencyKey = None
) -> ProgrammeOut:
    from fixtures.voucher_presets import PRESETS

    if body.preset is not None and body.preset not in PRESETS:
        raise InvalidInput(f"Unknown preset {body.preset!r}; choose one of {', '.join(PRESETS)}.", field="preset")
    rules = body.rules or (PRESETS[body.preset] if body.preset else ProgrammeRules())

    def act() -> ProgrammeOut:
        prog = svc.create_programme(
            session,
            actor,
            svc.VoucherProgramme(
                name=body.name,
                region=body.region,
                year=body.year,
                total_budget_fen=body.total_budget_fen,
                rules=rules.model_dump(mode="json"),
            ),
        )
        return ProgrammeOut(programme=prog, unissued_fen=ledger.balance(session, ledger.budget(prog.id)))

    return once(session, actor, idempotency_key, "POST /voucher-programmes", act, request=body)


class BudgetOut(BaseModel):
    """A programme's money by where it is now (fen): the parts add up to what was allocated."""

    allocated_fen: int
    issued_fen: int = Field(description="Held by vouchers, unused")
    reserved_fen: int = Field(description="Held by bookings until their service is done")
    spent_fen: int = Field(description="Consumed by completed services (claimable, approved or paid)")
    left_fen: int = Field(description="Not yet issued")


class ProgrammeListOut(BaseModel):
    programme: svc.VoucherProgramme
    budget: BudgetOut


@router.get(
    "/voucher-programmes",
    response_model=list[ProgrammeListOut],
    summary="Voucher programmes with their budgets, newest year first (programme admin)",
)
def list_programmes(
    session: SessionDep,
    actor: AdminDep,
    page: PageDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    q: Annotated[str, Query(max_length=100, description="A part of the name")] = "",
) -> list[ProgrammeListOut]:
    rows = programme_budget.list_programmes(session, year, q, page.limit, page.offset)
    money = programme_budget.budgets(session, [p.id for p in rows])
    return [ProgrammeListOut(programme=p, budget=BudgetOut(**vars(money[p.id]))) for p in rows]


@router.put(
    "/voucher-programmes/{programme_id}/rules",
    response_model=ProgrammeOut,
    summary="Replace a programme's rules (programme admin; audited; issued vouchers keep their expiry)",
)
def put_rules(programme_id: str, body: ProgrammeRules, session: SessionDep, actor: AdminDep) -> ProgrammeOut:
    prog = programme_budget.update_rules(session, actor, programme_id, body.model_dump(mode="json"))
    commit(session)
    return ProgrammeOut(programme=prog, unissued_fen=ledger.balance(session, ledger.budget(prog.id)))


@router.post(
    "/voucher-programmes/{programme_id}/vouchers.csv",
    response_model=list[VoucherOut],
    status_code=201,
    summary="Issue vouchers from a CSV (columns credit_code, voucher_type, face_value in yuan); all rows or none",
    description="A refusal (422) names every bad row in `rows`: its line in the file, the column and the reason.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "credit_code,voucher_type,face_value\n91320594MA1MXXXX0X,testing,5000\n",
                }
            },
        }
    },
)
async def issue_csv(programme_id: str, request: Request, session: SessionDep, actor: AdminDep) -> list[VoucherOut]:
    raw = await read_capped(request, get_settings().usage_import_max_bytes, check_csv_size)
    rows = bulk_issue.parse_issue_csv(decode_csv(raw))
    issued = bulk_issue.issue_from_rows(session, actor, programme_id, rows)
    out = [_out(session, v) for v in issued]
    commit(session)
    return out


@router.get(
    "/voucher-programmes/{programme_id}",
    response_model=ProgrammeOut,
    summary="A programme and its unissued budget (public)",
)
def get_programme(programme_id: str, session: SessionDep) -> ProgrammeOut:
    prog = svc.get_programme(session, programme_id)
    return ProgrammeOut(programme=prog, unissued_fen=ledger.balance(session, ledger.budget(prog.id)))


@router.post(
    "/voucher-programmes/{programme_id}/vouchers",
    response_model=VoucherOut,
    status_code=201,
    summary="Issue a voucher to an enterprise (programme admin; budget and caps checked)",
)
def issue(
    programme_id: str,
    body: IssueIn,
    session: SessionDep,
    actor: AdminDep,
    idempotency_key: IdempotencyKey = None,
) -> VoucherOut:
    def act() -> VoucherOut:
        v = svc.issue_voucher(session, actor, programme_id, body.enterprise_id, body.voucher_type, body.face_value_fen)
        return _out(session, v)

    return once(session, actor, idempotency_key, f"POST /voucher-programmes/{programme_id}/vouchers", act, request=body)


@router.get(
    "/vouchers",
    response_model=list[VoucherOut],
    summary="Vouchers you hold; those used at your unit (lab managers); all, or those used at a unit (programme admins)",
)
def list_vouchers(
    session: SessionDep,
    actor: ActorDep,
    page: PageDep,
    programme_id: str | None = None,
    status: svc.VoucherStatus | None = None,
    enterprise_id: Annotated[str | None, Query(max_length=40, description="Programme admins: one holder's")] = None,
    owner_unit_id: Annotated[
        str | None,
        Query(
            max_length=40,
            deprecated=True,
            description="Deprecated: use GET /owner-units/{id}/voucher-orders. Only vouchers used at this owner "
            "unit (the provider): the same vouchers in the same order as the unit's voucher orders",
        ),
    ] = None,
) -> list[VoucherOut]:
    unit = owner_unit_id or (actor.owner_unit_id if actor.role == Role.lab_manager else None)
    if unit:  # a unit's vouchers: its voucher orders, the one service behind both endpoints
        found = [
            o.voucher
            for o in unit_orders.orders(
                session, actor, unit, page.limit, page.offset, programme_id=programme_id, status=status,
                enterprise_id=enterprise_id,
            )
        ]
    else:
        found = svc.list_vouchers(
            session, actor, programme_id, status, page.limit, page.offset, enterprise_id=enterprise_id
        )
    return [_out(session, v) for v in found]


class QuoteOut(BaseModel):
    """The price split of a booking not yet made, and what each of your vouchers would pay."""

    instrument_id: str
    start: datetime
    end: datetime
    minutes: int
    price_split: PriceSplitOut = Field(description="With the chosen voucher, if one can pay")
    chosen_voucher_id: str | None = Field(
        description="The voucher asked for by code, else the one of yours that pays most (None: none can pay)"
    )
    vouchers: list[VoucherShareOut] = Field(
        description="Your unused vouchers (and the one asked for), each with what it would pay or its refusals"
    )


@router.get(
    "/vouchers/quote",
    response_model=QuoteOut,
    summary="Preview a booking's price split: what a voucher would pay, what you pay, what lapses (writes nothing)",
)
def quote(
    session: SessionDep,
    actor: ActorDep,
    instrument_id: str,
    start: ApiDatetime,
    end: ApiDatetime,
    service_mode: ServiceMode = ServiceMode.operator_run,
    sample_count: Annotated[int, Query(ge=0, le=10000)] = 0,
    code: Annotated[
        str | None, Query(max_length=40, description="The voucher to use; default: the best of yours")
    ] = None,
) -> QuoteOut:
    q = price_split.quote(session, actor, instrument_id, start, end, service_mode, sample_count, code)
    tz = catalogue.get_instrument(session, instrument_id).timezone
    z = ZoneInfo(tz)
    return QuoteOut(
        instrument_id=instrument_id,
        start=start.astimezone(z),
        end=end.astimezone(z),
        minutes=q.minutes,
        price_split=PriceSplitOut.of(q.split, tz),
        chosen_voucher_id=q.chosen.voucher_id if q.chosen is not None and not q.chosen.refusals else None,
        vouchers=[VoucherShareOut.of(v, tz) for v in q.vouchers],
    )


@router.post("/vouchers/claim", response_model=VoucherOut, summary="Claim (accept) a voucher issued to your enterprise")
def claim(body: CodeIn, session: SessionDep, actor: ActorDep, idempotency_key: IdempotencyKey = None) -> VoucherOut:
    return once(
        session,
        actor,
        idempotency_key,
        "POST /vouchers/claim",
        lambda: _out(session, svc.claim(session, actor, body.code)),
        status=200,
        request=body,
    )


@router.post(
    "/vouchers/transfer",
    response_model=VoucherOut,
    summary="Transfer an unused voucher (where the programme allows it)",
)
def transfer(
    body: TransferIn, session: SessionDep, actor: ActorDep, idempotency_key: IdempotencyKey = None
) -> VoucherOut:
    return once(
        session,
        actor,
        idempotency_key,
        "POST /vouchers/transfer",
        lambda: _out(session, svc.transfer(session, actor, body.code, body.to_enterprise_id)),
        status=200,
        request=body,
    )


@router.post(
    "/bookings/{booking_id}/voucher",
    response_model=VoucherOut,
    status_code=201,
    tags=["bookings"],
    summary="Pay part of a booking with a voucher (share by the programme's rules; you pay the rest)",
)
def apply(
    booking_id: str,
    body: CodeIn,
    session: SessionDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> VoucherOut:
    return once(
        session,
        actor,
        idempotency_key,
        f"POST /bookings/{booking_id}/voucher",
        lambda: _out(session, svc.apply_to_booking(session, actor, booking_id, body.code)),
        request=body,
    )


@router.post("/vouchers/{voucher_id}/revoke", response_model=VoucherOut, summary="Void a voucher (programme admin)")
def revoke(
    voucher_id: str, body: RevokeIn, session: SessionDep, actor: AdminDep, idempotency_key: IdempotencyKey = None
) -> VoucherOut:
    return once(
        session,
        actor,
        idempotency_key,
        f"POST /vouchers/{voucher_id}/revoke",
        lambda: _out(session, revocation.revoke(session, actor, voucher_id, body.reason, body.fraud)),
        status=200,
        request=body,
    )


@router.get(
    "/voucher-programmes/{programme_id}/statistics",
    summary="The programme's published figures, live (JSON or CSV)",
    response_model=dict[str, Any],
)
def statistics(
    programme_id: str,
    session: SessionDep,
    actor: AdminDep,
    start: Annotated[ApiDate, Query(description="First day")],
    end: Annotated[ApiDate, Query(description="Last day (inclusive)")],
    format: str = Query(default="json", pattern="^(json|csv)$"),
) -> Any:
    if end < start:
        raise InvalidInput("end must not be before start.", field="end")
    tz = ZoneInfo("Asia/Shanghai")
    lo = datetime.combine(start, time(0), tz)
    hi = datetime.combine(end + timedelta(days=1), time(0), tz)
    stats = programme_stats(session, programme_id, lo, hi)
    if format == "csv":
        return PlainTextResponse(stats_csv(stats), media_type="text/csv")
    return stats


@router.get(
    "/voucher-programmes/{programme_id}/dashboard",
    summary="Where the vouchers issued in a period stand and where their money went (programme admin)",
    response_model=dict[str, Any],
)
def programme_dashboard(
    programme_id: str,
    session: SessionDep,
    actor: AdminDep,
    start: Annotated[ApiDate, Query(description="First day of issue")],
    end: Annotated[ApiDate, Query(description="Last day of issue (inclusive)")],
) -> Any:
    """The cohort of vouchers issued from ``start`` to ``end`` (Asia/Shanghai days): issued, unused,
    reserved, used, expired, lapsed, revoked; their claims (not claimed, pending, approved but
    unpaid, paid, rejected); the budget not issued; by month, owner unit and instrument category.
    Amounts in fen; the figures add up (see ``voucher_stats.dashboard``)."""
    if end < start:
        raise InvalidInput("end must not be before start.", field="end")
    if (end - start).days > 3660:
        raise InvalidInput("A period is at most ten years.", field="end")
    tz = ZoneInfo("Asia/Shanghai")
    lo = datetime.combine(start, time(0), tz)
    hi = datetime.combine(end + timedelta(days=1), time(0), tz)
    return dashboard(session, programme_id, lo, hi, tz)
