"""What people do with bookings: book a free slot, confirm, move, cancel, check in/out, no-show.
The booking enterprise cancels, and moves, its own bookings itself up to the cancellation cut-off.
A cancellation, a move and a no-show queue the time they free (``booking.freed_time``) in the same
transaction, for ``time_offers`` to offer to the requests waiting for it.

Each action is one transaction (the caller's session), checks the actor's scope, runs the booking
rules where times change, and writes an audit row. The database has the last word on overlaps:
a write that loses a race surfaces as ``Conflict`` naming the booking it collided with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from instruments import audit
from instruments.actor import Actor, Role
from instruments.audit import AuditLog, record, snapshot
from instruments.availability import zone
from instruments.db import Rows, utcnow
from instruments.errors import Conflict, Forbidden, InvalidInput, InvalidState, PolicyViolation, Violation
from instruments.inventory import OPERATOR_MODES, Instrument
from instruments.policy import BookingPolicy, policy_of
from instruments.tariffs import booking_price_fen
from scheduler.booking.booking_requests import RequestStatus, request_to_fulfil
from scheduler.booking.bookings import (
    Booking,
    BookingStatus,
    can_see,
    collision_entry,
    flush_or_conflict,
    get_visible,
    write_new,
)
from scheduler.booking.enterprises import Enterprise, booking_for
from scheduler.booking.freed_time import FreedCause, note_freed
from scheduler.booking.resource_locks import lock_for_booking
from scheduler.booking.rules import Attempt, evaluate
from scheduler.money import credit, vouchers
from scheduler.money.price_split import mail_data
from scheduler.shared.mail_prefs import MailKind
from scheduler.shared.notifications import tell, told_rows


@dataclass
class BookingInput:
    instrument_id: str
    start: datetime
    end: datetime
    service_mode: str
    sample_count: int = 0
    notes: str = ""
    enterprise_id: str | None = None  # lab managers booking on an enterprise's behalf
    request_id: str | None = None
    user_id: str | None = None  # lab managers: the enterprise's member the booking is for (else themselves)


def lock_instrument(session: Session, instrument_id: str, service_mode: str | None = None) -> Instrument:
    """Lock the instrument and the shared rows its booking rules read (lab, operators), see
    ``resource_locks``; returns the instrument. Given a ``service_mode`` no operator works in, the
    operators stay unlocked: such a booking neither reads nor takes their time."""
    operators = service_mode is None or service_mode in OPERATOR_MODES
    return lock_for_booking(session, [instrument_id], operators=operators)[instrument_id]


def _check_times(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end need a UTC offset, e.g. 2026-12-01T08:30:00+08:00.", field="start")
    if end <= start:
        raise InvalidInput("end must be after start.", field="end")


def _raise_for(violations: list[Violation], a: Attempt) -> None:
    if not violations:
        return
    if all(v.code == "overlap" for v in violations):
        err = Conflict(violations[0].message, conflicts=_conflicts(a))
        err.violations = violations  # for pages that say it in their language (not in the API's body)
        raise err
    extra = {"conflicts": _conflicts(a)} if any(v.code == "overlap" for v in violations) else {}
    raise PolicyViolation(violations, **extra)


def _conflicts(a: Attempt) -> list[dict]:
    return [collision_entry(a.actor, b, a.instrument, a.tz) for b in a.collisions]




def book(
    session: Session, actor: Actor, data: BookingInput, now: datetime | None = None, *, savepoint: bool = True
) -> Booking:
    """Instant booking of a specific slot, checked against every rule. ``savepoint=False``: the
    caller's transaction ends if the database refuses the write (``bookings.write_new``)."""
    now = now or utcnow()
    _check_times(data.start, data.end)
    inst = lock_instrument(session, data.instrument_id, data.service_mode)
    enterprise = booking_for(session, actor, inst, data.enterprise_id)
    req = None
    if data.request_id:
        req = request_to_fulfil(
            session, actor, data.request_id, enterprise.id if enterprise else None, inst, data.service_mode
        )
    policy = policy_of(session, inst.id)
    user_id = data.user_id if data.user_id and enterprise is not None and actor.role != Role.enterprise_member else None
    user_id = user_id or actor.user_id
    attempt = Attempt(session, actor, inst, policy, data.start, data.end, data.service_mode, enterprise, user_id, now)
    _raise_for(evaluate(attempt), attempt)
    operator_id = attempt.operators[0].id if data.service_mode in OPERATOR_MODES and attempt.operators else None
    lo, hi = attempt.blocked
    booking = Booking(
        instrument_id=inst.id,
        enterprise_id=enterprise.id if enterprise else None,
        user_id=user_id,
        request_id=data.request_id,
        operator_id=operator_id,
        service_mode=data.service_mode,
        start=data.start,
        end=data.end,
        blocked_start=lo,
        blocked_end=hi,
        status=BookingStatus.confirmed if policy.auto_confirm or attempt.by_staff else BookingStatus.tentative,
        price_fen=booking_price_fen(inst, attempt.minutes, data.sample_count, external=enterprise is not None),
        sample_count=data.sample_count,
        notes=data.notes,
        source="manager" if attempt.by_staff else "instant",
    )
    # the booking with its audit row, note and mail, written together (one round trip on PostgreSQL)
    created = audit.row(actor, "booking.create", "booking", booking.id, after=snapshot(booking))
    kind = MailKind.booking_created
    told = told_rows(session, kind, data=mail_data(session, booking, inst, new=True), **_about(kind, booking, "created"))
    write_new(session, booking, [Rows(AuditLog.__table__, [created]), *told], actor=actor, savepoint=savepoint)
    if req is not None:
        before = snapshot(req)
        req.status = RequestStatus.booked
        session.add(req)
        record(session, actor, "request.book", "booking_request", req.id, before=before, after=snapshot(req))
    return booking


