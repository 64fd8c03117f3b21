"""The programme office's voucher programmes (/office/programmes): the list with each budget
(allocated, issued, reserved, spent, left, in yuan), a programme created from a published preset
(``fixtures.voucher_presets``), and its rules edited in a form whose every refusal is shown beside
its field. The rules are the one model ``scheduler.money.voucher_rules.ProgrammeRules``; the form
only reads percent and yuan into basis points and fen, and says the model's refusals in words."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from fixtures.voucher_presets import PRESETS
from instruments.errors import DomainError
from instruments.inventory import ServiceMode
from scheduler.money import programme_budget as budgets
from scheduler.money import vouchers as svc
from scheduler.money.voucher_rules import ProgrammeRules

from ..deps import SessionDep
from .enterprise import Gettext, gettext, mode_label
from .office_forms import bp_of, fen_of, pct_text, yuan_text
from .owned import CheckedForm, CsrfChecked, OfficeProgramme, Words
from .roles import OfficeDep
from .templating import render

router = APIRouter(include_in_schema=False)
DEFAULT_PRESET = "default"
EXTRA_TYPE_ROWS = 2  # empty voucher type rows the form offers to add types


def preset_choices(_: Gettext) -> list[tuple[str, str]]:
    return [
        ("shanghai", _("Shanghai: 50 % of the fee, ¥500,000 per enterprise a year, claims each quarter")),
        (
            "shandong_jinan",
            _("Jinan: 60 % of the fee, ¥500,000 per enterprise a year, monthly claims, 10 % provider bonus"),
        ),
        ("liaocheng", _("Liaocheng: 40 %, 30 % more for local providers, ¥650,000 per controller group a year")),
        ("yuhuan", _("Yuhuan: orders under ¥10,000 in full, else 50 %, at most ¥20,000 per order")),
        (DEFAULT_PRESET, _("Plain: 50 % of the fee, claims each quarter")),
    ]


@router.get("/office/programmes")
def programmes(request: Request, session: SessionDep, actor: OfficeDep, year: str = "", q: str = "") -> Response:
    y = int(year) if year.strip().isdigit() else None
    rows = budgets.list_programmes(session, y, q, 200, 0)
    money = budgets.budgets(session, [p.id for p in rows])
    return render(
        request,
        "office_programmes.html",
        rows=[(p, money[p.id]) for p in rows],
        year=year,
        q=q,
        created=request.query_params.get("created"),
    )


# --- create from a preset -------------------------------------------------------------------------


def _new_page(request: Request, values: dict, errors: dict, status: int = 200) -> Response:
    return render(
        request,
        "office_programme_new.html",
        status_code=status,
        presets=preset_choices(gettext(request)),
        values=values,
        errors=errors,
    )


@router.get("/office/programmes/new")
def new_programme(request: Request, actor: OfficeDep, preset: str = "shanghai") -> Response:
    return _new_page(request, {"preset": preset, "year": "2026"}, {})


@router.post("/office/programmes/new")
def create_programme(
    request: Request,
    session: SessionDep,
    actor: OfficeDep,
    csrf: CsrfChecked,
    _: Words,
    name: Annotated[str, Form(max_length=200)] = "",
    region: Annotated[str, Form(max_length=100)] = "",
    year: Annotated[str, Form(max_length=10)] = "",
    budget: Annotated[str, Form(max_length=30)] = "",
    preset: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    values = {"name": name, "region": region, "year": year, "budget": budget, "preset": preset}
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = _("Give the programme a name.")
    y = int(year) if year.strip().isdigit() else 0
    if not 2000 <= y <= 2100:
        errors["year"] = _("Enter a year from 2000 to 2100.")
    fen = fen_of(budget)
    if fen is None:
        errors["budget"] = _("Enter an amount in yuan greater than 0, with at most two decimals.")
    if preset != DEFAULT_PRESET and preset not in PRESETS:
        errors["preset"] = _("Choose one of the published rule sets.")
    if errors:
        return _new_page(request, values, errors, 422)
    rules = PRESETS[preset] if preset in PRESETS else ProgrammeRules()
    prog = svc.create_programme(
        session,
        actor,
        svc.VoucherProgramme(
            name=name.strip(),
            region=region.strip(),
            year=y,
            total_budget_fen=fen or 0,
            rules=rules.model_dump(mode="json"),
        ),
    )
    session.commit()
    return RedirectResponse(f"/office/programmes/{prog.id}?created=1", status_code=303)


# --- a programme: its budget and its rules ---------------------------------------------------------


def rules_values(rules: ProgrammeRules) -> dict[str, Any]:
    """The form's fields for a rules document (percent, yuan, days, MM-DD)."""
    v: dict[str, Any] = {
        "share": pct_text(rules.share_bp),
        "local_extra": pct_text(rules.local_extra_bp),
        "local_region_prefix": rules.local_region_prefix,
        "full_coverage_below": yuan_text(rules.full_coverage_below_fen or None),
        "per_order_cap": yuan_text(rules.per_order_cap_fen),
        "per_enterprise_year_cap": yuan_text(rules.per_enterprise_year_cap_fen),
        "per_group_year_cap": yuan_text(rules.per_group_year_cap_fen),
        "validity_days": str(rules.validity_days),
        "transferable": "1" if rules.transferable else "",
        "provider_bonus": pct_text(rules.provider_bonus_bp),
        "bonus_local_only": "1" if rules.bonus_local_only else "",
        "excluded": list(rules.excluded_service_modes),
        "redemption_kind": rules.redemption.kind,
        "monthly_first": str(rules.redemption.monthly_days[0]),
        "monthly_last": str(rules.redemption.monthly_days[1]),
    }
    for w in rules.redemption.quarterly:
        v[f"q{w.quarter}_opens"], v[f"q{w.quarter}_closes"] = w.opens, w.closes
    for k, t in enumerate(rules.voucher_types):
        v[f"type_code_{k}"], v[f"type_name_{k}"] = t.code, t.name
        v[f"type_face_{k}"] = yuan_text(t.face_value_fen)
    v["type_rows"] = len(rules.voucher_types) + EXTRA_TYPE_ROWS
    return v


