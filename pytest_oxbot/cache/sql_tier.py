"""L3 on SQLAlchemy async (SQLite file by default, PostgreSQL via asyncpg): persistent, with expiry.

One table holds every namespace (`ns` column, indexed) so a namespace flush is one DELETE. Reads are
one SELECT ... WHERE key IN (...); writes one multi-row upsert (chunked only beyond `_CHUNK` rows, to
stay under the drivers' bound-parameter limits).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Float, Index, LargeBinary, MetaData, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from .errors import CacheUsageError
from .tiers import NO_DEADLINE, UNREADABLE, Stored

if TYPE_CHECKING:
    from .tiers import Tier

_CHUNK = 500
DEFAULT_TABLE = "oxbot_cache"


def cache_table(name: str = DEFAULT_TABLE) -> Table:
    """The table layout (a fresh MetaData per table so several caches can name their own)."""
    table = Table(
        name,
        MetaData(),
        Column("key", String(), primary_key=True),
        Column("ns", String(), nullable=False),
        Column("value", LargeBinary(), nullable=False),
        Column("expires_at", Float(), nullable=True),
    )
    Index(f"ix_{name}_ns", table.c.ns)
    return table


def _entry(value: Any, expires_at: Any) -> Stored:
    deadline = NO_DEADLINE if expires_at is None else float(expires_at)
    if deadline != deadline:  # NaN (PostgreSQL's float8 can hold one): not a deadline this cache wrote
        return UNREADABLE
    return Stored(bytes(value), deadline)


class SqlTier:
    """L3: expiry is stored per row and checked against the cache's clock by the caller."""

    name = "l3"

    def __init__(self, engine: AsyncEngine, *, prefix: str, table: str = DEFAULT_TABLE) -> None:
        self.engine = engine
        self.prefix = prefix
        self.table = cache_table(table)
        self._ready = False
        self._ready_lock: asyncio.Lock | None = None

    async def ensure_table(self) -> None:
        """Create the table once (safe when several processes race to do it)."""
        if self._ready:
            return
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if self._ready:
                return
            try:
                async with self.engine.begin() as conn:
                    await conn.run_sync(self.table.metadata.create_all, checkfirst=True)
            except SQLAlchemyError:
                # Another process may have created it between the check and the CREATE.
                async with self.engine.connect() as conn:
                    exists = await conn.run_sync(lambda c: c.dialect.has_table(c, self.table.name))
                if not exists:
                    raise
            self._ready = True

    async def get_many(self, keys: list[str]) -> dict[str, Stored]:
        await self.ensure_table()
        t = self.table
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(t.c.key, t.c.value, t.c.expires_at).where(t.c.key.in_(keys)))
            ).all()
        return {row[0]: _entry(row[1], row[2]) for row in rows}

    def _upsert(self, rows: list[dict[str, Any]], only_if_absent: bool) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            pg = postgresql.insert(self.table).values(rows)
            if only_if_absent:
                return pg.on_conflict_do_nothing(index_elements=["key"])
            return pg.on_conflict_do_update(
                index_elements=["key"],
                set_={"value": pg.excluded.value, "expires_at": pg.excluded.expires_at, "ns": pg.excluded.ns},
            )
        if dialect == "sqlite":
            lite = sqlite.insert(self.table).values(rows)
            if only_if_absent:
                return lite.on_conflict_do_nothing(index_elements=["key"])
            return lite.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "value": lite.excluded.value,
                    "expires_at": lite.excluded.expires_at,
                    "ns": lite.excluded.ns,
                },
            )
        raise CacheUsageError(f"L3 supports sqlite and postgresql, not {dialect!r}")

    async def set_many(self, items: list[tuple[str, Stored]], *, only_if_absent: bool = False) -> None:
        await self.ensure_table()
        rows = [
            {"key": k, "ns": self.prefix, "value": p, "expires_at": None if d == NO_DEADLINE else d}
            for k, (p, d) in items
        ]
        async with self.engine.begin() as conn:
            for i in range(0, len(rows), _CHUNK):
                await conn.execute(self._upsert(rows[i : i + _CHUNK], only_if_absent))

    async def delete_many(self, keys: list[str]) -> None:
        await self.ensure_table()
        async with self.engine.begin() as conn:
            await conn.execute(delete(self.table).where(self.table.c.key.in_(keys)))

    async def clear(self) -> None:
        await self.ensure_table()
        async with self.engine.begin() as conn:
            await conn.execute(delete(self.table).where(self.table.c.ns == self.prefix))

    async def purge_expired(self, now: float) -> int:
        """Delete this namespace's expired rows; returns how many went."""
        await self.ensure_table()
        t = self.table
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(t).where(t.c.ns == self.prefix, t.c.expires_at.is_not(None), t.c.expires_at <= now)
            )
        return int(result.rowcount or 0)

    async def aclose(self) -> None:
        await self.engine.dispose()


if TYPE_CHECKING:

    def _implements_the_protocol(tier: SqlTier) -> Tier[Stored]:
        return tier
