"""The outbox's promises: written with its event or not at all; a crash anywhere loses no mail;
a crash after the SMTP server took a mail but before it was marked sends it again with the same
Message-ID (at-least-once, by design: see ``scheduler/shared/outbox.py``); failures back off
exponentially, end ``failed`` after N attempts with the last error, and an admin can retry;
two deliverers never send one row twice; opt-outs hold except for mandatory kinds."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from instruments.errors import InvalidInput
from scheduler import booking_actions as actions
from scheduler.shared.mail_prefs import MailKind, set_preferences
from scheduler.shared.outbox import MailStatus, OutboxMail, claim_due, deliver_due, enqueue, retry
from tests.notifications.conftest import SENDER, check, only


class Killed(BaseException):
    """The deliverer's process dies (not an ``Exception``: nothing in it gets to clean up)."""


def _book(session, w, hh: int = 9, who=None):  # noqa: ANN001, ANN202
    now = w.at(8) - timedelta(days=2)
    b = actions.book(
        session, who or w.member_a, actions.BookingInput(w.xrd.id, w.at(hh), w.at(hh + 1), "operator_run"), now=now
    )
    session.commit()
    return b, now


def _rows(db) -> list[OutboxMail]:  # noqa: ANN001
    with db.session() as s:
        return list(s.exec(select(OutboxMail).order_by(OutboxMail.created_at, OutboxMail.id)).all())


def test_a_rolled_back_event_leaves_no_mail(db, session, world, postman):
    w = world
    now = w.at(8) - timedelta(days=2)
    actions.book(session, w.member_a, actions.BookingInput(w.xrd.id, w.at(9), w.at(10), "operator_run"), now=now)
    assert len(session.exec(select(OutboxMail)).all()) == 1  # written in the booking's transaction …
    session.rollback()
    assert _rows(db) == [] and postman.new(now) == []  # … and gone with it


def test_a_crash_before_the_send_loses_nothing(db, session, world, postman, sink):
    w = world
    _, now = _book(session, w)
    claimed = claim_due(db.engine, now, lease=timedelta(minutes=10))  # a deliverer claims, then dies
    assert len(claimed) == 1 and _rows(db)[0].status == MailStatus.sending
    assert postman.new(now + timedelta(minutes=5)) == []  # its lease still holds: nobody else sends it
    got = postman.new(now + timedelta(minutes=11))  # the lease ran out: sent
    assert len(got) == 1 and _rows(db)[0].status == MailStatus.sent
    assert postman.new(now + timedelta(hours=1)) == []  # and never again


def test_a_crash_after_the_send_resends_the_same_message_once(db, session, world, postman, sink):
    """SMTP and the database share no transaction: the one window that can duplicate a mail is
    between the server's 250 and our UPDATE. We resend (never lose) and keep the Message-ID, so
    a mail client shows the duplicate as the same message."""
    w = world
    _, now = _book(session, w)

    def send_then_die(msg):  # noqa: ANN001, ANN202
        postman_send(msg)
        raise Killed

    from scheduler.shared.smtp import SmtpConfig, sender_for

    postman_send = sender_for(SmtpConfig.from_url(sink.url, 5))
    with pytest.raises(Killed):
        deliver_due(db.engine, send_then_die, now, sender=SENDER, max_attempts=3, backoff_seconds=60)
    assert len(sink.messages) == 1 and _rows(db)[0].status == MailStatus.sending
    postman.seen = 1  # the server has it; the row does not know
    assert postman.new(now + timedelta(minutes=1)) == []  # within the dead deliverer's lease: not resent yet
    again = postman.new(now + timedelta(minutes=11))
    assert len(again) == 1 and again[0]["Message-ID"] == sink.messages[0]["Message-ID"]
    row = _rows(db)[0]
    assert row.status == MailStatus.sent and row.attempts == 2
    assert postman.new(now + timedelta(hours=1)) == []
    assert len(sink.messages) == 2  # at most one duplicate, recognisable by its Message-ID


