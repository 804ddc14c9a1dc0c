"""The SQL history store (SQLite or PostgreSQL through `connections.make_engine`), for years of runs.

One table, `oxbot_history_runs`: an id in insertion order, the commit, branch and timestamp as columns
(to filter in SQL by hand) and the whole record as JSON text, the same document a JSONL line holds.
Retention is the JSONL store's: after each insert only the newest `max_runs` rows are kept. The engine
factory is async; the synchronous methods run the coroutine on a private event loop (in a thread when
the caller is inside a running loop), so the plugin's session-finish hook can call them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_oxbot._json import strict_loads
from pytest_oxbot._urls import redact_url
from pytest_oxbot.kpi.history.record import HistoryError, RunRecord

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncEngine

TABLE = "oxbot_history_runs"
T = TypeVar("T")


def _table() -> Table:
    from sqlalchemy import Column, Integer, MetaData, String, Table, Text

    return Table(
        TABLE,
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("commit_sha", String(64), nullable=True, index=True),
        Column("branch", String(255), nullable=True),
        Column("recorded_at", String(32), nullable=False),
        Column("record", Text, nullable=False),
    )


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion from synchronous code, inside a running event loop or not."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class SqlStore:
    def __init__(self, url: str, max_runs: int, *, schema: str | None = None) -> None:
        if max_runs < 1:
            raise HistoryError(f"history {redact_url(url)}: max_runs must be at least 1, not {max_runs}")
        self.url = url
        self.max_runs = max_runs
        self.schema = schema

    @property
    def where(self) -> str:
        return str(redact_url(self.url))

    def __repr__(self) -> str:
        return f"SqlStore({self.where!r}, max_runs={self.max_runs})"

    def _engine(self) -> AsyncEngine:
        from pytest_oxbot.connections import PoolSettings, make_engine

        try:
            return make_engine(self.url, schema=self.schema, pool=PoolSettings(1, 0, 30.0))
        except Exception as exc:  # a bad URL or a missing driver: name the store, never the password
            raise HistoryError(f"history {self.where}: {type(exc).__name__}: {exc}") from None

    async def append_async(self, record: RunRecord) -> int:
        from sqlalchemy import delete, select

        table = _table()
        text = json.dumps(record.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        engine = self._engine()
        try:
            async with engine.begin() as conn:
                await conn.run_sync(table.metadata.create_all, checkfirst=True)
                await conn.execute(
                    table.insert().values(
                        commit_sha=record.commit,
                        branch=record.branch,
                        recorded_at=record.timestamp,
                        record=text,
                    )
                )
                newest_dropped = (
                    await conn.execute(
                        select(table.c.id).order_by(table.c.id.desc()).offset(self.max_runs).limit(1)
                    )
                ).scalar()
                if newest_dropped is None:
                    return 0
                result = await conn.execute(delete(table).where(table.c.id <= newest_dropped))
                return int(result.rowcount or 0)
        except HistoryError:
            raise
        except Exception as exc:
            raise HistoryError(f"history {self.where} cannot be written: {self._brief(exc)}") from None
        finally:
            await engine.dispose()

    async def read_async(self, *, strict: bool = False) -> tuple[list[RunRecord], list[str]]:
        from sqlalchemy import inspect, select

        table = _table()
        engine = self._engine()
        try:
            async with engine.connect() as conn:
                exists = await conn.run_sync(lambda sync: inspect(sync).has_table(TABLE))
                if not exists:
                    raise HistoryError(
                        f"history {self.where} holds no {TABLE} table (record runs with --oxbot-history)"
                    )
                rows = (await conn.execute(select(table.c.id, table.c.record).order_by(table.c.id))).all()
        except HistoryError:
            raise
        except Exception as exc:
            raise HistoryError(f"history {self.where} cannot be read: {self._brief(exc)}") from None
        finally:
            await engine.dispose()
        records: list[RunRecord] = []
        problems: list[str] = []
        for row_id, text in rows:
            try:
                records.append(RunRecord.from_dict(strict_loads(text)))
            except ValueError as exc:  # not JSON, NaN/Infinity, too deep, or not a record
                problems.append(f"{self.where} {TABLE} id {row_id}: {exc}")
        if strict and problems:
            raise HistoryError(problems[0])
        return records, problems

    def append(self, record: RunRecord) -> int:
        """Add `record`; returns how many older runs retention dropped."""
        return run_sync(self.append_async(record))

    def read(self, *, strict: bool = False) -> tuple[list[RunRecord], list[str]]:
        """Records oldest first, and one problem per unreadable row."""
        return run_sync(self.read_async(strict=strict))

    def _brief(self, exc: BaseException) -> str:
        """A driver error's first line, the URL's password blanked out."""
        from pytest_oxbot.connections import _scrubbed

        return (_scrubbed(exc, self.url).splitlines() or [""])[0]
