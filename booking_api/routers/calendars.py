"""Calendar subscriptions, iCalendar feeds, single-booking .ics and invitations, .ics import.

The feed itself (``GET /calendar/feeds/{token}.ics``) takes no bearer token: calendar clients
cannot send one, so the secret is in the URL. Unknown, rotated-away and revoked tokens all answer
404. Polling clients get ``304 Not Modified`` through ``If-None-Match`` (strong ETag = hash of the
body) or ``If-Modified-Since`` (``Last-Modified`` = newest booking change or the day the window
last moved); ``If-None-Match`` wins when both are sent (RFC 9110 §13.2.2).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from instruments.db import read_engine_of, utcnow
from instruments.errors import NotFound
from scheduler.booking.bookings import get_visible
from scheduler.calendars import calendar_feeds as feeds
from scheduler.calendars import ics_import
from scheduler.calendars.calendar_feeds import CalendarSubscription, FeedParams, ScopeKind

from ..accounts import User
from ..bodies import read_capped
from ..deps import ActorDep, SessionDep, commit

router = APIRouter(tags=["calendars"])


def feed_session(request: Request) -> Iterator[Session]:
    """Feeds only read: the read engine (``instruments.db.get_read_engine``), whatever the method."""
    with Session(read_engine_of(request.app.state.engine), expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()


FeedSessionDep = Annotated[Session, Depends(feed_session)]

ICS = "text/calendar; charset=utf-8"


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"scope_kind": "instrument", "scope_id": "ins_a1b2c3d4e5f6", "label": "XRD"}]}
    )
    scope_kind: ScopeKind
    scope_id: str = Field(min_length=1, max_length=100)
    label: str = Field(default="", max_length=200)


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "csub_4k2m9x0q7h1c",
                    "scope_kind": "instrument",
                    "scope_id": "ins_a1b2c3d4e5f6",
                    "label": "XRD",
                    "token_hint": "lcal_Ab3x",
                    "created_at": "2026-11-22T08:00:00Z",
                    "rotated_at": None,
                    "revoked_at": None,
                }
            ]
        }
    )
    id: str
    scope_kind: ScopeKind
    scope_id: str
    label: str
    token_hint: str
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, sub: CalendarSubscription) -> SubscriptionOut:
        return cls.model_validate(sub.model_dump())


class SubscriptionSecretOut(SubscriptionOut):
    """Returned once, on create and rotate: the secret URL is not stored and cannot be shown again."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **SubscriptionOut.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                    "token": "lcal_Ab3x…",
                    "url": "https://labshare.example/calendar/feeds/lcal_Ab3x….ics",
                    "webcal_url": "webcal://labshare.example/calendar/feeds/lcal_Ab3x….ics",
                }
            ]
        }
    )
    token: str
    url: str
    webcal_url: str


def _secret_out(request: Request, sub: CalendarSubscription, plain: str) -> SubscriptionSecretOut:
    url = str(request.url_for("calendar_feed", token=plain))
    webcal = "webcal://" + url.split("://", 1)[1]
    return SubscriptionSecretOut(**SubscriptionOut.of(sub).model_dump(), token=plain, url=url, webcal_url=webcal)


@router.post(
    "/api/v1/calendar/subscriptions",
    response_model=SubscriptionSecretOut,
    status_code=201,
    summary="Subscribe to a calendar feed of a scope you may see; the secret URL is shown once",
    responses={403: {"description": "Not a scope you may subscribe to"}, 404: {"description": "No such scope"}},
)
def create_subscription(
    body: SubscriptionIn, request: Request, session: SessionDep, actor: ActorDep
) -> SubscriptionSecretOut:
    sub, plain = feeds.create_subscription(session, actor, body.scope_kind, body.scope_id, body.label)
    out = _secret_out(request, sub, plain)
    commit(session)
    return out


@router.get(
    "/api/v1/calendar/subscriptions",
    response_model=list[SubscriptionOut],
    summary="Your calendar subscriptions (tokens are never shown again)",
)
def list_subscriptions(session: SessionDep, actor: ActorDep, include_revoked: bool = False) -> list[SubscriptionOut]:
    return [SubscriptionOut.of(s) for s in feeds.list_subscriptions(session, actor, include_revoked)]


@router.get(
    "/api/v1/calendar/subscriptions/{sub_id}", response_model=SubscriptionOut, summary="One of your subscriptions"
)
def get_subscription(sub_id: str, session: SessionDep, actor: ActorDep) -> SubscriptionOut:
    return SubscriptionOut.of(feeds.own_subscription(session, actor, sub_id))


@router.post(
    "/api/v1/calendar/subscriptions/{sub_id}/rotate",
    response_model=SubscriptionSecretOut,
    summary="New secret URL for the subscription; the old URL answers 404 from now on",
)
def rotate_subscription(sub_id: str, request: Request, session: SessionDep, actor: ActorDep) -> SubscriptionSecretOut:
    sub, plain = feeds.rotate(session, actor, sub_id)
    out = _secret_out(request, sub, plain)
    commit(session)
    return out


@router.delete(
    "/api/v1/calendar/subscriptions/{sub_id}",
    response_model=SubscriptionOut,
    summary="Revoke a subscription; its URL answers 404 from now on",
)
def revoke_subscription(sub_id: str, session: SessionDep, actor: ActorDep) -> SubscriptionOut:
    out = SubscriptionOut.of(feeds.revoke(session, actor, sub_id))
    commit(session)
    return out


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    tags = [t.strip() for t in header.split(",")]
    return any(t.removeprefix("W/") == etag for t in tags)


