"""The one place that builds Redis clients and SQL engines, for the cache, the budget, the plugin and users.

Why one place: a Redis client for a cache must fail fast (redis-py's defaults retry for seconds while a
server is down) and never error for want of a connection; an engine needs 0xBot's pool settings, the
async driver, WAL on SQLite and schema isolation on a shared PostgreSQL. Written three times, those rules
drifted apart; here they are written once. Nothing connects at construction: a client or engine made
outside an event loop binds to none.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any, Final

from pytest_oxbot.errors import SettingsError, require

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "DEFAULT_POOL",
    "PoolSettings",
    "async_url",
    "check_database_url",
    "check_redis_url",
    "eviction_policy",
    "make_engine",
    "make_fake_redis",
    "make_redis_client",
    "probe_database",
    "probe_redis",
    "unique_schema_name",
]

REDIS_SCHEMES: Final = ("redis", "rediss", "unix", "redis+cluster")
_ASYNC_DRIVERS: Final = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}
_KNOWN_ASYNC: Final = {"postgresql+asyncpg", "postgresql+psycopg", "sqlite+aiosqlite"}
_FAKE_MAX_CONNECTIONS: Final = 10_000
_CLUSTER_MAX_CONNECTIONS: Final = 2**31  # no cap: see make_redis_client


class PoolSettings:
    """0xBot's database pool (DB_POOL_SIZE=20, DB_MAX_OVERFLOW=30, DB_POOL_TIMEOUT=30)."""

    __slots__ = ("max_overflow", "pool_size", "pool_timeout")

    def __init__(self, pool_size: int = 20, max_overflow: int = 30, pool_timeout: float = 30.0) -> None:
        if pool_size < 1 or max_overflow < 0 or not 0 < pool_timeout < float("inf"):
            raise SettingsError(
                f"pool needs pool_size >= 1, max_overflow >= 0 and a finite pool_timeout > 0, got "
                f"{pool_size}, {max_overflow}, {pool_timeout}"
            )
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        self.pool_timeout = pool_timeout

    def __repr__(self) -> str:
        return f"PoolSettings({self.pool_size}, {self.max_overflow}, {self.pool_timeout})"


DEFAULT_POOL: Final = PoolSettings()


def check_redis_url(url: str, *, name: str = "redis URL") -> str:
    """`url` if redis-py can use it; else a `SettingsError` naming `name` (never showing the password)."""
    from pytest_oxbot._urls import redact_url

    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in REDIS_SCHEMES or not rest.strip("/"):
        raise SettingsError(
            f"{name}={redact_url(url)!r}: not a Redis URL; expected redis://host:port/db (or rediss://, "
            "unix://, redis+cluster://)"
        )
    return url


def check_database_url(url: str, *, name: str = "database URL") -> str:
    """`url` if SQLAlchemy can open it with an async driver; else a `SettingsError` naming `name`."""
    from sqlalchemy.exc import ArgumentError

    from pytest_oxbot._urls import redact_url

    try:
        parsed = async_url(url)
    except ArgumentError:
        raise SettingsError(
            f"{name}={redact_url(url)!r}: not a database URL; expected postgresql+asyncpg://user@host/db "
            "or sqlite+aiosqlite:///path"
        ) from None
    if parsed.drivername not in _KNOWN_ASYNC:
        raise SettingsError(
            f"{name}={redact_url(url)!r}: driver {parsed.drivername!r} is not an async driver this package "
            "supports; use postgresql+asyncpg:// (or postgresql://) or sqlite+aiosqlite://"
        )
    return url


