"""Shared benchmark fixtures: the databases the suite measures on (SQLite always, PostgreSQL when set)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from pytest_oxbot.db import Database, probe, unique_schema_name

REQUIRE_REAL = os.environ.get("OXBOT_REQUIRE_REAL_BACKENDS") == "1"


def _unusable(reason: str) -> None:
    if REQUIRE_REAL:
        pytest.fail(f"OXBOT_REQUIRE_REAL_BACKENDS=1 and {reason}", pytrace=False)
    pytest.skip(reason)


async def postgres_url() -> str:
    """OXBOT_DATABASE_URL if it is a reachable PostgreSQL; else skip (fail if real backends are required)."""
    url = os.environ.get("OXBOT_DATABASE_URL")
    if not url:
        _unusable("OXBOT_DATABASE_URL is not set: PostgreSQL figures not measured")
    assert url is not None
    if make_url(url).get_backend_name() != "postgresql":
        _unusable("OXBOT_DATABASE_URL is not a PostgreSQL URL")
    problem = await probe(url)
    if problem:
        _unusable(f"PostgreSQL unusable: {problem}")
    return url


async def redis_url() -> str | None:
    """OXBOT_REDIS_URL when set and answering; None when unset (fail if set but down, or required)."""
    url = os.environ.get("OXBOT_REDIS_URL")
    if not url:
        if REQUIRE_REAL:
            pytest.fail("OXBOT_REQUIRE_REAL_BACKENDS=1 but OXBOT_REDIS_URL is not set", pytrace=False)
        return None
    import redis.asyncio as redis

    client = redis.from_url(url, socket_connect_timeout=5)
    try:
        await client.ping()
    except Exception as exc:
        pytest.fail(
            f"OXBOT_REDIS_URL is set but Redis does not answer: {type(exc).__name__}: {exc}", pytrace=False
        )
    finally:
        await client.aclose()
    return url


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def bench_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """Empty trading tables in a throw-away SQLite file or a unique PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}")
    else:
        db = Database(await postgres_url(), schema=unique_schema_name("oxbot_bench"))
    await db.create_tables()
    try:
        yield db
    finally:
        await db.drop()
        await db.dispose()
