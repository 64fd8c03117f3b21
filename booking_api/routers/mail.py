"""A person's mail: language and opt-outs (``/me/preferences``), the mail the platform wrote them
(readable here even when no SMTP server is configured), and, for programme admins, the whole
outbox with its failures and a retry."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from instruments.errors import Forbidden
from scheduler.shared.mail_prefs import LANGUAGES, MANDATORY, MailKind, preferences, set_preferences
from scheduler.shared.outbox import MailStatus, list_mail, retry

from ..deps import ActorDep, AdminDep, PageDep, SessionDep, commit

router = APIRouter(prefix="/api/v1", tags=["mail"])

_KINDS = sorted(str(k) for k in MailKind)
_MANDATORY = sorted(str(k) for k in MANDATORY)


class PreferencesOut(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "language": "zh-CN",
                    "opt_outs": ["booking_reminder"],
                    "kinds": _KINDS,
                    "mandatory": _MANDATORY,
                }
            ]
        }
    }
    language: str = Field(description=f"Language of your mail: one of {', '.join(LANGUAGES)}")
    opt_outs: list[str] = Field(description="Kinds of mail you do not want")
    kinds: list[str] = Field(description="Every kind of mail the platform sends")
    mandatory: list[str] = Field(description="Kinds you cannot opt out of (they change what you owe or may do)")


class PreferencesIn(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"language": "en", "opt_outs": ["booking_reminder"]}]}}
    language: Literal["zh-CN", "en"] | None = None
    opt_outs: list[str] | None = Field(default=None, max_length=len(_KINDS), description="Replaces your opt-outs")


class MailOut(BaseModel):
    model_config = {
        "from_attributes": True,
        "json_schema_extra": {
            "examples": [
                {
                    "id": "mail_7k2mq9x4hz3c",
                    "kind": "booking_created",
                    "recipient": "a@example.cn",
                    "language": "zh-CN",
                    "subject": "预约已提交：Powder XRD，2026-12-08 09:00 (Asia/Shanghai)",
                    "text_body": "您对 Powder XRD 的预约已提交，等待实验室确认。",
                    "status": "queued",
                    "attempts": 0,
                    "next_attempt_at": "2026-12-06T05:30:00+00:00",
                    "last_error": "",
                    "created_at": "2026-12-06T05:30:00+00:00",
                    "sent_at": None,
                }
            ]
        },
    }
    id: str
    kind: str
    recipient: str
    language: str
    subject: str
    text_body: str
    status: MailStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    sent_at: datetime | None


def _prefs_out(session, user_id: str) -> PreferencesOut:  # noqa: ANN001
    pref = preferences(session, user_id)
    return PreferencesOut(language=pref.language, opt_outs=pref.opt_outs, kinds=_KINDS, mandatory=_MANDATORY)


def _user_id(actor) -> str:  # noqa: ANN001
    if not actor.user_id:
        raise Forbidden("Mail preferences belong to a user account; this token has none.")
    return actor.user_id


@router.get("/me/preferences", response_model=PreferencesOut, summary="Your mail language and opt-outs")
def get_preferences(session: SessionDep, actor: ActorDep) -> PreferencesOut:
    return _prefs_out(session, _user_id(actor))


@router.patch(
    "/me/preferences",
    response_model=PreferencesOut,
    summary="Change your mail language and/or opt-outs (mandatory kinds cannot be opted out of)",
)
def patch_preferences(body: PreferencesIn, session: SessionDep, actor: ActorDep) -> PreferencesOut:
    uid = _user_id(actor)
    set_preferences(session, uid, body.language, body.opt_outs)
    commit(session)
    return _prefs_out(session, uid)


@router.get("/me/mail", response_model=list[MailOut], summary="The mail the platform wrote you, newest first")
def my_mail(session: SessionDep, actor: ActorDep, page: PageDep) -> list[MailOut]:
    rows = list_mail(session, user_id=_user_id(actor), limit=page.limit, offset=page.offset)
    return [MailOut.model_validate(m) for m in rows]


@router.get("/mail", response_model=list[MailOut], summary="The outbox (programme admin), e.g. ?status=failed")
def outbox(session: SessionDep, actor: AdminDep, page: PageDep, status: MailStatus | None = None) -> list[MailOut]:
    return [MailOut.model_validate(m) for m in list_mail(session, status=status, limit=page.limit, offset=page.offset)]


@router.post(
    "/mail/{mail_id}/retry",
    response_model=MailOut,
    summary="Send a failed mail again (programme admin)",
    responses={404: {"description": "No such mail"}, 409: {"description": "The mail has not failed"}},
)
def retry_mail(mail_id: str, session: SessionDep, actor: AdminDep) -> MailOut:
    mail = retry(session, mail_id)
    commit(session)
    return MailOut.model_validate(mail)
