"""Shared benchmark fixtures: which real backends this run uses, and the databases the suite measures on.

OXBOT_DATABASE_URL / OXBOT_REDIS_URL (or `--oxbot-database-url` / `--oxbot-redis-url`) switch the suite
onto the real PostgreSQL and Redis. A variable that
is set but names a server that does not answer fails the run (measuring something else instead would be
a silent lie); under OXBOT_REQUIRE_REAL_BACKENDS=1 (CI) an unset variable fails too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from benchmarks.reference_bot import Database
from pytest_oxbot._plugin.backends import (
    configured_database_url,
    configured_redis_url,
    real_backends_required,
)
from pytest_oxbot.connections import probe_database, probe_redis, unique_schema_name


@dataclass(frozen=True)
class Backends:
    """The real servers of this run (None: the embedded stand-in, SQLite or fakeredis)."""

    database_url: str | None
    redis_url: str | None


async def _check(database_url: str | None, redis_url: str | None) -> list[str]:
    problems = []
    if database_url:
        if make_url(database_url).get_backend_name() != "postgresql":
            problems.append("OXBOT_DATABASE_URL is not a PostgreSQL URL")
        elif problem := await probe_database(database_url):
            problems.append(f"OXBOT_DATABASE_URL: {problem}")
    if redis_url and (problem := await probe_redis(redis_url)):
        problems.append(f"OXBOT_REDIS_URL: {problem}")
    return problems


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Name the backends in the test id, so a baseline keeps one entry per backend pair.

    Timings on PostgreSQL and on SQLite are different facts, not a regression of one another.
    """
    if "backend_label" in metafunc.fixturenames:
        database = "postgresql" if configured_database_url(metafunc.config) else "sqlite"
        cache = "redis" if configured_redis_url(metafunc.config) else "fakeredis"
        metafunc.parametrize("backend_label", [f"{database}+{cache}"])


@pytest.fixture(scope="session")
def backends(pytestconfig: pytest.Config) -> Backends:
    """From `--oxbot-database-url` / `--oxbot-redis-url` or the environment, checked once per session."""
    database_url = configured_database_url(pytestconfig)
    redis_url = configured_redis_url(pytestconfig)
    problems = asyncio.run(_check(database_url, redis_url))
    if real_backends_required():
        problems += [f"OXBOT_REQUIRE_REAL_BACKENDS=1 but {name} is not set"
                     for name, url in (("OXBOT_DATABASE_URL", database_url), ("OXBOT_REDIS_URL", redis_url))
                     if not url]  # fmt: skip
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)
    return Backends(database_url, redis_url)


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def bench_db(
    request: pytest.FixtureRequest, backends: Backends, tmp_path: Path
) -> AsyncIterator[Database]:
    """Empty trading tables in a throw-away SQLite file or a unique PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}")
    elif backends.database_url is None:
        pytest.skip("OXBOT_DATABASE_URL is not set: PostgreSQL figures not measured")
    else:
        db = Database(backends.database_url, schema=unique_schema_name("oxbot_bench"))
    await db.create_tables()
    try:
        yield db
    finally:
        await db.drop()
        await db.dispose()
