"""At realistic volume (100,000 trades, 1,000 positions) the hot queries' plans use their indexes."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from importlib import resources

import pytest
from sqlalchemy import func, select

from benchmarks.reference_bot import Database, SeedSpec, queries, seed_volume
from benchmarks.reference_bot.seed import build_rows
from benchmarks.reference_bot.tables import Position, Trade
from pytest_oxbot.db import explain


def test_rows_are_deterministic_counted_and_priced_from_real_candles() -> None:
    spec = SeedSpec(bots=4, trades=2_000, positions=40, open_per_bot=3, decisions=10)
    first, rows = build_rows(spec)
    again, rows_again = build_rows(spec)
    assert rows == rows_again
    assert first == again
    assert len(rows["trades"]) == 2_000
    assert len(rows["positions"]) == 40
    assert len(rows["decisions"]) == 10
    assert sum(p["status"] == "open" for p in rows["positions"]) == 12
    assert all(p["closed_at"] is None for p in rows["positions"] if p["status"] == "open")
    assert all(p["closed_at"] >= p["opened_at"] for p in rows["positions"] if p["status"] == "closed")
    candles = json.loads(
        (resources.files("pytest_oxbot") / "data/market/candles/XRP_USDT-1h.json").read_text("utf-8")
    )
    closes = {Decimal(str(c[4])) for c in candles}
    xrp = [t for t in rows["trades"] if t["symbol"] == "XRP/USDT"]
    assert xrp
    assert all(t["price"] in closes for t in xrp)
    assert all(first.first <= t["executed_at"] <= first.last for t in rows["trades"])


def test_more_open_positions_than_positions_is_refused() -> None:
    with pytest.raises(ValueError, match="fewer positions"):
        build_rows(SeedSpec(bots=10, positions=20, open_per_bot=5))


async def test_hot_query_plans_use_their_indexes_at_volume(db: Database) -> None:
    seeded = await seed_volume(db, SeedSpec(decisions=20_000))
    async with db.engine.connect() as conn:
        assert (await conn.scalar(select(func.count()).select_from(Trade))) == 100_000
        assert (await conn.scalar(select(func.count()).select_from(Position))) == 1_000
        bot = seeded.bot_ids[3]
        week_ago = seeded.last - timedelta(days=7)
        plans = {
            "open": await explain(conn, queries.open_positions(bot)),
            "recent": await explain(conn, queries.recent_trades(bot, limit=50)),
            "recent_since": await explain(conn, queries.recent_trades(bot, limit=50, since=week_ago)),
            "decisions": await explain(conn, queries.recent_decisions(bot)),
        }
    assert plans["open"].uses_index("ix_positions_bot_open"), plans["open"].detail
    assert plans["recent"].uses_index("ix_trades_bot_executed"), plans["recent"].detail
    assert not plans["recent"].sorts, plans["recent"].detail  # the index order is the ORDER BY
    assert plans["recent_since"].uses_index("ix_trades_bot_executed"), plans["recent_since"].detail
    assert plans["decisions"].uses_index("ix_decisions_bot_created"), plans["decisions"].detail
    assert not any(p.full_scans for p in plans.values()), {k: p.detail for k, p in plans.items()}
    repo_rows = await _open_count(db, seeded.bot_ids[3])
    assert repo_rows == 5


async def _open_count(db: Database, bot: object) -> int:
    async with db.sessions() as session:
        return len((await session.scalars(queries.open_positions(bot))).all())  # type: ignore[arg-type]


async def test_partial_index_survives_generic_plans_on_postgresql(db: Database) -> None:
    """asyncpg prepares statements; after 5 runs PostgreSQL may switch to a generic plan, which can only
    use the partial index because the predicate is a literal, not a bound parameter."""
    if db.dialect != "postgresql":
        pytest.skip("plan_cache_mode is PostgreSQL's")
    seeded = await seed_volume(db, SeedSpec(trades=5_000))
    bot = seeded.bot_ids[0]
    bound = select(Position).where(Position.bot_id == bot, Position.status == "open")
    async with db.engine.connect() as conn:
        ours = await explain(conn, queries.open_positions(bot), generic=True)
        naive = await explain(conn, bound, generic=True)
        recent = await explain(conn, queries.recent_trades(bot, since=seeded.last), generic=True)
    assert ours.uses_index("ix_positions_bot_open"), ours.detail
    assert not naive.uses_index("ix_positions_bot_open"), naive.detail  # the pitfall is real
    assert recent.uses_index("ix_trades_bot_executed"), recent.detail
