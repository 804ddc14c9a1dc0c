"""FakeExchange: a Binance REST fake serving real recorded candles at a replay time, to any HTTP client.

Usable without pytest::

    with FakeExchange(serve=True) as ex:             # respx on https://api.binance.com (httpx clients)
        ex.base_url                                  # http://127.0.0.1:<port>: ccxt, requests, aiohttp...
        ex.replay_time = 1_769_299_200               # or ex.advance(180)
        ex.inject("rate_limit", retry_after=3)       # the next request gets 429 + Retry-After: 3
        with ex.cycle():
            ...                                      # calls made here are counted for this cycle
        ex.calls["/api/v3/ticker/24hr"], ex.weight, ex.calls_per_cycle()

Both paths (respx in-process, the loopback server) call the same `handle()`, so data, counters, weight,
latency and faults are one state. It behaves like Binance where the pitfalls are: `symbols` must be
compact JSON (else -1100), an unknown or delisted symbol fails the whole request with -1121, weight is
counted per minute and reported in `X-MBX-USED-WEIGHT-1m`, and going over the limit answers 429 with
`Retry-After`. Funding rates and open interest were never recorded: their futures endpoints answer
HTTP 404 with `{"code": -1, "msg": "not recorded: ..."}` (a clear error a client can catch, never a
made-up value).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import respx

from pytest_oxbot.clock import Clock, FakeClock
from pytest_oxbot.errors import FakeError
from pytest_oxbot.fakes.exchange_data import MarketArchive, MarketData
from pytest_oxbot.fakes.faults import Fault, FaultQueue, PendingFault
from pytest_oxbot.fakes.server import LoopbackServer, pass_through_to_loopback
from pytest_oxbot.market.limits import klines_weight, ticker_24hr_weight
from pytest_oxbot.market.models import INTERVAL_SECONDS

__all__ = [
    "DEFAULT_REPLAY_START",
    "EXCHANGE_FAULTS",
    "NOT_RECORDED_HEADER",
    "FakeExchange",
    "Fault",
]

DEFAULT_REPLAY_START = 1_769_299_200.0
"""2026-01-25T00:00:00Z: inside both recordings, with more than 24 h of 15m candles behind it."""

TICKER_24HR = "/api/v3/ticker/24hr"
TICKER_PRICE = "/api/v3/ticker/price"
KLINES = "/api/v3/klines"
EXCHANGE_INFO = "/api/v3/exchangeInfo"
USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1m"
NOT_RECORDED_HEADER = "X-Oxbot-Not-Recorded"
"""Set on every answer for data the recordings do not have (funding, open interest): a client can test it."""

DEFAULT_FUTURES_URLS = ("https://fapi.binance.com", "https://dapi.binance.com")

EXCHANGE_FAULTS = frozenset(
    {Fault.UNKNOWN_SYMBOL, Fault.RATE_LIMIT, Fault.BAN, Fault.SERVER_ERROR, Fault.TIMEOUT, Fault.MALFORMED}
)

# Binance's own validation pattern for the `symbols` parameter (error -1100 when it does not match).
_SYMBOLS_RE = re.compile(r'^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}")*)?\]$')
_SYMBOLS_RULE = r"^\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\]$"
# The futures APIs (USD-M, COIN-M, their data endpoints): only their exchangeInfo is answered, empty.
_FUTURES_PREFIXES = ("/fapi/", "/dapi/", "/futures/data/")
_FUTURES_INFO = ("/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo")
_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "BTC", "ETH", "BNB")


class FakeExchange:
    """Binance-compatible fake of the public spot market-data endpoints (tickers, klines, exchangeInfo).

    `base_url` is the URL it impersonates (default Binance's), mounted with respx when `mount` is true so
    httpx clients aimed at it are answered in-process. `serve=True` makes `base_url` a real loopback
    server, started on first use, that any HTTP client can call (`public_url` stays the mounted one).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        data: MarketData | MarketArchive | None = None,
        *,
        base_url: str = "https://api.binance.com",
        futures_urls: tuple[str, ...] = DEFAULT_FUTURES_URLS,
        weight_limit: int = 6000,
        mount: bool = True,
        serve: bool = False,
    ) -> None:
        self.clock: Clock = clock if clock is not None else FakeClock(DEFAULT_REPLAY_START)
        self.data: MarketData | MarketArchive = data if data is not None else MarketArchive.shipped()
        self.archive = MarketArchive.of(self.data)
        self.public_url = base_url.rstrip("/")
        self.futures_urls = tuple(u.rstrip("/") for u in futures_urls)
        self.weight_limit = weight_limit
        self.mount = mount
        self.serve = serve
        self.calls: Counter[str] = Counter()
        """Requests received per endpoint path (faulted ones included)."""
        self.weight: Counter[str] = Counter()
        """Request weight charged per endpoint path."""
        self.requests: list[httpx.Request] = []
        self.cycles: list[Counter[str]] = []
        self.delisted: set[str] = set()
        self.not_recorded: list[str] = []
        """Paths answered "not recorded" (funding, open interest, ...), in order."""
        self.kpi_endpoint: str | None = TICKER_24HR
        """The endpoint whose calls per cycle make the `api_calls_per_cycle` KPI (None: all endpoints)."""
        self._faults = FaultQueue()
        self._minute = -1
        self._minute_weight = 0
        self._lock = threading.RLock()  # respx (the test's thread) and the server thread share the state
        self._started = False
        self._server = LoopbackServer(self.handle, name="oxbot-fake-exchange")
        self._router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
        for url in (self.public_url, *self.futures_urls):
            self._router.route(url__startswith=url + "/", name=f"oxbot-fake-exchange {url}").mock(
                side_effect=self.handle
            )
        self._router.route(scheme="http").mock(side_effect=pass_through_to_loopback)

    def __repr__(self) -> str:
        where = self._server.url if self._server.running else self.public_url
        return f"FakeExchange({where}, {self.archive!r})"

    # -- where clients reach it -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where to point any client: the loopback server when `serve`, else the mounted `public_url`."""
        return self.server_url if self.serve else self.public_url

    @property
    def server_url(self) -> str:
        """`http://127.0.0.1:<port>` of the loopback server, started on first use (inside `with`)."""
        if not self._started:
            raise FakeError("start the fake exchange first (`with FakeExchange(...) as ex:` or the fixture)")
        if not self._server.running:
            self._server.start()
        return self._server.url

    @property
    def httpx_url(self) -> str:
        """Where an httpx client (the toolkit's own) should go: in-process when mounted, else the server."""
        return self.public_url if self.mount else self.server_url

    @property
    def server_errors(self) -> list[str]:
        """What the handler raised while serving over loopback (a test should fail on any)."""
        return list(self._server.errors)

    def ccxt_urls(self, api: Mapping[str, Any]) -> dict[str, Any]:
        """A ccxt `exchange.urls["api"]` with every URL's origin replaced by the loopback server's.

        `exchange.urls["api"] = oxbot_exchange.ccxt_urls(exchange.urls["api"])` points a ccxt Binance
        class (spot `/api/v3`, futures `/fapi`, `/dapi`) at this fake, paths unchanged.
        """
        origin = self.server_url
        out: dict[str, Any] = {}
        for key, value in api.items():
            if isinstance(value, Mapping):
                out[key] = self.ccxt_urls(value)
            elif isinstance(value, str) and value.startswith(("http://", "https://")):
                parts = urlsplit(value)
                out[key] = origin + parts.path + (f"?{parts.query}" if parts.query else "")
            else:
                out[key] = value
        return out

    # -- replay clock -----------------------------------------------------------------------------

    @property
    def replay_time(self) -> float:
        """Epoch seconds the fake answers "now" with (forward-only when the clock is a FakeClock)."""
        return self.clock.time()

    @replay_time.setter
    def replay_time(self, epoch_seconds: float) -> None:
        if not isinstance(self.clock, FakeClock):
            raise TypeError("replay_time can only be set when the fake runs on a FakeClock")
        self.clock.set(epoch_seconds)

    def advance(self, seconds: float) -> None:
        if not isinstance(self.clock, FakeClock):
            raise TypeError("advance() needs the fake to run on a FakeClock")
        self.clock.advance(seconds)

    async def sleep(self, seconds: float) -> None:
        """A sleep for clients under test: moves the replay clock instead of waiting."""
        if seconds > 0:
            self.advance(seconds)
        await asyncio.sleep(0)

    # -- counting ---------------------------------------------------------------------------------

    @property
    def total_weight(self) -> int:
        return sum(self.weight.values())

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @contextmanager
    def cycle(self) -> Iterator[None]:
        """Count the calls made inside the block as one decision cycle."""
        with self._lock:
            before = Counter(self.calls)
        try:
            yield
        finally:
            with self._lock:
                after = Counter(self.calls)
            after.subtract(before)
            self.cycles.append(+after)

    def calls_per_cycle(self, endpoint: str | None = TICKER_24HR) -> list[int]:
        """Calls of each recorded cycle to `endpoint` (all endpoints when None)."""
        if endpoint is None:
            return [sum(c.values()) for c in self.cycles]
        return [c[endpoint] for c in self.cycles]

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.weight.clear()
            self.requests.clear()
            self.cycles.clear()

    # -- faults -----------------------------------------------------------------------------------

    def inject(
        self,
        fault: Fault | str,
        *,
        endpoint: str | None = None,
        times: int = 1,
        symbol: str | None = None,
        retry_after: float | None = None,
        status: int = 503,
    ) -> None:
        """Make the next `times` requests fail, or (`unknown_symbol`) delist `symbol` from now on.

        `rate_limit` answers 429 and `ban` 418, both with `Retry-After` (default: the rest of the
        minute); `server_error` answers `status` (5xx); `timeout` raises httpx.ReadTimeout in-process and
        holds a loopback connection unanswered until the client times out; `malformed` answers 200 with a
        truncated JSON body.
        """
        kind = Fault.parse(fault, EXCHANGE_FAULTS)
        if kind is Fault.UNKNOWN_SYMBOL:
            if not symbol:
                raise FakeError("inject('unknown_symbol') needs symbol='BTC/USDT' (or 'BTCUSDT')")
            with self._lock:
                self.delisted.add(symbol.replace("/", "").upper())
            return
        if kind is Fault.SERVER_ERROR and not 500 <= status <= 599:
            raise FakeError(f"server_error needs a 5xx status, got {status}")
        with self._lock:
            self._faults.add(
                PendingFault(kind, times=times, endpoint=endpoint, retry_after=retry_after, status=status)
            )

    def pending_faults(self) -> list[PendingFault]:
        """Injected faults no request has triggered yet (a test that injects one expects it to fire)."""
        with self._lock:
            return self._faults.pending()

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def router(self) -> respx.MockRouter:
        return self._router

    def start(self) -> None:
        """Mount respx (when `mount`); the loopback server starts on first use of `server_url`."""
        if self.mount:
            self._router.start()
        self._started = True

    def stop(self) -> None:
        if self.mount:
            self._router.stop(quiet=True)
        self._server.stop()
        self._started = False

    def __enter__(self) -> FakeExchange:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request handling -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as Binance would at the replay time (respx and the server call this)."""
        path = self._path(request)
        with self._lock:
            self.requests.append(request)
            self.calls[path] += 1
            fault = self._faults.take(path)
            if fault is not None:
                return self._fault_response(fault, request)
            if request.method not in ("GET", "HEAD"):
                return _error(
                    405, -1, f"the fake exchange serves market data only, not {request.method} {path}"
                )
            if path == TICKER_24HR:
                return self._ticker(request)
            if path == TICKER_PRICE:
                return self._ticker(request, price_only=True)
            if path == KLINES:
                return self._klines(request)
            if path == EXCHANGE_INFO:
                return self._exchange_info(request)
            if path == "/api/v3/ping":
                return httpx.Response(200, json={})
            if path == "/api/v3/time":
                return httpx.Response(200, json={"serverTime": int(self.clock.time() * 1000)})
            if path in _FUTURES_INFO:
                return self._futures_info()
            if path.startswith(_FUTURES_PREFIXES):
                return self._not_recorded(path)
            return _error(404, -1, f"the fake exchange does not serve {request.method} {path}")

    def _path(self, request: httpx.Request) -> str:
        """The API path, without the path prefix of the mounted URL it came through (if any)."""
        path = request.url.path
        for url in (self.public_url, *self.futures_urls):
            parts = urlsplit(url)
            if request.url.host == parts.hostname and parts.path and path.startswith(parts.path + "/"):
                return path[len(parts.path) :]
        return path

    def _window(self) -> MarketData:
        return self.archive.at(int(self.clock.time() * 1000))

    def _charge(self, path: str, weight: int) -> httpx.Response | None:
        """Count weight in the replay minute; over the limit, answer 429 like Binance does."""
        now = self.clock.time()
        minute = int(now // 60)
        if minute != self._minute:
            self._minute, self._minute_weight = minute, 0
        self._minute_weight += weight
        self.weight[path] += weight
        if self._minute_weight > self.weight_limit:
            wait = int((minute + 1) * 60 - now) + 1
            msg = f"Too much request weight used; current limit is {self.weight_limit} weight per 1 MINUTE."
            return _error(429, -1003, msg, self._headers(retry_after=wait))
        return None

    def _headers(self, retry_after: float | None = None) -> dict[str, str]:
        headers = {USED_WEIGHT_HEADER: str(self._minute_weight)}
        if retry_after is not None:
            headers["Retry-After"] = (
                str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
            )
        return headers

    def _fault_response(self, fault: PendingFault, request: httpx.Request) -> httpx.Response:
        if fault.kind == "timeout":
            raise httpx.ReadTimeout("fake exchange: injected read timeout", request=request)
        retry_after = fault.retry_after if fault.retry_after is not None else 60 - int(self.clock.time() % 60)
        if fault.kind == "rate_limit":
            msg = "Too many requests; injected by the fake exchange."
            return _error(429, -1003, msg, self._headers(retry_after=retry_after))
        if fault.kind == "ban":
            msg = "Way too many requests; IP banned (injected by the fake exchange)."
            return _error(418, -1003, msg, self._headers(retry_after=retry_after))
        if fault.kind == "server_error":
            return _error(
                fault.status, -1001, "Internal error; unable to process your request. Please try again."
            )
        return httpx.Response(
            200,
            content=b'[{"symbol":"BTCUSDT","lastPrice":"9',
            headers={**self._headers(), "content-type": "application/json"},
        )

    def _known(self, symbol: str, window: MarketData) -> bool:
        return symbol not in self.delisted and symbol in window.symbols

    def _ticker(self, request: httpx.Request, *, price_only: bool = False) -> httpx.Response:
        path = TICKER_PRICE if price_only else TICKER_24HR
        params = request.url.params
        raw_symbols, single = params.get("symbols"), params.get("symbol")
        if raw_symbols is not None and single is not None:
            return _error(400, -1128, "Combination of optional parameters invalid.")
        window = self._window()
        if raw_symbols is not None:
            if not _SYMBOLS_RE.match(raw_symbols):
                msg = f"Illegal characters found in parameter 'symbols'; legal range is '{_SYMBOLS_RULE}'."
                return _error(400, -1100, msg)
            wanted: list[str] = json.loads(raw_symbols)
        elif single is not None:
            wanted = [single]
        else:
            wanted = [s for s in window.symbols if self._known(s, window)]
        count = len(wanted) if raw_symbols or single else 0
        weight = (2 if single is not None else 4) if price_only else ticker_24hr_weight(count)
        limited = self._charge(path, weight)
        if limited is not None:
            return limited
        if any(not self._known(s, window) for s in wanted):
            return _error(400, -1121, "Invalid symbol.", self._headers())
        t_ms = int(self.clock.time() * 1000)
        tickers = [window.ticker(s, t_ms) for s in dict.fromkeys(wanted)]
        if price_only:
            tickers = [{"symbol": t["symbol"], "price": t["lastPrice"]} for t in tickers]
        body: Any = tickers[0] if single is not None else tickers
        return httpx.Response(200, json=body, headers=self._headers())

    def _klines(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        symbol, interval = params.get("symbol"), params.get("interval")
        for name, value in (("symbol", symbol), ("interval", interval)):
            if not value:
                return _error(
                    400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
                )
        assert symbol is not None
        assert interval is not None
        if "timeZone" in params:
            raise NotImplementedError("the fake exchange does not support the klines timeZone parameter")
        try:
            limit = int(params.get("limit", "500"))
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
        except ValueError:
            return _error(400, -1100, "Illegal characters found in a parameter (limit, startTime, endTime).")
        if not 1 <= limit <= 1000:
            return _error(400, -1130, "Invalid data sent for a parameter: limit must be within 1..1000.")
        if interval not in INTERVAL_SECONDS:
            return _error(400, -1120, "Invalid interval.")
        limited = self._charge(KLINES, klines_weight())
        if limited is not None:
            return limited
        window = self._window()
        if not self._known(symbol, window):
            return _error(400, -1121, "Invalid symbol.", self._headers())
        if interval not in window.intervals(symbol):
            recorded = ", ".join(window.intervals(symbol))
            return self._not_recorded(
                KLINES,
                f"no {interval} candles for {symbol} in the recording {window.name!r} (recorded: "
                f"{recorded}); every shipped window: {self.archive.describe()}",
                status=400,
            )
        t_ms = int(self.clock.time() * 1000)
        rows = window.klines(symbol, interval, limit, t_ms, start_ms=start, end_ms=end)
        return httpx.Response(200, json=rows, headers=self._headers())

    def _exchange_info(self, request: httpx.Request) -> httpx.Response:
        """Symbols of the recording at the replay time; tick sizes derived from the recorded prices."""
        limited = self._charge(EXCHANGE_INFO, 20)
        if limited is not None:
            return limited
        window = self._window()
        params = request.url.params
        names = window.symbols
        if "symbol" in params or "symbols" in params:
            asked = [params["symbol"]] if "symbol" in params else json.loads(params.get("symbols") or "[]")
            if any(not self._known(s, window) for s in asked):
                return _error(400, -1121, "Invalid symbol.", self._headers())
            names = list(dict.fromkeys(asked))
        symbols = [_symbol_info(s, window) for s in names if self._known(s, window)]
        body = {
            "timezone": "UTC",
            "serverTime": int(self.clock.time() * 1000),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": self.weight_limit},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }  # fmt: skip
        return httpx.Response(200, json=body, headers=self._headers())

    def _futures_info(self) -> httpx.Response:
        """No futures market was recorded: a valid exchangeInfo with no symbols (ccxt loads fine)."""
        body = {
            "timezone": "UTC",
            "serverTime": int(self.clock.time() * 1000),
            "rateLimits": [],
            "exchangeFilters": [],
            "assets": [],
            "symbols": [],
        }
        return httpx.Response(200, json=body, headers={NOT_RECORDED_HEADER: "futures markets"})

    def _not_recorded(self, path: str, detail: str | None = None, *, status: int = 404) -> httpx.Response:
        self.not_recorded.append(path)
        msg = "not recorded: " + (
            detail
            or f"pytest-oxbot's fake exchange has no real recording for {path} (funding rates, open "
            "interest and other futures data were never recorded, and the fake does not invent them)"
        )
        return _error(status, -1, msg, {NOT_RECORDED_HEADER: path})


def _symbol_info(symbol: str, window: MarketData) -> dict[str, Any]:
    base, quote = _split(symbol)
    tick = window.tick_size(symbol)
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": [],
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            # 0 disables a bound (Binance's rule); only the tick size is known, from the recorded prices.
            {"filterType": "PRICE_FILTER", "minPrice": "0.00000000", "maxPrice": "0.00000000",
             "tickSize": f"{tick:.8f}"},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
    }  # fmt: skip


def _split(symbol: str) -> tuple[str, str]:
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise FakeError(f"cannot split {symbol!r} into base and quote assets")


def _error(status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": msg}, headers=headers)
