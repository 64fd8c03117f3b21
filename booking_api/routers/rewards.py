"""Year-end evaluation and rewards: rule sets (programme admins), runs, frozen reports and exports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import col, select

from instruments.errors import NotFound
from scheduler.sharing import reports
from scheduler.sharing import rewards as svc
from scheduler.sharing.rewards import RewardReport, RewardRuleSet, RuleDocument

from ..deps import ActorDep, AdminDep, PageDep, SessionDep, commit

router = APIRouter(prefix="/api/v1", tags=["rewards"])


class RunIn(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"year": 2026, "rule_set": "anhui", "budget_fen": 1_000_000_000}]}
    }
    year: int = Field(ge=2000, le=2200)
    rule_set: str = Field(min_length=1, max_length=60, description="Rule set code")
    rule_set_version: int | None = Field(default=None, ge=1, description="Default: the latest version")
    budget_fen: int | None = Field(default=None, ge=0, le=10**15, description="Overrides the rule set's budget")


class ReportSummary(BaseModel):
    id: str
    year: int
    version: int
    rule_set_code: str
    rule_set_version: int
    budget_fen: int | None = Field(description="Programme admins only")
    total_reward_fen: int | None = Field(description="Programme admins only")
    digest: str
    created: bool = False
    verified: bool = True


def _summary(r: RewardReport, created: bool = False, admin: bool = True) -> ReportSummary:
    return ReportSummary(
        id=r.id,
        year=r.year,
        version=r.version,
        rule_set_code=r.rule_set_code,
        rule_set_version=r.rule_set_version,
        budget_fen=r.budget_fen if admin else None,
        total_reward_fen=r.total_reward_fen if admin else None,
        digest=r.digest,
        created=created,
        verified=svc.verify(r),
    )


@router.post(
    "/reward-rule-sets",
    response_model=RewardRuleSet,
    status_code=201,
    summary="Store a reward rule set (programme admin); an existing code gets a new version",
)
def create_rule_set(body: RuleDocument, session: SessionDep, actor: AdminDep) -> RewardRuleSet:
    row = svc.save_rule_set(session, actor, body)
    commit(session)
    return row


@router.get("/reward-rule-sets", response_model=list[RewardRuleSet], summary="Reward rule sets, all versions")
def list_rule_sets(session: SessionDep, actor: ActorDep, page: PageDep) -> list[RewardRuleSet]:
    q = select(RewardRuleSet).order_by(col(RewardRuleSet.code), col(RewardRuleSet.version).desc())
    return list(session.exec(q.offset(page.offset).limit(page.limit)).all())


@router.post(
    "/rewards/runs",
    response_model=ReportSummary,
    status_code=201,
    summary="Evaluate a year and freeze the report (programme admin); unchanged data returns the same report",
)
def run(body: RunIn, session: SessionDep, actor: AdminDep) -> ReportSummary:
    out = svc.run_year_end(session, actor, body.year, body.rule_set, body.rule_set_version, body.budget_fen)
    commit(session)
    return _summary(out.report, out.created)


@router.get("/rewards/reports", response_model=list[ReportSummary], summary="Frozen reports, newest first")
def list_reports(session: SessionDep, actor: ActorDep, page: PageDep, year: int | None = None) -> list[ReportSummary]:
    svc.require_report_reader(actor)
    q = select(RewardReport)
    if year:
        q = q.where(RewardReport.year == year)
    q = q.order_by(col(RewardReport.created_at).desc(), col(RewardReport.id)).offset(page.offset).limit(page.limit)
    return [_summary(r, admin=actor.is_admin) for r in session.exec(q).all()]


CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _attachment(body: str | bytes, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _load(session, report_id: str) -> RewardReport:  # noqa: ANN001
    r = session.get(RewardReport, report_id)
    if r is None:
        raise NotFound(f"No reward report {report_id!r}.")
    return r


@router.get("/rewards/reports/{report_id}", summary="A frozen report (lab managers: their unit's part)")
def get_report(report_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    r = _load(session, report_id)
    part = svc.part_for(r, actor)
    return {
        **_summary(r, admin=actor.is_admin).model_dump(),
        "period_start": r.period_start,
        "period_end": r.period_end,
        **part,
    }


@router.get("/rewards/reports/{report_id}/units.csv", summary="Per-unit results as CSV", response_class=Response)
def units_csv(report_id: str, session: SessionDep, actor: ActorDep) -> Response:
    r = _load(session, report_id)
    body = reports.to_csv(reports.unit_rows(r, svc.part_for(r, actor)), reports.UNIT_COLUMNS)
    return _attachment(body, CSV, f"rewards-{r.year}-units.csv")


@router.get(
    "/rewards/reports/{report_id}/instruments.csv", summary="Per-instrument results as CSV", response_class=Response
)
def instruments_csv(report_id: str, session: SessionDep, actor: ActorDep) -> Response:
    r = _load(session, report_id)
    body = reports.to_csv(reports.instrument_rows(r, svc.part_for(r, actor)), reports.INSTRUMENT_COLUMNS)
    return _attachment(body, CSV, f"rewards-{r.year}-instruments.csv")


@router.get(
    "/rewards/reports/{report_id}/report.xlsx", summary="The report as an Excel workbook", response_class=Response
)
def report_xlsx(report_id: str, session: SessionDep, actor: ActorDep) -> Response:
    r = _load(session, report_id)
    return _attachment(reports.to_xlsx(r, svc.part_for(r, actor)), XLSX, f"rewards-{r.year}.xlsx")


@router.get(
    "/rewards/reports/{report_id}/report.html", summary="Printable report page with charts", response_class=HTMLResponse
)
def report_html(report_id: str, session: SessionDep, actor: ActorDep) -> HTMLResponse:
    r = _load(session, report_id)
    return HTMLResponse(reports.to_html(r, svc.part_for(r, actor)))
