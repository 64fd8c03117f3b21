"""The booking form: one slot of one instrument (the link a bookable slot of the instrument page
gives, ``/instruments/{id}/book?service_mode=…&start=…&duration_minutes=…`` or ``&sample_count=…``),
with the live price split — the fee, what the chosen voucher pays, what the enterprise pays, what
of the voucher's face value lapses — recomputed by htmx through ``price_split.quote`` (the service
behind ``GET /api/v1/vouchers/quote``). Submitting books through ``booking_actions.book`` and
applies the voucher through ``vouchers.apply_to_booking`` in one transaction (both or neither),
as ``POST /api/v1/bookings`` then ``POST /api/v1/bookings/{id}/voucher`` would; a refusal shows
the form again with every failing rule in the page's language (``refusals``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from instruments.actor import Actor, Role
from instruments.catalogue import get_instrument
from instruments.errors import DomainError, Forbidden, InvalidInput, NotFound
from instruments.inventory import Instrument, ServiceMode
from instruments.policy import minutes_for_samples, policy_of
from scheduler import booking_actions as actions
from scheduler.money import vouchers
from scheduler.money.price_split import PriceSplit, Quote, quote

from ..deps import SessionDep, commit
from .clock import NowDep
from .i18n import translations
from .instrument_words import service_mode_name
from .refusals import say, say_all
from .signin import WebUserDep, check_csrf
from .templating import render

router = APIRouter(include_in_schema=False)
MAX_SAMPLES = 10_000


@dataclass(frozen=True)
class Slot:
    """The slot the form is about, as the link (or the form's hidden fields) gave it."""

    instrument: Instrument
    service_mode: str
    start: datetime
    end: datetime
    duration_minutes: int | None  # given by length; None: by sample count
    sample_count: int

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def by_samples(self) -> bool:
        return self.duration_minutes is None


def parse_start(value: str) -> datetime:
    """An ISO 8601 instant with its offset; a ``+`` that arrived unescaped (a space) is put back."""
    text = value.strip()
    if re.fullmatch(r".*T\d\d:\d\d(:\d\d(\.\d+)?)? \d\d:\d\d", text):
        text = text[:-6] + "+" + text[-5:]
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"start {value!r} is not an ISO 8601 time.", field="start") from exc
    if at.tzinfo is None:
        raise InvalidInput("start needs a UTC offset, e.g. 2026-12-01T09:00:00+08:00.", field="start")
    return at


def load_slot(
    session: Session,
    instrument_id: str,
    service_mode: str,
    start: str,
    duration_minutes: int | None,
    sample_count: int | None,
    by_samples: bool = False,
) -> Slot:
    inst = get_instrument(session, instrument_id)
    try:
        mode = ServiceMode(service_mode).value
    except ValueError as exc:
        raise InvalidInput(f"Unknown service mode {service_mode!r}.", field="service_mode") from exc
    at = parse_start(start)
    samples = sample_count or 0
    if not 0 <= samples <= MAX_SAMPLES:
        raise InvalidInput(f"sample_count must be between 0 and {MAX_SAMPLES}.", field="sample_count")
    if by_samples or (duration_minutes is None and sample_count is not None):
        if samples < 1:
            raise InvalidInput("sample_count must be at least 1.", field="sample_count")
        minutes, duration = minutes_for_samples(policy_of(session, inst.id), samples), None
    else:
        if duration_minutes is None or not 1 <= duration_minutes <= 92 * 1440:
            raise InvalidInput("Give duration_minutes (1 or more) or sample_count.", field="duration_minutes")
        minutes, duration = duration_minutes, duration_minutes
    return Slot(inst, mode, at, at + timedelta(minutes=minutes), duration, samples)


def member_actor(me: WebUserDep) -> Actor:
    """Bookings with a voucher are made by enterprise members; other roles are told so."""
    actor = me.user.actor()
    if actor.role != Role.enterprise_member or not actor.enterprise_id:
        raise Forbidden("Only members of an enterprise book instruments on these pages.")
    return actor


def error_page(request: Request, exc: DomainError) -> Response:
    """A page for a link that cannot be followed (unknown instrument, a broken link, a role)."""
    _ = translations(request.state.lang).gettext
    if isinstance(exc, NotFound):
        message = _("There is no such page, or it is not yours to see.")
    elif isinstance(exc, Forbidden):
        message = _("Only members of an enterprise book instruments on these pages.")
    else:
        message = _("This booking link is incomplete or wrong: {detail}").format(detail=exc.detail)
    return render(request, "error.html", status_code=exc.status, message=message)