def test_refused_mail_backs_off_then_fails_visibly_and_an_admin_retries(db, session, world, postman, sink, client):
    w = world
    _, now = _book(session, w)
    sink.refuse = True
    assert postman.deliver(now) == {"sent": 0, "retry": 1, "failed": 0}
    row = _rows(db)[0]
    assert row.attempts == 1 and row.next_attempt_at == now + timedelta(seconds=60) and "451" in row.last_error
    assert postman.deliver(now + timedelta(seconds=59)) == {"sent": 0, "retry": 0, "failed": 0}  # not yet due
    assert postman.deliver(now + timedelta(seconds=60)) == {"sent": 0, "retry": 1, "failed": 0}
    assert _rows(db)[0].next_attempt_at == now + timedelta(seconds=60 + 120)  # doubled
    assert postman.deliver(now + timedelta(seconds=180)) == {"sent": 0, "retry": 0, "failed": 1}  # 3rd of 3
    row = _rows(db)[0]
    assert row.status == MailStatus.failed and row.attempts == 3 and "451" in row.last_error
    assert postman.deliver(now + timedelta(days=1)) == {"sent": 0, "retry": 0, "failed": 0}

    admin = {"Authorization": f"Bearer {w.tokens['admin']}"}
    member = {"Authorization": f"Bearer {w.tokens['member_a']}"}
    failed = client.get("/api/v1/mail", params={"status": "failed"}, headers=admin).json()
    assert [(m["id"], m["attempts"]) for m in failed] == [(row.id, 3)] and "451" in failed[0]["last_error"]
    assert client.get("/api/v1/mail", headers=member).status_code == 403
    assert client.post(f"/api/v1/mail/{row.id}/retry", headers=member).status_code == 403
    r = client.post(f"/api/v1/mail/{row.id}/retry", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert client.post(f"/api/v1/mail/{row.id}/retry", headers=admin).status_code == 409  # not failed any more
    assert client.post("/api/v1/mail/mail_nosuchmail0/retry", headers=admin).status_code == 404
    sink.refuse = False
    later = now + timedelta(days=2)
    assert len(postman.new(later)) == 1 and _rows(db)[0].status == MailStatus.sent
    mine = client.get("/api/v1/me/mail", headers=member).json()
    assert [m["status"] for m in mine] == ["sent"] and mine[0]["subject"].startswith("预约已提交")


def test_two_deliverers_never_send_one_row_twice(db, session, world):
    w = world
    for i in range(30):
        enqueue(
            session,
            MailKind.booking_reminder,
            f"test:{i}",
            {"instrument": "XRD", "tz": "Asia/Shanghai", "start": w.at(9).isoformat(), "end": w.at(10).isoformat(),
             "booking_id": f"bkg_{i}", "price_fen": 100, "voucher_fen": 0},
            user_id=w.member_a.user_id,
        )
    session.commit()
    now = w.at(8)
    sent: list[tuple[str, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def deliverer(name: str) -> None:
        def send(msg):  # noqa: ANN001, ANN202
            with lock:
                sent.append((msg["Message-ID"], name))

        try:
            start.wait()
            while deliver_due(db.engine, send, now, sender=SENDER, max_attempts=3, backoff_seconds=60, limit=4)["sent"]:
                pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliverer, args=(n,)) for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    ids = [m for m, _ in sent]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert {r.status for r in _rows(db)} == {MailStatus.sent}


def test_a_locked_row_is_skipped_not_waited_for(db, session, world):
    """PostgreSQL: a row another deliverer holds (FOR UPDATE) is skipped; SQLite: a claim whose
    token was taken over cannot write the result."""
    w = world
    _book(session, w, 9)
    _book(session, w, 14)
    now = w.at(8)
    if db.backend == "postgresql":
        with db.session() as other:
            held = other.exec(select(OutboxMail).order_by(OutboxMail.id).limit(1).with_for_update()).one()
            got = claim_due(db.engine, now)
            assert [m.id for m in got] != [] and held.id not in {m.id for m in got}
            other.rollback()
    else:
        first = claim_due(db.engine, now)
        assert len(first) == 2 and claim_due(db.engine, now) == []
        taken_over = claim_due(db.engine, now + timedelta(hours=1))  # leases ran out: claimed anew
        from scheduler.shared.outbox import _finish

        assert not _finish(db.engine, first[0], status=MailStatus.sent)  # the old claim writes nothing
        assert _finish(db.engine, taken_over[0], status=MailStatus.sent)


def test_opt_outs_hold_except_for_mandatory_kinds(db, session, world, postman, client):
    w = world
    with pytest.raises(InvalidInput) as err:
        set_preferences(session, w.member_a.user_id, opt_outs=["booking_cancelled"])
    assert err.value.field == "opt_outs" and "booking_cancelled" in err.value.detail
    set_preferences(session, w.member_a.user_id, opt_outs=["booking_created", "booking_confirmed"])
    session.commit()
    b, now = _book(session, w)
    actions.confirm(session, w.manager, b.id)
    actions.cancel(session, w.member_a, b.id, now=now)
    session.commit()
    got = postman.new(now)
    assert [m["X-Labshare-Kind"] for m in got] == ["booking_cancelled"]  # cannot be turned off
    check(only(got, "booking_cancelled"), "a@t.cn", "zh-CN", "预约已取消")


def test_preferences_over_http(client, world):
    w = world
    h = {"Authorization": f"Bearer {w.tokens['member_b']}"}
    r = client.get("/api/v1/me/preferences", headers=h)
    assert r.status_code == 200 and r.json()["language"] == "zh-CN" and r.json()["opt_outs"] == []
    assert set(r.json()["mandatory"]) == {"booking_cancelled", "booking_no_show", "claim_decided"}
    r = client.patch("/api/v1/me/preferences", json={"language": "en", "opt_outs": ["booking_reminder"]}, headers=h)
    assert r.status_code == 200 and (r.json()["language"], r.json()["opt_outs"]) == ("en", ["booking_reminder"])
    r = client.patch("/api/v1/me/preferences", json={"opt_outs": ["claim_decided"]}, headers=h)
    assert r.status_code == 422 and "cannot be turned off" in r.json()["detail"]
    r = client.patch("/api/v1/me/preferences", json={"opt_outs": ["spam"]}, headers=h)
    assert r.status_code == 422 and "spam" in r.json()["detail"]
    assert client.patch("/api/v1/me/preferences", json={"language": "fr"}, headers=h).status_code == 422
    assert client.get("/api/v1/me/preferences", headers=h).json()["language"] == "en"  # refusals changed nothing
    assert client.get("/api/v1/me/preferences").status_code == 401


def test_a_booking_over_http_mails_its_booker_in_the_language_and_with_the_opt_outs_read_with_the_token(db, client, world):
    w = world
    h = {"Authorization": f"Bearer {w.tokens['member_b']}"}

    def book(hh: int) -> None:
        body = {"instrument_id": w.xrd.id, "start": w.at(hh).isoformat(), "end": w.at(hh + 1).isoformat(),
                "service_mode": "operator_run"}  # fmt: skip
        r = client.post("/api/v1/bookings", json=body, headers=h)
        assert r.status_code == 201, r.text

    book(9)  # no preference row: the default language
    assert client.patch("/api/v1/me/preferences", json={"language": "en"}, headers=h).status_code == 200
    book(10)
    assert [(m.recipient, m.language) for m in _rows(db)] == [("b@t.cn", "zh-CN"), ("b@t.cn", "en")]
    assert client.patch("/api/v1/me/preferences", json={"opt_outs": ["booking_created"]}, headers=h).status_code == 200
    book(11)
    assert len(_rows(db)) == 2


def test_without_smtp_the_job_leaves_mail_queued_and_readable(db, session, world, monkeypatch):
    from instruments.settings import get_settings
    from scheduler.jobs import run_mail_delivery

    monkeypatch.delenv("LABSHARE_SMTP_URL", raising=False)
    get_settings.cache_clear()
    try:
        _book(session, world)
        assert run_mail_delivery(db.url) == {"sent": 0, "retry": 0, "failed": 0}
        row = _rows(db)[0]
        assert row.status == MailStatus.queued and row.subject.startswith("预约已提交") and "Powder XRD" in row.text_body
    finally:
        get_settings.cache_clear()


def test_the_delivery_job_sends_to_the_configured_server(db, session, world, sink, monkeypatch):
    from instruments.settings import get_settings
    from scheduler.jobs import run_mail_delivery

    monkeypatch.setenv("LABSHARE_SMTP_URL", sink.url)
    get_settings.cache_clear()
    try:
        _, now = _book(session, world)
        assert run_mail_delivery(db.url, now=now) == {"sent": 1, "retry": 0, "failed": 0}
        assert sink.envelopes == [["a@t.cn"]] and sink.messages[0]["Message-ID"] == f"<{_rows(db)[0].id}@labshare>"
    finally:
        get_settings.cache_clear()


def test_retry_refuses_mail_that_has_not_failed(session, world):
    from instruments.errors import InvalidState, NotFound

    _book(session, world)
    row = session.exec(select(OutboxMail)).one()
    with pytest.raises(InvalidState):
        retry(session, row.id)
    with pytest.raises(NotFound):
        retry(session, "mail_none")


def test_enqueue_many_writes_what_one_enqueue_per_event_writes(db, session, world):
    """The bulk writer (an allocation round's mails): the same rows as one ``enqueue`` per event,
    an event already in the outbox not written again, an event named twice in one call once."""
    from scheduler.shared.mail_prefs import recipients
    from scheduler.shared.mail_templates import SAMPLES
    from scheduler.shared.outbox import MailEvent, enqueue_many
    from scheduler.shared.outbox import _rows as _bulk_rows

    w = world
    data = SAMPLES[MailKind.request_unplaced]
    enqueue(session, MailKind.request_unplaced, "many:0", data, user_id=w.member_a.user_id)
    events = [
        MailEvent(MailKind.request_unplaced, f"many:{i}", data, w.member_a.user_id if i % 2 == 0 else None, w.ent_a.id)
        for i in range(7)
    ]
    written = enqueue_many(session, [*events, events[3]])
    session.commit()
    rows = _rows(db)
    keys = sorted(m.idempotency_key for m in rows)
    assert len(keys) == len(set(keys)) == 7  # many:0 was there already; many:3 asked twice, written once
    assert sorted(written) == sorted(m.id for m in rows if not m.idempotency_key.startswith("many:0:"))
    # the event without a user goes to the enterprise's members, as enqueue sends it
    assert enqueue(session, MailKind.request_unplaced, "many:1", data, enterprise_id=w.ent_a.id) == []  # written
    members = {r.address for r in recipients(session, MailKind.request_unplaced, enterprise_id=w.ent_a.id)}
    assert {m.recipient for m in rows if m.idempotency_key.startswith("many:1:")} == members
    assert all(m.subject and m.text_body and m.language for m in rows)
    # a row built for the bulk insert names every column (a new column must be added there too)
    row = _bulk_rows(MailKind.request_unplaced, "many:x", data, recipients(session, MailKind.request_unplaced, user_id=w.member_a.user_id), w.at(8))[0]
    assert set(row) == set(OutboxMail.__table__.columns.keys())