def async_url(url: str | URL) -> URL:
    """The URL with the async driver (`postgresql://` and `postgres://` become `postgresql+asyncpg://`)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def make_redis_client(
    url: str, *, cluster: bool = False, socket_timeout: float = 2.0, max_connections: int | None = None
) -> Redis | RedisCluster:
    """A `redis.asyncio` client that fails fast and never errors for want of a connection.

    redis-py's defaults retry 3 times with exponential backoff (seconds while a server is down) and
    raise MaxConnectionsError past 100 concurrent commands; a cache wants neither. A server's pool
    queues for one of `max_connections` (default 256). redis-py's cluster client cannot queue (a full
    node pool raises), so by default it gets no per-node cap: a node has at most as many connections
    as commands were ever in flight to it at once. An explicit `max_connections` caps each node.
    `redis+cluster://` means `cluster=True`.
    """
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.cluster import RedisCluster
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    check_redis_url(url)
    if url.startswith("redis+cluster://"):
        url, cluster = "redis://" + url[len("redis+cluster://") :], True
    retry = Retry(NoBackoff(), 1)
    timeouts = {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout}
    if cluster:
        per_node = _CLUSTER_MAX_CONNECTIONS if max_connections is None else max_connections
        return RedisCluster.from_url(url, retry=retry, max_connections=per_node, **timeouts)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=256 if max_connections is None else max_connections,
        timeout=socket_timeout,
        retry=retry,
        **timeouts,
    )
    return Redis.from_pool(pool)


async def eviction_policy(client: Redis | RedisCluster, *, within: float = 5.0) -> str | None:
    """The server's `maxmemory-policy` (e.g. "noeviction", "allkeys-lru"), or None when unknown.

    Reads `CONFIG GET maxmemory-policy`; where CONFIG is disabled or renamed (managed services often
    do that) it falls back to `INFO memory`. None when neither answers within `within` seconds (a
    server down, fakeredis): the caller decides what unknown means. Never raises for a failed read.
    Under an `allkeys-*` policy Redis may evict any key, not only those with a TTL.
    """
    import asyncio

    async def read() -> str | None:
        try:
            config = await client.config_get("maxmemory-policy")
        except Exception:  # disabled, renamed, no permission: try INFO
            config = {}
        found = _policy_in(config, "maxmemory-policy")
        if found is not None:
            return found
        try:
            info = await client.info("memory")
        except Exception:
            return None
        return _policy_in(info, "maxmemory_policy")

    try:
        async with asyncio.timeout(within):
            return await read()
    except TimeoutError:
        return None


def _policy_in(reply: Any, field: str) -> str | None:
    """The policy in a CONFIG GET or INFO reply (a cluster client may answer per node: any node's)."""
    if not isinstance(reply, dict):
        return None
    value = reply.get(field, reply.get(field.encode()))
    if value is None:
        nested = [_policy_in(v, field) for v in reply.values() if isinstance(v, dict)]
        return next((p for p in nested if p is not None), None)
    return value.decode() if isinstance(value, bytes) else str(value)


def make_fake_redis(server: Any = None) -> Redis:
    """A fakeredis client on its own in-process server (or on `server`, to share one between clients)."""
    from fakeredis import FakeServer
    from fakeredis.aioredis import FakeRedis

    client: Redis = FakeRedis(server=server or FakeServer(), max_connections=_FAKE_MAX_CONNECTIONS)
    return client


def make_engine(
    url: str | URL,
    *,
    schema: str | None = None,
    pool: PoolSettings = DEFAULT_POOL,
    **kwargs: Any,
) -> AsyncEngine:
    """An async engine: SQLite (WAL, one shared connection when in memory) or a server with `pool`.

    `schema` isolates every unqualified table name in that PostgreSQL schema (asyncpg's `search_path`;
    other drivers get a schema translate map); it must exist before use.
    """
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import StaticPool

    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        if schema is not None:
            raise SettingsError("a schema applies to PostgreSQL only")
        database = parsed.database
        if database in (None, "", ":memory:") or "mode=memory" in str(parsed):
            kwargs.setdefault("poolclass", StaticPool)
        engine = create_async_engine(parsed, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql+asyncpg":
        require("asyncpg", feature="PostgreSQL engines", extra="postgres")  # names the extra to install
    options: dict[str, Any] = {
        "pool_size": pool.pool_size,
        "max_overflow": pool.max_overflow,
        "pool_timeout": pool.pool_timeout,
        "pool_pre_ping": True,
    }
    if schema is not None and parsed.drivername == "postgresql+asyncpg":
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("server_settings", {})["search_path"] = schema
        options["connect_args"] = connect_args
    options.update(kwargs)
    engine = create_async_engine(parsed, **options)
    if schema is not None and parsed.drivername != "postgresql+asyncpg":
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; NORMAL sync is the documented safe pairing with WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def unique_schema_name(prefix: str = "oxbot") -> str:
    """A fresh schema name, so concurrent runs on one shared server never see each other's tables."""
    return f"{prefix}_{secrets.token_hex(6)}"


async def probe_database(url: str | URL, *, within_s: float = 5.0) -> str | None:
    """Why the database at `url` cannot be used (None when it answers), never raising, never the password."""
    from sqlalchemy import text

    from pytest_oxbot._urls import redact_url

    shown = redact_url(str(url))
    try:
        engine = make_engine(url)
    except Exception as exc:
        return f"{shown}: {type(exc).__name__}: {exc}"
    try:
        async with asyncio.timeout(within_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"{shown} unreachable: {_scrubbed(exc, str(url))}"
    finally:
        await engine.dispose()
    return None


async def probe_redis(url: str, *, within_s: float = 5.0) -> str | None:
    """Why the Redis at `url` cannot be used (None when it answers PING), never raising or showing secrets."""
    from pytest_oxbot._urls import redact_url

    shown = redact_url(url)
    try:
        client = make_redis_client(url, socket_timeout=within_s)
    except Exception as exc:
        return f"{shown}: {type(exc).__name__}: {exc}"
    try:
        async with asyncio.timeout(within_s):
            await client.ping()
    except Exception as exc:
        return f"{shown} unreachable: {_scrubbed(exc, url)}"
    finally:
        await client.aclose()
    return None


def _scrubbed(exc: BaseException, url: str) -> str:
    """`Type: message` of a driver error with the URL's password (if any) blanked out."""
    from urllib.parse import unquote, urlsplit

    text = f"{type(exc).__name__}: {exc}"
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    for secret in {password, unquote(password or "")} - {None, ""}:
        text = text.replace(str(secret), "***")
    return text
