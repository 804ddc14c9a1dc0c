"""The fake exchange seen by real third-party clients over loopback: ccxt (aiohttp), requests, aiohttp, httpx.

Both ways in (respx in-process, the loopback server) share one state: a call through either is counted,
charged and faulted the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import httpx
import pytest
import requests

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.errors import FakeError
from pytest_oxbot.fakes.exchange import (
    DEFAULT_REPLAY_START,
    KLINES,
    NOT_RECORDED_HEADER,
    TICKER_24HR,
    FakeExchange,
)
from pytest_oxbot.fakes.exchange_data import MarketData

ccxt_async = pytest.importorskip("ccxt.async_support")
ccxt_sync = pytest.importorskip("ccxt")

FIVE = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]
MAY_2021 = datetime(2021, 5, 10, 12, 7, tzinfo=UTC).timestamp()  # mid-candle


@pytest.fixture
def exchange() -> Iterator[FakeExchange]:
    with FakeExchange(FakeClock(DEFAULT_REPLAY_START), serve=True) as ex:
        yield ex


def ccxt_binance(exchange: FakeExchange, module: object = ccxt_async) -> object:
    client = module.binance({"enableRateLimit": False})  # type: ignore[attr-defined]
    client.urls["api"] = exchange.ccxt_urls(client.urls["api"])
    return client


async def test_ccxt_binance_loads_markets_and_fetches_the_five_tickers_in_one_call(
    exchange: FakeExchange,
) -> None:
    client = ccxt_binance(exchange)
    try:
        await client.load_markets()
        assert set(client.markets) == set(FIVE)  # spot symbols of the recording; no futures recorded
        tick = MarketData.shipped().tick_size("XRPUSDT")  # derived from the recorded prices
        assert Decimal(str(client.markets["XRP/USDT"]["precision"]["price"])) == tick
        with exchange.cycle():
            tickers = await client.fetch_tickers(FIVE)
    finally:
        await client.close()
    assert exchange.calls_per_cycle() == [1]
    expected = MarketData.shipped().ticker("BTCUSDT", int(DEFAULT_REPLAY_START * 1000))
    assert Decimal(str(tickers["BTC/USDT"]["last"])) == Decimal(expected["lastPrice"])
    assert exchange.server_errors == []


async def test_ccxt_klines_are_the_recorded_candles(exchange: FakeExchange) -> None:
    client = ccxt_binance(exchange)
    try:
        rows = await client.fetch_ohlcv("ETH/USDT", "1h", limit=5)
    finally:
        await client.close()
    t_ms = int(DEFAULT_REPLAY_START * 1000)
    recorded = MarketData.shipped().klines("ETHUSDT", "1h", 5, t_ms)
    assert [r[0] for r in rows] == [r[0] for r in recorded]
    assert [Decimal(str(r[4])) for r in rows[:-1]] == [Decimal(r[4]) for r in recorded[:-1]]


async def test_ccxt_gets_5m_to_4h_candles_in_the_2021_window() -> None:
    with FakeExchange(FakeClock(MAY_2021), serve=True) as exchange:
        client = ccxt_binance(exchange)
        try:
            by_interval = {
                i: await client.fetch_ohlcv("BTC/USDT", i, limit=30) for i in ("5m", "15m", "1h", "4h")
            }
            since = int(datetime(2021, 5, 1, tzinfo=UTC).timestamp() * 1000)
            paged = await client.fetch_ohlcv("BTC/USDT", "4h", since=since, limit=3)  # startTime
        finally:
            await client.close()
    now_ms = int(MAY_2021 * 1000)
    for interval, rows in by_interval.items():
        assert len(rows) == 30, interval
        assert (
            rows[-1][0]
            <= now_ms
            < rows[-1][0] + {"5m": 300, "15m": 900, "1h": 3600, "4h": 14400}[interval] * 1000
        )
    # aligned in one window: the forming 4h candle closes at the last closed 5m candle's close
    assert by_interval["4h"][-1][4] == by_interval["5m"][-2][4]
    assert by_interval["1h"][-1][4] == by_interval["5m"][-2][4]
    assert [r[0] for r in paged] == [since, since + 14_400_000, since + 28_800_000]


async def test_funding_and_open_interest_are_not_recorded_errors_ccxt_can_catch(
    exchange: FakeExchange,
) -> None:
    client = ccxt_binance(exchange)
    try:
        for call in (client.fapiPublicGetPremiumIndex, client.fapiPublicGetOpenInterest):
            with pytest.raises(ccxt_async.ExchangeError, match="not recorded"):
                await call({"symbol": "BTCUSDT"})
    finally:
        await client.close()
    assert exchange.not_recorded == ["/fapi/v1/premiumIndex", "/fapi/v1/openInterest"]


def test_funding_rate_over_requests_is_a_404_with_a_reason_never_a_value(exchange: FakeExchange) -> None:
    for path in ("/fapi/v1/premiumIndex", "/fapi/v1/fundingRate", "/futures/data/openInterestHist"):
        answer = requests.get(exchange.base_url + path, params={"symbol": "BTCUSDT"}, timeout=5)
        assert answer.status_code == 404
        assert answer.headers[NOT_RECORDED_HEADER] == path
        body = answer.json()
        assert body["code"] == -1
        assert body["msg"].startswith("not recorded:")
        assert "lastFundingRate" not in body
        assert "openInterest" not in body


def test_ccxt_sync_client_on_requests(exchange: FakeExchange) -> None:
    client = ccxt_binance(exchange, ccxt_sync)
    ticker = client.fetch_ticker("SOL/USDT")  # type: ignore[attr-defined]
    assert ticker["symbol"] == "SOL/USDT"
    assert exchange.calls[TICKER_24HR] == 1


async def test_aiohttp_and_requests_see_binance_validation_and_weight(exchange: FakeExchange) -> None:
    bad = requests.get(  # noqa: ASYNC210 - a blocking client in an async test: the server has its own loop
        exchange.base_url + TICKER_24HR, params={"symbols": '["BTCUSDT", "ETHUSDT"]'}, timeout=5
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == -1100
    async with aiohttp.ClientSession() as session:
        params = {"symbols": json.dumps(["BTCUSDT", "ETHUSDT"], separators=(",", ":"))}
        async with session.get(exchange.base_url + TICKER_24HR, params=params) as answer:
            assert answer.status == 200
            assert answer.headers["X-MBX-USED-WEIGHT-1m"] == str(exchange.total_weight)
            assert [t["symbol"] for t in await answer.json()] == ["BTCUSDT", "ETHUSDT"]


async def test_respx_and_loopback_share_one_state(exchange: FakeExchange) -> None:
    exchange.inject("rate_limit", retry_after=7)
    over_socket = requests.get(  # noqa: ASYNC210 - the server answers from its own thread
        exchange.base_url + KLINES, params={"symbol": "BTCUSDT", "interval": "1h"}, timeout=5
    )
    assert over_socket.status_code == 429
    assert over_socket.headers["Retry-After"] == "7"
    async with httpx.AsyncClient() as http:
        in_process = await http.get(
            exchange.public_url + KLINES, params={"symbol": "BTCUSDT", "interval": "1h"}
        )
        over_loopback = await http.get(
            exchange.base_url + KLINES, params={"symbol": "BTCUSDT", "interval": "1h"}
        )
    assert in_process.status_code == over_loopback.status_code == 200
    assert in_process.json() == over_loopback.json()
    assert exchange.calls[KLINES] == 3  # both paths counted in one place
    assert exchange.pending_faults() == []


def test_an_injected_timeout_over_loopback_is_a_real_client_timeout(exchange: FakeExchange) -> None:
    exchange.inject("timeout")
    with pytest.raises(requests.ReadTimeout):
        requests.get(exchange.base_url + TICKER_24HR, params={"symbol": "BTCUSDT"}, timeout=(2, 0.3))
    assert requests.get(exchange.base_url + TICKER_24HR, params={"symbol": "BTCUSDT"}, timeout=5).ok


def test_exchange_info_and_price_tickers(exchange: FakeExchange) -> None:
    info = requests.get(exchange.base_url + "/api/v3/exchangeInfo", timeout=5).json()
    assert [s["symbol"] for s in info["symbols"]] == ["BNBUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert (btc["baseAsset"], btc["quoteAsset"], btc["filters"][0]["tickSize"]) == (
        "BTC",
        "USDT",
        "0.01000000",
    )
    prices = requests.get(
        exchange.base_url + "/api/v3/ticker/price", params={"symbol": "BTCUSDT"}, timeout=5
    ).json()
    full = requests.get(exchange.base_url + TICKER_24HR, params={"symbol": "BTCUSDT"}, timeout=5).json()
    assert prices == {"symbol": "BTCUSDT", "price": full["lastPrice"]}
    futures = requests.get(exchange.base_url + "/fapi/v1/exchangeInfo", timeout=5)
    assert futures.json()["symbols"] == []
    assert futures.headers[NOT_RECORDED_HEADER] == "futures markets"


def test_an_interval_missing_at_the_replay_time_says_where_it_is_recorded(exchange: FakeExchange) -> None:
    answer = requests.get(
        exchange.base_url + KLINES, params={"symbol": "BTCUSDT", "interval": "5m"}, timeout=5
    )
    assert answer.status_code == 400
    assert "no 5m candles for BTCUSDT in the recording 'binance-spot-2026'" in answer.json()["msg"]
    assert "binance-spot-5m-2021: 2021-04-25T12:00:00Z" in answer.json()["msg"]
    invalid = requests.get(
        exchange.base_url + KLINES, params={"symbol": "BTCUSDT", "interval": "7m"}, timeout=5
    )
    assert invalid.json() == {"code": -1120, "msg": "Invalid interval."}


def test_server_url_needs_a_started_fake_and_loopback_only_mode_mocks_nothing() -> None:
    idle = FakeExchange(serve=True)
    with pytest.raises(FakeError, match="start the fake exchange first"):
        _ = idle.base_url
    with FakeExchange(mount=False, serve=True) as ex:
        assert ex.httpx_url == ex.base_url.rstrip("/")
        assert httpx.get(ex.base_url + TICKER_24HR, params={"symbol": "BTCUSDT"}).status_code == 200
        with pytest.raises(httpx.ConnectError):  # nothing impersonates Binance: a real (refused) connection
            httpx.get("http://127.0.0.1:9" + TICKER_24HR, timeout=2)
