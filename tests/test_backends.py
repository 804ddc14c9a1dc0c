"""The backend and cache fixtures, run in an inner pytest session (pytester)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

# Imported here, not first inside an inner run: pytester's in-process runs drop the modules they
# imported, and re-importing asyncpg's Cython protocol module later crashes the interpreter.
pytest.importorskip("asyncpg")
pytest.importorskip("sqlalchemy.dialects.postgresql.asyncpg")

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


@pytest.fixture
def real_urls(request: pytest.FixtureRequest) -> tuple[str | None, str | None]:
    """The outer run's real servers, read before `inner` hides them from the inner runs."""
    from pytest_oxbot._plugin.backends import configured_database_url, configured_redis_url

    return configured_redis_url(request.config), configured_database_url(request.config)


@pytest.fixture
def inner(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, real_urls: tuple[str | None, str | None]
) -> pytest.Pytester:
    pytester.makeini(INI)
    for name in ("OXBOT_REDIS_URL", "OXBOT_DATABASE_URL", "OXBOT_REQUIRE_REAL_BACKENDS"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def test_oxbot_cache_reports_its_hit_rate_at_teardown(inner: pytest.Pytester) -> None:
    inner.makeconftest(
        """
        import json, pytest
        from pytest_oxbot._plugin.kpi_sink import reported

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_teardown(item):
            yield
            with open("kpis.jsonl", "a") as f:
                kpis = [(k.name, k.value, k.source) for k in reported(item)]
                f.write(json.dumps({item.name: kpis}) + "\\n")
        """
    )
    inner.makepyfile(
        """
        async def test_lookups(oxbot_cache, oxbot_clock):
            await oxbot_cache.set("a", 1)
            assert await oxbot_cache.get("a") == 1
            oxbot_clock.advance(31)
            assert await oxbot_cache.get("a") == 1
            assert await oxbot_cache.get("b") is None

        async def test_no_lookup(oxbot_cache):
            await oxbot_cache.set("a", 1)
        """
    )
    inner.runpytest().assert_outcomes(passed=2)
    lines = [json.loads(line) for line in Path(inner.path, "kpis.jsonl").read_text().splitlines()]
    got = {k: v for line in lines for k, v in line.items()}
    lookups = {name: (value, source) for name, value, source in got["test_lookups"]}
    assert lookups["cache_hit_rate"] == (pytest.approx(2 / 3), "cache")
    # oxbot_redis and oxbot_db, under the cache, report the I/O the test did as exact counts.
    assert lookups["redis_commands"][0] >= lookups["redis_round_trips"][0] > 0
    assert lookups["sql_statements"][0] > 0
    assert "cache_hit_rate" not in {name for name, _, _ in got["test_no_lookup"]}


def test_fakeredis_and_sqlite_are_fresh_for_each_test(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import pytest
        from sqlalchemy import text

        @pytest.mark.parametrize("run", [1, 2])
        async def test_isolated(oxbot_redis, oxbot_db, oxbot_key_prefix, run):
            assert await oxbot_redis.dbsize() == 0
            await oxbot_redis.set(oxbot_key_prefix + "k", run)
            async with oxbot_db.begin() as conn:
                await conn.execute(text("CREATE TABLE t (x INTEGER)"))  # fails if the file were shared
            assert oxbot_db.dialect.name == "sqlite"
        """
    )
    inner.runpytest().assert_outcomes(passed=2)


@pytest.mark.parametrize(
    "option",
    [
        "--oxbot-redis-url=redis://127.0.0.1:1/0",
        "--oxbot-database-url=postgresql+asyncpg://u:secret@127.0.0.1:1/x",
    ],
)
def test_unreachable_server_skips_locally_and_fails_when_required(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    inner.makepyfile(
        """
        async def test_uses_backends(oxbot_redis, oxbot_db):
            pass
        """
    )
    result = inner.runpytest(option, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*unreachable*"])
    assert "secret" not in result.stdout.str()  # the password is redacted in reasons and header
    monkeypatch.setenv("OXBOT_REQUIRE_REAL_BACKENDS", "1")
    inner.runpytest(option).assert_outcomes(errors=1)


def test_real_only_fixtures_skip_without_urls(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        async def test_redis(oxbot_real_redis):
            pass

        async def test_db(oxbot_real_db):
            pass
        """
    )
    result = inner.runpytest("-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*no --oxbot-redis-url / OXBOT_REDIS_URL given*"])


def test_real_redis_keys_of_the_test_are_removed(
    inner: pytest.Pytester, real_urls: tuple[str | None, str | None]
) -> None:
    from pytest_oxbot._plugin.backends import unavailable

    url = real_urls[0]
    if not url:
        unavailable("real Redis", "no --oxbot-redis-url / OXBOT_REDIS_URL given")
    inner.makepyfile(
        """
        async def test_write(oxbot_redis, oxbot_key_prefix):
            await oxbot_redis.set(oxbot_key_prefix + "a", 1)
            await oxbot_redis.set(oxbot_key_prefix + "b", 2)
            open("prefix.txt", "w").write(oxbot_key_prefix)
        """
    )
    inner.runpytest(f"--oxbot-redis-url={url}").assert_outcomes(passed=1)
    prefix = Path(inner.path, "prefix.txt").read_text()

    async def leftovers() -> list[bytes]:
        from pytest_oxbot.connections import make_redis_client

        client = make_redis_client(url)
        try:
            return [k async for k in client.scan_iter(match=prefix + "*")]
        finally:
            await client.aclose()

    assert asyncio.run(leftovers()) == []


def test_real_database_schema_is_dropped(
    inner: pytest.Pytester, real_urls: tuple[str | None, str | None]
) -> None:
    from pytest_oxbot._plugin.backends import unavailable

    url = real_urls[1]
    if not url:
        unavailable("real database", "no --oxbot-database-url / OXBOT_DATABASE_URL given")
    inner.makepyfile(
        """
        from sqlalchemy import text

        async def test_schema(oxbot_db):
            async with oxbot_db.begin() as conn:
                schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
                await conn.execute(text("CREATE TABLE positions (id INTEGER)"))
            assert schema.startswith("oxbot_test_")
            open("schema.txt", "w").write(schema)
        """
    )
    inner.runpytest(f"--oxbot-database-url={url}").assert_outcomes(passed=1)
    schema = Path(inner.path, "schema.txt").read_text()

    async def exists() -> bool:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                found = await conn.execute(
                    text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
                )
                return found.first() is not None
        finally:
            await engine.dispose()

    assert not asyncio.run(exists())
