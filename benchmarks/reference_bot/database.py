"""One object that owns an async engine, its sessions and the trading tables, on SQLite or PostgreSQL.

Tests and benchmarks share a real PostgreSQL with other runs, so a `Database` can live in its own
schema (created by `create_tables`, dropped by `drop`): every unqualified table name then resolves there
through the connection's `search_path`. Nothing connects until first use, so constructing one outside an
event loop (at import, in a fixture factory) binds it to no loop.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from pytest_oxbot.connections import DEFAULT_POOL, PoolSettings, async_url, make_engine

from .tables import Base

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Database:
    """Engine + session factory + table lifecycle for the reference bot's tables."""

    def __init__(
        self, url: str | URL, *, schema: str | None = None, pool: PoolSettings = DEFAULT_POOL
    ) -> None:
        self.url = async_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ValueError(f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL")
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
        self.schema = schema
        self.engine: AsyncEngine = make_engine(self.url, schema=schema, pool=pool)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    async def create_tables(self) -> None:
        """Create the schema (if any) and the tables with their indexes; idempotent."""
        async with self.engine.begin() as conn:
            if self.schema is not None:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await conn.run_sync(Base.metadata.create_all)

    async def analyze(self) -> None:
        """Refresh planner statistics (after a bulk load the planner otherwise guesses) of these tables
        only: a bare `ANALYZE` in a transaction locks every table of the database until it commits, and
        deadlocked with another run's index swap on its own schema (seen in CI, PostgreSQL)."""
        async with self.engine.begin() as conn:
            quote = conn.dialect.identifier_preparer.quote
            for table in Base.metadata.sorted_tables:
                await conn.execute(text(f"ANALYZE {quote(table.name)}"))

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
