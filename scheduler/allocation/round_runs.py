"""Allocation rounds started by hand from the programme office's page: the round runs in a thread
of this process (``run_round``, holding its run lock as always) while the page polls how far it
has got — its phase and the solver's latest figures, reported through ``run_round``'s progress
callback. Runs are kept in memory, the last ``KEEP`` of them: a run is a window on a round being
made; the round itself, once written, is the record (``AllocationRound``).

With several server processes (``labshare serve --workers N``) a poll may reach a process that did
not start the run: ``elsewhere`` then answers from the database — the run's phase and figures,
which the running process writes into the rounds' run lock (``run_lock.report``, on every change
of phase and at most every ``REPORT_EVERY`` seconds within one), and the written round once it
carries the run's id — so the page follows the run whichever process answers.

With ``inline=True`` a run happens inside ``start`` (tests: no thread, no waiting)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from instruments.actor import Actor
from instruments.db import utcnow
from instruments.ids import new_id
from instruments.run_lock import Busy, RunLock, report
from scheduler.allocation.rounds import ROUND_LOCK, AllocationRound, run_round

log = logging.getLogger("labshare.rounds")
KEEP = 20
REPORT_EVERY = 1.0  # seconds between two progress rows of one phase


@dataclass
class RoundRun:
    id: str
    started_at: datetime
    phase: str = (
        "starting"  # starting, loaded, a solver stage (warm_start, cp_sat, lns…), solved, written, failed, busy
    )
    info: dict[str, Any] = field(default_factory=dict)
    round_id: str | None = None
    error: str = ""
    done: bool = False
    updates: int = 0


@dataclass(frozen=True)
class Limits:
    """The solver's limits for a round (from settings; tests make them deterministic)."""

    time_limit: float
    workers: int
    seed: int
    deterministic_time: float | None = None


class RoundRuns:
    def __init__(self, inline: bool = False) -> None:
        self.inline = inline
        self._runs: OrderedDict[str, RoundRun] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_id: str) -> RoundRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def elsewhere(self, engine: Engine, run_id: str, now: datetime | None = None) -> RoundRun | None:
        """A run this process does not hold, as the database knows it: written (a recent round
        carries its id), running in another process (the rounds' lock is held), or unknown (None)."""
        now = now or utcnow()
        with Session(engine) as session:
            recent = session.exec(select(AllocationRound).order_by(col(AllocationRound.started_at).desc()).limit(KEEP))
            for rnd in recent:
                if (rnd.metrics or {}).get("run_id") == run_id:
                    return RoundRun(run_id, rnd.started_at, phase="written", round_id=rnd.id, done=True)
            lock = session.get(RunLock, ROUND_LOCK)
            if lock is not None and lock.expires_at > now:
                told = lock.progress or {}
                if told.get("run_id") == run_id:  # this run, in another process: as far as it said
                    return RoundRun(run_id, lock.acquired_at, phase=told.get("phase", "elsewhere"), info=told.get("info") or {})
                return RoundRun(run_id, lock.acquired_at, phase="elsewhere")
        return None

    def start(
        self, engine: Engine, actor: Actor, limits: Limits, now: datetime | None = None, triggered_by: str = ""
    ) -> RoundRun:
        actor.require_admin()
        run = RoundRun(new_id("rrn"), utcnow())
        with self._lock:
            self._runs[run.id] = run
            while len(self._runs) > KEEP:
                self._runs.popitem(last=False)
        args = (engine, actor, limits, now, triggered_by or actor.user_id or "", run)
        if self.inline:
            self._work(*args)
        else:
            threading.Thread(target=self._work, args=args, name=f"round-{run.id}", daemon=True).start()
        return run

    def _work(
        self, engine: Engine, actor: Actor, limits: Limits, now: datetime | None, triggered_by: str, run: RoundRun
    ) -> None:
        told = {"at": float("-inf"), "phase": ""}

        def progress(stage: str, info: dict[str, Any]) -> None:
            with self._lock:
                run.phase, run.info, run.updates = stage, {**run.info, **info}, run.updates + 1
                state = {"run_id": run.id, "phase": run.phase, "info": run.info}
            t = time.monotonic()
            if stage != told["phase"] or t - told["at"] >= REPORT_EVERY:
                told.update(at=t, phase=stage)
                try:  # for the other processes' polls; the run goes on without it
                    report(engine, ROUND_LOCK, json.loads(json.dumps(state, default=str)))
                except Exception:
                    log.warning("round %s: progress not written for other processes", run.id, exc_info=True)

        try:
            rnd = run_round(
                engine,
                actor,
                now=now,
                time_limit=limits.time_limit,
                workers=limits.workers,
                seed=limits.seed,
                triggered_by=triggered_by,
                progress=progress,
                deterministic_time=limits.deterministic_time,
                run_id=run.id,
            )
        except Busy as exc:
            with self._lock:
                run.phase, run.error = "busy", exc.detail
        except Exception as exc:  # the page says it failed; the log has why
            log.exception("allocation round %s failed", run.id)
            with self._lock:
                run.phase, run.error = "failed", repr(exc)[:500]
        else:
            with self._lock:
                run.phase, run.round_id = "written", rnd.id
        finally:
            with self._lock:
                run.done = True
