"""The job leader: of the processes campaigning on one database exactly one leads; when it gives
up or dies (its lease is not renewed) another takes over; a leader whose lease was taken steps
down. Jobs keep a run that fell due while nobody led, and a job running elsewhere is skipped."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update
from sqlmodel import select

from instruments.db import get_engine
from instruments.leader import LeaderElection
from instruments.run_lock import RunLock, acquire
from scheduler.jobs import JobRun, make_scheduler, record_run, run_voucher_housekeeping

LEASE = timedelta(seconds=30)


class Contender:
    """One campaigner, as a process would be, with what its callbacks saw."""

    def __init__(self, db, who: str) -> None:
        self.events: list[str] = []
        self.election = LeaderElection(
            db.engine,
            "job_leader",
            LEASE,
            on_elected=lambda: self.events.append("elected"),
            on_deposed=lambda: self.events.append("deposed"),
            holder=who,
        )


def expire_lease(db) -> None:
    """What the passing of a lease without renewal looks like (a killed leader)."""
    with db.session() as s:
        s.execute(update(RunLock).where(RunLock.name == "job_leader").values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        s.commit()


def test_exactly_one_of_two_contenders_leads_and_the_other_takes_over_when_it_steps_down(db):
    a, b = Contender(db, "host-a pid 1"), Contender(db, "host-b pid 2")
    assert a.election.step() is True
    assert b.election.step() is False
    assert a.election.step() is True and b.election.step() is False  # renewal keeps it; b keeps waiting
    assert a.events == ["elected"] and b.events == []
    a.election.stop()  # a graceful stop releases the lease at once
    assert a.events == ["elected", "deposed"]
    assert b.election.step() is True and b.events == ["elected"]
    assert a.election.step() is False
    b.election.stop()


def test_a_dead_leaders_lease_runs_out_and_another_takes_over(db):
    a, b = Contender(db, "host-a pid 1"), Contender(db, "host-b pid 2")
    assert a.election.step() and not b.election.step()
    expire_lease(db)  # a was killed: it renews no more
    assert b.election.step() is True
    with db.session() as s:
        assert s.get(RunLock, "job_leader").holder == "host-b pid 2"
    # a comes back (it was only stopped, e.g. paused): its renewal finds the lease taken and it steps down
    assert a.election.step() is False
    assert a.events == ["elected", "deposed"] and b.events == ["elected"]
    assert b.election.step() is True  # b's lease was not touched by a stepping down
    b.election.stop()


def test_a_leader_that_cannot_reach_the_database_steps_down_before_its_lease_can_run_out(db, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from instruments import leader, run_lock

    a = Contender(db, "host-a pid 1")
    clock = [1000.0]
    monkeypatch.setattr(leader.time, "monotonic", lambda: clock[0])
    assert a.election.step()

    def unreachable(*_a, **_k):
        raise OperationalError("renew", {}, Exception("connection refused"))

    monkeypatch.setattr(run_lock, "renew", unreachable)
    clock[0] += 10  # one failed renewal: still within the lease's safe part
    assert a.election.step() is True
    clock[0] += 10  # two thirds of the lease without renewal: it may be someone else's soon
    assert a.election.step() is False and a.events == ["elected", "deposed"]


def store_next_run_time(url: str, job_id: str, when: datetime) -> None:
    """Set a stored job's next run as APScheduler's job store keeps it (column and pickled state)."""
    engine = get_engine(url)
    with engine.begin() as conn:
        blob = conn.execute(text("SELECT job_state FROM apscheduler_jobs WHERE id = :i"), {"i": job_id}).scalar_one()
        state = pickle.loads(blob)
        state["next_run_time"] = when
        conn.execute(
            text("UPDATE apscheduler_jobs SET job_state = :s, next_run_time = :t WHERE id = :i"),
            {"s": pickle.dumps(state, pickle.HIGHEST_PROTOCOL), "t": when.timestamp(), "i": job_id},
        )


def test_make_scheduler_keeps_a_run_that_fell_due_while_nobody_led(tmp_path, db):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    sched = make_scheduler(url, cron="0 18 * * *")
    sched.start(paused=True)
    sched.shutdown(wait=False)
    due = datetime.now(UTC) - timedelta(minutes=5)  # the leader died just before 18:00; it is 18:05
    store_next_run_time(url, "allocation_round", due)
    again = make_scheduler(url, cron="0 18 * * *")
    again.start(paused=True)
    assert again.get_job("allocation_round").next_run_time == due  # runs once, now, instead of tomorrow
    again.shutdown(wait=False)
    changed = make_scheduler(url, cron="0 19 * * *")  # a changed schedule starts from its own next time
    changed.start(paused=True)
    assert changed.get_job("allocation_round").next_run_time.hour == 19
    changed.shutdown(wait=False)


def test_a_job_running_in_another_process_is_skipped_and_every_run_is_counted(db):
    acquire(db.engine, "voucher_housekeeping", "job", timedelta(minutes=5))  # the old leader is still at it
    assert run_voucher_housekeeping(db.url) is None
    record_run(db.url, "heartbeat", "ok")
    record_run(db.url, "heartbeat", "ok")
    with db.session() as s:
        rows = {r.job: r for r in s.exec(select(JobRun)).all()}
    assert rows["voucher_housekeeping"].last_outcome == "skipped" and rows["voucher_housekeeping"].runs == 1
    assert rows["heartbeat"].runs == 2
