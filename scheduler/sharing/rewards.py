"""Year-end open-sharing evaluation and rewards: rule sets, scoring, grading, allocation, frozen reports.

Policy is data: a ``RewardRuleSet`` row holds a validated JSON document (presets in
``fixtures/reward_rules.py``): the scoring table (points per indicator with caps), grade cut-offs,
the tie-break, eligibility (minimum grade, "large instrument" value threshold) and the reward
formula (a share of external service income with a per-unit cap, optionally scaled to a budget).
Saving a rule set under an existing code adds a new version; old versions stay.

Evaluation: every instrument in scope whose original value reaches the threshold is scored from
its indicators; a unit's score is the mean of its instruments' scores (its tie-break score the
mean of theirs) and is graded with the same cut-offs. Units graded at least ``min_grade`` earn
``share × external income`` of those instruments, rounded down to the fen, capped per unit. With
a budget, the exact claims are scaled so the rewards sum to the budget *to the fen*: water-filling
respects the caps (what a cap cuts off goes to the others), then largest-remainder rounding in fen
(ties by unit id). All arithmetic is ``Fraction`` / integer fen.

A run freezes its inputs (indicator snapshot), the rule set and the results in a
``RewardReport`` with a SHA-256 digest of their canonical JSON. Later data changes never alter it;
a rerun over unchanged data yields the same digest and returns the existing report, also when
the runs are concurrent (they are serialised per rule set, and the database refuses a second
report with the same rule set and digest).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from fractions import Fraction
from math import floor
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import BigInteger, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col, func, select

from instruments.actor import SYSTEM, Actor, Role
from instruments.audit import record
from instruments.availability import zone
from instruments.db import MAX_FEN, json_field, utc_field, utcnow
from instruments.errors import Conflict, Forbidden, InvalidInput, NotFound
from instruments.ids import new_id
from scheduler.shared.mail_prefs import MailKind
from scheduler.shared.notifications import tell
from scheduler.sharing import indicators as ind

INDICATORS = (
    "sharing_rate",  # external / effective minutes
    "weighted_income_ratio",  # (internal + w × external income) / original value
    "effective_hours",
    "external_hours",
    "utilisation",  # effective / quota
    "external_users",
    "enterprises_served",
    "average_rating",
)


def frac(v: str | int) -> Fraction:
    return Fraction(str(v))


def _fraction_str(v: str | int) -> str:
    try:
        f = frac(v)
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"{v!r} is not an exact number (use 0.1 or 1/10)") from exc
    if f < 0:
        raise ValueError(f"{v!r} must not be negative")
    return str(v)


class ScoreItem(BaseModel):
    """points = min(max_points, value / per × points); with ``steps`` only whole steps of ``per`` count."""

    key: str = Field(min_length=1, max_length=40, examples=["sharing"])
    label: str = ""
    indicator: Literal[INDICATORS]  # type: ignore[valid-type]
    per: str = Field(examples=["1/10"], description="Indicator value worth ``points`` points")
    points: str = "1"
    max_points: str
    steps: bool = False
    external_income_weight: str = Field(default="3/2", description="weighted_income_ratio only")

    _v = field_validator("per", "points", "max_points", "external_income_weight")(_fraction_str)

    @field_validator("per")
    @classmethod
    def _positive(cls, v: str) -> str:
        if frac(v) <= 0:
            raise ValueError("per must be positive")
        return v


class Grade(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    min_score: str = "0"

    _v = field_validator("min_score")(_fraction_str)


class RewardFormula(BaseModel):
    basis: Literal["external_income"] = "external_income"
    share: str = Field(default="1/5", description="Share of the basis, e.g. 1/5 = 20 %")
    cap_fen: int | None = Field(default=None, ge=0, le=MAX_FEN, description="Per-unit cap in fen")
    budget_fen: int | None = Field(default=None, ge=0, le=MAX_FEN, description="Scale rewards to sum exactly to it")

    _v = field_validator("share")(_fraction_str)


class RuleDocument(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "code": "anhui",
                    "name": "Anhui large-instrument open-sharing rewards",
                    "region": "Anhui",
                    "min_value_fen": 30_000_000,
                    "scoring": [
                        {
                            "key": "sharing",
                            "indicator": "sharing_rate",
                            "per": "1/10",
                            "points": "10",
                            "max_points": "10",
                        }
                    ],
                    "grades": [{"name": "合格", "min_score": "60"}, {"name": "较差", "min_score": "0"}],
                    "min_grade": "合格",
                    "reward": {"share": "1/5", "cap_fen": 500_000_000},
                }
            ]
        }
    }

    code: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str = Field(min_length=1)
    region: str = Field(default="", description="Only this region's units (empty: all units)")
    timezone: str = "Asia/Shanghai"
    min_value_fen: int = Field(default=50_000_000, ge=0, le=MAX_FEN, description="'Large instrument' threshold")
    quota_general_hours: int = Field(default=1400, gt=0, le=8784)
    quota_special_hours: int = Field(default=800, gt=0, le=8784)
    special_categories: list[str] = Field(default_factory=list)
    special_instrument_ids: list[str] = Field(default_factory=list)
    scoring: list[ScoreItem] = Field(min_length=1)
    scale_to: str | None = Field(default=None, description="Scale the raw total so the maximum becomes this")
    grades: list[Grade] = Field(min_length=1, description="Highest first; the last one catches the rest")
    tie_break: str | None = Field(default="sharing", description="Key of the scoring item that breaks ties")
    min_grade: str
    reward: RewardFormula = Field(default_factory=RewardFormula)

    @model_validator(mode="after")
    def _consistent(self) -> RuleDocument:
        keys = [i.key for i in self.scoring]
        if len(set(keys)) != len(keys):
            raise ValueError("scoring keys must be unique")
        if self.tie_break and self.tie_break not in keys:
            raise ValueError(f"tie_break {self.tie_break!r} is not a scoring key ({', '.join(keys)})")
        names = [g.name for g in self.grades]
        if len(set(names)) != len(names):
            raise ValueError("grade names must be unique")
        mins = [frac(g.min_score) for g in self.grades]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("grades must be listed from the highest cut-off down, each lower than the one before")
        if mins[-1] != 0:
            raise ValueError("the last grade must start at 0 so every score has a grade")
        if self.min_grade not in names:
            raise ValueError(f"min_grade {self.min_grade!r} is not one of the grades ({', '.join(names)})")
        if self.scale_to is not None:
            _fraction_str(self.scale_to)
        zone(self.timezone)
        return self

    @property
    def max_total(self) -> Fraction:
        return sum((frac(i.max_points) for i in self.scoring), Fraction(0))

    def quota(self) -> ind.Quota:
        return ind.Quota(
            self.quota_general_hours,
            self.quota_special_hours,
            tuple(self.special_categories),
            tuple(self.special_instrument_ids),
        )


class RewardRuleSet(SQLModel, table=True):
    __tablename__ = "reward_rule_set"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_reward_rule_set_code_version"),)

    id: str = SQLField(default_factory=lambda: new_id("rrs"), primary_key=True)
    code: str = SQLField(index=True)
    version: int = 1
    name: str = ""
    region: str = ""
    document: dict[str, Any] = json_field(dict)
    created_at: datetime = utc_field(default_factory=utcnow)
    created_by: str | None = None

    def rules(self) -> RuleDocument:
        return RuleDocument.model_validate(self.document)


class RewardReport(SQLModel, table=True):
    """A frozen year-end evaluation: never updated after it is written."""

    __tablename__ = "reward_report"
    __table_args__ = (
        UniqueConstraint("rule_set_code", "year", "version", name="uq_reward_report_version"),
        # one frozen report per rule set and content: a rerun over the same inputs returns it
        UniqueConstraint("rule_set_code", "digest", name="uq_reward_report_digest"),
    )

    id: str = SQLField(default_factory=lambda: new_id("rwr"), primary_key=True)
    year: int = SQLField(index=True)
    version: int = 1
    rule_set_id: str = SQLField(foreign_key="reward_rule_set.id")
    rule_set_code: str = SQLField(index=True)
    rule_set_version: int = 1
    period_start: datetime = utc_field()
    period_end: datetime = utc_field()
    budget_fen: int | None = SQLField(default=None, sa_type=BigInteger)
    total_reward_fen: int = SQLField(default=0, sa_type=BigInteger)
    digest: str = SQLField(index=True)
    inputs: dict[str, Any] = json_field(dict)
    results: dict[str, Any] = json_field(dict)
    created_at: datetime = utc_field(default_factory=utcnow)
    created_by: str | None = None


# --- rule sets -----------------------------------------------------------------------------------


def save_rule_set(session: Session, actor: Actor, document: RuleDocument | dict) -> RewardRuleSet:
    """Store a rule set; an existing code gets a new version (reports keep pointing at theirs)."""
    actor.require_admin()
    doc = document if isinstance(document, RuleDocument) else RuleDocument.model_validate(document)
    latest = session.exec(select(func.max(RewardRuleSet.version)).where(RewardRuleSet.code == doc.code)).one()
    row = RewardRuleSet(
        code=doc.code,
        version=(latest or 0) + 1,
        name=doc.name,
        region=doc.region,
        document=doc.model_dump(mode="json"),
        created_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    record(session, actor, "reward_rule_set.create", "reward_rule_set", row.id, after=row.document)
    return row


def get_rule_set(session: Session, code: str, version: int | None = None) -> RewardRuleSet:
    q = select(RewardRuleSet).where(RewardRuleSet.code == code)
    q = q.where(RewardRuleSet.version == version) if version else q.order_by(col(RewardRuleSet.version).desc())
    row = session.exec(q).first()
    if row is None:
        raise NotFound(f"No reward rule set {code!r}{f' version {version}' if version else ''}.")
    return row


# --- scoring and grading -------------------------------------------------------------------------


def indicator_value(item: ScoreItem, x: ind.Indicators) -> Fraction:
    match item.indicator:
        case "sharing_rate":
            return x.sharing_rate
        case "weighted_income_ratio":
            weighted = x.income_internal_fen + frac(item.external_income_weight) * x.income_external_fen
            return weighted / x.original_value_fen if x.original_value_fen else Fraction(0)
        case "effective_hours":
            return Fraction(x.effective_minutes, 60)
        case "external_hours":
            return Fraction(x.external_minutes, 60)
        case "utilisation":
            return x.utilisation
        case "external_users":
            return Fraction(x.external_users)
        case "enterprises_served":
            return Fraction(x.enterprises_served)
        case "average_rating":
            return x.average_rating
    raise ValueError(item.indicator)  # pragma: no cover - the document was validated


def item_points(item: ScoreItem, x: ind.Indicators) -> Fraction:
    ratio = indicator_value(item, x) / frac(item.per)
    if item.steps:
        ratio = Fraction(floor(ratio))
    return min(frac(item.max_points), ratio * frac(item.points))


def score(rules: RuleDocument, x: ind.Indicators) -> tuple[Fraction, dict[str, Fraction]]:
    """The (scaled) total and each item's points."""
    points = {i.key: item_points(i, x) for i in rules.scoring}
    total = sum(points.values(), Fraction(0))
    if rules.scale_to is not None and rules.max_total:
        total = total * frac(rules.scale_to) / rules.max_total
    return total, points


