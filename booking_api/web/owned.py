"""The staff consoles' handler preamble as FastAPI dependencies, written once: a posted form whose
CSRF token is checked (``CheckedForm``, or ``CsrfChecked`` beside ``Form`` fields), the page's
words (``Words``), and the row a page is about, loaded for the signed-in person: for a lab
manager only their own unit's (``OwnInstrument``, ``OwnOperator``, ``OwnClaim``), for the
programme office any (``OfficeEnterprise``, ``OfficeVoucher``, ``OfficeProgramme``,
``OfficeBatch``, ``OfficeClaimItem``, ``OfficeReport``). A row that does not exist or is another unit's raises
``NotOwned``, which the web app answers with the one not-found page
(``error_pages.not_found_page``), the same for both so a page reveals nothing of other units.

Declare them after the role's dependency (``ManagerDep``/``OfficeDep``) and the checked form:
FastAPI resolves parameters in order, so the role is checked first, then the CSRF token, then
the row, as the handlers did by hand."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from sqlmodel import Session
from starlette.datastructures import FormData

from instruments.errors import NotFound
from instruments.inventory import Instrument
from instruments.staff import Operator
from scheduler.booking.enterprises import Enterprise
from scheduler.money import redemption_lists
from scheduler.money.redemption import ClaimItem, PaymentBatch
from scheduler.money.vouchers import Voucher, VoucherProgramme
from scheduler.sharing.rewards import RewardReport

from ..deps import SessionDep
from .enterprise import Gettext, gettext
from .roles import ManagerDep, OfficeDep
from .signin import check_csrf


class NotOwned(Exception):
    """The row a console page asked for does not exist or is not the signed-in person's to see."""


def refuse(session: Session) -> NotOwned:
    """The refusal to raise. The request's session is rolled back (expiring what it holds) before
    the exception handler renders the page, which reads the signed-in person's rows: detach them
    first, as loaded, so the page can still read them (nothing is written before a row is loaded)."""
    session.expunge_all()
    return NotOwned()


Words = Annotated[Gettext, Depends(gettext)]  # the page's language's gettext


async def checked_form(request: Request) -> FormData:
    """The posted form, once its ``csrf`` field (or htmx's header) is the page's token."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    return form


def checked_csrf(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> None:
    """The CSRF check for a handler that takes its fields as ``Form`` parameters."""
    check_csrf(request, csrf)


CheckedForm = Annotated[FormData, Depends(checked_form)]
CsrfChecked = Annotated[None, Depends(checked_csrf)]


# --- a lab manager's own unit's rows --------------------------------------------------------------


def own_instrument(instrument_id: str, session: SessionDep, actor: ManagerDep) -> Instrument:
    inst = session.get(Instrument, instrument_id)
    if inst is None or inst.owner_unit_id != actor.owner_unit_id:
        raise refuse(session)
    return inst


def own_operator(operator_id: str, session: SessionDep, actor: ManagerDep) -> Operator:
    op = session.get(Operator, operator_id)
    if op is None or op.owner_unit_id != actor.owner_unit_id:
        raise refuse(session)
    return op


def own_claim(claim_id: str, session: SessionDep, actor: ManagerDep) -> redemption_lists.ClaimDetail:
    """The unit's claim with every order's decision and payment."""
    try:
        c = redemption_lists.claim_detail(session, actor, claim_id)
    except NotFound:
        raise refuse(session) from None
    if c.claim.owner_unit_id != actor.owner_unit_id:
        raise refuse(session)
    return c


OwnInstrument = Annotated[Instrument, Depends(own_instrument)]
OwnOperator = Annotated[Operator, Depends(own_operator)]
OwnClaim = Annotated[redemption_lists.ClaimDetail, Depends(own_claim)]


# --- the programme office's rows ------------------------------------------------------------------


def _row(session: SessionDep, model: type, row_id: str):  # noqa: ANN202 - the model's row
    row = session.get(model, row_id)
    if row is None:
        raise refuse(session)
    return row


def office_enterprise(enterprise_id: str, session: SessionDep, actor: OfficeDep) -> Enterprise:
    return _row(session, Enterprise, enterprise_id)


def office_voucher(voucher_id: str, session: SessionDep, actor: OfficeDep) -> Voucher:
    return _row(session, Voucher, voucher_id)


def office_programme(programme_id: str, session: SessionDep, actor: OfficeDep) -> VoucherProgramme:
    return _row(session, VoucherProgramme, programme_id)


def office_report(report_id: str, session: SessionDep, actor: OfficeDep) -> RewardReport:
    return _row(session, RewardReport, report_id)


def office_claim_item(item_id: str, session: SessionDep, actor: OfficeDep) -> ClaimItem:
    return _row(session, ClaimItem, item_id)


def office_batch(
    batch_id: str, session: SessionDep, actor: OfficeDep
) -> tuple[PaymentBatch, list[ClaimItem]]:
    """A payment batch and the orders it pays."""
    try:
        return redemption_lists.get_batch(session, actor, batch_id)
    except NotFound:
        raise refuse(session) from None


OfficeEnterprise = Annotated[Enterprise, Depends(office_enterprise)]
OfficeVoucher = Annotated[Voucher, Depends(office_voucher)]
OfficeProgramme = Annotated[VoucherProgramme, Depends(office_programme)]
OfficeReport = Annotated[RewardReport, Depends(office_report)]
OfficeClaimItem = Annotated[ClaimItem, Depends(office_claim_item)]
OfficeBatch = Annotated[tuple[PaymentBatch, list[ClaimItem]], Depends(office_batch)]
