"""One object that owns an async engine, its sessions and the trading tables, on SQLite or PostgreSQL.

Tests and benchmarks share a real PostgreSQL with other runs, so a `Database` can live in its own
schema (created by `create_tables`, dropped by `drop`): every unqualified table name then resolves there
through the connection's `search_path`. Nothing connects until first use, so constructing one outside an
event loop (at import, in a fixture factory) binds it to no loop.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from pytest_oxbot.db.models import Base
from pytest_oxbot.settings import Settings, get_settings

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


def unique_schema_name(prefix: str = "oxbot") -> str:
    """A fresh schema name, so concurrent runs on one server never see each other's tables."""
    return f"{prefix}_{secrets.token_hex(6)}"


def async_url(url: str | URL) -> URL:
    """The URL with the async driver this package uses (`postgresql://` becomes `postgresql+asyncpg://`)."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


class Database:
    """Engine + session factory + table lifecycle for the trading tables."""

    def __init__(
        self, url: str | URL, *, schema: str | None = None, settings: Settings | None = None
    ) -> None:
        self.url = async_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ValueError(f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL")
        if schema is not None:
            if self.dialect != "postgresql":
                raise ValueError("a schema applies to PostgreSQL only")
            if not _SCHEMA_NAME.match(schema):
                raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
        self.schema = schema
        self.engine: AsyncEngine = self._make_engine(settings or get_settings())
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    def _make_engine(self, settings: Settings) -> AsyncEngine:
        if self.dialect == "sqlite":
            database = self.url.database
            in_memory = database in (None, "", ":memory:") or "mode=memory" in str(self.url)
            kwargs: dict[str, Any] = {"poolclass": StaticPool} if in_memory else {}
            engine = create_async_engine(self.url, **kwargs)
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            return engine
        connect_args: dict[str, Any] = {}
        if self.schema is not None:
            connect_args["server_settings"] = {"search_path": self.schema}
        return create_async_engine(
            self.url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_pre_ping=True,
            connect_args=connect_args,
        )

    async def create_tables(self) -> None:
        """Create the schema (if any) and the tables with their indexes; idempotent."""
        async with self.engine.begin() as conn:
            if self.schema is not None:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await conn.run_sync(Base.metadata.create_all)

    async def analyze(self) -> None:
        """Refresh planner statistics (after a bulk load the planner otherwise guesses)."""
        async with self.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))

    async def drop(self) -> None:
        """Remove what `create_tables` made: the whole schema on PostgreSQL, the tables on SQLite."""
        async with self.engine.begin() as conn:
            if self.schema is not None:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            else:
                await conn.run_sync(Base.metadata.drop_all)

    async def dispose(self) -> None:
        """Close the pool's connections (call before the event loop closes)."""
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r}, schema={self.schema!r})"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; NORMAL sync is the documented safe pairing with WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def probe(url: str | URL, *, within_s: float = 5.0) -> str | None:
    """Why the database at `url` cannot be used (None when it answers), without raising.

    Callers decide what an unreachable server means (a test skips, CI fails); the message never
    carries the password.
    """
    db = Database(url)
    try:
        async with asyncio.timeout(within_s), db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        shown = db.url.render_as_string(hide_password=True)
        return f"{shown} unreachable: {type(exc).__name__}: {exc}"
    finally:
        await db.dispose()
    return None