def grade(rules: RuleDocument, total: Fraction) -> str:
    for g in rules.grades:
        if total >= frac(g.min_score):
            return g.name
    return rules.grades[-1].name  # pragma: no cover - the last cut-off is 0


def grade_rank(rules: RuleDocument, name: str) -> int:
    """0 for the best grade."""
    return [g.name for g in rules.grades].index(name)


def rank(entries: list[dict[str, Any]]) -> None:
    """Rank by score, ties by tie-break score, then by id (stable, deterministic); equal pairs share a rank."""
    entries.sort(key=lambda e: (-e["_score"], -e["_tie"], e["id"]))
    prev = None
    for n, e in enumerate(entries, start=1):
        pair = (e["_score"], e["_tie"])
        e["rank"] = entries[n - 2]["rank"] if prev == pair else n
        prev = pair


# --- allocation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    weight: Fraction  # the formula's exact reward before any cap
    cap_fen: int | None


def allocate(claims: dict[str, Claim], budget_fen: int | None) -> tuple[dict[str, int], int]:
    """Rewards in fen and the unallocated rest of the budget.

    Without a budget: each claim rounded down to the fen, then capped. With a budget: exact shares
    ``min(cap, λ·weight)`` with λ chosen so they sum to the budget (water-filling: capped claims
    are fixed and the rest shares what they could not take), then largest-remainder rounding so
    the fen sum equals the budget exactly; only when every claim is capped, or no claim has
    weight, is part of the budget left unallocated.
    """
    if budget_fen is None:
        out = {}
        for k, c in claims.items():
            v = floor(c.weight)
            out[k] = min(v, c.cap_fen) if c.cap_fen is not None else v
        return out, 0
    exact: dict[str, Fraction] = {k: Fraction(0) for k in claims}
    active = {k: c for k, c in claims.items() if c.weight > 0}
    remaining = Fraction(budget_fen)
    lam = Fraction(0)
    while active:
        lam = remaining / sum(c.weight for c in active.values())
        capped = [k for k, c in active.items() if c.cap_fen is not None and lam * c.weight >= c.cap_fen]
        if not capped:
            break
        for k in capped:
            exact[k] = Fraction(active[k].cap_fen)  # type: ignore[arg-type]
            remaining -= exact[k]
            del active[k]
    for k, c in active.items():
        exact[k] = lam * c.weight
    out = {k: floor(v) for k, v in exact.items()}
    target = floor(sum(exact.values(), Fraction(0)))  # the budget, or the sum of caps when all are capped
    short = target - sum(out.values())
    order = sorted((k for k in exact if exact[k] != out[k]), key=lambda k: (-(exact[k] - out[k]), k))
    for k in order[:short]:
        out[k] += 1
    return out, budget_fen - sum(out.values())


