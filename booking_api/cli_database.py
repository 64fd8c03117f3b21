"""Which database a ``labshare`` command works on, and refusing one that was never set up.

Every command defaults to the same database as ``labshare demo``: ``LABSHARE_DATABASE_URL`` (or
``DATABASE_URL``), else the embedded default ``sqlite:///labshare.db`` in the working directory
(``instruments/settings.py``). A command that reads or changes data refuses a database without
the platform's tables, with a hint, and never creates an empty SQLite file by looking at one.
"""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from instruments.db import get_engine
from instruments.settings import get_settings

DbUrl = typer.Option(
    None,
    "--database-url",
    envvar=["LABSHARE_DATABASE_URL", "DATABASE_URL"],
    help="SQLAlchemy URL (default: sqlite:///labshare.db, the demo's database)",
)
HINT = "run `labshare demo` (demo data) or `labshare migrate` (empty tables) first, or pass --database-url"


class NoDatabase(Exception):
    """The database named is missing or has no tables (the message says which and what to do)."""


def resolve(database_url: str | None) -> str:
    """The URL a command works on: ``--database-url``, else the settings' (environment or the
    embedded default), with a relative SQLite path made absolute, so messages name the very file
    (and an engine, cached per URL, never points into another directory)."""
    url = database_url or get_settings().database_url
    path = sqlite_file(url)
    if path is None or path.is_absolute():
        return url
    return make_url(url).set(database=str(path.resolve())).render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for other databases and in-memory ones)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def existing_database(url: str) -> Engine:
    """The engine of ``url`` if it holds the platform's tables, else ``NoDatabase``; a missing
    SQLite file is refused before anything connects (connecting would create it)."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise NoDatabase(f"There is no database at {url} ({path.resolve()} does not exist): {HINT}.")
    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            ready = inspect(conn).has_table("alembic_version") and conn.execute(
                text("SELECT count(*) FROM alembic_version")
            ).scalar()
    except SQLAlchemyError as exc:
        raise NoDatabase(f"Cannot open the database at {url} ({exc.__class__.__name__}): {HINT}.") from exc
    if not ready:
        raise NoDatabase(f"The database at {url} has no labshare tables: {HINT}.")
    return engine


def command_engine(database_url: str | None) -> Engine:
    """For a CLI command: the engine of ``--database-url`` or the settings' database, or a clear
    refusal (exit code 2) naming the database and what to run first."""
    from rich.console import Console

    try:
        return existing_database(resolve(database_url))
    except NoDatabase as exc:
        Console(stderr=True).print(str(exc), style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
