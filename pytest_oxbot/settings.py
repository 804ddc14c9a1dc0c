"""0xBot's environment variables, validated once, with errors that name the variable: the edge.

Read from the process environment and an optional `.env` file (pydantic-settings does the parsing, so
booleans and numbers follow its well-known rules instead of ours). Only the edges read it: the pytest
plugin, the CLIs and the documented `from_env()` helpers. Library constructors take the values it hands
out (`http()`, `llm()`, `pool()`) as explicit arguments, so an explicit argument always wins.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pytest_oxbot._urls import redact_url
from pytest_oxbot.connections import PoolSettings, check_database_url, check_redis_url
from pytest_oxbot.errors import SettingsError
from pytest_oxbot.http import HttpOptions
from pytest_oxbot.llm.options import LLMOptions

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Runtime configuration shared by every component (defaults are 0xBot's)."""

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
    budget_redis_url: str | None = Field(default=None, alias="OXBOT_BUDGET_REDIS_URL")
    budget_allow_eviction: bool = Field(default=False, alias="OXBOT_BUDGET_ALLOW_EVICTION")
    database_url: str | None = Field(default=None, alias="OXBOT_DATABASE_URL")
    llm_prices_file: str | None = Field(default=None, alias="OXBOT_LLM_PRICES_FILE")
    llm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OXBOT_LLM_API_KEY", "OPENAI_API_KEY")
    )

    @field_validator("db_pool_timeout", "http_connect_timeout", "http_read_timeout")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number of seconds")
        return value

    @field_validator("llm_daily_cost_limit_usd")
    @classmethod
    def _finite_money(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not value.is_finite():
            raise ValueError("must be a finite amount of USD")
        return value

    @field_validator("redis_url", "budget_redis_url")
    @classmethod
    def _redis_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        name = "OXBOT_BUDGET_REDIS_URL" if info.field_name == "budget_redis_url" else "OXBOT_REDIS_URL"
        check_redis_url(value, name=name)
        if not value.lower().startswith("unix://"):
            _check_host_and_port(value, name)
        return value

    @field_validator("llm_prices_file")
    @classmethod
    def _prices_file(cls, value: str | None) -> str | None:
        """Read and checked at start-up, so a bad file names this variable now, not a fixture later."""
        if not value:
            return None
        from pytest_oxbot.pricing import PriceTable, PricingError

        if not Path(value).is_file():
            raise ValueError("no such file")
        try:
            PriceTable.from_file(value)
        except PricingError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        return check_database_url(value, name="OXBOT_DATABASE_URL") if value else None

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """The environment (and `.env`), validated; a bad value is a `SettingsError` naming the variable."""
        return load_settings(**overrides)

    def http(self) -> HttpOptions:
        return HttpOptions(self.http_connect_timeout, self.http_read_timeout, self.http_max_connections)

    def llm(self) -> LLMOptions:
        return LLMOptions(
            max_tokens=self.llm_max_tokens_per_call,
            temperature=self.llm_temperature_default,
            cache_ttl=float(self.llm_cache_ttl_seconds),
            daily_cost_limit=self.llm_daily_cost_limit_usd,
        )

    def pool(self) -> PoolSettings:
        return PoolSettings(self.db_pool_size, self.db_max_overflow, self.db_pool_timeout)

    def budget_url(self) -> str | None:
        """The budget's own Redis (OXBOT_BUDGET_REDIS_URL), else the shared one (OXBOT_REDIS_URL)."""
        return self.budget_redis_url or self.redis_url

    def api_key(self) -> str | None:
        return None if self.llm_api_key is None else self.llm_api_key.get_secret_value() or None

    def __repr__(self) -> str:
        # URLs may carry passwords and the API key is a secret: never print them.
        hidden = {"redis_url", "budget_redis_url", "database_url", "llm_api_key"}
        shown = {k: v for k, v in self.model_dump().items() if k not in hidden}
        shown["redis_url"] = redact_url(self.redis_url)
        shown["budget_redis_url"] = redact_url(self.budget_redis_url)
        shown["database_url"] = redact_url(self.database_url)
        shown["llm_api_key"] = None if self.llm_api_key is None else "***"
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
            shown = _shown(env_name, err.get("input"))
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(
                message if message.startswith(f"{env_name}=") else f"{env_name}={shown}: {message}"
            )
        raise SettingsError("invalid setting(s): " + "; ".join(problems)) from None


def _check_host_and_port(url: str, name: str) -> None:
    """A host and a port within 1..65535 (redis-py would fail later with a message naming neither)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"{name}={redact_url(url)!r}: the port is not a number within 1..65535") from None
    if not parts.hostname:
        raise ValueError(f"{name}={redact_url(url)!r}: no host")
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{name}={redact_url(url)!r}: port {port} is not within 1..65535")


def _shown(name: str, value: Any) -> str:
    """A bad value as an error may show it: URLs redacted, secrets never."""
    if "KEY" in name or "TOKEN" in name:
        return "'***'"
    if isinstance(value, str) and "URL" in name:
        return repr(redact_url(value))
    return repr(value)
