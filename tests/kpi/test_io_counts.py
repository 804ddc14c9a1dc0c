"""I/O as exact KPIs: one extra Redis round trip, one extra SQL statement or one dropped index fails the gate.

The counters are checked directly (what counts as a command, a round trip, a statement, a buffer), then
as a user meets them: a suite saves its baseline, one change is made, and `--oxbot-compare` fails exactly
the test that changed, naming the KPI, while the unchanged suite passes.
"""

from __future__ import annotations

import os

import pytest
from fakeredis import FakeServer
from fakeredis.aioredis import FakeRedis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.redis_counts import count_redis
from pytest_oxbot.kpi.sql_counts import count_sql

INI = """
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
"""
ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


async def test_redis_commands_and_round_trips_are_counted_at_the_client() -> None:
    client = FakeRedis(server=FakeServer())
    with count_redis(client) as counts:
        await client.set("a", 1)
        await client.get("a")
        async with client.pipeline(transaction=False) as pipe:
            pipe.set("b", 2).get("b").delete("a")
            await pipe.execute()
    assert (counts.commands, counts.round_trips) == (5, 3)
    # The client is left as it was: nothing counted after the block.
    await client.get("b")
    assert (counts.commands, counts.round_trips) == (5, 3)
    assert "execute_command" not in vars(client)
    await client.aclose()


def test_count_redis_refuses_what_is_not_a_client() -> None:
    with pytest.raises(KpiUsageError, match="redis-py client"), count_redis(object()):
        pass


async def test_sql_statements_are_counted_by_sqlalchemy_events(tmp_path: os.PathLike[str]) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/c.sqlite3")
    with count_sql(engine) as counts:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(
                text("INSERT INTO t VALUES (:x)"), [{"x": i} for i in range(10)]
            )  # executemany
            await conn.execute(text("SELECT x FROM t"))
    assert counts.statements == 3
    await engine.dispose()


REDIS_SUITE = """
async def test_cache_read(oxbot_redis, oxbot_key_prefix, oxbot_kpi):
    key = oxbot_key_prefix + "k"
    await oxbot_redis.set(key, "v")
    with oxbot_kpi.count_redis(oxbot_redis, prefix="read_"):
        async with oxbot_redis.pipeline(transaction=False) as pipe:
            pipe.get(key).ttl(key)
            await pipe.execute()
        {extra}

async def test_untouched(oxbot_redis, oxbot_kpi):
    with oxbot_kpi.count_redis(oxbot_redis):
        await oxbot_redis.ping()
"""


def test_an_extra_redis_round_trip_fails_exactly(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(INI)
    pytester.makepyfile(test_io=REDIS_SUITE.format(extra="pass"))
    assert pytester.runpytest_inprocess(*ARGS, "--oxbot-save-baseline").ret == 0
    assert pytester.runpytest_inprocess(*ARGS, "--oxbot-compare").ret == 0
    pytester.makepyfile(test_io=REDIS_SUITE.format(extra="await oxbot_redis.exists(key)"))
    result = pytester.runpytest_inprocess(*ARGS, "--oxbot-compare")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_cache_read _*",
            "KPI gate: read_redis_commands 3 commands regressed +50.0% vs baseline 2 commands",
            "KPI gate: read_redis_round_trips 2 round trips regressed +100.0% vs baseline 1 round trips",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR at teardown of test_untouched*")


SQL_SUITE = """
from sqlalchemy import text

async def test_positions(oxbot_db, oxbot_kpi):
    async with oxbot_db.begin() as conn:
        await conn.execute(text("CREATE TABLE positions (id INTEGER PRIMARY KEY, symbol TEXT)"))
        await conn.execute(text("INSERT INTO positions (symbol) VALUES ('BTC'), ('ETH'), ('SOL')"))
    with oxbot_kpi.count_sql(oxbot_db, name="open_positions_sql_statements"):
        async with oxbot_db.connect() as conn:
            ids = (await conn.execute(text("SELECT id FROM positions"))).scalars().all()
            {loop}
"""


def test_an_extra_sql_statement_fails_exactly(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OXBOT_DATABASE_URL", raising=False)  # SQLite in tmp_path: the count is the same
    pytester.makepyprojecttoml(INI)
    pytester.makepyfile(test_sql=SQL_SUITE.format(loop="pass"))
    assert pytester.runpytest_inprocess(*ARGS, "--oxbot-save-baseline").ret == 0
    # An N+1 loop: one more statement per position.
    n_plus_one = (
        "for i in ids: await conn.execute(text('SELECT symbol FROM positions WHERE id = :i'), {'i': i})"
    )
    pytester.makepyfile(test_sql=SQL_SUITE.format(loop=n_plus_one))
    result = pytester.runpytest_inprocess(*ARGS, "--oxbot-compare")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["KPI gate: open_positions_sql_statements 4 statements regressed +300.0% vs baseline 1 statements"]
    )


BUFFERS_SUITE = """
from sqlalchemy import text

INDEX = {index}

async def test_recent_trades(oxbot_real_db, oxbot_kpi):
    async with oxbot_real_db.begin() as conn:
        await conn.execute(text("CREATE TABLE trades (id SERIAL PRIMARY KEY, bot INTEGER, price NUMERIC)"))
        await conn.execute(text(
            "INSERT INTO trades (bot, price) SELECT g % 50, g FROM generate_series(1, 20000) AS g"
        ))
        if INDEX:
            await conn.execute(text("CREATE INDEX ix_trades_bot ON trades (bot, id)"))
        await conn.execute(text("ANALYZE trades"))
    async with oxbot_real_db.connect() as conn:
        await oxbot_kpi.db_buffers(
            conn,
            text("SELECT * FROM trades WHERE bot = 7 ORDER BY id DESC LIMIT 20"),
            name="recent_trades_db_buffers",
        )
"""


def test_a_dropped_index_fails_exactly(pytester: pytest.Pytester) -> None:
    if not os.environ.get("OXBOT_DATABASE_URL", "").startswith("postgresql"):
        if os.environ.get("OXBOT_REQUIRE_REAL_BACKENDS", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail("OXBOT_DATABASE_URL must name a PostgreSQL server (OXBOT_REQUIRE_REAL_BACKENDS=1)")
        pytest.skip("db_buffers needs PostgreSQL: set OXBOT_DATABASE_URL")
    # In a subprocess: asyncpg in a pytest nested in this one's process crashed the interpreter here.
    pytester.makepyprojecttoml(INI)
    pytester.makepyfile(test_db=BUFFERS_SUITE.format(index=True))
    assert pytester.runpytest_subprocess(*ARGS, "--oxbot-save-baseline").ret == 0
    assert pytester.runpytest_subprocess(*ARGS, "--oxbot-compare").ret == 0  # same layout, same buffers
    pytester.makepyfile(test_db=BUFFERS_SUITE.format(index=False))
    result = pytester.runpytest_subprocess(*ARGS, "--oxbot-compare")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["KPI gate: recent_trades_db_buffers * buffers regressed +*% vs baseline * buffers"]
    )