def _detail(
    request: Request, session, prog: svc.VoucherProgramme, values: dict, errors: dict, status: int = 200
) -> Response:  # noqa: ANN001
    _ = gettext(request)
    return render(
        request,
        "office_programme.html",
        status_code=status,
        p=prog,
        budget=budgets.budget(session, prog.id),
        values=values,
        errors=errors,
        modes=[(m.value, mode_label(_, m.value)) for m in ServiceMode],
        saved=request.query_params.get("saved"),
        created=request.query_params.get("created"),
    )


@router.get("/office/programmes/{programme_id}")
def programme(request: Request, session: SessionDep, actor: OfficeDep, prog: OfficeProgramme) -> Response:
    return _detail(request, session, prog, rules_values(prog.parsed), {})


def _model_error(_: Gettext, err: dict[str, Any], where: dict[tuple, str]) -> tuple[str, str]:
    """A refusal of the rules model as (form field, words)."""
    loc = tuple(err["loc"])
    message = str(err.get("msg", ""))
    if not loc:  # the model's own checks across fields
        if "per_group_year_cap_fen" in message:
            return "per_group_year_cap", _("The cap per controller group must be at least the cap per enterprise.")
        if "unique" in message:
            return "type_code_0", _("Each voucher type needs its own code.")
        return "form", message
    field = where.get(loc) or where.get(loc[:1]) or "form"
    kind = err.get("type", "")
    if field.startswith(("q", "monthly")) or "opens" in loc or "closes" in loc:
        if field.startswith("monthly"):
            return field, _("Give two days of the month, 1 ≤ first ≤ last ≤ 31.")
        return field, _("Give a day of every year as MM-DD (for example 04-19; 02-29 is not one).")
    if kind in ("string_too_short", "missing"):
        return field, _("Required.")
    if kind in ("string_too_long",):
        return field, _("Too long.")
    return field, _("This value is out of range.")


