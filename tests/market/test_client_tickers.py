"""MarketDataClient tickers: one call for five symbols, coalescing, and every exchange fault typed."""

from __future__ import annotations

import asyncio
import json
import random
from decimal import Decimal
from typing import TYPE_CHECKING

import httpx
import pytest

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.exchange import TICKER_24HR, FakeExchange
from pytest_oxbot.market import (
    ExchangeUnavailableError,
    IpBannedError,
    MalformedResponseError,
    MarketDataClient,
    RateLimitedError,
    Snapshot,
    SymbolError,
)
from pytest_oxbot.retry import RetryPolicy
from pytest_oxbot.settings import load_settings

if TYPE_CHECKING:
    from .conftest import SleepLog


FIVE = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]


async def test_five_symbols_cost_exactly_one_ticker_call(
    exchange: FakeExchange, client: MarketDataClient
) -> None:
    snapshots = await client.fetch_market_data_batch(FIVE)
    assert exchange.calls == {TICKER_24HR: 1}
    assert exchange.weight == {TICKER_24HR: 2}
    assert list(snapshots) == FIVE  # unified symbols, request order
    assert all(isinstance(s, Snapshot) for s in snapshots.values())
    assert snapshots.reasons == {}
    assert client.calls == {TICKER_24HR: 1}


async def test_fifty_concurrent_cycles_within_the_window_cost_one_call(
    exchange: FakeExchange, client: MarketDataClient
) -> None:
    results = await asyncio.gather(*(client.fetch_market_data_batch(FIVE) for _ in range(50)))
    assert exchange.calls[TICKER_24HR] == 1
    first = results[0]
    assert all(r == first for r in results)
    assert all(r is not first for r in results[1:])  # every caller its own answer object


async def test_symbols_parameter_is_compact_json(exchange: FakeExchange, client: MarketDataClient) -> None:
    await client.fetch_market_data_batch(FIVE)
    sent = exchange.requests[0].url.params["symbols"]
    assert sent == '["BTCUSDT","ETHUSDT","SOLUSDT","BNBUSDT","XRPUSDT"]'
    assert " " not in sent
    raw_path = exchange.requests[0].url.raw_path
    assert b"%20" not in raw_path
    assert b"+" not in raw_path


async def test_prices_are_exact_decimals_from_the_strings(
    exchange: FakeExchange, client: MarketDataClient
) -> None:
    snapshots = await client.fetch_market_data_batch(["BTC/USDT"])
    raw = exchange.data.ticker("BTCUSDT", int(exchange.replay_time * 1000))
    snap = snapshots["BTC/USDT"]
    assert snap is not None
    assert isinstance(snap.last_price, Decimal)
    assert str(snap.last_price) == raw["lastPrice"]
    assert str(snap.quote_volume) == raw["quoteVolume"]


async def test_unknown_symbol_does_not_sink_the_other_four(
    exchange: FakeExchange, client: MarketDataClient
) -> None:
    exchange.inject("unknown_symbol", symbol="SOL/USDT")  # delisted
    snapshots = await client.fetch_market_data_batch(FIVE)
    assert snapshots["SOL/USDT"] is None
    assert snapshots.reasons["SOL/USDT"].code == -1121
    assert "unknown or delisted" in snapshots.reasons["SOL/USDT"].reason
    assert set(snapshots.ok) == set(FIVE) - {"SOL/USDT"}
    assert list(snapshots) == FIVE
    # The next cycle leaves the known-unknown symbol out: one call again.
    before = exchange.calls[TICKER_24HR]
    again = await client.fetch_market_data_batch(FIVE)
    assert exchange.calls[TICKER_24HR] == before + 1
    assert again["SOL/USDT"] is None
    assert "seen earlier" in again.reasons["SOL/USDT"].reason
    assert exchange.requests[-1].url.params["symbols"] == '["BTCUSDT","ETHUSDT","BNBUSDT","XRPUSDT"]'


