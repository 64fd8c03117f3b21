"""Proof files for redemption claims: a lab manager uploads a PDF, JPEG or PNG (multipart, field
``file``); the answer's ``ref`` (``"proof-file:<id>"``) goes into a claim item's ``proofs``.
Downloads are a web page (``GET /proof-files/{id}``, signed in)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from instruments.errors import InvalidInput
from instruments.settings import get_settings
from scheduler.money import proof_files as svc

from ..bodies import capped_form
from ..deps import ActorDep, SessionDep, commit

router = APIRouter(prefix="/api/v1", tags=["redemption"])
FORM_OVERHEAD = 64 * 1024
"""Room for the multipart framing and the form's other fields beside the file itself."""


@router.post(
    "/proof-files",
    status_code=201,
    summary="Upload a proof file (PDF, JPEG or PNG, judged by content; at most proof_file_max_bytes) "
    "for a redemption claim (the unit's lab managers)",
    response_model=dict[str, Any],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "owner_unit_id": {
                                "type": "string",
                                "description": "Default: the lab manager's own unit",
                            },
                        },
                    }
                }
            },
        }
    },
    responses={
        201: {
            "content": {
                "application/json": {
                    "example": {
                        "id": "pf_a1b2c3d4e5f6",
                        "ref": "proof-file:pf_a1b2c3d4e5f6",
                        "owner_unit_id": "unit_a1b2c3d4e5f6",
                        "name": "发票.pdf",
                        "content_type": "application/pdf",
                        "size": 48213,
                        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                        "created_at": "2026-12-06T08:40:00+00:00",
                    }
                }
            }
        }
    },
)
async def upload(request: Request, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    limit = get_settings().proof_file_max_bytes
    form = await capped_form(request, limit + FORM_OVERHEAD, svc.check_size, max_files=1, max_fields=5)
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise InvalidInput("Send the file as multipart/form-data in the field 'file'.", field="file")
        unit = str(form.get("owner_unit_id") or actor.owner_unit_id or "")
        if not unit:
            raise InvalidInput("Name the owner unit the proof belongs to.", field="owner_unit_id")
        data = await file.read(limit + 1)
        f = svc.store(session, actor, unit, file.filename or "", data)
    finally:
        await form.close()
    out = f.describe()
    commit(session)
    return out