def _tell(
    session: Session, kind: MailKind, booking: Booking, inst: Instrument, key: str, data: dict | None = None
) -> None:
    """Tell the booking's user (else its enterprise's members) what happened, in the app and by mail."""
    tell(session, kind, data=data or mail_data(session, booking, inst), **_about(kind, booking, key))


def _about(kind: MailKind, booking: Booking, key: str) -> dict[str, str | None]:
    """Whom an event about ``booking`` is told and how it is named: its key (``key`` tells the
    booking's events of one kind apart), its readers and its link."""
    return {
        "key": f"{kind}:{booking.id}:{key}",
        "enterprise_id": booking.enterprise_id,
        "user_id": booking.user_id,
        "link": f"/api/v1/bookings/{booking.id}",
    }


def _managed(session: Session, actor: Actor, booking_id: str) -> tuple[Booking, Instrument]:
    booking, inst = get_visible(session, actor, booking_id, lock=True)
    if not actor.manages_unit(inst.owner_unit_id):
        raise Forbidden(f"Only the lab managers of the unit that owns {inst.name} may do this.")
    return booking, inst


def _transition(session: Session, actor: Actor, booking: Booking, action: str, before: dict, **changes) -> Booking:
    for k, v in changes.items():
        setattr(booking, k, v)
    booking.updated_at = utcnow()
    session.add(booking)
    session.flush()
    record(session, actor, f"booking.{action}", "booking", booking.id, before=before, after=snapshot(booking))
    return booking


def confirm(session: Session, actor: Actor, booking_id: str) -> Booking:
    booking, inst = _managed(session, actor, booking_id)
    if booking.status != BookingStatus.tentative:
        raise InvalidState(f"Booking {booking.id} is {str(booking.status)}; only tentative bookings can be confirmed.")
    done = _transition(session, actor, booking, "confirm", snapshot(booking), status=BookingStatus.confirmed)
    _tell(session, MailKind.booking_confirmed, done, inst, "confirmed")
    return done


def reject(session: Session, actor: Actor, booking_id: str, reason: str = "", now: datetime | None = None) -> Booking:
    """A lab manager of the unit turns a tentative booking down: it is cancelled with the reason
    (its voucher released, the enterprise told), and no credit event is noted against anyone."""
    booking, inst = _managed(session, actor, booking_id)
    if booking.status != BookingStatus.tentative:
        raise InvalidState(f"Booking {booking.id} is {str(booking.status)}; only tentative bookings can be rejected.")
    return cancel(session, actor, booking_id, reason or "rejected by the lab", now=now)


def cancel_cutoff(booking: Booking, policy: BookingPolicy) -> datetime:
    """Until when the booking enterprise may cancel a confirmed booking, or move it, itself."""
    return booking.start - timedelta(minutes=policy.cancel_cutoff_minutes)


