"""A fresh trading database per test: SQLite always, the real PostgreSQL when OXBOT_DATABASE_URL is set."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from pytest_oxbot.db import Database, probe, unique_schema_name


async def real_database_url() -> str:
    """The configured PostgreSQL URL, or skip (fail under OXBOT_REQUIRE_REAL_BACKENDS=1) with the reason."""
    required = os.environ.get("OXBOT_REQUIRE_REAL_BACKENDS") == "1"
    url = os.environ.get("OXBOT_DATABASE_URL")
    problem = None
    if not url:
        problem = "OXBOT_DATABASE_URL is not set"
    elif make_url(url).get_backend_name() != "postgresql":
        problem = "OXBOT_DATABASE_URL is not a PostgreSQL URL"
    else:
        problem = await probe(url)
    if problem is None and url:
        return url
    if required:
        pytest.fail(f"OXBOT_REQUIRE_REAL_BACKENDS=1 and PostgreSQL is unusable: {problem}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {problem}")


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """Tables created in a throw-away SQLite file or a unique PostgreSQL schema, dropped afterwards."""
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'oxbot.db'}")
    else:
        database = Database(await real_database_url(), schema=unique_schema_name("oxbot_test"))
    await database.create_tables()
    try:
        yield database
    finally:
        await database.drop()
        await database.dispose()