def _not_modified(request: Request, etag: str, last_modified: datetime, use_ims: bool) -> bool:
    inm = request.headers.get("if-none-match")
    if inm is not None:
        return _etag_matches(inm, etag)
    ims = request.headers.get("if-modified-since")
    if ims and use_ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return last_modified.replace(microsecond=0) <= since and utcnow() - last_modified >= timedelta(seconds=1)
    return False


@router.get(
    "/calendar/feeds/{token}.ics",
    name="calendar_feed",
    summary="The iCalendar feed behind a secret subscription URL (no bearer token; 304 on ETag/If-Modified-Since)",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "RFC 5545 calendar"},
        304: {"description": "Not modified"},
        404: {"description": "Unknown, rotated or revoked token"},
    },
)
def calendar_feed(
    token: str,
    request: Request,
    session: FeedSessionDep,
    past: Annotated[int, Query(ge=0, le=feeds.MAX_PAST_DAYS, description="Days of history")] = feeds.DEFAULT_PAST_DAYS,
    future: Annotated[int, Query(ge=1, le=feeds.MAX_FUTURE_DAYS, description="Days ahead")] = feeds.DEFAULT_FUTURE_DAYS,
    availability: Annotated[
        bool, Query(description="Also publish opening hours and blackouts as free (TRANSP:TRANSPARENT) events")
    ] = False,
) -> Response:
    sub = feeds.find_by_token(session, token)
    user = session.get(User, sub.user_id)
    if user is None or not user.active:
        raise NotFound("No such calendar feed.")
    feed = feeds.get_feed(session, sub, user.actor(), FeedParams(past, future, availability))
    session.rollback()
    headers = {"ETag": feed.etag, "Cache-Control": "private, no-cache"}
    # HTTP dates have whole seconds: a Last-Modified from the current second could hide a change
    # made later in that second, so it is only sent once a second old (RFC 9110 §8.8.2.2).
    if utcnow() - feed.last_modified >= timedelta(seconds=1):
        headers["Last-Modified"] = format_datetime(feed.last_modified.astimezone(UTC), usegmt=True)
    # Opening hours and blackouts have no modification time: with them only the ETag is trusted.
    if _not_modified(request, feed.etag, feed.last_modified, use_ims=not availability):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = 'inline; filename="labshare.ics"'
    return Response(feed.body, media_type=ICS, headers=headers)


@router.get(
    "/api/v1/bookings/{booking_id}.ics",
    summary="One booking as an .ics file (404 if it is not yours to see)",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def booking_ics(booking_id: str, session: SessionDep, actor: ActorDep) -> Response:
    booking, inst = get_visible(session, actor, booking_id)
    body = feeds.booking_ics(session, booking, inst)
    return Response(body, media_type=ICS, headers={"Content-Disposition": f'attachment; filename="{booking.id}.ics"'})


@router.get(
    "/api/v1/bookings/{booking_id}/invitation.ics",
    summary="iTIP invitation for the booking's operator (METHOD:REQUEST; METHOD:CANCEL once cancelled)",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, 409: {"description": "No operator assigned"}},
)
def booking_invitation(booking_id: str, session: SessionDep, actor: ActorDep) -> Response:
    booking, inst = get_visible(session, actor, booking_id)
    body = feeds.invitation_ics(session, actor, booking, inst)
    method = "CANCEL" if booking.status == "cancelled" else "REQUEST"
    return Response(
        body,
        media_type=f"text/calendar; charset=utf-8; method={method}",
        headers={"Content-Disposition": f'attachment; filename="{booking.id}-invitation.ics"'},
    )


class ImportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "instrument_id": "ins_a1b2c3d4e5f6",
                    "dry_run": False,
                    "policy": ics_import.POLICY,
                    "horizon_start": "2026-11-22T08:00:00+00:00",
                    "horizon_end": "2027-11-22T08:00:00+00:00",
                    "created": [
                        {
                            "uid": "maint-1@example.org",
                            "summary": "Monthly maintenance",
                            "start": "2026-12-01T09:00:00+08:00",
                            "end": "2026-12-01T12:00:00+08:00",
                            "exception_id": "exc_0p9o8i7u6y5t",
                        }
                    ],
                    "skipped": [],
                    "errors": [
                        {
                            "uid": "x@example.org",
                            "summary": "Broken",
                            "start": None,
                            "end": None,
                            "reason": "no DTSTART",
                        }
                    ],
                }
            ]
        }
    )
    instrument_id: str
    dry_run: bool
    policy: str
    horizon_start: datetime
    horizon_end: datetime
    created: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    errors: list[dict[str, Any]]


@router.post(
    "/api/v1/instruments/{instrument_id}/blackouts/import",
    response_model=ImportOut,
    summary=(
        "Import an .ics (body: text/calendar) as blackouts, recurring events expanded; partial import: every valid "
        "occurrence is imported, invalid ones are reported per event and skipped (lab manager)"
    ),
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/calendar": {"schema": {"type": "string"}}}},
    },
)
async def import_blackouts(
    instrument_id: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    dry_run: Annotated[bool, Query(description="Report what would be imported; write nothing")] = False,
    horizon_days: Annotated[
        int, Query(ge=1, le=ics_import.MAX_HORIZON_DAYS, description="Expand recurrences this many days ahead")
    ] = ics_import.DEFAULT_HORIZON_DAYS,
) -> ImportOut:
    data = await read_capped(request, ics_import.MAX_BYTES, ics_import.check_size)

    def work() -> ImportOut:
        report = ics_import.import_blackouts(
            session, actor, instrument_id, data, dry_run=dry_run, horizon_days=horizon_days
        )
        out = ImportOut(**report.as_dict())
        if dry_run:
            session.rollback()
        else:
            commit(session)
        return out

    return await run_in_threadpool(work)