async def test_several_unknown_symbols_are_all_isolated(
    exchange: FakeExchange, client: MarketDataClient
) -> None:
    snapshots = await client.fetch_market_data_batch([*FIVE, "FOO/USDT", "BAR/USDT"])
    assert {s for s, v in snapshots.items() if v is None} == {"FOO/USDT", "BAR/USDT"}
    assert len(snapshots.ok) == 5


async def test_malformed_symbol_name_raises_before_any_request(
    exchange: FakeExchange, client: MarketDataClient
) -> None:
    with pytest.raises(SymbolError):
        await client.fetch_market_data_batch(["BTC/USDT", "BTCUSDT"])
    assert exchange.calls == {}


async def test_429_honours_retry_after_then_succeeds(
    exchange: FakeExchange, client: MarketDataClient, sleeps: SleepLog
) -> None:
    exchange.inject("rate_limit", retry_after=3)
    snapshots = await client.fetch_market_data_batch(FIVE)
    assert len(snapshots.ok) == 5
    assert sleeps.delays == [3]  # waited exactly what the exchange asked, no backoff on top
    assert exchange.calls[TICKER_24HR] == 2


async def test_429_asking_for_too_long_a_wait_raises(
    exchange: FakeExchange, client: MarketDataClient
) -> None:
    exchange.inject("rate_limit", retry_after=600)
    with pytest.raises(RateLimitedError) as info:
        await client.fetch_market_data_batch(FIVE)
    assert info.value.retry_after == 600
    assert exchange.calls[TICKER_24HR] == 1