def rules_from_form(
    _: Gettext, form: dict[str, str], excluded: list[str], old: ProgrammeRules
) -> tuple[ProgrammeRules | None, dict[str, str]]:
    """The rules the form describes, or the refusals by field (nothing is kept on a refusal)."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}

    def pct(name: str, key: str) -> None:
        bp = bp_of(form.get(name, "") or "0")
        if bp is None:
            errors[name] = _("Enter a percentage from 0 to 100, with at most two decimals.")
        data[key] = bp or 0

    def money(name: str, key: str, zero_is_none: bool = False) -> None:
        text = form.get(name, "").strip()
        if not text:
            data[key] = 0 if not zero_is_none else None
            return
        fen = fen_of(text, allow_zero=True)
        if fen is None:
            errors[name] = _("Enter an amount in yuan, with at most two decimals (empty: no limit).")
        data[key] = fen

    pct("share", "share_bp")
    pct("local_extra", "local_extra_bp")
    pct("provider_bonus", "provider_bonus_bp")
    money("full_coverage_below", "full_coverage_below_fen")
    money("per_order_cap", "per_order_cap_fen", True)
    money("per_enterprise_year_cap", "per_enterprise_year_cap_fen", True)
    money("per_group_year_cap", "per_group_year_cap_fen", True)
    days = form.get("validity_days", "").strip()
    if not days.isdigit() or not 1 <= int(days) <= 3 * 366:
        errors["validity_days"] = _("Enter whole days from 1 to 1098.")
    data["validity_days"] = int(days) if days.isdigit() else 365
    data["local_region_prefix"] = form.get("local_region_prefix", "").strip()
    data["transferable"] = bool(form.get("transferable"))
    data["bonus_local_only"] = bool(form.get("bonus_local_only"))
    modes = {m.value for m in ServiceMode}
    data["excluded_service_modes"] = [m for m in excluded if m in modes]
    where: dict[tuple, str] = {
        ("share_bp",): "share",
        ("local_extra_bp",): "local_extra",
        ("provider_bonus_bp",): "provider_bonus",
        ("full_coverage_below_fen",): "full_coverage_below",
        ("per_order_cap_fen",): "per_order_cap",
        ("per_enterprise_year_cap_fen",): "per_enterprise_year_cap",
        ("per_group_year_cap_fen",): "per_group_year_cap",
        ("validity_days",): "validity_days",
        ("local_region_prefix",): "local_region_prefix",
        ("voucher_types",): "type_code_0",
    }
    types = []
    rows = int(form.get("type_rows", "0") or 0) if str(form.get("type_rows", "0")).isdigit() else 0
    for k in range(min(rows, 50)):
        code, name = form.get(f"type_code_{k}", "").strip(), form.get(f"type_name_{k}", "").strip()
        face = form.get(f"type_face_{k}", "").strip()
        if not (code or name or face):
            continue
        if not code:
            errors[f"type_code_{k}"] = _("Give the type a code (letters, for the CSV).")
        if not name:
            errors[f"type_name_{k}"] = _("Give the type a name.")
        fen = fen_of(face) if face else None
        if face and fen is None:
            errors[f"type_face_{k}"] = _("Enter an amount in yuan greater than 0, with at most two decimals.")
        kept = old.voucher_type(code)  # what the form does not edit (modes, categories) stays
        extra = {"service_modes": kept.service_modes, "categories": kept.categories} if kept else {}
        n = len(types)
        where[("voucher_types", n, "code")] = f"type_code_{k}"
        where[("voucher_types", n, "name")] = f"type_name_{k}"
        where[("voucher_types", n, "face_value_fen")] = f"type_face_{k}"
        types.append({"code": code, "name": name, "face_value_fen": fen, **extra})
    if not types:
        errors["type_code_0"] = _("A programme needs at least one voucher type.")
    data["voucher_types"] = types
    kind = form.get("redemption_kind", "quarterly")
    redemption: dict[str, Any] = {"kind": kind if kind in ("quarterly", "monthly") else "quarterly", "quarterly": []}
    first, last = form.get("monthly_first", "").strip(), form.get("monthly_last", "").strip()
    if kind == "monthly" and not (first.isdigit() and last.isdigit()):
        errors["monthly_first"] = _("Give two days of the month, 1 ≤ first ≤ last ≤ 31.")
    redemption["monthly_days"] = (int(first) if first.isdigit() else 1, int(last) if last.isdigit() else 15)
    where[("redemption", "monthly_days")] = "monthly_first"
    for q in range(1, 5):
        opens, closes = form.get(f"q{q}_opens", "").strip(), form.get(f"q{q}_closes", "").strip()
        if opens or closes:
            n = len(redemption["quarterly"])
            where[("redemption", "quarterly", n, "opens")] = f"q{q}_opens"
            where[("redemption", "quarterly", n, "closes")] = f"q{q}_closes"
            redemption["quarterly"].append({"quarter": q, "opens": opens, "closes": closes})
    if redemption["kind"] == "quarterly" and not redemption["quarterly"]:
        errors["q1_opens"] = _("Give at least one quarter's claim window, or choose monthly claims.")
    data["redemption"] = redemption
    if errors:
        return None, errors
    try:
        return ProgrammeRules.model_validate(data), {}
    except ValidationError as exc:
        for err in exc.errors():
            field, text = _model_error(_, err, where)
            errors.setdefault(field, text)
        return None, errors


@router.post("/office/programmes/{programme_id}/rules")
async def save_rules(
    request: Request, session: SessionDep, actor: OfficeDep, form: CheckedForm, prog: OfficeProgramme, _: Words
) -> Response:
    values = {k: str(v)[:200] for k, v in form.items() if k not in ("csrf", "excluded")}
    excluded = [str(m) for m in form.getlist("excluded")]
    rules, errors = rules_from_form(_, values, excluded, prog.parsed)
    if rules is not None:
        try:
            budgets.update_rules(session, actor, prog.id, rules.model_dump(mode="json"))
        except DomainError as exc:  # the service validates again: the same model, so only a race lands here
            session.rollback()
            errors = {"form": exc.detail}
        else:
            session.commit()
            return RedirectResponse(f"/office/programmes/{prog.id}?saved=1", status_code=303)
    values["excluded"] = excluded
    values["type_rows"] = max(
        int(values.get("type_rows", "0") or 0) if str(values.get("type_rows", "")).isdigit() else 0, 1
    )
    return _detail(request, session, prog, values, errors, 422)
