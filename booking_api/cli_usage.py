"""``labshare usage import`` and ``labshare rewards``: metered use and year-end rewards from the shell."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from instruments.db import session_scope

from .cli_database import DbUrl, command_engine

console = Console()

usage_app = typer.Typer(help="Metered instrument use.", no_args_is_help=True)


@usage_app.command("import")
def usage_import(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV exported by the instrument PC or a spreadsheet"
    ),
    instrument: str = typer.Option(..., "--instrument", help="Instrument id"),
    database_url: str | None = DbUrl,
) -> None:
    """Import a usage log: every row checked first; a file with any error imports nothing."""
    from instruments.actor import SYSTEM
    from instruments.errors import DomainError
    from scheduler.sharing.usage import ImportRejected, check_csv_size, decode_csv, import_csv

    engine = command_engine(database_url)
    try:
        check_csv_size(file.stat().st_size)
        text = decode_csv(file.read_bytes())
        with session_scope(engine) as session:
            res = import_csv(session, SYSTEM, instrument, text, file.name)
    except ImportRejected as exc:
        console.print(f"[red]{exc.detail}[/red]", markup=False)
        for e in exc.errors[:200]:
            console.print(f"  row {e.row}, {e.column}: {e.reason}", markup=False)
        raise typer.Exit(1) from exc
    except DomainError as exc:  # too large, not text, a limit, an unknown instrument
        console.print(exc.detail, style="red", markup=False)
        raise typer.Exit(1) from exc
    word = "already imported" if res.already_imported else "imported"
    console.print(
        f"{res.imported} usage records {word} ({res.effective_minutes} effective min, {res.fee_fen} fen); batch {res.batch}"
    )


def rewards_cmd(
    year: int = typer.Argument(..., help="The year evaluated"),
    rule_set: str = typer.Option("national", "--rule-set", help="Rule set code (presets are stored on first use)"),
    budget_fen: int | None = typer.Option(None, "--budget-fen", help="Scale rewards to sum exactly to this"),
    out: Path | None = typer.Option(None, "--out", help="Directory for units.csv, instruments.csv, .xlsx, .html"),
    database_url: str | None = DbUrl,
) -> None:
    """Year-end evaluation and rewards: freeze a versioned report and export it."""
    from rich.progress import BarColumn

    from fixtures.reward_rules import PRESETS, load_presets
    from instruments.actor import SYSTEM
    from scheduler.sharing import reports, rewards

    engine = command_engine(database_url)
    steps = ["instrument indicators", "unit indicators", "scoring and allocating", "freezing the report"]
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("loading rule set", total=len(steps) + 1)
        with session_scope(engine) as session:
            if rule_set in PRESETS:
                load_presets(session, SYSTEM, [rule_set])

            def step(msg: str) -> None:
                bar.update(task, description=msg, completed=steps.index(msg) + 1)

            res = rewards.run_year_end(session, SYSTEM, year, rule_set, budget_fen=budget_fen, progress=step)
        bar.update(task, description="done", completed=len(steps) + 1)
    r = res.report
    t = r.results["totals"]
    console.print(
        f"report {r.id} v{r.version} ({'new' if res.created else 'unchanged data: existing report'}); "
        f"{t['instruments_evaluated']} instruments, {t['units_rewarded']} units rewarded, "
        f"total {t['reward_fen']} fen; digest {r.digest}"
    )
    if out:
        out.mkdir(parents=True, exist_ok=True)
        part = r.results
        (out / f"rewards-{year}-units.csv").write_text(reports.to_csv(reports.unit_rows(r, part), reports.UNIT_COLUMNS))
        (out / f"rewards-{year}-instruments.csv").write_text(
            reports.to_csv(reports.instrument_rows(r, part), reports.INSTRUMENT_COLUMNS)
        )
        (out / f"rewards-{year}.xlsx").write_bytes(reports.to_xlsx(r, part))
        (out / f"rewards-{year}.html").write_text(reports.to_html(r, part))
        console.print(f"written to {out}/")
