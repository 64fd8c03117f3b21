"""Named run locks: at most one holder of a name at a time, across processes and databases.

For work that must not run twice at once (an allocation round) but lasts longer than one
transaction should (a solve of up to minutes): the lock is a row whose primary key is the name,
inserted and committed in a transaction of its own before the work and deleted after it. The
database referees the insert (its primary key), so this works on PostgreSQL and SQLite alike,
where an advisory lock would be PostgreSQL-only. A second taker gets ``Conflict`` at once (no
waiting, no queue). A holder that crashed cannot delete its row: a lock past ``expires_at`` is
taken over, so the lifetime given should bound the work generously. A holder that lives on
can ``renew`` its lock (a lease): that is how the job leader is elected (``instruments/leader.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from .db import json_field, utc_field, utcnow
from .errors import Conflict
from .ids import new_id


class RunLock(SQLModel, table=True):
    __tablename__ = "run_lock"

    name: str = Field(primary_key=True, max_length=100)
    token: str = Field(max_length=40, description="Identifies the holder, so only it releases the lock")
    holder: str = Field(default="", description="Who took it (user id, 'job', 'cli'), for the refusal message")
    acquired_at: datetime = utc_field()
    expires_at: datetime = utc_field()
    progress: dict[str, Any] | None = json_field(default_factory=lambda: None, nullable=True)


class Busy(Conflict):
    """The named work is already running (409)."""

    title = "Already running"


def acquire(engine: Engine, name: str, holder: str, lifetime: timedelta) -> str:
    """Take the lock ``name`` and return its token, or raise ``Busy`` naming the current holder."""
    token = new_id("lck")
    for _ in range(3):  # an insert race or an expired lock taken over by someone else: look again
        now = utcnow()
        with Session(engine, expire_on_commit=False) as s:
            row = s.get(RunLock, name)
            if row is None:
                s.add(RunLock(name=name, token=token, holder=holder, acquired_at=now, expires_at=now + lifetime))
                try:
                    s.commit()
                    return token
                except IntegrityError:
                    s.rollback()
                    continue
            if row.expires_at > now:
                s.rollback()
                raise Busy(
                    f"{name.replace('_', ' ').capitalize()} is already running (since "
                    f"{row.acquired_at:%Y-%m-%d %H:%M:%S} UTC, started by {row.holder or 'someone'}); "
                    "try again when it has finished.",
                    running_since=row.acquired_at.isoformat(),
                )
            taken = s.execute(
                update(RunLock)
                .where(RunLock.name == name, RunLock.token == row.token)
                .values(token=token, holder=holder, acquired_at=now, expires_at=now + lifetime)
            ).rowcount
            s.commit()
            if taken:
                return token
    raise Busy(f"{name.replace('_', ' ').capitalize()} is being started by someone else right now; try again.")


def renew(engine: Engine, name: str, token: str, lifetime: timedelta) -> bool:
    """Extend a held lock to ``lifetime`` from now; False when ``token`` no longer holds it (it
    expired and was taken over, or was released): the holder must then stop its work."""
    with Session(engine) as s:
        now = utcnow()
        kept = s.execute(
            update(RunLock).where(RunLock.name == name, RunLock.token == token).values(expires_at=now + lifetime)
        ).rowcount
        s.commit()
    return bool(kept)


def report(engine: Engine, name: str, progress: dict[str, Any]) -> None:
    """Write how far the work holding ``name`` has got into its lock row, in a transaction of its
    own, for other processes to show (``progress`` names the run, so a reader knows whose it is)."""
    with Session(engine) as s:
        s.execute(update(RunLock).where(RunLock.name == name).values(progress=progress))
        s.commit()


def release(engine: Engine, name: str, token: str) -> None:
    with Session(engine) as s:
        s.execute(delete(RunLock).where(RunLock.name == name, RunLock.token == token))
        s.commit()


@contextmanager
def holding(engine: Engine, name: str, holder: str, lifetime: timedelta) -> Iterator[None]:
    """Run the block holding ``name``; ``Busy`` (409) if someone else holds it."""
    token = acquire(engine, name, holder, lifetime)
    try:
        yield
    finally:
        release(engine, name, token)