def _own_before_cutoff(session: Session, actor: Actor, booking: Booking, inst: Instrument, now: datetime) -> None:
    """An enterprise moves its own booking itself only up to the cancellation cut-off."""
    if actor.role != Role.enterprise_member or not booking.enterprise_id or actor.enterprise_id != booking.enterprise_id:
        raise Forbidden(f"Only the booking enterprise or the lab managers of the unit that owns {inst.name} may move it.")
    cutoff = cancel_cutoff(booking, policy_of(session, inst.id))
    if now > cutoff:
        local = f"{cutoff.astimezone(zone(inst.timezone)):%Y-%m-%d %H:%M}"
        raise PolicyViolation(
            [
                Violation(
                    "move_cutoff",
                    f"Bookings of {inst.name} can be moved by the enterprise until {local}; "
                    f"ask the lab ({inst.contact or 'its manager'}) to move it.",
                    params={"instrument": inst.name, "until": local, "contact": inst.contact or ""},
                )
            ]
        )


def move(
    session: Session, actor: Actor, booking_id: str, start: datetime, end: datetime, now: datetime | None = None
) -> Booking:
    """Move a booking: a lab manager of the unit any time, the booking enterprise itself until the
    cancellation cut-off. Every rule that binds the mover runs again for the new time (staff stay
    exempt from lead times and limits), and a reserved voucher follows: asked again for the new
    time and re-priced (``vouchers.reprice_for_booking``), in the same transaction."""
    now = now or utcnow()
    _check_times(start, end)
    booking, inst = get_visible(session, actor, booking_id, lock=True)
    if not actor.manages_unit(inst.owner_unit_id):
        _own_before_cutoff(session, actor, booking, inst, now)
    lock_instrument(session, inst.id, booking.service_mode)
    if booking.status not in (BookingStatus.tentative, BookingStatus.confirmed):
        raise InvalidState(
            f"Booking {booking.id} is {str(booking.status)}; only tentative or confirmed bookings can be moved."
        )
    enterprise = session.get(Enterprise, booking.enterprise_id) if booking.enterprise_id else None
    policy = policy_of(session, inst.id)
    attempt = Attempt(
        session, actor, inst, policy, start, end, booking.service_mode, enterprise, booking.user_id, now, moving=booking
    )
    _raise_for(evaluate(attempt), attempt)
    before = snapshot(booking)
    before_start, before_end = booking.start, booking.end
    lo, hi = attempt.blocked
    operator_id = booking.operator_id
    if booking.service_mode in OPERATOR_MODES and not any(o.id == operator_id for o in attempt.operators):
        operator_id = attempt.operators[0].id if attempt.operators else None
    changes = dict(
        start=start,
        end=end,
        blocked_start=lo,
        blocked_end=hi,
        operator_id=operator_id,
        sequence=booking.sequence + 1,
        price_fen=booking_price_fen(inst, attempt.minutes, booking.sample_count, external=enterprise is not None),
        updated_at=utcnow(),
    )
    flush_or_conflict(session, booking, changes, actor=actor)
    note_freed(session, inst.id, booking.id, before_start, before_end, FreedCause.moved, now)
    vouchers.reprice_for_booking(session, actor, booking, inst)
    record(session, actor, "booking.move", "booking", booking.id, before=before, after=snapshot(booking))
    data = mail_data(session, booking, inst) | {"old_start": before["start"], "old_end": before["end"]}
    _tell(session, MailKind.booking_moved, booking, inst, str(booking.sequence), data)
    return booking


