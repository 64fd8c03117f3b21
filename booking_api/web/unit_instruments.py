"""The lab manager's instruments (/unit/instruments): the unit's instruments with status, service
modes and fees in yuan; a form to publish a new one or edit one (the NRII record fields, status,
sharing, service modes, fees and the booking policy, each refusal beside its field); retiring one
(status 待报废, no more bookings). Through the API's own checks: the request bodies
``InstrumentIn``/``PolicyIn`` of ``routers/instruments.py`` and the services of
``instruments.catalogue``. Only the manager's own unit: another unit's instrument answers 404."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, select
from starlette.datastructures import FormData

from instruments import catalogue
from instruments.actor import Actor
from instruments.db import MAX_FEN
from instruments.errors import DomainError
from instruments.inventory import Instrument, InstrumentStatus, ServiceMode, SharingMode
from instruments.policy import BookingPolicy, policy_of
from instruments.units import Lab

from ..deps import SessionDep, commit
from ..routers.instruments import InstrumentIn, PolicyIn
from .i18n import translations
from .instrument_words import Gettext, service_mode_name, status_name
from .owned import CheckedForm, OwnInstrument, Words
from .roles import ManagerDep
from .templating import render

router = APIRouter(include_in_schema=False)

TEXT_FIELDS = (
    "name",
    "name_en",
    "internal_code",
    "category_code",
    "category",
    "manufacturer",
    "model",
    "country_of_origin",
    "key_specs",
    "main_functions",
    "disciplines",
    "location",
    "contact",
    "sharing_rules",
    "timezone",
)
YUAN_FIELDS = (
    "original_value_fen",
    "fee_hour_external_fen",
    "fee_hour_internal_fen",
    "fee_sample_external_fen",
    "fee_sample_internal_fen",
)
POLICY_NUMBERS = {  # field → (lowest, highest), as PolicyIn allows
    "slot_minutes": (1, 1440),
    "min_minutes": (1, 10080),
    "max_minutes": (1, 10080),
    "max_advance_days": (1, 730),
    "cancel_cutoff_minutes": (0, 525600),
    "setup_minutes": (0, 1440),
    "cleanup_minutes": (0, 1440),
    "max_future_bookings": (0, 10000),
    "no_show_grace_minutes": (0, 1440),
    "minutes_per_sample": (1, 1440),
}
LEAD_MAX_HOURS = 8760


async def form_data(request: Request) -> FormData:
    """The posted form (read here, so the page's handler can stay a plain function)."""
    return await request.form()


def gettext(request: Request) -> Gettext:
    return translations(request.state.lang).gettext


def _yuan(value: str) -> int | None:
    """Yuan as typed (¥1,234.5) → integer fen; None when it is not an amount."""
    text = value.strip().replace(",", "").replace("，", "").lstrip("¥￥") or "0"
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount * 100 > MAX_FEN or (amount * 100) % 1:
        return None
    return int(amount * 100)


def _whole(value: str, lo: int, hi: int) -> int | None:
    try:
        n = int(value.strip())
    except ValueError:
        return None
    return n if lo <= n <= hi else None


def _values_of(inst: Instrument | None, policy: BookingPolicy) -> dict[str, Any]:
    """The form's values for an instrument (or a new one's defaults): text as typed, fen as yuan."""
    base = inst or Instrument(owner_unit_id="", name="", status=InstrumentStatus.normal)
    values: dict[str, Any] = {f: getattr(base, f) or "" for f in TEXT_FIELDS}
    values["timezone"] = base.timezone
    for f in YUAN_FIELDS:
        fen = getattr(base, f)
        values[f] = f"{fen // 100}.{fen % 100:02d}" if fen else ""
    values.update(
        lab_id=base.lab_id or "",
        start_of_use=base.start_of_use.isoformat() if base.start_of_use else "",
        sharing_mode=str(base.sharing_mode),
        status=str(base.status),
        service_modes=list(base.service_modes),
    )
    for f in POLICY_NUMBERS:
        values[f] = str(getattr(policy, f))
    for m in ServiceMode:
        minutes = int(policy.lead_minutes.get(m.value, 0))
        values[f"lead_{m.value}"] = f"{minutes / 60:g}"
    values["auto_confirm"] = policy.auto_confirm
    return values


def _field_message(field: str, _: Gettext) -> str:
    """The words for a refused field (the API's checks name the field; the page says it plainly)."""
    return {
        "name": _("Give the instrument's name (at most 200 characters)."),
        "category": _("Give the category (at most 100 characters)."),
        "service_modes": _("Choose at least one service mode."),
        "timezone": _("Give an IANA time zone such as Asia/Shanghai."),
        "lab_id": _("Choose one of your unit's labs."),
        "start_of_use": _("Give a date like 2020-09-01."),
        "status": _("Choose one of the statuses."),
        "sharing_mode": _("Choose one of the sharing modes."),
        "max_minutes": _("The longest booking must be at least the shortest."),
        "min_minutes": _("The shortest booking must be a multiple of the slot length."),
    }.get(field, _("This value is not allowed."))


def _parse(form: FormData, _: Gettext) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, str]]:
    """The posted form → (values as typed, instrument data, policy data, field errors)."""
    values: dict[str, Any] = {f: str(form.get(f, "")).strip() for f in TEXT_FIELDS}
    errors: dict[str, str] = {}
    data: dict[str, Any] = {f: values[f] for f in TEXT_FIELDS}
    data["timezone"] = data["timezone"] or "Asia/Shanghai"
    for f in YUAN_FIELDS:
        values[f] = str(form.get(f, "")).strip()
        fen = _yuan(values[f])
        if fen is None:
            errors[f] = _("Give an amount in yuan, e.g. 600 or 1,250.50.")
        data[f] = fen or 0
    values["lab_id"] = str(form.get("lab_id", ""))
    data["lab_id"] = values["lab_id"] or None
    values["start_of_use"] = str(form.get("start_of_use", "")).strip()
    data["start_of_use"] = values["start_of_use"] or None
    for f, choices in (("sharing_mode", SharingMode), ("status", InstrumentStatus)):
        values[f] = str(form.get(f, ""))
        data[f] = values[f]
        if values[f] not in {c.value for c in choices}:
            errors[f] = _field_message(f, _)
    values["service_modes"] = [str(m) for m in form.getlist("service_modes")]
    data["service_modes"] = [m for m in values["service_modes"] if m in {s.value for s in ServiceMode}]
    policy: dict[str, Any] = {}
    for f, (lo, hi) in POLICY_NUMBERS.items():
        values[f] = str(form.get(f, "")).strip()
        n = _whole(values[f], lo, hi)
        if n is None:
            errors[f] = _("Give a whole number from {lo} to {hi}.").format(lo=lo, hi=hi)
        policy[f] = n if n is not None else lo
    leads: dict[str, int] = {}
    for m in ServiceMode:
        key = f"lead_{m.value}"
        values[key] = str(form.get(key, "")).strip() or "0"
        try:
            hours = Decimal(values[key])
            ok = hours.is_finite() and 0 <= hours <= LEAD_MAX_HOURS
        except InvalidOperation:
            ok = False
        if not ok:
            errors[key] = _("Give a number of hours from 0 to {hi}.").format(hi=LEAD_MAX_HOURS)
            continue
        leads[m.value] = int(hours * 60)
    policy["lead_minutes"] = leads
    values["auto_confirm"] = bool(form.get("auto_confirm"))
    policy["auto_confirm"] = values["auto_confirm"]
    return values, data, policy, errors


