"""MarketDataClient candles: closed candles only, cached until the next close, concurrent across symbols."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import httpx
import pytest

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START, KLINES, FakeExchange
from pytest_oxbot.market import MarketDataClient, UnknownSymbolError

if TYPE_CHECKING:
    from .conftest import DictCache


FIVE = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]


async def test_candles_are_closed_decimal_and_in_order(
    exchange: FakeExchange, client: MarketDataClient, clock: FakeClock
) -> None:
    clock.advance(20 * 60)  # 00:20, the 00:00 candle is still forming
    candles = await client.fetch_candles("BTC/USDT", "1h", 50)
    assert len(candles) == 50
    assert all(c.is_closed(clock.time()) for c in candles)
    assert candles[-1].open_time == datetime(2026, 1, 24, 23, tzinfo=UTC)
    assert candles[-1].close_time == datetime(2026, 1, 24, 23, 59, 59, 999000, tzinfo=UTC)
    assert all(isinstance(c.close, Decimal) for c in candles)
    assert [c.open_time for c in candles] == sorted(c.open_time for c in candles)
    assert exchange.requests[0].url.params["limit"] == "51"  # one extra for the forming candle


async def test_candles_are_cached_until_the_candle_closes(
    exchange: FakeExchange, client: MarketDataClient, clock: FakeClock, cache: DictCache
) -> None:
    clock.advance(20 * 60)
    first = await client.fetch_candles("ETH/USDT", "1h", 24)
    clock.advance(39 * 60)  # 00:59: same candle set
    assert await client.fetch_candles("ETH/USDT", "1h", 24) == first
    assert exchange.calls[KLINES] == 1
    assert cache.sets[0][1] == 40 * 60  # TTL = seconds until 01:00
    clock.advance(60)  # 01:00: the 00:00 candle has closed
    after = await client.fetch_candles("ETH/USDT", "1h", 24)
    assert exchange.calls[KLINES] == 2
    assert after[-1].open_time == datetime(2026, 1, 25, 0, tzinfo=UTC)
    assert after[:-1] == first[1:]


async def test_without_a_cache_every_call_asks_the_exchange(exchange: FakeExchange, clock: FakeClock) -> None:
    async with MarketDataClient(clock=clock) as client:
        await client.fetch_candles("BTC/USDT", "15m", 10)
        await client.fetch_candles("BTC/USDT", "15m", 10)
    assert exchange.calls[KLINES] == 2


async def test_forming_candle_on_request_bypasses_the_cache(
    exchange: FakeExchange, client: MarketDataClient, clock: FakeClock, cache: DictCache
) -> None:
    clock.advance(20 * 60)
    candles = await client.fetch_candles("BTC/USDT", "1h", 3, closed_only=False)
    assert len(candles) == 3
    assert not candles[-1].is_closed(clock.time())
    assert cache.sets == []


async def test_an_exchange_lagging_behind_our_clock_is_not_cached(clock: FakeClock, cache: DictCache) -> None:
    exchange_clock = FakeClock(DEFAULT_REPLAY_START - 3600)  # the exchange is an hour behind
    with FakeExchange(clock=exchange_clock) as ex:
        async with MarketDataClient(clock=clock, cache=cache) as client:
            candles = await client.fetch_candles("BTC/USDT", "1h", 5)
            await client.fetch_candles("BTC/USDT", "1h", 5)
    assert candles[-1].open_time == datetime(2026, 1, 24, 22, tzinfo=UTC)
    assert cache.sets == []
    assert ex.calls[KLINES] == 2


async def test_candles_for_many_symbols_run_concurrently(exchange: FakeExchange, clock: FakeClock) -> None:
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)  # yield so the other requests can start
        in_flight -= 1
        return exchange.handle(request)

    async with MarketDataClient(clock=clock, transport=httpx.MockTransport(handler)) as client:
        batch = await client.fetch_candles_many(FIVE, "15m", 20)
    assert list(batch) == FIVE
    assert all(len(c or []) == 20 for c in batch.values())
    assert exchange.calls[KLINES] == 5
    assert peak == 5


async def test_unknown_symbol_in_many_is_none_with_a_reason(
    exchange: FakeExchange, client: MarketDataClient
) -> None:
    batch = await client.fetch_candles_many(["BTC/USDT", "NOPE/USDT"], "1h", 5)
    assert batch["NOPE/USDT"] is None
    assert batch.reasons["NOPE/USDT"].code == -1121
    assert len(batch["BTC/USDT"] or []) == 5
    with pytest.raises(UnknownSymbolError, match="NOPE/USDT"):
        await client.fetch_candles("NOPE/USDT", "1h", 5)


@pytest.mark.parametrize(("interval", "limit"), [("1M", 10), ("7m", 10), ("1h", 0), ("1h", 1000)])
async def test_bad_interval_or_limit_is_rejected_before_sending(
    exchange: FakeExchange, client: MarketDataClient, interval: str, limit: int
) -> None:

    with pytest.raises(ValueError, match=r"interval|limit"):
        await client.fetch_candles("BTC/USDT", interval, limit)
    assert exchange.calls == {}


async def test_candles_round_trip_through_the_hierarchical_cache(
    exchange: FakeExchange, clock: FakeClock
) -> None:
    """The real cache (L1 + fakeredis L2): rows survive its codec, and the TTL ends at the candle close."""
    from pytest_oxbot.cache import HierarchicalCache

    async with (
        HierarchicalCache.in_memory(clock=clock) as cache,
        MarketDataClient(clock=clock, cache=cache) as client,
    ):
        clock.advance(30 * 60)
        first = await client.fetch_candles("SOL/USDT", "1h", 10)
        assert await client.fetch_candles("SOL/USDT", "1h", 10) == first
        assert exchange.calls[KLINES] == 1
        clock.advance(30 * 60)
        later = await client.fetch_candles("SOL/USDT", "1h", 10)
        assert exchange.calls[KLINES] == 2
        assert later[-1].open_time == datetime(2026, 1, 25, 0, tzinfo=UTC)
