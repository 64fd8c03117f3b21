"""The programme office's year-end rewards (/office/year-end): evaluate a year under a rule set and
a budget and review the grades and rewards per unit and per instrument *before* anything is frozen
(``rewards.preview_year_end``), with a clear warning when the budget is not paid out and why
(``rewards.payout_warnings``); then freeze the same evaluation into a report
(``rewards.run_year_end``) and download it as XLSX or printable HTML in Chinese with yuan amounts
(``scheduler.sharing.reports``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from fixtures.reward_rules import PRESETS, load_presets
from instruments.errors import DomainError
from instruments.settings import get_settings
from scheduler.sharing import reports
from scheduler.sharing import rewards as svc
from scheduler.sharing.rewards import RewardReport, RewardRuleSet, RuleDocument

from ..deps import SessionDep, commit
from .clock import NowDep
from .error_pages import error_page
from .i18n import translations, yuan
from .owned import CsrfChecked, OfficeReport
from .roles import OfficeDep
from .templating import render

router = APIRouter(include_in_schema=False)


def rule_set_choices(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every stored rule set (latest version) and every preset not stored yet."""
    stored: dict[str, str] = {}
    for code, name in session.exec(
        select(RewardRuleSet.code, RewardRuleSet.name).order_by(col(RewardRuleSet.code), col(RewardRuleSet.version))
    ).all():
        stored[code] = name
    for code, doc in PRESETS.items():
        stored.setdefault(code, doc["name"])
    return sorted(stored.items())


def default_year(now: datetime) -> int:
    """The year to evaluate: this year from November on (the review before year-end), else the last."""
    local = now.astimezone(ZoneInfo(get_settings().default_timezone))
    return local.year if local.month >= 11 else local.year - 1


def warning_texts(warnings: list[svc.PayoutWarning], lang: str) -> list[tuple[str, str]]:
    """(code, sentence) per warning, in the page's language, with the sums in yuan."""
    _ = translations(lang).gettext
    out = []
    for w in warnings:
        d = w.data
        if w.code == "nothing_evaluated":
            text = _("No instrument was evaluated: none in scope reaches the value threshold of {value}.").format(
                value=yuan(d["min_value_fen"])
            )
        elif w.code == "no_unit_eligible":
            text = _(
                "Nothing is paid: no unit reached the paying grade {grade} (score {cut} or more). "
                "The best, {unit}, scored {score} ({best})."
            ).format(
                grade=d["min_grade"],
                cut=d["min_score"],
                unit=d["best_unit"],
                score=d["best_score"],
                best=d["best_grade"],
            )
        elif w.code == "no_income":
            text = _(
                "Nothing is paid: the {n} units that reached the paying grade earned no external service income, the reward's basis."
            ).format(n=d["units"])
        elif w.code == "budget_not_paid":
            why = (
                _("every eligible unit is at the cap (caps sum to {caps})").format(caps=yuan(d["caps_fen"]))
                if d["all_capped"] and d["caps_fen"] is not None
                else _("no unit is eligible")
                if d["eligible_units"] == 0
                else _("the eligible units cannot take more")
            )
            text = _(
                "The budget is not paid out: {paid} of {budget} allocated, {rest} left over, because {why}."
            ).format(paid=yuan(d["reward_fen"]), budget=yuan(d["budget_fen"]), rest=yuan(d["unallocated_fen"]), why=why)
        elif w.code == "poor_units":
            text = _("Graded {grade} (named in the report): {units}.").format(
                grade=d["grade"], units="、".join(d["units"])
            )
        else:  # pragma: no cover - every code is worded above
            text = w.code
        out.append((w.code, text))
    return out


