"""The two staff consoles' front doors and their section lists, one place for both: the lab
manager's (/unit, always their own owner unit) and the programme office's (/office). The nav
(``templates/_console_nav.html``) and each console's landing page read ``SECTIONS`` so a section
is added in one line; each section's pages live in their own module (``unit_*.py``,
``office_*.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .roles import ManagerDep, OfficeDep
from .templating import render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Section:
    path: str
    title: str  # an English msgid, translated where it is shown
    what: str  # one line on the landing page (msgid)


def _(message: str) -> str:  # marks msgids for the catalogues; translated when rendered
    return message


SECTIONS: dict[str, tuple[Section, ...]] = {
    "lab_manager": (
        Section(
            "/unit/instruments",
            _("Our instruments"),
            _("Publish and edit instruments, opening hours, closures, .ics import"),
        ),
        Section(
            "/unit/operators", _("Operators"), _("Who runs which instrument, their working hours and qualifications")
        ),
        Section(
            "/unit/bookings",
            _("Bookings"),
            _("The day and week across your instruments: confirm, check in, book for an enterprise"),
        ),
        Section("/unit/usage", _("Usage"), _("Upload usage records; hours, sharing rate and external users")),
        Section(
            "/unit/vouchers",
            _("Vouchers and claims"),
            _("Voucher orders at your unit, what can be claimed, redemption claims"),
        ),
        Section("/unit/page", _("Public page"), _("Your unit's profile, sharing rules, news and open-service cases")),
    ),
    "programme_admin": (
        Section("/office/programmes", _("Programmes"), _("Voucher programmes: rules, budget")),
        Section("/office/enterprises", _("Enterprises"), _("Register, verify, suspend; innovation points")),
        Section("/office/vouchers", _("Vouchers"), _("Issue singly or from a CSV, revoke")),
        Section("/office/rounds", _("Rounds"), _("Run an allocation round and read its results")),
        Section("/office/redemption", _("Redemption"), _("Claims with their proofs, decisions, payment batches")),
        Section("/office/credit", _("Credit"), _("Complaints, red and black lists")),
        Section(
            "/office/statistics", _("Statistics"), _("Vouchers issued, used, redeemed, lapsed; by unit and category")
        ),
        Section("/office/year-end", _("Year-end rewards"), _("Run, review, freeze and download the year-end report")),
        Section("/office/audit", _("Audit log"), _("Who did what, when")),
    ),
}


@router.get("/unit")
def unit_console(request: Request, actor: ManagerDep) -> Response:
    return render(request, "console_home.html", sections=SECTIONS["lab_manager"], heading="Lab manager's console")


@router.get("/office")
def office_console(request: Request, actor: OfficeDep) -> Response:
    return render(request, "console_home.html", sections=SECTIONS["programme_admin"], heading="Programme office")