async def test_429_without_retry_after_waits_for_the_next_weight_minute(
    clock: FakeClock, sleeps: SleepLog
) -> None:
    ex = FakeExchange(clock=clock)  # not mounted: the client reaches it through a MockTransport
    answers = iter([httpx.Response(429, json={"code": -1003, "msg": "Too many requests."})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or ex.handle(request)

    clock.advance(45)
    async with MarketDataClient(clock=clock, sleep=sleeps, transport=httpx.MockTransport(handler)) as client:
        assert len((await client.fetch_market_data_batch(FIVE)).ok) == 5
    assert sleeps.delays == [15]


async def test_418_ban_raises_and_blocks_every_request_until_it_ends(
    exchange: FakeExchange, client: MarketDataClient, clock: FakeClock
) -> None:
    exchange.inject("ban", retry_after=120)
    with pytest.raises(IpBannedError) as info:
        await client.fetch_market_data_batch(FIVE)
    assert info.value.retry_after == 120
    with pytest.raises(IpBannedError, match="nothing sent"):
        await client.fetch_market_data_batch(FIVE)
    assert exchange.calls[TICKER_24HR] == 1  # the banned client sent nothing more
    clock.advance(120)
    assert len((await client.fetch_market_data_batch(FIVE)).ok) == 5


async def test_5xx_backs_off_exponentially_with_jitter_then_succeeds(
    exchange: FakeExchange, client: MarketDataClient, sleeps: SleepLog
) -> None:
    exchange.inject("server_error", status=502, times=3)
    snapshots = await client.fetch_market_data_batch(FIVE)
    assert len(snapshots.ok) == 5
    assert exchange.calls[TICKER_24HR] == 4
    policy = client.retry
    assert len(sleeps.delays) == 3
    for attempt, delay in enumerate(sleeps.delays, start=1):
        ceiling = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
        assert 0 <= delay <= ceiling  # full jitter
    assert len(set(sleeps.delays)) == 3


async def test_persistent_5xx_is_bounded_and_typed(
    exchange: FakeExchange, clock: FakeClock, sleeps: SleepLog
) -> None:
    exchange.inject("server_error", times=3)
    async with MarketDataClient(clock=clock, sleep=sleeps, retry=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(ExchangeUnavailableError, match="HTTP 503") as info:
            await client.fetch_market_data_batch(FIVE)
    assert info.value.attempts == 3
    assert exchange.calls[TICKER_24HR] == 3
    assert len(sleeps.delays) == 2


async def test_timeouts_retry_and_then_fail_typed(
    exchange: FakeExchange, clock: FakeClock, sleeps: SleepLog
) -> None:
    exchange.inject("timeout", times=1)
    async with MarketDataClient(clock=clock, sleep=sleeps, retry=RetryPolicy(max_attempts=2)) as client:
        assert len((await client.fetch_market_data_batch(FIVE)).ok) == 5
        exchange.inject("timeout", times=2)
        with pytest.raises(ExchangeUnavailableError, match="timeout"):
            await client.fetch_market_data_batch(FIVE)


async def test_malformed_body_is_a_typed_error(exchange: FakeExchange, client: MarketDataClient) -> None:
    exchange.inject("malformed")
    with pytest.raises(MalformedResponseError, match="not JSON"):
        await client.fetch_market_data_batch(FIVE)


async def test_a_whole_batch_failure_reaches_every_concurrent_caller_and_poisons_nothing(
    exchange: FakeExchange, client: MarketDataClient
) -> None:
    exchange.inject("malformed")
    results = await asyncio.gather(
        *(client.fetch_market_data_batch(FIVE) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, MalformedResponseError) for r in results)
    assert len((await client.fetch_market_data_batch(FIVE)).ok) == 5


async def test_used_weight_is_tracked_from_the_header(
    exchange: FakeExchange, client: MarketDataClient
) -> None:
    await client.fetch_market_data_batch(FIVE)
    await client.fetch_market_data_batch(["BTC/USDT"])
    assert client.used_weight == 4
    assert exchange.requests[-1] is not None


async def test_client_slows_down_before_the_weight_limit(
    exchange: FakeExchange, client: MarketDataClient, clock: FakeClock, sleeps: SleepLog
) -> None:

    clock.advance(30)  # 00:00:30
    client.budget.limit = 10  # threshold 8: the fifth request of weight 2 would pass it
    for _ in range(4):
        await client.fetch_market_data_batch(["BTC/USDT"])
    assert sleeps.delays == []
    await client.fetch_market_data_batch(["BTC/USDT"])
    assert sleeps.delays == [30]  # waited for the next minute instead of meeting a 429
    assert exchange.calls[TICKER_24HR] == 5


async def test_base_url_is_configurable(clock: FakeClock) -> None:
    base = "https://binance-compatible.example.test"
    with FakeExchange(clock=clock, base_url=base) as ex:
        async with MarketDataClient(base_url=base + "/", clock=clock) as client:
            snapshots = await client.fetch_market_data_batch(FIVE)
    assert len(snapshots.ok) == 5
    assert str(ex.requests[0].url).startswith(base + "/api/v3/ticker/24hr?")


async def test_http_client_uses_the_settings_timeouts_and_limits() -> None:
    settings = load_settings(HTTP_CONNECT_TIMEOUT=1.5, HTTP_READ_TIMEOUT=4, HTTP_MAX_CONNECTIONS=7)
    async with MarketDataClient(http=settings.http()) as client:
        timeout = client._http.timeout
        assert (timeout.connect, timeout.read) == (1.5, 4)
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections == 7


async def test_close_drains_queued_requests(exchange: FakeExchange, clock: FakeClock) -> None:
    client = MarketDataClient(clock=clock, batch_window=3600, rng=random.Random(1))
    pending = asyncio.ensure_future(client.fetch_market_data_batch(FIVE))
    await asyncio.sleep(0)
    await client.aclose()
    assert len((await pending).ok) == 5
    assert exchange.calls[TICKER_24HR] == 1


def test_compact_symbols_helper_matches_binance_rule() -> None:
    from pytest_oxbot.market.client import compact_symbols

    assert compact_symbols(["A", "B"]) == json.dumps(["A", "B"], separators=(",", ":")) == '["A","B"]'
