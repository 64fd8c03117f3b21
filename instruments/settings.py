"""One settings object for the whole platform (environment prefix ``LABSHARE_``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LABSHARE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///labshare.db",
        validation_alias=AliasChoices("LABSHARE_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///file.db (embedded default) or postgresql+psycopg://…",
    )
    default_timezone: str = "Asia/Shanghai"
    max_availability_days: int = Field(default=92, description="Longest range one availability query may cover.")
    run_jobs: bool = Field(default=True, description="Run scheduled jobs in this process (if it wins the leader lock)")
    round_cron: str = Field(default="0 18 * * *", description="When allocation rounds run (crontab, platform zone)")
    round_time_limit: float = Field(default=60.0, gt=0, le=600)
    host: str = "127.0.0.1"
    port: int = 8000


@lru_cache
def get_settings() -> Settings:
    return Settings()
