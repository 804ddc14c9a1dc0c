"""The one factory of Redis clients and SQL engines: drivers, URL checks, probes that never leak secrets."""

from __future__ import annotations

import pytest

from pytest_oxbot.connections import (
    async_url,
    check_database_url,
    check_redis_url,
    make_engine,
    probe_database,
    probe_redis,
)
from pytest_oxbot.errors import SettingsError


def test_async_url_picks_the_async_driver() -> None:
    assert async_url("postgresql://u:p@h/db").drivername == "postgresql+asyncpg"
    assert async_url("postgres://u:p@h/db").drivername == "postgresql+asyncpg"
    assert async_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql+asyncpg://h/db").drivername == "postgresql+asyncpg"


@pytest.mark.parametrize("url", ["abc", "http://h:6379", "redis://", "127.0.0.1:6379"])
def test_bad_redis_urls_name_the_setting(url: str) -> None:
    with pytest.raises(SettingsError, match="OXBOT_REDIS_URL"):
        check_redis_url(url, name="OXBOT_REDIS_URL")


@pytest.mark.parametrize("url", ["abc", "mysql://u:pw@h/db", "postgresql+psycopg2://u:pw@h/db", "nope://x"])
def test_bad_database_urls_name_the_setting_and_hide_the_password(url: str) -> None:
    with pytest.raises(SettingsError, match="OXBOT_DATABASE_URL") as info:
        check_database_url(url, name="OXBOT_DATABASE_URL")
    assert ":pw@" not in str(info.value)


def test_a_schema_is_postgresql_only() -> None:
    with pytest.raises(SettingsError, match="PostgreSQL only"):
        make_engine("sqlite+aiosqlite://", schema="abc")


async def test_probes_say_why_a_server_is_unusable_without_the_password() -> None:
    problem = await probe_database("postgresql+asyncpg://bot:s3cret@127.0.0.1:9/none", within_s=5)
    assert problem is not None
    assert "unreachable" in problem
    assert "s3cret" not in problem
    assert await probe_database("sqlite+aiosqlite://") is None
    problem = await probe_redis("redis://:s3cret@127.0.0.1:9/0", within_s=2)
    assert problem is not None
    assert "unreachable" in problem
    assert "s3cret" not in problem
