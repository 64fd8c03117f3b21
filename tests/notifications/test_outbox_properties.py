"""Whatever the SMTP server answers and wherever the deliverer dies, every mail ends ``sent`` or
``failed`` (none is lost), within ``max_attempts``; a mail reaches the server more than once only
after a deliverer died between the server's acceptance and its own mark, once per such death."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import select

from scheduler.shared.mail_prefs import MailKind, Recipient
from scheduler.shared.mail_templates import SAMPLES
from scheduler.shared.outbox import MailStatus, OutboxMail, deliver_due, enqueue

MAX_ATTEMPTS, BACKOFF, LEASE = 4, 60, 600
T0 = datetime(2026, 12, 7, 1, tzinfo=UTC)


class Killed(BaseException):
    pass


outcomes = st.lists(st.sampled_from(["ok", "refuse", "die_before", "die_after"]), max_size=40)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=outcomes, n=st.integers(1, 5))
def test_no_mail_is_lost_or_sent_twice_without_a_crash_after_the_send(db, script, n):
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox_mail"))
    with db.session() as s:
        for i in range(n):
            to = [Recipient(f"p{i}@t.cn", "en")]
            enqueue(s, MailKind.voucher_issued, f"prop:{i}", SAMPLES[MailKind.voucher_issued], to=to, now=T0)
        s.commit()
    plan = iter(script)
    accepted: Counter[str] = Counter()
    dead_after: Counter[str] = Counter()

    def send(msg):  # noqa: ANN001, ANN202
        what = next(plan, "ok")
        mid = msg["Message-ID"]
        if what == "refuse":
            raise ConnectionRefusedError("451 try later")
        if what == "die_before":
            raise Killed
        accepted[mid] += 1
        if what == "die_after":
            dead_after[mid] += 1
            raise Killed

    now = T0
    for _ in range(100):
        try:
            deliver_due(db.engine, send, now, sender="t@t.cn", max_attempts=MAX_ATTEMPTS, backoff_seconds=BACKOFF,
                        lease_seconds=LEASE, limit=2)
        except Killed:
            pass
        now += timedelta(seconds=LEASE + 1)  # past every back-off and every dead deliverer's lease
        with db.session() as s:
            rows = s.exec(select(OutboxMail)).all()
        if all(r.status in (MailStatus.sent, MailStatus.failed) for r in rows):
            break
    assert len(rows) == n
    for r in rows:
        mid = f"<{r.id}@labshare>"
        assert r.status in (MailStatus.sent, MailStatus.failed), r.status  # nothing lost in between
        assert 1 <= r.attempts <= MAX_ATTEMPTS
        if r.status == MailStatus.failed:
            assert r.attempts == MAX_ATTEMPTS and r.last_error
        else:
            assert accepted[mid] >= 1 and r.sent_at is not None
        assert accepted[mid] <= (1 if r.status == MailStatus.sent else 0) + dead_after[mid]
