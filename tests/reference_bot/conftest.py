"""The reference bot's tables per test: SQLite always, the real PostgreSQL when OXBOT_DATABASE_URL is set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from benchmarks.reference_bot import Database
from pytest_oxbot._plugin.backends import configured_database_url, unavailable
from pytest_oxbot.connections import probe_database, unique_schema_name


async def real_database_url(config: pytest.Config) -> str:
    """The configured PostgreSQL URL, or skip (fail under OXBOT_REQUIRE_REAL_BACKENDS=1) with the reason."""
    url = configured_database_url(config)
    if not url:
        unavailable("PostgreSQL", "OXBOT_DATABASE_URL is not set")
    if make_url(url).get_backend_name() != "postgresql":
        unavailable("PostgreSQL", "OXBOT_DATABASE_URL is not a PostgreSQL URL")
    problem = await probe_database(url)
    if problem is not None:
        unavailable("PostgreSQL", problem)
    return url


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """Tables created in a throw-away SQLite file or a unique PostgreSQL schema, dropped afterwards."""
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'oxbot.db'}")
    else:
        database = Database(await real_database_url(request.config), schema=unique_schema_name("oxbot_test"))
    await database.create_tables()
    try:
        yield database
    finally:
        await database.drop()
        await database.dispose()


@pytest_asyncio.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """One SQLite database for replay tests (the cycle's PostgreSQL path runs in benchmarks)."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'cycle.db'}")
    await database.create_tables()
    try:
        yield database
    finally:
        await database.dispose()
