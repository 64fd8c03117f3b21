"""Proof files of redemption claims (contract, invoice, payment proof, service record), uploaded
by the provider's lab managers and stored by the platform itself, bytes and all, so the
programme office reads the same file the unit filed, whatever happens to the unit's own copy.

A file is accepted when it is not empty, at most ``proof_file_max_bytes`` (settings, 10 MiB by
default) and, judged by its first bytes rather than its name, a PDF, a JPEG or a PNG. It belongs
to one owner unit; only that unit's lab managers and programme admins may read it (anyone else
is told there is no such file). A claim item names an uploaded file in its ``proofs`` as the
string ``"proof-file:<id>"`` (``ref``); ``check_refs`` refuses a reference to a file that does
not exist or belongs to another unit.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, Session, SQLModel, select

from instruments.actor import Actor
from instruments.audit import record
from instruments.db import utc_field, utcnow
from instruments.errors import InvalidInput, NotFound, PayloadTooLarge
from instruments.ids import new_id
from instruments.settings import get_settings
from instruments.units import OwnerUnit

REF_PREFIX = "proof-file:"
TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
"""The content types accepted, each with its usual file-name ending."""
MAX_NAME = 200


class ProofFile(SQLModel, table=True):
    __tablename__ = "proof_file"

    id: str = Field(default_factory=lambda: new_id("pf"), primary_key=True)
    owner_unit_id: str = Field(foreign_key="owner_unit.id", index=True)
    uploaded_by: str | None = Field(default=None, description="The uploader's user id")
    name: str = Field(max_length=MAX_NAME, description="The file's name as uploaded (no folders)")
    content_type: str = Field(max_length=100, description="Judged from the content: PDF, JPEG or PNG")
    size: int = Field(ge=0)
    sha256: str = Field(max_length=64, index=True)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False), repr=False)
    created_at: datetime = utc_field(default_factory=utcnow)

    def describe(self) -> dict[str, Any]:
        """Everything but the bytes (for the API's answer and the audit row)."""
        return {
            "id": self.id,
            "ref": ref(self.id),
            "owner_unit_id": self.owner_unit_id,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "created_at": self.created_at.isoformat(),
        }


def ref(file_id: str) -> str:
    """How a claim item's ``proofs`` names an uploaded file."""
    return REF_PREFIX + file_id


def file_id_of(value: object) -> str | None:
    """The file id a proof value refers to, or None when it is a plain reference (a number)."""
    text = str(value or "").strip()
    return text[len(REF_PREFIX) :] if text.startswith(REF_PREFIX) else None


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves show (PDF, JPEG, PNG), or None."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def check_size(size: int) -> None:
    """Refuse (413) a file larger than ``proof_file_max_bytes``: callers check the declared size
    before reading a body whole, and the bytes again once read."""
    limit = get_settings().proof_file_max_bytes
    if size > limit:
        raise PayloadTooLarge(
            f"A proof file may be at most {limit} bytes (proof_file_max_bytes).",
            limit="proof_file_max_bytes",
            field="file",
        )


def clean_name(name: str, content_type: str) -> str:
    """The uploaded name without folders or control characters, at most ``MAX_NAME`` characters,
    never empty (``proof.pdf`` and the like)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    base = base or "proof" + TYPES.get(content_type, "")
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:MAX_NAME]
    return base


def check_content(data: bytes) -> str:
    """The file's content type, or why it is refused (empty, too large, not PDF/JPEG/PNG)."""
    if not data:
        raise InvalidInput("The proof file is empty.", field="file")
    check_size(len(data))
    kind = sniff(data)
    if kind is None:
        raise InvalidInput("A proof file must be a PDF, JPEG or PNG (judged by its content).", field="file")
    return kind


def store(
    session: Session, actor: Actor, owner_unit_id: str, name: str, data: bytes, now: datetime | None = None
) -> ProofFile:
    """Keep an uploaded proof file of ``owner_unit_id`` (its lab managers only)."""
    actor.require_unit_manager(owner_unit_id)
    if session.get(OwnerUnit, owner_unit_id) is None:
        raise InvalidInput(f"No owner unit {owner_unit_id!r}.", field="owner_unit_id")
    kind = check_content(data)
    f = ProofFile(
        owner_unit_id=owner_unit_id,
        uploaded_by=actor.user_id,
        name=clean_name(name, kind),
        content_type=kind,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        created_at=now or utcnow(),
    )
    session.add(f)
    session.flush()
    record(session, actor, "proof_file.upload", "proof_file", f.id, after=f.describe())
    return f


def readable(session: Session, actor: Actor, file_id: str) -> ProofFile:
    """A proof file its reader may see: the owning unit's lab managers and programme admins;
    for anyone else it does not exist."""
    f = session.get(ProofFile, file_id)
    if f is None or not actor.manages_unit(f.owner_unit_id):
        raise NotFound(f"No proof file {file_id!r}.")
    return f


def describe_many(session: Session, file_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Name, type and size of several files (no bytes), by id: for pages that list proofs."""
    if not file_ids:
        return {}
    rows = session.exec(
        select(ProofFile.id, ProofFile.name, ProofFile.content_type, ProofFile.size).where(
            ProofFile.id.in_(sorted(file_ids))  # type: ignore[attr-defined]
        )
    ).all()
    return {r[0]: {"name": r[1], "content_type": r[2], "size": r[3]} for r in rows}


def check_refs(session: Session, owner_unit_id: str, proofs: Mapping[str, Any]) -> str | None:
    """Why the proofs of one order cannot be filed by ``owner_unit_id`` (a ``proof-file:`` value
    naming no file, or another unit's), or None when every reference is sound."""
    ids = {i for i in (file_id_of(v) for v in proofs.values()) if i is not None}
    if not ids:
        return None
    owners = dict(
        session.exec(
            select(ProofFile.id, ProofFile.owner_unit_id).where(ProofFile.id.in_(sorted(ids)))  # type: ignore[attr-defined]
        ).all()
    )
    bad = sorted(i for i in ids if owners.get(i) != owner_unit_id)
    return f"no proof file {', '.join(bad)} of this unit" if bad else None