# --- a year-end run ------------------------------------------------------------------------------


def year_period(year: int, tz_name: str) -> tuple[datetime, datetime]:
    tz = zone(tz_name)
    return datetime.combine(date(year, 1, 1), time(), tz), datetime.combine(date(year + 1, 1, 1), time(), tz)


def _fs(v: Fraction) -> str:
    return f"{v.numerator}/{v.denominator}" if v.denominator != 1 else str(v.numerator)


def _disp(v: Fraction) -> str:
    q = round(v * 100)
    return f"{q // 100}.{q % 100:02d}"


def digest_of(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def evaluate(
    rules: RuleDocument,
    instruments: list[ind.Indicators],
    units: list[ind.Indicators],
    budget_fen: int | None,
) -> dict[str, Any]:
    """Pure: indicator snapshot + rules → results (JSON-safe, exact fractions as strings)."""
    tie = rules.tie_break
    by_unit: dict[str, list[dict[str, Any]]] = {}
    inst_out = []
    for x in instruments:
        total, points = score(rules, x)
        e = {
            "id": x.key,
            "instrument_id": x.key,
            "name": x.name,
            "owner_unit_id": x.owner_unit_id,
            "score": _fs(total),
            "score_display": _disp(total),
            "points": {k: _fs(v) for k, v in points.items()},
            "grade": grade(rules, total),
            "_score": total,
            "_tie": points[tie] if tie else Fraction(0),
        }
        inst_out.append(e)
        by_unit.setdefault(x.owner_unit_id or "", []).append(e)
    rank(inst_out)
    share = frac(rules.reward.share)
    min_rank = grade_rank(rules, rules.min_grade)
    unit_out = []
    claims: dict[str, Claim] = {}
    for u in units:
        members = by_unit.get(u.key, [])
        n = len(members)
        total = sum((e["_score"] for e in members), Fraction(0)) / n if n else Fraction(0)
        tie_score = sum((e["_tie"] for e in members), Fraction(0)) / n if n else Fraction(0)
        g = grade(rules, total)
        eligible = n > 0 and grade_rank(rules, g) <= min_rank
        basis = u.income_external_fen
        weight = share * basis if eligible else Fraction(0)
        capped_claim = floor(weight) if rules.reward.cap_fen is None else min(floor(weight), rules.reward.cap_fen)
        e = {
            "id": u.key,
            "owner_unit_id": u.key,
            "name": u.name,
            "instruments": n,
            "score": _fs(total),
            "score_display": _disp(total),
            "tie_break_score": _fs(tie_score),
            "grade": g,
            "eligible": eligible,
            "basis_fen": basis,
            "formula_reward_fen": capped_claim if eligible else 0,
            "_score": total,
            "_tie": tie_score,
        }
        if eligible:
            claims[u.key] = Claim(weight, rules.reward.cap_fen)
        unit_out.append(e)
    rank(unit_out)
    budget = budget_fen if budget_fen is not None else rules.reward.budget_fen
    rewards, unallocated = allocate(claims, budget)
    for e in unit_out:
        e["reward_fen"] = rewards.get(e["id"], 0)
    for e in inst_out + unit_out:
        del e["_score"], e["_tie"]
    return {
        "instruments": inst_out,
        "units": unit_out,
        "poor_units": [e["id"] for e in unit_out if e["grade"] == rules.grades[-1].name],
        "totals": {
            "reward_fen": sum(rewards.values()),
            "budget_fen": budget,
            "unallocated_fen": unallocated if budget is not None else 0,
            "units_rewarded": sum(1 for v in rewards.values() if v > 0),
            "instruments_evaluated": len(inst_out),
        },
    }


@dataclass
class RunOutcome:
    report: RewardReport
    created: bool


def run_year_end(
    session: Session,
    actor: Actor,
    year: int,
    rule_set_code: str,
    rule_set_version: int | None = None,
    budget_fen: int | None = None,
    progress: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> RunOutcome:
    """Evaluate ``year`` under a rule set and freeze the result (idempotent over unchanged data);
    ``now`` dates the announcement's mail (default: the clock)."""
    actor.require_admin()
    say = progress or (lambda _m: None)
    rs = get_rule_set(session, rule_set_code, rule_set_version)
    payload = evaluate_year(session, rs, year, budget_fen, say)
    start, end = year_period(year, rs.rules().timezone)
    inputs, results, budget = payload["inputs"], payload["results"], payload["budget_fen"]
    digest = digest_of(payload)
    _lock_rule_set(session, rs.code)
    same = _frozen(session, rs.code, digest)
    if same is not None:
        return RunOutcome(same, False)
    say("freezing the report")
    version = session.exec(
        select(func.max(RewardReport.version)).where(RewardReport.rule_set_code == rs.code, RewardReport.year == year)
    ).one()
    report = RewardReport(
        year=year,
        version=(version or 0) + 1,
        rule_set_id=rs.id,
        rule_set_code=rs.code,
        rule_set_version=rs.version,
        period_start=start,
        period_end=end,
        budget_fen=budget,
        total_reward_fen=results["totals"]["reward_fen"],
        digest=digest,
        inputs={**inputs, "rule_set": payload["rule_set"]},
        results=results,
        created_by=actor.user_id,
    )
    try:
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError as exc:  # the unique (code, digest) or (code, year, version): a run froze it first
        same = _frozen(session, rs.code, digest)
        if same is not None:
            return RunOutcome(same, False)
        raise Conflict(f"Another {rs.code} report for {year} was frozen at the same moment; run again.") from exc
    record(
        session,
        actor,
        "reward_report.create",
        "reward_report",
        report.id,
        after={"year": year, "rule_set": f"{rs.code}@{rs.version}", "digest": digest, "total": report.total_reward_fen},
    )
    tell(
        session,
        MailKind.report_published,
        f"report_published:{report.id}",
        {
            "report_id": report.id,
            "year": year,
            "rule_set": f"{rs.code}@{rs.version}",
            "total_reward_fen": report.total_reward_fen,
        },
        roles=("lab_manager", "programme_admin"),
        link=f"/api/v1/rewards/reports/{report.id}",
        now=now,
    )
    return RunOutcome(report, True)


def evaluate_year(
    session: Session,
    rs: RewardRuleSet,
    year: int,
    budget_fen: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``year`` under a stored rule set without freezing anything: the payload a run
    freezes (year, rule set, budget, indicator snapshot, results). The programme office reviews
    it (``preview_year_end``) before a run freezes the same evaluation."""
    say = progress or (lambda _m: None)
    if not 2000 <= year <= 2200:
        raise InvalidInput("year is out of range.", field="year")
    rules = rs.rules()
    start, end = year_period(year, rules.timezone)
    scope = ind.Scope(region=rules.region or None, min_value_fen=rules.min_value_fen)
    say("instrument indicators")
    inst_rows = ind.compute(session, start, end, ind.Level.instrument, scope, rules.quota())
    say("unit indicators")
    unit_rows = ind.compute(session, start, end, ind.Level.unit, scope, rules.quota())
    say("scoring and allocating")
    budget = budget_fen if budget_fen is not None else rules.reward.budget_fen
    inputs = {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "scope": {"region": rules.region, "min_value_fen": rules.min_value_fen},
        "instruments": [x.as_dict() for x in inst_rows],
        "units": [x.as_dict() for x in unit_rows],
    }
    return {
        "year": year,
        "rule_set": {"code": rs.code, "version": rs.version, "document": rs.document},
        "budget_fen": budget,
        "inputs": inputs,
        "results": evaluate(rules, inst_rows, unit_rows, budget),
    }


def preview_year_end(
    session: Session,
    actor: Actor,
    year: int,
    rule_set_code: str,
    rule_set_version: int | None = None,
    budget_fen: int | None = None,
) -> dict[str, Any]:
    """What a run would freeze now, for review (programme admins); nothing is written."""
    actor.require_admin()
    rs = get_rule_set(session, rule_set_code, rule_set_version)
    return evaluate_year(session, rs, year, budget_fen)


@dataclass(frozen=True)
class PayoutWarning:
    """Why a run does not pay out what the office expects: ``code`` is stable, ``data`` has the numbers."""

    code: str
    data: dict[str, Any]


def payout_warnings(rules: RuleDocument, results: dict[str, Any]) -> list[PayoutWarning]:
    """Warnings a reviewer must see before freezing, each with its reason and sums:

    - ``nothing_evaluated``: no instrument in scope (region, value threshold) had its indicators;
    - ``no_unit_eligible``: no unit reached the paying grade (the best unit's score and grade are
      given against the cut-off), so nothing is paid;
    - ``no_income``: units reached the grade but earned no external income, the reward's basis;
    - ``budget_not_paid``: a budget was given and part of it stays unallocated (every eligible
      unit is at its cap, or none is eligible): the unallocated sum and the caps' sum;
    - ``poor_units``: units graded in the lowest grade (named in the report)."""
    out: list[PayoutWarning] = []
    units, totals = results["units"], results["totals"]
    if totals["instruments_evaluated"] == 0:
        out.append(PayoutWarning("nothing_evaluated", {"min_value_fen": rules.min_value_fen, "region": rules.region}))
    cut = next(g for g in rules.grades if g.name == rules.min_grade)
    eligible = [u for u in units if u["eligible"]]
    if units and not eligible:
        best = max(units, key=lambda u: frac(u["score"]))
        out.append(
            PayoutWarning(
                "no_unit_eligible",
                {
                    "min_grade": rules.min_grade,
                    "min_score": cut.min_score,
                    "best_unit": best["name"],
                    "best_score": best["score_display"],
                    "best_grade": best["grade"],
                },
            )
        )
    elif eligible and all(u["basis_fen"] == 0 for u in eligible):
        out.append(PayoutWarning("no_income", {"units": len(eligible)}))
    budget = totals["budget_fen"]
    if budget is not None and totals["unallocated_fen"] > 0:
        cap = rules.reward.cap_fen
        out.append(
            PayoutWarning(
                "budget_not_paid",
                {
                    "budget_fen": budget,
                    "reward_fen": totals["reward_fen"],
                    "unallocated_fen": totals["unallocated_fen"],
                    "eligible_units": len(eligible),
                    "caps_fen": cap * len(eligible) if cap is not None else None,
                    "all_capped": cap is not None and bool(eligible) and all(u["reward_fen"] >= cap for u in eligible),
                },
            )
        )
    poor = [u["name"] for u in units if u["grade"] == rules.grades[-1].name]
    if poor:
        out.append(PayoutWarning("poor_units", {"grade": rules.grades[-1].name, "units": poor}))
    return out


def _lock_rule_set(session: Session, code: str) -> None:
    """Serialise freezing reports of one rule set: its rows FOR UPDATE (PostgreSQL; SQLite
    serialises every writer). The evaluation runs before, unlocked; only the digest check, the
    version number and the insert run under the lock, so concurrent runs over the same data all
    answer with the one report (the unique (code, digest) is the database's backstop)."""
    q = select(RewardRuleSet.id).where(RewardRuleSet.code == code).order_by(col(RewardRuleSet.id))
    session.exec(q.with_for_update()).all()


def _frozen(session: Session, code: str, digest: str) -> RewardReport | None:
    q = select(RewardReport).where(RewardReport.rule_set_code == code, RewardReport.digest == digest)
    return session.exec(q).first()


def verify(report: RewardReport) -> bool:
    """Whether the stored report still matches its digest (nobody edited the frozen rows)."""
    inputs = dict(report.inputs)
    rule_set = inputs.pop("rule_set")
    payload = {
        "year": report.year,
        "rule_set": rule_set,
        "budget_fen": report.budget_fen,
        "inputs": inputs,
        "results": report.results,
    }
    return digest_of(payload) == report.digest


def require_report_reader(actor: Actor) -> None:
    if not actor.is_admin and (actor.role != Role.lab_manager or not actor.owner_unit_id):
        raise Forbidden("Only programme admins and lab managers can read reward reports.")


def part_for(report: RewardReport, actor: Actor) -> dict[str, Any]:
    """The report as ``actor`` may see it: programme admins all of it, lab managers their unit's part."""
    require_report_reader(actor)
    res = report.results
    if actor.is_admin:
        return res
    mine = actor.owner_unit_id
    return {
        "instruments": [e for e in res["instruments"] if e["owner_unit_id"] == mine],
        "units": [e for e in res["units"] if e["id"] == mine],
        "poor_units": [u for u in res["poor_units"] if u == mine],
        "totals": None,
    }


def run_scheduled_rewards(database_url: str, year: int | None = None) -> list[str]:
    """The year-end job: evaluate the previous year under every stored rule set (latest versions).

    Idempotent: over unchanged data a rerun finds the report with the same digest and adds nothing.
    """
    from instruments.db import get_engine, session_scope
    from instruments.settings import get_settings

    tz = zone(get_settings().default_timezone)
    year = year or utcnow().astimezone(tz).year - 1
    out = []
    with session_scope(get_engine(database_url)) as session:
        codes = sorted(set(session.exec(select(RewardRuleSet.code)).all()))
        for code in codes:
            out.append(run_year_end(session, SYSTEM, year, code).report.id)
    return out