def _budget_fen(text: str) -> int | None:
    text = text.strip().replace(",", "").replace("¥", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError from None
    if value < 0 or value > Decimal(10**13) or value != value.quantize(Decimal("0.01")):
        raise ValueError
    return int(value * 100)


def _review_context(rules: RuleDocument, results: dict[str, Any], inputs: dict[str, Any], lang: str) -> dict[str, Any]:
    unit_names = {u["id"]: u["name"] for u in results["units"]}
    by_key = {x["key"]: x for x in inputs.get("instruments", [])}
    units_in = {x["key"]: x for x in inputs.get("units", [])}
    return {
        "units": sorted(results["units"], key=lambda e: (e["rank"], e["id"])),
        "instruments": sorted(results["instruments"], key=lambda e: (e["rank"], e["id"])),
        "unit_names": unit_names,
        "inst_inputs": by_key,
        "unit_inputs": units_in,
        "totals": results["totals"],
        "warnings": warning_texts(svc.payout_warnings(rules, results), lang),
        "rules": rules,
    }


def _index(request: Request, session: Session, now: datetime, **extra: Any) -> Response:
    recent = session.exec(
        select(RewardReport).order_by(col(RewardReport.created_at).desc(), col(RewardReport.id)).limit(50)
    ).all()
    form = {"year": default_year(now), "rule_set": "budget-demo", "budget": ""}
    form.update(extra.pop("form", {}))
    return render(
        request,
        "office_year_end.html",
        zone=get_settings().default_timezone,
        choices=rule_set_choices(session),
        reports=recent,
        form=form,
        errors=extra.pop("errors", {}),
        **extra,
    )


@router.get("/office/year-end")
def year_end_page(request: Request, session: SessionDep, actor: OfficeDep, now: NowDep) -> Response:
    return _index(request, session, now)


def _checked(
    request: Request, session: Session, year: str, rule_set: str, budget: str
) -> tuple[int, str, int | None, dict[str, str]]:
    _ = translations(request.state.lang).gettext
    errors: dict[str, str] = {}
    try:
        y = int(year)
        if not 2000 <= y <= 2200:
            raise ValueError
    except ValueError:
        errors["year"] = _("Give a year between 2000 and 2200.")
        y = 0
    if rule_set not in dict(rule_set_choices(session)):
        errors["rule_set"] = _("Choose a rule set.")
    try:
        b = _budget_fen(budget)
    except ValueError:
        errors["budget"] = _("Give the budget in yuan, e.g. 1000000 or 1000000.50, or leave it empty.")
        b = None
    return y, rule_set, b, errors


@router.post("/office/year-end/review")
def year_end_review(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    now: NowDep,
    csrf: CsrfChecked,
    year: Annotated[str, Form(max_length=10)] = "",
    rule_set: Annotated[str, Form(max_length=60)] = "",
    budget: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """Evaluate without freezing; the page shows the grades, rewards and warnings and a freeze button."""
    form = {"year": year, "rule_set": rule_set, "budget": budget}
    y, code, b, errors = _checked(request, session, year, rule_set, budget)
    if errors:
        return _index(request, session, now, form=form, errors=errors)
    if code in PRESETS:
        load_presets(session, actor, [code])  # a preset is stored on first use, as the CLI does
    try:
        payload = svc.preview_year_end(session, actor, y, code, budget_fen=b)
    except DomainError as exc:  # nothing is committed: the request's session rolls back at its end
        return _index(request, session, now, form=form, errors={"rule_set": exc.detail})
    commit(session)
    rs = svc.get_rule_set(session, code, payload["rule_set"]["version"])
    return render(
        request,
        "office_year_end_review.html",
        zone=get_settings().default_timezone,
        year=y,
        rule_set=rs,
        budget_fen=payload["budget_fen"],
        form=form,
        frozen=None,
        **_review_context(rs.rules(), payload["results"], payload["inputs"], request.state.lang),
    )


@router.post("/office/year-end/freeze")
def year_end_freeze(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    now: NowDep,
    csrf: CsrfChecked,
    year: Annotated[str, Form(max_length=10)] = "",
    rule_set: Annotated[str, Form(max_length=60)] = "",
    version: Annotated[int, Form(ge=1)] = 1,
    budget: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """Freeze the evaluation reviewed (the same rule set version and budget) into a report."""
    y, code, b, errors = _checked(request, session, year, rule_set, budget)
    if errors:
        return _index(request, session, now, form={"year": year, "rule_set": rule_set, "budget": budget}, errors=errors)
    try:
        out = svc.run_year_end(session, actor, y, code, version, b, now=now)
    except DomainError as exc:  # nothing is committed: the request's session rolls back at its end
        return error_page(request, exc.status, exc.detail)
    commit(session)
    return RedirectResponse(f"/office/year-end/reports/{out.report.id}", status_code=303)


@router.get("/office/year-end/reports/{report_id}")
def year_end_report(request: Request, session: SessionDep, actor: OfficeDep, r: OfficeReport) -> Response:
    rules = RuleDocument.model_validate(r.inputs["rule_set"]["document"])
    rs = session.get(RewardRuleSet, r.rule_set_id)
    return render(
        request,
        "office_year_end_review.html",
        zone=get_settings().default_timezone,
        year=r.year,
        rule_set=rs,
        budget_fen=r.budget_fen,
        form={},
        frozen=r,
        verified=svc.verify(r),
        **_review_context(rules, r.results, r.inputs, request.state.lang),
    )


@router.get("/office/year-end/reports/{report_id}/report.xlsx")
def year_end_xlsx(actor: OfficeDep, r: OfficeReport) -> Response:
    return Response(
        reports.to_xlsx(r, svc.part_for(r, actor)),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="rewards-{r.year}-v{r.version}.xlsx"'},
    )


@router.get("/office/year-end/reports/{report_id}/report.html")
def year_end_html(actor: OfficeDep, r: OfficeReport) -> Response:
    return HTMLResponse(reports.to_html(r, svc.part_for(r, actor)))
