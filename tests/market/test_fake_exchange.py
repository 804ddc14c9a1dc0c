"""The fake exchange: real data in the real shape, Binance's validation, counting, faults, replay clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import httpx
import pytest

from pytest_oxbot.clock import FakeClock, SystemClock
from pytest_oxbot.errors import FakeError
from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START, KLINES, TICKER_24HR, FakeExchange
from pytest_oxbot.fakes.exchange_data import MarketData
from pytest_oxbot.fakes.faults import Fault

BASE = "https://api.binance.com"
FIVE = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"]


def recorded_ticker() -> dict[str, Any]:
    path = resources.files("pytest_oxbot") / "data/market/ws-api_ticker.24hr_multi-symbol_FULL_response.json"
    first: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["result"][0]
    return first


def recorded_candles(name: str) -> list[list[float]]:
    path = resources.files("pytest_oxbot") / f"data/market/candles/{name}.json"
    rows: list[list[float]] = json.loads(path.read_text(encoding="utf-8"))
    return rows


def get_tickers(symbols_param: str) -> httpx.Response:
    return httpx.get(f"{BASE}{TICKER_24HR}", params={"symbols": symbols_param})


def test_ticker_has_exactly_the_shape_of_the_real_answer(exchange: FakeExchange) -> None:
    answer = get_tickers(json.dumps(FIVE, separators=(",", ":")))
    assert answer.status_code == 200
    body = answer.json()
    reference = recorded_ticker()
    assert [t["symbol"] for t in body] == FIVE
    for ticker in body:
        assert list(ticker) == list(reference)  # same keys, same order
        assert {k: type(v) for k, v in ticker.items()} == {k: type(v) for k, v in reference.items()}


def test_ticker_is_derived_from_closed_recorded_candles_only(exchange: FakeExchange) -> None:
    exchange.replay_time = DEFAULT_REPLAY_START + 7 * 60  # 00:07, inside the first 15m candle of the day
    ticker = get_tickers('["BTCUSDT"]').json()[0]
    rows = recorded_candles("BTC_USDT-15m")
    t_ms = int(exchange.replay_time * 1000)
    closed = [r for r in rows if r[0] + 900_000 <= t_ms]
    window = [r for r in closed if r[0] >= t_ms - 86_400_000]
    assert Decimal(ticker["lastPrice"]) == Decimal(repr(closed[-1][4]))  # not the forming candle's close
    assert Decimal(ticker["highPrice"]) == Decimal(repr(max(r[2] for r in window)))
    assert Decimal(ticker["lowPrice"]) == Decimal(repr(min(r[3] for r in window)))
    assert Decimal(ticker["openPrice"]) == Decimal(repr(window[0][1]))
    assert ticker["closeTime"] == t_ms
    exchange.advance(15 * 60)  # the next 15m candle has closed: the price moves with the replay clock
    later = get_tickers('["BTCUSDT"]').json()[0]
    assert Decimal(later["lastPrice"]) == Decimal(repr(rows[len(closed)][4]))


def test_klines_serve_recorded_rows_and_never_the_future(exchange: FakeExchange) -> None:
    exchange.replay_time = DEFAULT_REPLAY_START + 20 * 60  # 00:20: one 15m candle of this hour has closed
    rows = httpx.get(f"{BASE}{KLINES}", params={"symbol": "BTCUSDT", "interval": "1h", "limit": "3"}).json()
    recorded = recorded_candles("BTC_USDT-1h")
    quarter = recorded_candles("BTC_USDT-15m")
    hour_ms = int(DEFAULT_REPLAY_START * 1000)
    by_open = {r[0]: r for r in recorded}
    assert [r[0] for r in rows] == [hour_ms - 7_200_000, hour_ms - 3_600_000, hour_ms]
    assert rows[1][4] == f"{Decimal(repr(by_open[hour_ms - 3_600_000][4])):.8f}"
    assert rows[1][6] == hour_ms - 1
    first_quarter = next(q for q in quarter if q[0] == hour_ms)
    assert Decimal(rows[2][4]) == Decimal(repr(first_quarter[4]))  # forming: only its closed 15 minutes
    assert all(isinstance(v, str) for r in rows for v in r[1:6])


def test_symbols_with_spaces_are_rejected_like_binance(exchange: FakeExchange) -> None:
    answer = get_tickers(json.dumps(["BTCUSDT", "ETHUSDT"]))  # default separators put a space after ','
    assert answer.status_code == 400
    assert answer.json()["code"] == -1100


def test_unknown_symbol_fails_the_whole_request(exchange: FakeExchange) -> None:
    answer = get_tickers('["BTCUSDT","NOPEUSDT"]')
    assert answer.status_code == 400
    assert answer.json() == {"code": -1121, "msg": "Invalid symbol."}
    exchange.inject("unknown_symbol", symbol="ETH/USDT")
    assert get_tickers('["ETHUSDT"]').json()["code"] == -1121


def test_calls_and_weight_are_counted_per_endpoint_and_minute(exchange: FakeExchange) -> None:
    get_tickers(json.dumps(FIVE, separators=(",", ":")))
    httpx.get(f"{BASE}{KLINES}", params={"symbol": "BTCUSDT", "interval": "1h", "limit": "10"})
    last = get_tickers('["BTCUSDT"]')
    assert exchange.calls == {TICKER_24HR: 2, KLINES: 1}
    assert exchange.weight == {TICKER_24HR: 4, KLINES: 2}
    assert last.headers["X-MBX-USED-WEIGHT-1m"] == "6"
    exchange.advance(60)
    assert get_tickers('["BTCUSDT"]').headers["X-MBX-USED-WEIGHT-1m"] == "2"  # a new minute


def test_going_over_the_weight_limit_answers_429_with_retry_after() -> None:
    with FakeExchange(weight_limit=4) as ex:
        ex.replay_time = DEFAULT_REPLAY_START + 50
        assert get_tickers('["BTCUSDT"]').status_code == 200
        assert get_tickers('["BTCUSDT"]').status_code == 200
        limited = get_tickers('["BTCUSDT"]')
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "11"


@pytest.mark.parametrize(
    ("fault", "status"), [("rate_limit", 429), ("ban", 418), ("server_error", 503), ("malformed", 200)]
)
def test_injected_faults_answer_once_then_recover(exchange: FakeExchange, fault: Any, status: int) -> None:
    exchange.inject(fault, retry_after=7)
    faulty = get_tickers('["BTCUSDT"]')
    assert faulty.status_code == status
    if status in (418, 429):
        assert faulty.headers["Retry-After"] == "7"
    if fault == "malformed":
        with pytest.raises(json.JSONDecodeError):
            faulty.json()
    assert get_tickers('["BTCUSDT"]').status_code == 200
    assert exchange.pending_faults() == []


def test_injected_timeout_and_endpoint_filter(exchange: FakeExchange) -> None:
    exchange.inject("timeout", endpoint=KLINES, times=2)
    assert get_tickers('["BTCUSDT"]').status_code == 200  # another endpoint: untouched
    for _ in range(2):
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{BASE}{KLINES}", params={"symbol": "BTCUSDT", "interval": "1h"})
    assert httpx.get(f"{BASE}{KLINES}", params={"symbol": "BTCUSDT", "interval": "1h"}).status_code == 200
    assert exchange.calls[KLINES] == 3


def test_inject_validates_its_arguments(exchange: FakeExchange) -> None:
    with pytest.raises(FakeError, match="unknown fault 'meteor'"):
        exchange.inject("meteor")
    with pytest.raises(FakeError, match="unknown fault 'missing_symbol'; this fake supports"):
        exchange.inject(Fault.MISSING_SYMBOL)  # the LLM fake's fault, not the exchange's
    with pytest.raises(FakeError, match="symbol"):
        exchange.inject("unknown_symbol")
    with pytest.raises(FakeError, match="5xx"):
        exchange.inject("server_error", status=404)
    with pytest.raises(FakeError, match="times"):
        exchange.inject("timeout", times=0)


def test_cycles_count_calls_per_cycle(exchange: FakeExchange) -> None:
    with exchange.cycle():
        get_tickers('["BTCUSDT"]')
    with exchange.cycle():
        get_tickers('["BTCUSDT"]')
        get_tickers('["ETHUSDT"]')
        httpx.get(f"{BASE}{KLINES}", params={"symbol": "BTCUSDT", "interval": "1h"})
    assert exchange.calls_per_cycle() == [1, 2]
    assert exchange.calls_per_cycle(None) == [1, 3]
    assert exchange.calls_per_cycle(KLINES) == [0, 1]


def test_replay_clock_is_controlled_by_the_test() -> None:
    clock = FakeClock(DEFAULT_REPLAY_START)
    ex = FakeExchange(clock=clock)
    ex.replay_time = datetime(2026, 1, 30, tzinfo=UTC).timestamp()
    assert clock.time() == ex.replay_time
    ex.advance(180)
    assert clock.time() == datetime(2026, 1, 30, 0, 3, tzinfo=UTC).timestamp()
    with pytest.raises(TypeError, match="FakeClock"):
        FakeExchange(clock=SystemClock()).replay_time = 0


def test_replay_outside_the_recording_is_a_clear_error(exchange: FakeExchange) -> None:
    exchange.replay_time = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    with pytest.raises(LookupError, match=r"no recorded candles around replay time 2026-03-01T00:00:00Z"):
        get_tickers('["BTCUSDT"]')


def test_other_base_url_and_unserved_path() -> None:
    with FakeExchange(base_url="https://api.example-binance-compatible.test") as ex:
        answer = httpx.get("https://api.example-binance-compatible.test/api/v3/ticker/24hr?symbol=BTCUSDT")
        assert answer.json()["symbol"] == "BTCUSDT"
        assert httpx.get("https://api.example-binance-compatible.test/api/v3/depth").status_code == 404
    assert ex.calls[TICKER_24HR] == 1


def test_shipped_data_covers_the_five_symbols() -> None:
    data = MarketData.shipped()
    assert data.symbols == sorted(FIVE)
    assert all(data.intervals(s) == ["15m", "1h"] for s in FIVE)
