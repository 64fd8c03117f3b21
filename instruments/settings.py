"""One settings object for the whole platform (environment prefix ``LABSHARE_``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///labshare.db"
"""The embedded default: every ``labshare`` command and the demo use it unless told otherwise."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LABSHARE_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("LABSHARE_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///file.db (embedded default) or postgresql+psycopg://…",
    )
    default_timezone: str = "Asia/Shanghai"
    max_availability_days: int = Field(default=92, description="Longest range one availability query may cover.")
    run_jobs: bool = Field(
        default=True, description="Campaign to run the scheduled jobs in this process (only the elected leader runs them)"
    )
    job_lease_seconds: float = Field(
        default=30.0, ge=1, le=600, description="The job leader's lease: another process takes over this long (plus a third) after it dies"
    )
    jobs_heartbeat_seconds: float = Field(
        default=60.0, gt=0, description="How often the job leader records it is alive (table job_run, job 'heartbeat')"
    )
    round_cron: str = Field(default="0 18 * * *", description="When allocation rounds run (crontab, platform zone)")
    round_time_limit: float = Field(default=60.0, gt=0, le=600)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=1, le=64, description="Worker processes of `labshare serve`")
    worker_healthcheck_timeout: int = Field(
        default=60, ge=5, description="Seconds a worker may not answer uvicorn's health check (its start included) before it is replaced"
    )

    # --- bounded work per request: every refusal names the setting that refused it ---------
    rrule_time_limit: float = Field(
        default=2.0, gt=0, description="Seconds one availability query may spend expanding opening rules"
    )
    ics_import_time_limit: float = Field(default=10.0, gt=0, description="Seconds an .ics import may spend expanding")
    ics_max_occurrences: int = Field(default=2_000, ge=1, description="Occurrences one .ics import may expand")
    usage_import_max_bytes: int = Field(default=5_000_000, ge=1, description="Largest usage CSV accepted (bytes)")
    usage_import_max_rows: int = Field(default=20_000, ge=1, description="Most data rows in one usage CSV")
    usage_import_time_limit: float = Field(default=30.0, gt=0, description="Seconds a usage CSV may take to check")
    body_time_limit: float = Field(default=30.0, gt=0, description="Seconds an upload's body may take to arrive")
    proof_file_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="Largest redemption proof file accepted (bytes; PDF, JPEG, PNG)"
    )
    timeout_keep_alive: int = Field(default=5, ge=1, description="Seconds an idle keep-alive connection stays open")
    timeout_graceful_shutdown: int = Field(
        default=3, ge=0, description="Seconds requests in flight get after SIGTERM before the server stops"
    )

    # --- e-mail (the outbox in scheduler/shared/outbox.py) --------------------------------------
    smtp_url: str | None = Field(
        default=None,
        description="smtp://host:port, smtp://user:pass@host:587?starttls=true or smtps://user:pass@host:465; "
        "unset: mail waits in the outbox (status queued) and stays readable in the app",
    )
    mail_from: str = Field(default="labshare <noreply@labshare.localhost>", description="From: of every mail")
    mail_interval_seconds: int = Field(default=30, ge=1, description="How often the delivery job sends due mail")
    mail_max_attempts: int = Field(default=6, ge=1, description="Attempts before a mail is marked failed")
    mail_backoff_seconds: int = Field(
        default=60, ge=1, description="Wait after the first failed attempt; doubles after each further one"
    )
    mail_lease_seconds: int = Field(
        default=600, ge=10, description="A mail claimed this long ago without a result is tried again"
    )
    smtp_timeout: float = Field(default=20.0, gt=0, description="Seconds one SMTP conversation may take")

    # --- rate limits (the ``limits`` package; "N/second|minute|hour|day") ----------------------
    rate_limit_enabled: bool = Field(default=True, description="Answer 429 past the limits below")
    rate_limit_anonymous: str = Field(
        default="120/minute", description="Requests without a token, per client address"
    )
    rate_limit_token: str = Field(default="600/minute", description="Requests with a token, per token")
    rate_limit_token_creation: str = Field(
        default="10/minute", description="Token creation, per client address and per token"
    )
    login_failure_limit: str = Field(
        default="5/minute", description="Failed web sign-ins allowed per login name and per client address"
    )
    session_hours: int = Field(default=12, ge=1, le=24 * 30, description="How long a web sign-in lasts")
    cookie_secure: bool | None = Field(
        default=None, description="Mark cookies Secure; unset: when the request came over https"
    )
    rate_limit_strategy: str = Field(default="moving-window", description="moving-window or fixed-window")
    redis_url: str | None = Field(
        default=None, description="redis://… to share rate-limit counters between processes (else in memory)"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
