"""Proof files as stored by the platform, for the people who may read them: ``GET
/proof-files/{id}`` answers the file (inline, with the content type its bytes showed at upload,
never sniffed by the browser; images under a sandboxing content policy) to the owning unit's lab
managers and to programme admins; anyone else signed in gets the 404 page, as for a file that
does not exist. Uploads are part of filing a claim (``unit_vouchers``) or the API's ``POST
/api/v1/proof-files``; claim pages link each ``"proof-file:<id>"`` proof here."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from instruments.errors import NotFound
from scheduler.money import proof_files

from ..deps import SessionDep
from .error_pages import not_found_page
from .signin import WebUserDep

router = APIRouter(include_in_schema=False)


def href(value: object) -> str | None:
    """The download link of a proof value that names an uploaded file, else None."""
    file_id = proof_files.file_id_of(value)
    return f"/proof-files/{file_id}" if file_id else None


@router.get("/proof-files/{file_id}")
def download(file_id: str, request: Request, session: SessionDep, me: WebUserDep) -> Response:
    try:
        f = proof_files.readable(session, me.user.actor(), file_id)
    except NotFound:
        return not_found_page(request)
    ascii_name = "".join(ch if 32 < ord(ch) < 127 and ch not in '"\\;' else "_" for ch in f.name)
    headers = {
        "Content-Disposition": f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(f.name)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    if f.content_type != "application/pdf":  # a browser's PDF viewer does not run under a sandbox policy
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return Response(f.data, media_type=f.content_type, headers=headers)
