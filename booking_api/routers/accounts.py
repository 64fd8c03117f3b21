"""Who am I, user accounts (programme admin) and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import select

from instruments import audit_search
from instruments.actor import Role
from instruments.audit import AuditLog
from instruments.audit_search import AuditFilter
from instruments.db import utcnow
from instruments.errors import NotFound

from ..accounts import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    ApiToken,
    User,
    create_user,
    issue_token,
    revoke_token,
    set_password,
)
from ..browser_sessions import revoke_all
from ..deps import ActorDep, AdminDep, PageDep, SessionDep, commit

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: Role
    owner_unit_id: str | None = None
    enterprise_id: str | None = None
    operator_id: str | None = None
    password: str | None = Field(
        default=None,
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        description="Sign-in password for the web pages (login name: the e-mail); without it, tokens only",
    )


class PasswordIn(BaseModel):
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)


class UserOut(BaseModel):
    id: str
    name: str
    email: str
    role: Role
    owner_unit_id: str | None
    enterprise_id: str | None
    operator_id: str | None


class TokenIn(BaseModel):
    label: str = Field(default="", max_length=100)


class TokenOut(BaseModel):
    id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None
    token: str | None = Field(default=None, description="Shown once, at creation")


@router.get("/me", response_model=UserOut, summary="The account behind your token")
def me(session: SessionDep, actor: ActorDep) -> UserOut:
    return UserOut.model_validate(session.get(User, actor.user_id).model_dump())


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user (programme admin)")
def create(body: UserIn, session: SessionDep, actor: AdminDep) -> UserOut:
    user = create_user(session, actor, User(**body.model_dump(exclude={"password"})))
    if body.password is not None:
        set_password(session, actor, user, body.password)
    commit(session)
    return UserOut.model_validate(user.model_dump())


@router.post(
    "/users/{user_id}/password",
    status_code=204,
    summary="Set or reset a user's sign-in password (programme admin); their web sessions end",
)
def reset_password(user_id: str, body: PasswordIn, session: SessionDep, actor: AdminDep) -> Response:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id!r}.")
    set_password(session, actor, user, body.password)
    revoke_all(session, actor, user.id, utcnow())
    commit(session)
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/tokens",
    response_model=TokenOut,
    status_code=201,
    summary="Issue a token for a user (programme admin)",
)
def issue_for(user_id: str, body: TokenIn, session: SessionDep, actor: AdminDep) -> TokenOut:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id!r}.")
    tok, plain = issue_token(session, user, body.label)
    commit(session)
    return TokenOut(id=tok.id, label=tok.label, created_at=tok.created_at, revoked_at=None, token=plain)


@router.get("/tokens", response_model=list[TokenOut], summary="Your tokens (without their secrets)")
def my_tokens(session: SessionDep, actor: ActorDep) -> list[TokenOut]:
    rows = session.exec(select(ApiToken).where(ApiToken.user_id == actor.user_id).order_by(ApiToken.created_at)).all()
    return [TokenOut(id=t.id, label=t.label, created_at=t.created_at, revoked_at=t.revoked_at) for t in rows]


@router.post("/tokens", response_model=TokenOut, status_code=201, summary="Create another token for yourself")
def new_token(body: TokenIn, session: SessionDep, actor: ActorDep) -> TokenOut:
    tok, plain = issue_token(session, session.get(User, actor.user_id), body.label)
    commit(session)
    return TokenOut(id=tok.id, label=tok.label, created_at=tok.created_at, revoked_at=None, token=plain)


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke(token_id: str, session: SessionDep, actor: ActorDep) -> Response:
    revoke_token(session, actor, token_id)
    commit(session)
    return Response(status_code=204)


@router.get("/audit", response_model=list[AuditLog], tags=["audit"], summary="The audit trail (programme admin)")
def audit(
    session: SessionDep,
    actor: AdminDep,
    page: PageDep,
    entity: str | None = None,
    entity_id: str | None = None,
    actor_user_id: Annotated[str | None, Query(description="Who acted (a user id)")] = None,
    action: Annotated[
        str | None,
        Query(max_length=80, description="An action (voucher.issue), or a prefix ending in a dot (voucher.)"),
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="From this instant (with offset)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Before this instant (with offset)")] = None,
) -> list[AuditLog]:
    """Newest first; every filter is optional and they combine."""
    f = AuditFilter(
        actor_user_ids=[actor_user_id] if actor_user_id else None,
        action=action,
        entity=entity,
        entity_id=entity_id,
        since=since,
        until=until,
    )
    return audit_search.search(session, f, page.limit, page.offset)
