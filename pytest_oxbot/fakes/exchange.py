"""FakeExchange: a respx-mounted Binance spot REST fake serving real recorded candles at a replay time.

Usable without pytest::

    with FakeExchange() as ex:                       # mounts respx on https://api.binance.com
        ex.replay_time = 1_769_299_200               # or ex.advance(180)
        ex.inject("rate_limit", retry_after=3)       # the next request gets 429 + Retry-After: 3
        with ex.cycle():
            ...                                      # calls made here are counted for this cycle
        ex.calls["/api/v3/ticker/24hr"], ex.weight, ex.calls_per_cycle()

It behaves like Binance where the pitfalls are: `symbols` must be compact JSON (else -1100), an unknown
or delisted symbol fails the whole request with -1121, weight is counted per minute and reported in
`X-MBX-USED-WEIGHT-1m`, and going over the limit answers 429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import respx

from pytest_oxbot.clock import Clock, FakeClock
from pytest_oxbot.fakes.exchange_data import MarketData
from pytest_oxbot.market.limits import klines_weight, ticker_24hr_weight

__all__ = ["DEFAULT_REPLAY_START", "FakeExchange", "Fault", "InjectedFault"]

DEFAULT_REPLAY_START = 1_769_299_200.0
"""2026-01-25T00:00:00Z: inside both recordings, with more than 24 h of 15m candles behind it."""

TICKER_24HR = "/api/v3/ticker/24hr"
KLINES = "/api/v3/klines"
USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1m"

Fault = Literal["unknown_symbol", "rate_limit", "ban", "server_error", "timeout", "malformed"]
_QUEUED: frozenset[str] = frozenset({"rate_limit", "ban", "server_error", "timeout", "malformed"})

# Binance's own validation pattern for the `symbols` parameter (error -1100 when it does not match).
_SYMBOLS_RE = re.compile(r'^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}")*)?\]$')
_SYMBOLS_RULE = r"^\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\]$"


@dataclass
class InjectedFault:
    """A fault waiting for its next `times` requests (on `endpoint`, or any endpoint when None)."""

    kind: str
    endpoint: str | None
    times: int
    retry_after: float | None
    status: int


class FakeExchange:
    """Binance-compatible fake of `GET /api/v3/ticker/24hr` and `GET /api/v3/klines`."""

    def __init__(
        self,
        clock: Clock | None = None,
        data: MarketData | None = None,
        *,
        base_url: str = "https://api.binance.com",
        weight_limit: int = 6000,
    ) -> None:
        self.clock: Clock = clock if clock is not None else FakeClock(DEFAULT_REPLAY_START)
        self.data = data if data is not None else MarketData.shipped()
        self.base_url = base_url.rstrip("/")
        self.weight_limit = weight_limit
        self.calls: Counter[str] = Counter()
        """Requests received per endpoint path (faulted ones included)."""
        self.weight: Counter[str] = Counter()
        """Request weight charged per endpoint path."""
        self.requests: list[httpx.Request] = []
        self.cycles: list[Counter[str]] = []
        self.delisted: set[str] = set()
        self.kpi_endpoint: str | None = TICKER_24HR
        """The endpoint whose calls per cycle make the `api_calls_per_cycle` KPI (None: all endpoints)."""
        self._faults: deque[InjectedFault] = deque()
        self._minute = -1
        self._minute_weight = 0
        self._router = respx.MockRouter(base_url=self.base_url, assert_all_called=False)
        self._router.route(name="oxbot-fake-exchange").mock(side_effect=self.handle)

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
        before = Counter(self.calls)
        try:
            yield
        finally:
            after = Counter(self.calls)
            after.subtract(before)
            self.cycles.append(+after)

    def calls_per_cycle(self, endpoint: str | None = TICKER_24HR) -> list[int]:
        """Calls of each recorded cycle to `endpoint` (all endpoints when None)."""
        if endpoint is None:
            return [sum(c.values()) for c in self.cycles]
        return [c[endpoint] for c in self.cycles]

    def reset_counts(self) -> None:
        self.calls.clear()
        self.weight.clear()
        self.requests.clear()
        self.cycles.clear()

    # -- faults -----------------------------------------------------------------------------------

    def inject(
        self,
        fault: Fault,
        *,
        endpoint: str | None = None,
        times: int = 1,
        symbol: str | None = None,
        retry_after: float | None = None,
        status: int = 503,
    ) -> None:
        """Make the next `times` requests fail, or (`unknown_symbol`) delist `symbol` from now on.

        `rate_limit` answers 429 and `ban` 418, both with `Retry-After` (default: the rest of the
        minute); `server_error` answers `status` (5xx); `timeout` raises httpx.ReadTimeout; `malformed`
        answers 200 with a truncated JSON body.
        """
        if fault == "unknown_symbol":
            if not symbol:
                raise ValueError("inject('unknown_symbol') needs symbol='BTC/USDT' (or 'BTCUSDT')")
            self.delisted.add(symbol.replace("/", "").upper())
            return
        if fault not in _QUEUED:
            raise ValueError(
                f"unknown fault {fault!r}; expected one of {sorted(_QUEUED | {'unknown_symbol'})}"
            )
        if times < 1:
            raise ValueError("times must be >= 1")
        if fault == "server_error" and not 500 <= status <= 599:
            raise ValueError(f"server_error needs a 5xx status, got {status}")
        self._faults.append(InjectedFault(fault, endpoint, times, retry_after, status))

    def pending_faults(self) -> list[InjectedFault]:
        """Injected faults no request has triggered yet (a test that injects one expects it to fire)."""
        return list(self._faults)

    def _take_fault(self, path: str) -> InjectedFault | None:
        for fault in self._faults:
            if fault.endpoint is None or fault.endpoint == path:
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- mounting ---------------------------------------------------------------------------------

    @property
    def router(self) -> respx.MockRouter:
        return self._router

    def start(self) -> None:
        self._router.start()

    def stop(self) -> None:
        self._router.stop(quiet=True)

    def __enter__(self) -> FakeExchange:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request handling -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as Binance would at the replay time (respx calls this)."""
        path = request.url.path
        self.requests.append(request)
        self.calls[path] += 1
        fault = self._take_fault(path)
        if fault is not None:
            return self._fault_response(fault, request)
        if path == TICKER_24HR:
            return self._ticker(request)
        if path == KLINES:
            return self._klines(request)
        return _error(404, -1, f"the fake exchange does not serve {request.method} {path}")

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

    def _fault_response(self, fault: InjectedFault, request: httpx.Request) -> httpx.Response:
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
        return httpx.Response(200, content=b'[{"symbol":"BTCUSDT","lastPrice":"9', headers=self._headers())

    def _known(self, symbol: str) -> bool:
        return symbol not in self.delisted and symbol in self.data.symbols

    def _ticker(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        raw_symbols, single = params.get("symbols"), params.get("symbol")
        if raw_symbols is not None and single is not None:
            return _error(400, -1128, "Combination of optional parameters invalid.")
        if raw_symbols is not None:
            if not _SYMBOLS_RE.match(raw_symbols):
                msg = f"Illegal characters found in parameter 'symbols'; legal range is '{_SYMBOLS_RULE}'."
                return _error(400, -1100, msg)
            wanted: list[str] = json.loads(raw_symbols)
        elif single is not None:
            wanted = [single]
        else:
            wanted = [s for s in self.data.symbols if self._known(s)]
        limited = self._charge(TICKER_24HR, ticker_24hr_weight(len(wanted) if raw_symbols or single else 0))
        if limited is not None:
            return limited
        if any(not self._known(s) for s in wanted):
            return _error(400, -1121, "Invalid symbol.", self._headers())
        t_ms = int(self.clock.time() * 1000)
        tickers = [self.data.ticker(s, t_ms) for s in dict.fromkeys(wanted)]
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
        unsupported = {"startTime", "endTime", "timeZone"} & set(params.keys())
        if unsupported:
            raise NotImplementedError(f"the fake exchange does not support klines {sorted(unsupported)}")
        try:
            limit = int(params.get("limit", "500"))
        except ValueError:
            return _error(400, -1100, "Illegal characters found in parameter 'limit'.")
        if not 1 <= limit <= 1000:
            return _error(400, -1130, "Invalid data sent for a parameter: limit must be within 1..1000.")
        limited = self._charge(KLINES, klines_weight())
        if limited is not None:
            return limited
        if not self._known(symbol):
            return _error(400, -1121, "Invalid symbol.", self._headers())
        if interval not in self.data.intervals(symbol):
            recorded = self.data.intervals(symbol)
            raise LookupError(
                f"the fake exchange has no recorded {interval} candles for {symbol} ({recorded=})"
            )
        rows = self.data.klines(symbol, interval, limit, int(self.clock.time() * 1000))
        return httpx.Response(200, json=rows, headers=self._headers())


def _error(status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": msg}, headers=headers)
