"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from booking_api.tables import metadata
from scheduler.jobs import JOB_STORE_TABLE

# APScheduler creates and owns its job store table at run time (the job tests create it in the
# test database too): it is neither migrated nor modelled.
NOT_OURS = {"alembic_version", JOB_STORE_TABLE}


def _ours(obj, name, type_: str, reflected: bool, compare_to) -> bool:  # noqa: ANN001 - alembic's include_object
    table = obj.name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table not in NOT_OURS


def test_the_job_store_table_is_left_out_of_the_comparison(db):
    """APScheduler's table, created as at run time, makes no difference to the comparison."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    store = SQLAlchemyJobStore(engine=db.engine, tablename=JOB_STORE_TABLE)
    store.start(None, "default")  # creates the table and its index, as the job leader does
    try:
        test_migrated_schema_matches_models(db)
        test_tables_module_alone_knows_every_table(db)
    finally:
        store.jobs_t.drop(db.engine)


def test_migrated_schema_matches_models(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False, "include_object": _ours})
        diffs = compare_metadata(context, metadata)
    assert diffs == []


def test_tables_module_alone_knows_every_table(db):
    """``booking_api.tables`` is what migrations and tests rely on to know every table: imported
    alone, in a fresh interpreter, it must name every table the migrations create."""
    import json
    import subprocess
    import sys

    from sqlalchemy import inspect

    alone = subprocess.run(
        [sys.executable, "-c", "import json; from booking_api.tables import metadata; print(json.dumps(sorted(metadata.tables)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    migrated = set(inspect(db.engine).get_table_names()) - NOT_OURS
    assert migrated <= set(json.loads(alone.stdout))


def test_0007_keeps_answers_drops_duplicate_reports_and_downgrades(tmp_path):
    """Stored idempotency answers stay replayable (state done); of reports that froze the same
    content twice the first version stays; the downgrade returns to 0006."""
    from sqlalchemy import create_engine, text

    from booking_api.migrate import downgrade, upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0006")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO idempotency_record (user_id, key, endpoint, status, body, created_at) "
                "VALUES ('u', 'k', 'POST /bookings', 201, '{\"id\": \"bkg_1\"}', '2026-12-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO reward_rule_set (id, code, version, name, region, document, created_at) "
                "VALUES ('rrs_1', 'national', 1, '', '', '{}', '2026-12-01 00:00:00')"
            )
        )
        for rid, version in (("rwr_1", 1), ("rwr_2", 2)):
            conn.execute(
                text(
                    "INSERT INTO reward_report (id, year, version, rule_set_id, rule_set_code, rule_set_version, "
                    "period_start, period_end, total_reward_fen, digest, inputs, results, created_at) VALUES "
                    f"('{rid}', 2026, {version}, 'rrs_1', 'national', 1, '2026-01-01 00:00:00', "
                    "'2027-01-01 00:00:00', 0, 'same', '{}', '{}', '2026-12-01 00:00:00')"
                )
            )
    upgrade(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state, status FROM idempotency_record")).all() == [("done", 201)]
        assert conn.execute(text("SELECT id FROM reward_report")).all() == [("rwr_1",)]
    downgrade(url, "0006")
    upgrade(url)
    engine.dispose()