def cancel(session: Session, actor: Actor, booking_id: str, reason: str = "", now: datetime | None = None) -> Booking:
    now = now or utcnow()
    booking, inst = get_visible(session, actor, booking_id, lock=True)
    if booking.status not in (BookingStatus.tentative, BookingStatus.confirmed):
        raise InvalidState(
            f"Booking {booking.id} is {str(booking.status)}; only tentative or confirmed bookings can be cancelled."
        )
    staff = actor.manages_unit(inst.owner_unit_id)
    if not staff:
        if actor.role != Role.enterprise_member:
            raise Forbidden("Only the booking enterprise or the unit's lab managers may cancel a booking.")
        policy = policy_of(session, inst.id)
        cutoff = cancel_cutoff(booking, policy)
        if now > cutoff and booking.status == BookingStatus.confirmed:
            tz = zone(inst.timezone)
            raise PolicyViolation(
                [
                    Violation(
                        "cancel_cutoff",
                        f"Confirmed bookings of {inst.name} can be cancelled up to {policy.cancel_cutoff_minutes // 60} h before "
                        f"start (until {cutoff.astimezone(tz):%Y-%m-%d %H:%M}); ask the lab ({inst.contact or 'its manager'}) to cancel.",
                        params={
                            "instrument": inst.name,
                            "hours": policy.cancel_cutoff_minutes // 60,
                            "until": f"{cutoff.astimezone(tz):%Y-%m-%d %H:%M}",
                            "contact": inst.contact or "",
                        },
                    )
                ]
            )
        if now > cutoff and booking.enterprise_id:  # a tentative booking dropped late: a credit event
            credit.note_event(session, actor, booking.enterprise_id, credit.CreditKind.late_cancel, booking.id, now=now)
    data = mail_data(session, booking, inst) | {"reason": reason}  # the split before the voucher is released
    vouchers.release_for_booking(session, actor, booking.id)
    done = _transition(
        session,
        actor,
        booking,
        "cancel",
        snapshot(booking),
        status=BookingStatus.cancelled,
        cancelled_at=now,
        cancel_reason=reason,
    )
    note_freed(session, inst.id, done.id, done.start, done.end, FreedCause.cancelled, now)
    _tell(session, MailKind.booking_cancelled, done, inst, "cancelled", data | {"status": str(done.status)})
    return done


def _may_run(actor: Actor, booking: Booking, inst: Instrument) -> bool:
    return actor.manages_unit(inst.owner_unit_id) or (
        actor.role in (Role.operator, Role.enterprise_member) and can_see(actor, booking, inst)
    )


def check_in(session: Session, actor: Actor, booking_id: str, now: datetime | None = None) -> Booking:
    now = now or utcnow()
    booking, inst = get_visible(session, actor, booking_id, lock=True)
    if not _may_run(actor, booking, inst):
        raise Forbidden("You cannot check in this booking.")
    if booking.status != BookingStatus.confirmed:
        raise InvalidState(f"Booking {booking.id} is {str(booking.status)}; only confirmed bookings can be checked in.")
    if not (booking.start - timedelta(minutes=30) <= now < booking.end):
        tz = zone(inst.timezone)
        raise InvalidState(
            f"Check-in opens 30 min before the start ({booking.start.astimezone(tz):%Y-%m-%d %H:%M}) and closes at the end."
        )
    return _transition(
        session, actor, booking, "check_in", snapshot(booking), status=BookingStatus.checked_in, checked_in_at=now
    )


def check_out(session: Session, actor: Actor, booking_id: str, now: datetime | None = None) -> Booking:
    now = now or utcnow()
    booking, inst = get_visible(session, actor, booking_id, lock=True)
    if not _may_run(actor, booking, inst):
        raise Forbidden("You cannot check out this booking.")
    if booking.status != BookingStatus.checked_in:
        raise InvalidState(f"Booking {booking.id} is {str(booking.status)}; check in first.")
    done = _transition(
        session, actor, booking, "check_out", snapshot(booking), status=BookingStatus.completed, checked_out_at=now
    )
    vouchers.consume_for_booking(session, actor, done, now)
    from scheduler.sharing.usage import record_from_booking  # metered use: a completed booking leaves a usage record

    record_from_booking(session, actor, done, now)
    return done


def mark_no_show(session: Session, actor: Actor, booking_id: str, now: datetime | None = None) -> Booking:
    now = now or utcnow()
    booking, inst = _managed(session, actor, booking_id)
    policy = policy_of(session, inst.id)
    if booking.status != BookingStatus.confirmed:
        raise InvalidState(
            f"Booking {booking.id} is {str(booking.status)}; only confirmed, not checked-in bookings can be no-shows."
        )
    if now < booking.start + timedelta(minutes=policy.no_show_grace_minutes):
        raise InvalidState(f"A booking becomes a no-show only {policy.no_show_grace_minutes} min after its start.")
    data = mail_data(session, booking, inst) | {"grace_minutes": policy.no_show_grace_minutes}
    vouchers.release_for_booking(session, actor, booking.id)
    if booking.enterprise_id:
        credit.note_event(session, actor, booking.enterprise_id, credit.CreditKind.no_show, booking.id, now=now)
    done = _transition(session, actor, booking, "no_show", snapshot(booking), status=BookingStatus.no_show)
    note_freed(session, inst.id, done.id, done.start, done.end, FreedCause.no_show, now)
    _tell(session, MailKind.booking_no_show, done, inst, "no_show", data | {"status": str(done.status)})
    return done
