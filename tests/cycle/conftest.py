"""A throw-away SQLite trading database for cycle tests (the cycle's PostgreSQL path runs in benchmarks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from pytest_oxbot.db import Database


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'cycle.db'}")
    await database.create_tables()
    try:
        yield database
    finally:
        await database.dispose()