def _validated(data: dict[str, Any], policy: dict[str, Any], errors: dict[str, str], _: Gettext):
    """The API's request bodies built from the form; their refusals become field errors."""
    inst_in = policy_in = None
    try:
        inst_in = InstrumentIn.model_validate(data)
    except ValidationError as e:
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else "form"
            errors.setdefault(field, _field_message(field, _))
    except DomainError as e:  # a validator that calls a domain check (the time zone)
        field = getattr(e, "field", None) or "form"
        errors.setdefault(field, _field_message(field, _))
    try:
        policy_in = PolicyIn.model_validate(policy)
    except ValidationError as e:
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else "form"
            errors.setdefault(field, _field_message(field, _))
    return inst_in, policy_in


def _policy_values(policy_in: PolicyIn) -> dict[str, Any]:
    values = policy_in.model_dump()
    values["lead_minutes"] = {m.value: int(v) for m, v in policy_in.lead_minutes.items()}
    return values


def _form_page(
    request: Request,
    session: Session,
    actor: Actor,
    inst: Instrument | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    _ = gettext(request)
    labs = session.exec(select(Lab).where(Lab.owner_unit_id == actor.owner_unit_id).order_by(Lab.name)).all()
    return render(
        request,
        "unit_instrument_form.html",
        status_code=status,
        inst=inst,
        values=values,
        errors=errors,
        labs=labs,
        modes=[(m.value, service_mode_name(m.value, _)) for m in ServiceMode],
        statuses=[(s.value, status_name(s.value, _)) for s in InstrumentStatus],
        sharing_modes=[
            (SharingMode.external.value, _("Open to outside users")),
            (SharingMode.internal.value, _("Only the unit's own users")),
            (SharingMode.none.value, _("Not shared")),
        ],
    )


@router.get("/unit/instruments")
def instruments_page(request: Request, session: SessionDep, actor: ManagerDep, done: str = "") -> Response:
    """The unit's instruments: status, service modes and fees for enterprises, with their pages."""
    _ = gettext(request)
    rows = session.exec(
        select(Instrument).where(Instrument.owner_unit_id == actor.owner_unit_id).order_by(Instrument.name)
    ).all()
    items = [
        {
            "inst": i,
            "status": status_name(str(i.status), _),
            "retired": i.status == catalogue.RETIRED,
            "modes": [service_mode_name(m, _) for m in i.service_modes],
        }
        for i in rows
    ]
    notes = {
        "created": _("The instrument is published. Give it opening hours so it can be booked."),
        "saved": _("Saved."),
        "retired": _("The instrument is retired: it takes no more bookings."),
    }
    return render(request, "unit_instruments.html", items=items, note=notes.get(done, ""))


@router.get("/unit/instruments/new")
def new_instrument(request: Request, session: SessionDep, actor: ManagerDep) -> Response:
    values = _values_of(None, BookingPolicy(instrument_id=""))
    return _form_page(request, session, actor, None, values, {})


@router.post("/unit/instruments/new")
def create_instrument(request: Request, session: SessionDep, actor: ManagerDep, form: CheckedForm, _: Words) -> Response:
    """Publish a new instrument of the manager's unit with its booking policy."""
    values, data, policy, errors = _parse(form, _)
    data["owner_unit_id"] = actor.owner_unit_id
    inst_in, policy_in = _validated(data, policy, errors, _)
    if errors or inst_in is None or policy_in is None:
        return _form_page(request, session, actor, None, values, errors, 422)
    body = inst_in.model_dump()
    body["service_modes"] = [m.value for m in inst_in.service_modes]
    try:
        catalogue.check_policy(_policy_values(policy_in))
        inst = catalogue.create_instrument(session, actor, Instrument(**body))
        catalogue.set_policy(session, actor, inst, _policy_values(policy_in))
    except DomainError as e:
        session.rollback()
        field = getattr(e, "field", None) or "form"
        return _form_page(request, session, actor, None, values, {field: _field_message(field, _)}, 422)
    commit(session)
    return RedirectResponse(f"/unit/instruments/{inst.id}/hours?done=created", status_code=303)


@router.get("/unit/instruments/{instrument_id}/edit")
def edit_instrument(request: Request, session: SessionDep, actor: ManagerDep, inst: OwnInstrument) -> Response:
    values = _values_of(inst, policy_of(session, inst.id))
    return _form_page(request, session, actor, inst, values, {})


@router.post("/unit/instruments/{instrument_id}/edit")
def save_instrument(
    request: Request, session: SessionDep, actor: ManagerDep, form: CheckedForm, inst: OwnInstrument, _: Words
) -> Response:
    """Save the whole record and the booking policy (checked as the API checks a new one)."""
    values, data, policy, errors = _parse(form, _)
    data["owner_unit_id"] = inst.owner_unit_id
    inst_in, policy_in = _validated(data, policy, errors, _)
    if errors or inst_in is None or policy_in is None:
        return _form_page(request, session, actor, inst, values, errors, 422)
    changes = inst_in.model_dump(exclude={"owner_unit_id"})
    changes["service_modes"] = [m.value for m in inst_in.service_modes]
    try:
        catalogue.check_policy(_policy_values(policy_in))
        catalogue.update_instrument(session, actor, inst, changes)
        catalogue.set_policy(session, actor, inst, _policy_values(policy_in))
    except DomainError as e:
        session.rollback()
        field = getattr(e, "field", None) or "form"
        return _form_page(request, session, actor, inst, values, {field: _field_message(field, _)}, 422)
    commit(session)
    return RedirectResponse("/unit/instruments?done=saved", status_code=303)


@router.post("/unit/instruments/{instrument_id}/retire")
def retire(session: SessionDep, actor: ManagerDep, form: CheckedForm, inst: OwnInstrument) -> Response:
    catalogue.retire_instrument(session, actor, inst)
    commit(session)
    return RedirectResponse("/unit/instruments?done=retired", status_code=303)
