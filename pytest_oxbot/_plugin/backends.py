"""pytest wiring for the backends: options, a fake clock, Redis and an SQL engine isolated per test.

By default everything is embedded (fakeredis, an SQLite file in `tmp_path`). With a URL (option or
environment variable) the real server is used, isolated per test: Redis by a unique key prefix whose
keys are deleted at teardown (the shared server is never flushed), PostgreSQL by a unique schema
dropped at teardown. An unreachable server skips the test with the reason, or fails it when
OXBOT_REQUIRE_REAL_BACKENDS=1 (CI), so a broken CI service can never pass as "skipped".

`oxbot_redis` and `oxbot_db` report the I/O their test did as exact KPIs at teardown (when there was
any): `redis_commands` and `redis_round_trips` counted at the client, `sql_statements` counted by
SQLAlchemy events. The cache uses both, so its tests report them too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
import pytest_asyncio

from pytest_oxbot._plugin import usage
from pytest_oxbot._plugin.kpi_sink import report
from pytest_oxbot._urls import redact_url
from pytest_oxbot.clock import FakeClock

# redis, SQLAlchemy and the cache are imported inside the fixtures that use them: a plugin imported by
# every pytest run must not make runs that never request them start slower.
if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster
    from sqlalchemy.ext.asyncio import AsyncEngine

REDIS_ENV = "OXBOT_REDIS_URL"
DATABASE_ENV = "OXBOT_DATABASE_URL"
REQUIRE_ENV = "OXBOT_REQUIRE_REAL_BACKENDS"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oxbot", "pytest-oxbot")
    group.addoption(
        "--oxbot-redis-url",
        default=None,
        help=f"Redis for oxbot_redis/oxbot_cache (default: ${REDIS_ENV}, else fakeredis)",
    )
    group.addoption(
        "--oxbot-database-url",
        default=None,
        help=f"SQLAlchemy async URL for oxbot_db (default: ${DATABASE_ENV}, else SQLite in tmp_path)",
    )


def configured_redis_url(config: pytest.Config) -> str | None:
    """The real Redis to use, from the option or the environment (None: fakeredis)."""
    return config.getoption("--oxbot-redis-url") or os.environ.get(REDIS_ENV) or None


def configured_database_url(config: pytest.Config) -> str | None:
    """The real database to use, from the option or the environment (None: SQLite in tmp_path)."""
    return config.getoption("--oxbot-database-url") or os.environ.get(DATABASE_ENV) or None


def real_backends_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in {"1", "true", "yes"}


def unavailable(what: str, reason: str) -> NoReturn:
    """Skip (locally) or fail (when real backends are required) a test whose backend is missing."""
    if real_backends_required():
        pytest.fail(f"{what}: {reason} (and {REQUIRE_ENV}=1 demands it)", pytrace=False)
    pytest.skip(f"{what}: {reason}")


_REDIS_SCHEMES = ("redis", "rediss", "unix")


def pytest_configure(config: pytest.Config) -> None:
    """Check the backend URLs once, naming the option or variable they came from."""
    redis_url = configured_redis_url(config)
    if redis_url and redis_url.partition("://")[0] not in _REDIS_SCHEMES:
        where = "--oxbot-redis-url" if config.getoption("--oxbot-redis-url") else REDIS_ENV
        raise usage.usage_error(where, f"{redact_url(redis_url)} is not a redis://, rediss:// or unix:// URL")
    db_url = configured_database_url(config)
    if db_url and not db_url.partition("://")[0].replace("+", "").replace("_", "").isalnum():
        where = "--oxbot-database-url" if config.getoption("--oxbot-database-url") else DATABASE_ENV
        raise usage.usage_error(
            where, f"{redact_url(db_url)} is not an SQLAlchemy URL (dialect+driver://...)"
        )


def describe(config: pytest.Config) -> str:
    """The backends' fragment of the plugin's one header line (credentials removed)."""
    redis_url = configured_redis_url(config)
    db_url = configured_database_url(config)
    required = ", real backends required" if real_backends_required() else ""
    return (
        f"redis={redact_url(redis_url) or 'fakeredis'}, "
        f"database={redact_url(db_url) or 'sqlite in tmp_path'}{required}"
    )


@pytest.fixture
def oxbot_clock() -> FakeClock:
    """A clock that only moves when the test calls `advance(seconds)`."""
    return FakeClock()


@pytest.fixture
def oxbot_key_prefix() -> str:
    """A prefix unique to this test; every Redis key a test writes must start with it."""
    return f"oxbot-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def oxbot_redis_url(request: pytest.FixtureRequest) -> str | None:
    return configured_redis_url(request.config)


@pytest.fixture
def oxbot_database_url(request: pytest.FixtureRequest) -> str | None:
    return configured_database_url(request.config)


async def _real_redis(url: str, prefix: str) -> AsyncIterator[Redis | RedisCluster]:
    from pytest_oxbot.connections import make_redis_client

    client = make_redis_client(url)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        unavailable(f"Redis at {redact_url(url)}", f"unreachable ({type(exc).__name__}: {exc})")
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
        for i in range(0, len(keys), 500):
            await client.unlink(*keys[i : i + 500])
        await client.aclose()


async def _counted_redis(request: pytest.FixtureRequest, client: Any) -> AsyncIterator[Any]:
    """Yield `client`, then report the commands and round trips the test sent through it."""
    from pytest_oxbot.kpi.redis_counts import count_redis

    with count_redis(client) as counts:
        yield client
    if counts.commands:
        report(request.node, "redis_commands", counts.commands, source="oxbot_redis")
        report(request.node, "redis_round_trips", counts.round_trips, source="oxbot_redis")


@pytest_asyncio.fixture
async def oxbot_redis(
    request: pytest.FixtureRequest, oxbot_redis_url: str | None, oxbot_key_prefix: str
) -> AsyncIterator[Any]:
    """An async Redis client: fakeredis (a fresh server per test) or the configured real server.

    On a real server the test must keep to `oxbot_key_prefix`; those keys are deleted at teardown.
    Reports `redis_commands` / `redis_round_trips` at teardown when the test sent any.
    """
    if oxbot_redis_url:
        async for client in _real_redis(oxbot_redis_url, oxbot_key_prefix):
            async for counted in _counted_redis(request, client):
                yield counted
        return
    from fakeredis import FakeServer
    from fakeredis.aioredis import FakeRedis

    client = FakeRedis(server=FakeServer(), max_connections=10_000)
    async for counted in _counted_redis(request, client):
        yield counted
    await client.aclose()


@pytest_asyncio.fixture
async def oxbot_real_redis(oxbot_redis_url: str | None, oxbot_key_prefix: str) -> AsyncIterator[Any]:
    """The configured real Redis; the test is skipped (or failed in CI) when there is none."""
    if not oxbot_redis_url:
        unavailable("real Redis", f"no --oxbot-redis-url / {REDIS_ENV} given")
    async for client in _real_redis(oxbot_redis_url, oxbot_key_prefix):
        yield client


async def _real_db(url: str) -> AsyncIterator[AsyncEngine]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    schema = f"oxbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url)
    try:
        async with admin.begin() as conn:
            if admin.dialect.name == "postgresql":
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        await admin.dispose()
        unavailable(f"database at {redact_url(url)}", f"unreachable ({type(exc).__name__}: {exc})")
    if admin.dialect.name != "postgresql":
        engine = admin  # another server: no schema isolation, tables must be unique per test
        yield engine
        await engine.dispose()
        return
    if admin.dialect.driver == "asyncpg":
        engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    else:
        engine = create_async_engine(url).execution_options(schema_translate_map={None: schema})
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


async def _counted_db(request: pytest.FixtureRequest, engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Yield `engine`, then report the SQL statements the test executed on it."""
    from pytest_oxbot.kpi.sql_counts import count_sql

    with count_sql(engine) as counts:
        yield engine
    if counts.statements:
        report(request.node, "sql_statements", counts.statements, source="oxbot_db")


@pytest_asyncio.fixture
async def oxbot_db(
    request: pytest.FixtureRequest, oxbot_database_url: str | None, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """An SQLAlchemy AsyncEngine: an SQLite file in tmp_path, or the configured server in a fresh schema.

    Reports `sql_statements` at teardown when the test executed any.
    """
    if oxbot_database_url:
        async for engine in _real_db(oxbot_database_url):
            async for counted in _counted_db(request, engine):
                yield counted
        return
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'oxbot.sqlite3'}")
    async for counted in _counted_db(request, engine):
        yield counted
    await engine.dispose()


@pytest_asyncio.fixture
async def oxbot_real_db(oxbot_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    """The configured real database in a fresh schema; skipped (or failed in CI) when there is none."""
    if not oxbot_database_url:
        unavailable("real database", f"no --oxbot-database-url / {DATABASE_ENV} given")
    async for engine in _real_db(oxbot_database_url):
        yield engine
