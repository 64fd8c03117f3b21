"""The pages that say no, one of each, in the page's language: a 404 ("there is no such page, or
it is not yours to see" unless the caller names what is missing) and the 403 a signed-in person
gets on another role's pages (``roles.WrongRole``), which names the account that may see them."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from instruments.actor import Role

from .i18n import translations
from .templating import render


def error_page(request: Request, status: int, message: str) -> Response:
    """Any refusal as a page: a heading, the message, a way back."""
    return render(request, "error.html", status_code=status, message=message)


def not_found_page(request: Request, message: str | None = None) -> Response:
    """404: the thing asked for does not exist or belongs to someone else (the same answer for
    both, so a page does not reveal what other enterprises or units hold)."""
    _ = translations(request.state.lang).gettext
    return render(
        request,
        "not_found.html",
        status_code=404,
        message=message or _("There is no such page, or it is not yours to see."),
    )


def wrong_role_page(request: Request, role: Role) -> Response:
    """403: the pages of ``role`` asked for by someone signed in with another role."""
    _ = translations(request.state.lang).gettext
    message = {
        Role.enterprise_member: _("These pages are for enterprise members: sign in with your enterprise's account."),
        Role.lab_manager: _("These pages are for lab managers: sign in with your owner unit's lab manager account."),
        Role.programme_admin: _("These pages are for the programme office: sign in with a programme office account."),
    }.get(role, _("Your account may not see this page."))
    return error_page(request, 403, message)
