"""Leader election through the database: of all the processes (workers, hosts) that campaign for
one name, exactly one leads at a time, and another takes over when it dies.

The leader holds a lease: a run lock row (``instruments/run_lock.py``) with an expiry, renewed
every third of the lease. A process killed outright (``kill -9``, a host lost) stops renewing,
its lease runs out, and the next campaigner to look takes the row over: so the leader is replaced
within one lease and one look (``lease + lease / 3``). The database referees the take-over (a
primary key and a conditional update), so this works the same on SQLite and PostgreSQL, across
hosts, and through a connection pooler, where a session-level advisory lock would be lost.

A leader that cannot renew steps down on its own before its lease can have run out (it cannot
tell whether someone else took over), and a renewal that finds its row taken steps down at once:
two leaders can only overlap while a step-down's work is still finishing, which is why the work
a leader does must itself be guarded (run locks) and idempotent. Hosts' clocks are compared
through the expiry, so they should agree to well within the lease (NTP).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from . import run_lock

log = logging.getLogger("labshare.leader")


def this_process() -> str:
    """``host pid N``: who holds a lease, as the refusal message and the logs show it."""
    return f"{socket.gethostname()} pid {os.getpid()}"


class LeaderElection:
    """Campaign for ``name`` in a background thread: ``on_elected`` runs when this process becomes
    the leader, ``on_deposed`` when it stops leading (lost lease, or ``stop()``)."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        lease: timedelta,
        on_elected: Callable[[], None],
        on_deposed: Callable[[], None],
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.lease = lease
        self.every = lease.total_seconds() / 3
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.holder = holder or this_process()
        self.token: str | None = None
        self._valid_until = 0.0  # monotonic time by which our lease may have run out
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        return self.token is not None

    def step(self) -> bool:
        """One look: take the lease if it is free or expired, or renew ours; True while leading."""
        t0 = time.monotonic()
        if self.token is None:
            try:
                token = run_lock.acquire(self.engine, self.name, self.holder, self.lease)
            except run_lock.Busy:
                return False
            except SQLAlchemyError:
                log.warning("could not campaign for %s; trying again in %.0f s", self.name, self.every, exc_info=True)
                return False
            self.token, self._valid_until = token, t0 + self.lease.total_seconds()
            log.info("%s: %s now leads", self.name, self.holder)
            try:
                self.on_elected()
            except Exception:
                log.exception("%s: starting the leader's work failed; stepping down", self.name)
                self._step_down()
                return False
            return self.step()  # starting may have been slow: renew now, or step down if it was too slow
        try:
            kept: bool | None = run_lock.renew(self.engine, self.name, self.token, self.lease)
        except SQLAlchemyError:
            log.warning("could not renew %s", self.name, exc_info=True)
            kept = None
        if kept:
            self._valid_until = t0 + self.lease.total_seconds()
        elif kept is False or time.monotonic() >= self._valid_until - self.every:
            log.warning("%s: %s lost the lease; stepping down", self.name, self.holder)
            self._step_down()
        return self.leading

    def _step_down(self) -> None:
        token, self.token = self.token, None
        try:
            self.on_deposed()
        except Exception:
            log.exception("%s: stopping the leader's work failed", self.name)
        if token is not None:
            try:
                run_lock.release(self.engine, self.name, token)  # hand over now rather than at expiry
            except SQLAlchemyError:
                log.warning("could not release %s; it expires on its own", self.name, exc_info=True)

    def start(self) -> LeaderElection:
        """Look now, then every third of the lease, in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name=f"leader:{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            t0 = time.monotonic()
            try:
                self.step()
            except Exception:  # never let the campaign thread die: that would leave no leader
                log.exception("%s: election step failed", self.name)
            if self._stop.wait(max(0.0, self.every - (time.monotonic() - t0))):
                return

    def stop(self) -> None:
        """Stop campaigning; a leader stops its work and releases the lease for the next one."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.every + 30)
        if self.token is not None:
            self._step_down()