def voucher_quote(session: Session, actor: Actor, slot: Slot, code: str, now: datetime) -> tuple[Quote, str]:
    """The quote with the chosen voucher (``code``; empty: none), and the code actually chosen."""
    q = quote(
        session,
        actor,
        slot.instrument.id,
        slot.start,
        slot.end,
        ServiceMode(slot.service_mode),
        slot.sample_count,
        code or None,
        now=now,
    )
    if not code:  # no voucher chosen: the enterprise pays it all (the quote offers the best one)
        q = Quote(q.price_fen, q.minutes, _without_voucher(q), None, q.vouchers)
    return q, code


def _without_voucher(q: Quote) -> PriceSplit:
    return PriceSplit(q.price_fen, 0, q.price_fen, 0, [])


def _context(slot: Slot, q: Quote, chosen: str, lang: str) -> dict:
    refusals_of = {v.voucher_id: [say(r["code"], r["message"], None, lang) for r in v.refusals] for v in q.vouchers}
    chosen_share = next((v for v in q.vouchers if v.code == chosen), None)
    return dict(
        slot=slot,
        zone=slot.instrument.timezone,
        mode_label=service_mode_name(slot.service_mode, translations(lang).gettext),
        quote=q,
        chosen=chosen,
        chosen_share=chosen_share,
        refusals_of=refusals_of,
    )


def _form(
    request: Request,
    session: Session,
    actor: Actor,
    slot: Slot,
    now: datetime,
    voucher: str = "",
    notes: str = "",
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    lang = request.state.lang
    try:
        q, chosen = voucher_quote(session, actor, slot, voucher, now)
    except (NotFound, InvalidInput):
        q, chosen = voucher_quote(session, actor, slot, "", now)
    return render(
        request,
        "book_form.html",
        status_code=status,
        notes=notes,
        errors=errors or [],
        **_context(slot, q, chosen, lang),
    )


@router.get("/instruments/{instrument_id}/book")
def booking_form(
    request: Request,
    instrument_id: str,
    session: SessionDep,
    me: WebUserDep,
    now: NowDep,
    service_mode: str = "operator_run",
    start: str = "",
    duration_minutes: int | None = None,
    sample_count: int | None = None,
) -> Response:
    try:
        actor = member_actor(me)
        slot = load_slot(session, instrument_id, service_mode, start, duration_minutes, sample_count)
    except DomainError as exc:
        return error_page(request, exc)
    return _form(request, session, actor, slot, now)


@router.get("/instruments/{instrument_id}/book/split")
def split_partial(
    request: Request,
    instrument_id: str,
    session: SessionDep,
    me: WebUserDep,
    now: NowDep,
    service_mode: str = "operator_run",
    start: str = "",
    duration_minutes: int | None = None,
    sample_count: int | None = None,
    by_samples: bool = False,
    voucher: str = "",
) -> Response:
    """The price split alone, for htmx to swap in when the voucher or the sample count changes."""
    try:
        actor = member_actor(me)
        slot = load_slot(session, instrument_id, service_mode, start, duration_minutes, sample_count, by_samples)
        q, chosen = voucher_quote(session, actor, slot, voucher, now)
    except DomainError as exc:
        return error_page(request, exc)
    return render(request, "_split.html", **_context(slot, q, chosen, request.state.lang))


def refusal_messages(exc: DomainError, lang: str) -> list[str]:
    """Every reason a booking (or its voucher) was refused, in ``lang``."""
    violations = getattr(exc, "violations", None)
    if violations:
        return say_all(violations, lang)
    listed = exc.extra.get("violations") or []
    if listed:
        return [say(v.get("code", ""), v.get("message", ""), None, lang) for v in listed]
    return [exc.detail]


@router.post("/instruments/{instrument_id}/book")
def submit_booking(
    request: Request,
    instrument_id: str,
    session: SessionDep,
    me: WebUserDep,
    now: NowDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    service_mode: Annotated[str, Form(max_length=40)] = "",
    start: Annotated[str, Form(max_length=60)] = "",
    duration_minutes: Annotated[int | None, Form()] = None,
    sample_count: Annotated[int | None, Form()] = None,
    by_samples: Annotated[bool, Form()] = False,
    notes: Annotated[str, Form(max_length=2000)] = "",
    voucher: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        actor = member_actor(me)
        slot = load_slot(session, instrument_id, service_mode, start, duration_minutes, sample_count, by_samples)
    except DomainError as exc:
        return error_page(request, exc)
    try:
        booking = actions.book(
            session,
            actor,
            actions.BookingInput(
                slot.instrument.id, slot.start, slot.end, slot.service_mode, slot.sample_count, notes.strip()
            ),
            now=now,
        )
        if voucher:
            vouchers.apply_to_booking(session, actor, booking.id, voucher, now=now)
        commit(session)
    except DomainError as exc:
        session.rollback()
        errors = refusal_messages(exc, request.state.lang)
        return _form(request, session, actor, slot, now, voucher, notes, errors, status=exc.status)
    return RedirectResponse(f"/my/bookings/{booking.id}?done=booked", status_code=303)
