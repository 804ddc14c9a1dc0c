"""The seed's environment variables, validated once, with errors that name the variable.

Read from the process environment and an optional `.env` file (pydantic-settings does the parsing, so
booleans, numbers and URLs follow its well-known rules instead of ours).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pytest_oxbot._urls import redact_url as redact_url  # re-exported: the historical home
from pytest_oxbot.errors import SettingsError


class Settings(BaseSettings):
    """Runtime configuration shared by every component (defaults are the seed's)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    llm_enable_cache: bool = Field(default=True, alias="LLM_ENABLE_CACHE")
    llm_cache_ttl_seconds: int = Field(default=300, gt=0, alias="LLM_CACHE_TTL_SECONDS")
    llm_max_tokens_per_call: int = Field(default=300, gt=0, alias="LLM_MAX_TOKENS_PER_CALL")
    llm_temperature_default: float = Field(default=0.2, ge=0.0, le=2.0, alias="LLM_TEMPERATURE_DEFAULT")
    llm_batch_size: int = Field(default=5, gt=0, alias="LLM_BATCH_SIZE")
    llm_daily_cost_limit_usd: Decimal | None = Field(default=None, ge=0, alias="LLM_DAILY_COST_LIMIT_USD")
    db_pool_size: int = Field(default=20, gt=0, alias="DB_POOL_SIZE")
    db_max_overflow: int = Field(default=30, ge=0, alias="DB_MAX_OVERFLOW")
    db_pool_timeout: float = Field(default=30, gt=0, alias="DB_POOL_TIMEOUT")
    http_connect_timeout: float = Field(default=5, gt=0, alias="HTTP_CONNECT_TIMEOUT")
    http_read_timeout: float = Field(default=10, gt=0, alias="HTTP_READ_TIMEOUT")
    http_max_connections: int = Field(default=100, gt=0, alias="HTTP_MAX_CONNECTIONS")
    redis_url: str | None = Field(default=None, alias="OXBOT_REDIS_URL")
    database_url: str | None = Field(default=None, alias="OXBOT_DATABASE_URL")

    def __repr__(self) -> str:
        # URLs may carry passwords: never print them.
        shown = {k: v for k, v in self.model_dump().items() if k not in {"redis_url", "database_url"}}
        shown["redis_url"] = redact_url(self.redis_url)
        shown["database_url"] = redact_url(self.database_url)
        return f"Settings({shown})"

    __str__ = __repr__


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (and `.env`), raising `SettingsError` on a bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "?"
            field = Settings.model_fields.get(name)
            env_name = field.alias if field is not None and field.alias else name
            problems.append(f"{env_name}={err.get('input')!r}: {err['msg']}")
        raise SettingsError("invalid setting(s): " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
