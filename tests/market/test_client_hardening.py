"""Issue 13 on the market client: hostile Retry-After (11), a total deadline against a real server that
drips one byte every 0.5 s (12), and junk prices that become a per-symbol None with the reason (13)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.exchange import TICKER_24HR, FakeExchange
from pytest_oxbot.http import HttpOptions
from pytest_oxbot.market import (
    DeadlineExceededError,
    ExchangeUnavailableError,
    IpBannedError,
    MarketDataClient,
    MarketDataError,
    RateLimitedError,
)
from pytest_oxbot.retry import RetryPolicy
from tests.servers import DripServer

if TYPE_CHECKING:
    from .conftest import SleepLog

FIVE = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]


def through(ex: FakeExchange, *first: httpx.Response) -> httpx.MockTransport:
    """The fake exchange behind a MockTransport, answering `first` responses before it."""
    queue = list(first)

    def handler(request: httpx.Request) -> httpx.Response:
        return queue.pop(0) if queue else ex.handle(request)

    return httpx.MockTransport(handler)


# -- item 11: hostile Retry-After ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e9", "inf", "nan", "-5", "\u0661\u0662".encode(), "Thu, 99 Foo 2026"])
async def test_a_malformed_retry_after_on_429_waits_a_bounded_time_never_at_once(
    clock: FakeClock, sleeps: SleepLog, value: str | bytes
) -> None:
    ex = FakeExchange(clock=clock)
    clock.advance(59.9)  # 0.1 s before the next weight minute: "the rest of the minute" is ~0
    limited = httpx.Response(429, headers={"Retry-After": value}, json={"code": -1003, "msg": "slow down"})
    async with MarketDataClient(clock=clock, sleep=sleeps, transport=through(ex, limited)) as client:
        assert len((await client.fetch_market_data_batch(FIVE)).ok) == 5
    assert len(sleeps.delays) == 1
    assert client.retry.base_delay <= sleeps.delays[0] <= 60  # neither at once nor for ever


@pytest.mark.parametrize("value", [None, "nan", "inf", "1e9", "soon"])
async def test_a_418_ban_is_always_recorded_even_with_an_unusable_retry_after(
    clock: FakeClock, sleeps: SleepLog, value: str | None
) -> None:
    ex = FakeExchange(clock=clock)
    headers = {} if value is None else {"Retry-After": value}
    banned = httpx.Response(418, headers=headers, json={"code": -1003, "msg": "IP banned"})
    sent: list[httpx.Request] = []
    transport = through(ex, banned)

    async def counting(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return await transport.handle_async_request(request)

    async with MarketDataClient(clock=clock, sleep=sleeps, transport=httpx.MockTransport(counting)) as client:
        with pytest.raises(IpBannedError) as info:
            await client.fetch_market_data_batch(FIVE)
        assert info.value.retry_after >= 120  # Binance's shortest ban
        assert client.budget.banned_until >= clock.time() + 120
        clock.advance(60)
        with pytest.raises(IpBannedError, match="nothing sent"):
            await client.fetch_market_data_batch(FIVE)
    assert len(sent) == 1


async def test_a_wait_that_would_pass_the_deadline_is_not_started(clock: FakeClock, sleeps: SleepLog) -> None:
    ex = FakeExchange(clock=clock)
    limited = httpx.Response(429, headers={"Retry-After": "40"}, json={"code": -1003, "msg": "slow down"})
    policy = RetryPolicy(max_total=30, max_retry_after=60)
    async with MarketDataClient(clock=clock, sleep=sleeps, retry=policy, transport=through(ex, limited)) as c:
        with pytest.raises(RateLimitedError):
            await c.fetch_market_data_batch(FIVE)
    assert sleeps.delays == []


async def test_backoff_stops_at_the_deadline_on_the_clients_clock(clock: FakeClock, sleeps: SleepLog) -> None:
    ex = FakeExchange(clock=clock)
    down = [httpx.Response(503) for _ in range(20)]
    policy = RetryPolicy(max_attempts=20, base_delay=4, max_delay=8, max_total=10)
    async with MarketDataClient(clock=clock, sleep=sleeps, retry=policy, transport=through(ex, *down)) as c:
        with pytest.raises(ExchangeUnavailableError):
            await c.fetch_market_data_batch(FIVE)
    assert sum(sleeps.delays) <= 10


# -- item 12: a total deadline around each call, against a real dripping server ---------------------------


@pytest_asyncio.fixture
async def drip() -> AsyncIterator[DripServer]:
    server = await DripServer(interval=0.5, length=10_000).start()
    yield server
    await server.aclose()


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.fetch_market_data_batch(FIVE),
        lambda c: c.fetch_candles("BTC/USDT", "1h", 10),
        lambda c: c.fetch_candles_many(["BTC/USDT", "ETH/USDT"], "1h", 10),
    ],
    ids=["tickers", "candles", "candles_many"],
)
async def test_a_dripping_server_is_cut_at_the_total_deadline(
    drip: DripServer, call: Callable[[MarketDataClient], Any]
) -> None:
    async with MarketDataClient(
        base_url=drip.url,
        http=HttpOptions(connect_timeout=5, read_timeout=10),  # each byte arrives well within 10 s
        retry=RetryPolicy(max_attempts=4, max_total=1.5),
    ) as client:
        began = time.monotonic()
        with pytest.raises(DeadlineExceededError, match=r"1\.5 s deadline") as info:
            await call(client)
        elapsed = time.monotonic() - began
    assert isinstance(info.value, MarketDataError)
    assert drip.requests >= 1
    assert drip.bytes_sent < drip.length  # 10,000 bytes at 2 per second: ~83 minutes uncut
    assert elapsed < 30  # bound 1.5 s; the seed was still waiting after 45 s (generous on a loaded machine)


# -- item 13: junk prices are a per-symbol None with the reason ------------------------------------------


def doctored(ex: FakeExchange, change: Callable[[list[dict[str, Any]]], None]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        response = ex.handle(request)
        if request.url.path != TICKER_24HR:
            return response
        tickers = json.loads(response.content)
        change(tickers)
        return httpx.Response(200, json=tickers, headers=dict(response.headers))

    return httpx.MockTransport(handler)


def btc(change: dict[str, Any]) -> Callable[[list[dict[str, Any]]], None]:
    def apply(tickers: list[dict[str, Any]]) -> None:
        for t in tickers:
            if t["symbol"] == "BTCUSDT":
                t.update(change)

    return apply


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lastPrice": "-97000.00"}, "lastPrice must be positive"),
        ({"bidPrice": "-1"}, "no order book"),
        ({"askPrice": "0"}, "no order book"),
        ({"askPrice": "1.00", "bidPrice": "2.00"}, "askPrice 1.00 below bidPrice 2.00"),
        ({"highPrice": "1.00", "lowPrice": "2.00"}, "highPrice 1.00 below lowPrice 2.00"),
        ({"lastPrice": "\u0669\u0667\u0660\u0660\u0660"}, "not a plain decimal"),
        ({"lastPrice": "9.7e4"}, "not a plain decimal"),
        ({"lastPrice": "999999999.00"}, "outside the 24 h range"),
        ({"volume": "-3"}, "volume must not be negative"),
        ({"lastPrice": 97000.5}, "must be a decimal string"),
    ],
)
async def test_a_junk_ticker_is_that_symbols_none_with_the_reason(
    clock: FakeClock, sleeps: SleepLog, change: dict[str, Any], reason: str
) -> None:
    ex = FakeExchange(clock=clock)
    async with MarketDataClient(clock=clock, sleep=sleeps, transport=doctored(ex, btc(change))) as client:
        snapshots = await client.fetch_market_data_batch(FIVE)
    assert snapshots["BTC/USDT"] is None
    assert reason in snapshots.reasons["BTC/USDT"].reason
    assert set(snapshots.ok) == set(FIVE) - {"BTC/USDT"}  # the other four stand


async def test_a_symbol_listed_twice_is_none_whatever_the_order(clock: FakeClock, sleeps: SleepLog) -> None:
    ex = FakeExchange(clock=clock)

    def twice(tickers: list[dict[str, Any]]) -> None:
        first = next(t for t in tickers if t["symbol"] == "ETHUSDT")
        tickers.append({**first, "lastPrice": str(first["highPrice"])})

    async with MarketDataClient(clock=clock, sleep=sleeps, transport=doctored(ex, twice)) as client:
        snapshots = await client.fetch_market_data_batch(FIVE)
    assert snapshots["ETH/USDT"] is None
    assert "more than once" in snapshots.reasons["ETH/USDT"].reason
    assert len(snapshots.ok) == 4
