"""The hot queries and the writes of a decision cycle, on each backend."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from benchmarks.reference_bot import Database, PositionAlreadyClosed, TradingRepository
from benchmarks.reference_bot.tables import DecisionRecord, Trade

T0 = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


async def test_open_then_close_moves_position_out_of_open_set_with_exact_pnl(db: Database) -> None:
    repo = TradingRepository(db)
    bot = uuid.uuid4()
    long_xrp = await repo.open_position(
        bot, "XRP/USDT", "long", Decimal("1000"), Decimal("1.9884"), T0, stop_loss=Decimal("1.9287")
    )
    short_eth = await repo.open_position(bot, "ETH/USDT", "short", Decimal("0.5"), Decimal("3000.10"), T0)
    assert {p.id for p in await repo.open_positions(bot)} == {long_xrp.id, short_eth.id}

    fill = await repo.close_position(
        long_xrp, Decimal("1.9905"), T0 + timedelta(hours=1), fees=Decimal("0.002")
    )
    assert fill.realized_pnl == Decimal("2.0980")  # (1.9905 - 1.9884) * 1000 - 0.002
    short_fill = await repo.close_position(short_eth, Decimal("2990.10"), T0 + timedelta(hours=2))
    assert short_fill.realized_pnl == Decimal("5.00")
    assert short_fill.side == "buy"
    assert await repo.open_positions(bot) == []
    trades = await repo.recent_trades(bot)
    assert [t.side for t in trades[:2]] == ["buy", "sell"]  # the two exits, newest first
    assert sorted(t.side for t in trades[2:]) == ["buy", "sell"]  # the two entries, same instant
    assert trades[0].realized_pnl == Decimal("5.0000000000")


async def test_closing_twice_is_refused_and_writes_one_exit_fill(db: Database) -> None:
    repo = TradingRepository(db)
    bot = uuid.uuid4()
    pos = await repo.open_position(bot, "SOL/USDT", "long", Decimal("2"), Decimal("120.5"), T0)
    (stale_copy,) = await repo.open_positions(bot)  # a second reader's view: still open
    results = await asyncio.gather(
        repo.close_position(pos, Decimal("121"), T0 + timedelta(minutes=3)),
        repo.close_position(stale_copy, Decimal("122"), T0 + timedelta(minutes=3)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Trade) for r in results) == 1
    assert sum(isinstance(r, PositionAlreadyClosed) for r in results) == 1
    assert len(await repo.recent_trades(bot)) == 2  # entry + exactly one exit


async def test_recent_trades_are_newest_first_limited_per_bot_and_since(db: Database) -> None:
    repo = TradingRepository(db)
    bot, other = uuid.uuid4(), uuid.uuid4()
    rows = [
        Trade(
            bot_id=b,
            symbol="BTC/USDT",
            side="buy",
            quantity=Decimal("0.001"),
            price=Decimal(78000 + i),
            executed_at=T0 + timedelta(minutes=3 * i),
        )
        for i in range(30)
        for b in (bot, other)
    ]
    await repo.add_all(rows)
    newest = await repo.recent_trades(bot, limit=5)
    assert [t.price for t in newest] == [Decimal(78029 - i) for i in range(5)]
    assert all(t.bot_id == bot for t in newest)
    since = await repo.recent_trades(bot, limit=100, since=T0 + timedelta(minutes=3 * 25))
    assert len(since) == 5
    assert min(t.executed_at for t in since) == T0 + timedelta(minutes=75)


async def test_decisions_keep_tokens_cost_and_latency(db: Database) -> None:
    repo = TradingRepository(db)
    bot = uuid.uuid4()
    await repo.add_all(
        [
            DecisionRecord(
                bot_id=bot,
                symbol="BTC/USDT",
                model="gpt-4o-mini",
                action="hold",
                prompt_tokens=812,
                completion_tokens=95,
                cost_usd=Decimal("0.0001788"),
                latency_s=0.71,
                cache_hit=False,
                created_at=T0,
            ),
            DecisionRecord(
                bot_id=bot,
                symbol="ETH/USDT",
                model="gpt-4o-mini",
                action="hold",
                error="no JSON",
                created_at=T0 + timedelta(seconds=1),
                cache_hit=True,
            ),
        ]
    )
    got = await repo.recent_decisions(bot)
    assert [d.symbol for d in got] == ["ETH/USDT", "BTC/USDT"]
    assert got[1].cost_usd == Decimal("0.0001788")
    assert got[1].prompt_tokens == 812
    assert got[0].error == "no JSON"
    assert got[0].cost_usd == 0
    assert got[0].cache_hit


@pytest.mark.parametrize("limit", [0, 1])
async def test_limit_is_honoured(db: Database, limit: int) -> None:
    repo = TradingRepository(db)
    bot = uuid.uuid4()
    await repo.open_position(bot, "BNB/USDT", "long", Decimal("1"), Decimal("600"), T0)
    assert len(await repo.recent_trades(bot, limit=limit)) == limit
