"""MarketDataClient (0xBot's OptimizedNetworkClient): batched tickers, cached candles, polite retries.

- Tickers: every symbol any caller asks for within `batch_window` goes through one IntelligentBatcher,
  so 5 symbols (or 50 concurrent cycles asking for them) cost one `GET /api/v3/ticker/24hr?symbols=[...]`.
- Candles: `GET /api/v3/klines`, only closed candles, cached through an `AsyncCache` until the next one
  closes (the key holds the interval bucket, so a slow TTL can never serve the previous candle set).
- Faults: -1121 drops the unknown symbol and retries the rest; 429 waits `Retry-After`; 418 stops all
  requests until the ban ends; 5xx and timeouts back off exponentially with jitter, bounded.
- Deadlines: every public call ends within `RetryPolicy.max_total` (attempts, waits and slow bodies
  together), enforced around the whole call, so a server dripping one byte at a time cannot hold it.
- Junk: a ticker with impossible prices (negative, zero, ask below bid, high below low, non-ASCII
  digits) or listed twice is that symbol's `None` with the reason, never a snapshot.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx

from pytest_oxbot.batcher import IntelligentBatcher
from pytest_oxbot.cache.protocol import AsyncCache
from pytest_oxbot.clock import Clock, SystemClock
from pytest_oxbot.http import HttpOptions
from pytest_oxbot.market.errors import (
    DeadlineExceededError,
    ExchangeAPIError,
    ExchangeUnavailableError,
    IpBannedError,
    MalformedResponseError,
    RateLimitedError,
    UnknownSymbolError,
)
from pytest_oxbot.market.limits import WeightBudget, klines_weight, ticker_24hr_weight
from pytest_oxbot.market.models import (
    INTERVAL_SECONDS,
    Candle,
    Snapshot,
    SnapshotBatch,
    SymbolFailure,
)
from pytest_oxbot.market.symbols import to_exchange
from pytest_oxbot.retry import RetryPolicy, parse_retry_after

__all__ = ["DEFAULT_BASE_URL", "KLINES", "TICKER_24HR", "CandleBatch", "MarketDataClient"]

DEFAULT_BASE_URL = "https://api.binance.com"
TICKER_24HR = "/api/v3/ticker/24hr"
KLINES = "/api/v3/klines"
UNKNOWN_SYMBOL = -1121
USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1m"
MIN_BAN_S = 120.0  # Binance's shortest IP ban: a 418 whose Retry-After is unusable bans at least this

Sleep = Callable[[float], Awaitable[None]]


class CandleBatch(dict[str, list[Candle] | None]):
    """`{symbol: candles | None}` in request order; `reasons[symbol]` says why a value is None."""

    def __init__(self) -> None:
        super().__init__()
        self.reasons: dict[str, SymbolFailure] = {}


class _Uncacheable(Exception):
    """The exchange does not have the last closed candle yet: return these rows, do not cache them."""

    def __init__(self, rows: list[Any]) -> None:
        super().__init__("incomplete candle set")
        self.rows = rows


def compact_symbols(symbols: Iterable[str]) -> str:
    """Binance's `symbols` parameter: a JSON array with no spaces (a space is error -1100)."""
    return json.dumps(list(symbols), separators=(",", ":"))


def _unified(symbol: str) -> tuple[str, str]:
    exchange = to_exchange(symbol)
    base, quote = symbol.strip().upper().split("/")
    return f"{base}/{quote}", exchange


class MarketDataClient:
    """Async context manager over one `httpx.AsyncClient` with explicit limits (`HttpOptions`)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        cache: AsyncCache | None = None,
        clock: Clock | None = None,
        *,
        http: HttpOptions | None = None,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
        retry: RetryPolicy | None = None,
        budget: WeightBudget | None = None,
        batch_window: float = 0.01,
        max_symbols_per_call: int = 20,
        candle_concurrency: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not 1 <= max_symbols_per_call <= 100:
            raise ValueError("max_symbols_per_call must be within 1..100")
        self.base_url = base_url.rstrip("/")
        self._cache = cache
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._rng = rng if rng is not None else random.Random()
        self.retry = retry if retry is not None else RetryPolicy()
        self.budget = budget if budget is not None else WeightBudget()
        self._candle_slots = max(1, candle_concurrency)
        self._candle_sem: asyncio.Semaphore | None = None  # created on first use (no loop binding here)
        self.http = http or HttpOptions()
        self._http = self.http.client(
            self.base_url,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "pytest-oxbot"},
        )
        self._tickers: IntelligentBatcher[str, Snapshot | SymbolFailure] = IntelligentBatcher(
            self._fetch_tickers, window=batch_window, max_batch_size=max_symbols_per_call, name="tickers"
        )
        self.calls: Counter[str] = Counter()
        """HTTP requests sent, per endpoint path (retries included)."""
        self.unknown_symbols: set[str] = set()
        """Exchange symbols answered with -1121; later batches leave them out without asking again."""

    async def __aenter__(self) -> MarketDataClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Drain queued ticker requests, then close the connection pool."""
        await self._tickers.aclose()
        await self._http.aclose()

    @property
    def used_weight(self) -> int:
        """The request weight used in the current minute (last `X-MBX-USED-WEIGHT-1m` plus in-flight)."""
        return self.budget.used

    @property
    def ticker_batcher(self) -> IntelligentBatcher[str, Snapshot | SymbolFailure]:
        return self._tickers

    # -- tickers ----------------------------------------------------------------------------------

    async def fetch_market_data_batch(self, symbols: Iterable[str]) -> SnapshotBatch:
        """One snapshot per unified symbol; None (with `result.reasons[symbol]`) for unknown ones.

        Whole-request failures (rate limit, ban, exchange down, malformed body) raise a typed
        `MarketDataError`; a malformed symbol name raises `SymbolError` before anything is sent.
        """
        order: list[str] = []
        waiting: dict[str, asyncio.Future[Snapshot | SymbolFailure]] = {}
        failures: dict[str, SymbolFailure] = {}
        for symbol in symbols:
            if symbol in waiting or symbol in failures:
                continue
            unified, exchange = _unified(symbol)
            order.append(symbol)
            if exchange in self.unknown_symbols:
                failures[symbol] = SymbolFailure("unknown or delisted symbol (-1121, seen earlier)", -1121)
            else:
                waiting[symbol] = self._tickers.submit(unified)
        try:
            async with asyncio.timeout(self.retry.max_total):
                answers = await asyncio.gather(*waiting.values(), return_exceptions=True)
        except TimeoutError:
            raise DeadlineExceededError(0, self.retry.max_total, f"{TICKER_24HR} batch") from None
        fatal = next((a for a in answers if isinstance(a, BaseException)), None)
        if fatal is not None:
            raise fatal
        got = dict(zip(waiting, answers, strict=True))
        out = SnapshotBatch()
        for symbol in order:
            answer = got.get(symbol, failures.get(symbol))
            if isinstance(answer, Snapshot):
                out[symbol] = answer
            else:
                out[symbol] = None
                out.reasons[symbol] = answer if isinstance(answer, SymbolFailure) else SymbolFailure("?")
        return out

    async def _fetch_tickers(self, unified: list[str]) -> dict[str, Snapshot | SymbolFailure]:
        """The batcher's upstream call: one request for all, bisecting around unknown symbols."""
        out: dict[str, Snapshot | SymbolFailure] = {}
        await self._fetch_ticker_group(unified, out)
        return out

    async def _fetch_ticker_group(self, unified: list[str], out: dict[str, Snapshot | SymbolFailure]) -> None:
        exchange = [to_exchange(u) for u in unified]
        try:
            data = await self._get(
                TICKER_24HR, {"symbols": compact_symbols(exchange)}, ticker_24hr_weight(len(exchange))
            )
        except ExchangeAPIError as exc:
            if exc.code != UNKNOWN_SYMBOL:
                raise
            # Binance does not say which symbol is unknown: split the batch until it is isolated.
            if len(unified) == 1:
                self.unknown_symbols.add(exchange[0])
                out[unified[0]] = SymbolFailure(f"unknown or delisted symbol: {exc.msg}", exc.code)
                return
            half = len(unified) // 2
            await self._fetch_ticker_group(unified[:half], out)
            await self._fetch_ticker_group(unified[half:], out)
            return
        if not isinstance(data, list):
            raise MalformedResponseError(f"{TICKER_24HR} answered {type(data).__name__}, expected an array")
        by_symbol: dict[str, Any] = {}
        twice: set[str] = set()
        for raw in data:
            if not isinstance(raw, dict) or not isinstance(raw.get("symbol"), str):
                raise MalformedResponseError(f"{TICKER_24HR} element is not a ticker object: {raw!r:.200}")
            if raw["symbol"] in by_symbol:
                twice.add(raw["symbol"])
            by_symbol[raw["symbol"]] = raw
        for u, e in zip(unified, exchange, strict=True):
            raw = by_symbol.get(e)
            if raw is None:
                out[u] = SymbolFailure("the exchange's answer has no ticker for this symbol")
            elif e in twice:
                out[u] = SymbolFailure(f"the exchange's answer lists {e} more than once: no reading trusted")
            else:
                try:
                    out[u] = Snapshot.from_binance(u, raw)
                except MalformedResponseError as exc:  # junk for this symbol only: the others stand
                    out[u] = SymbolFailure(f"junk ticker: {exc}")

    # -- candles ----------------------------------------------------------------------------------

    async def fetch_candles(
        self, symbol: str, interval: str = "1h", limit: int = 100, *, closed_only: bool = True
    ) -> list[Candle]:
        """The `limit` most recent candles, oldest first.

        With `closed_only` (the default) only closed candles are returned and the list is cached until
        the next candle closes; `closed_only=False` adds the forming candle and bypasses the cache.
        """
        unified, exchange = _unified(symbol)
        try:
            async with asyncio.timeout(self.retry.max_total):
                return await self._candles(unified, exchange, interval, limit, closed_only)
        except TimeoutError:
            raise DeadlineExceededError(0, self.retry.max_total, f"{KLINES} for {unified}") from None

    async def _candles(
        self, unified: str, exchange: str, interval: str, limit: int, closed_only: bool
    ) -> list[Candle]:
        step = INTERVAL_SECONDS.get(interval)
        if step is None:
            raise ValueError(f"interval {interval!r} is not one of {sorted(INTERVAL_SECONDS)}")
        if not 1 <= limit <= 999:
            raise ValueError(f"limit must be within 1..999, got {limit}")
        now = self._clock.time()
        bucket = int(now // step)
        forming_open_ms = bucket * step * 1000

        async def load() -> list[Any]:
            rows = await self._klines(unified, exchange, interval, limit + 1)
            # Binance's newest row is always the forming candle (on the exchange's clock, not ours).
            closed = [r for r in rows[:-1] if r[6] < forming_open_ms][-limit:]
            final = bool(rows) and rows[-1][0] >= forming_open_ms
            if not final or not closed or closed[-1][0] != forming_open_ms - step * 1000:
                raise _Uncacheable(closed)  # the exchange lags behind our clock: serve, do not cache
            return closed

        if not closed_only:
            rows = await self._klines(unified, exchange, interval, limit)
        elif self._cache is None:
            rows = await _uncached(load)
        else:
            key = f"oxbot:market:klines:{self.base_url}:{exchange}:{interval}:{limit}:{bucket}"
            ttl = (bucket + 1) * step - now
            try:
                rows = await self._cache.get_or_compute(key, load, ttl=ttl)
            except _Uncacheable as exc:
                rows = exc.rows
        return [Candle.from_binance(unified, interval, row) for row in rows]

    async def fetch_candles_many(
        self, symbols: Iterable[str], interval: str = "1h", limit: int = 100
    ) -> CandleBatch:
        """`fetch_candles` for several symbols concurrently; an unknown symbol is None with a reason."""
        wanted = list(dict.fromkeys(symbols))
        for symbol in wanted:
            _unified(symbol)  # fail fast on a malformed name, before any request
        try:
            async with asyncio.timeout(self.retry.max_total):
                answers = await asyncio.gather(
                    *(self.fetch_candles(s, interval, limit) for s in wanted), return_exceptions=True
                )
        except TimeoutError:
            raise DeadlineExceededError(
                0, self.retry.max_total, f"{KLINES} for {len(wanted)} symbols"
            ) from None
        out = CandleBatch()
        for symbol, answer in zip(wanted, answers, strict=True):
            if isinstance(answer, UnknownSymbolError):
                out[symbol] = None
                out.reasons[symbol] = SymbolFailure(f"unknown or delisted symbol: {answer.msg}", answer.code)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                out[symbol] = answer
        return out

    async def _klines(self, unified: str, exchange: str, interval: str, limit: int) -> list[Any]:
        if self._candle_sem is None:
            self._candle_sem = asyncio.Semaphore(self._candle_slots)
        async with self._candle_sem:
            try:
                data = await self._get(
                    KLINES, {"symbol": exchange, "interval": interval, "limit": str(limit)}, klines_weight()
                )
            except ExchangeAPIError as exc:
                if exc.code == UNKNOWN_SYMBOL:
                    self.unknown_symbols.add(exchange)
                    raise UnknownSymbolError(unified, exc.status, exc.msg) from None
                raise
        if not isinstance(data, list) or not all(
            isinstance(r, list) and len(r) >= 9 and isinstance(r[0], int) and isinstance(r[6], int)
            for r in data
        ):
            raise MalformedResponseError(f"{KLINES} for {unified} is not an array of kline rows")
        return data

    # -- transport --------------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, str], weight: int) -> Any:
        """One logical GET with the weight budget, Retry-After and bounded backoff, within `max_total`.

        The deadline holds on the real clock (`asyncio.timeout` around every attempt and wait, so a
        server that drips bytes is cut) and on the client's clock (a wait that would pass it is not
        started, which keeps tests on a fake clock exact).
        """
        policy = self.retry
        began = self._clock.monotonic()
        state = {"attempt": 0}
        try:
            async with asyncio.timeout(policy.max_total):
                return await self._attempts(path, params, weight, began, state)
        except TimeoutError:
            raise DeadlineExceededError(state["attempt"], policy.max_total, path) from None

    async def _attempts(
        self, path: str, params: dict[str, str], weight: int, began: float, state: dict[str, int]
    ) -> Any:
        policy = self.retry
        last = "no attempt"
        for attempt in range(1, policy.max_attempts + 1):
            state["attempt"] = attempt
            await self._wait_for_budget(weight, began)
            self.budget.reserve(weight, self._clock.time())
            self.calls[path] += 1
            try:
                response = await self._http.get(path, params=params)
            except httpx.TimeoutException as exc:
                last = f"timeout ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last = f"transport error ({type(exc).__name__})"
            else:
                self._observe_weight(response)
                status = response.status_code
                if status == 200:
                    return _json(response, path)
                if status in (418, 429):
                    now = self._clock.time()
                    retry_after = _retry_after(response, now, policy.base_delay)
                    if status == 418:
                        ban = retry_after if _has_retry_after(response, now) else max(retry_after, MIN_BAN_S)
                        self.budget.banned_until = max(self.budget.banned_until, now + ban)
                        raise IpBannedError(ban, f"(HTTP 418 on {path})")
                    self.budget.paused_until = max(self.budget.paused_until, now + retry_after)
                    if (
                        retry_after > policy.max_retry_after
                        or attempt == policy.max_attempts
                        or self._clock.monotonic() - began + retry_after > policy.max_total
                    ):
                        raise RateLimitedError(retry_after, f"(HTTP 429 on {path})")
                    continue  # _wait_for_budget sleeps until paused_until
                if status < 500:
                    raise _api_error(response)
                last = f"HTTP {status}"
            if attempt < policy.max_attempts:
                delay = policy.backoff(attempt, self._rng)
                if self._clock.monotonic() - began + delay > policy.max_total:
                    raise DeadlineExceededError(attempt, policy.max_total, f"{last} on {path}")
                await self._sleep(delay)
        raise ExchangeUnavailableError(policy.max_attempts, f"{last} on {path}")

    async def _wait_for_budget(self, weight: int, began: float) -> None:
        now = self._clock.time()
        if self.budget.banned_until > now:
            raise IpBannedError(self.budget.banned_until - now, "(ban still running; nothing sent)")
        delay = self.budget.delay_before(weight, now)
        if delay > 0:
            if self._clock.monotonic() - began + delay > self.retry.max_total:
                raise RateLimitedError(
                    delay, f"(waiting {delay:g} s would pass the {self.retry.max_total:g} s deadline)"
                )
            await self._sleep(delay)

    def _observe_weight(self, response: httpx.Response) -> None:
        raw = response.headers.get(USED_WEIGHT_HEADER)
        if raw is not None and raw.strip().isdigit():
            self.budget.observe(int(raw), self._clock.time())


async def _uncached(load: Callable[[], Awaitable[list[Any]]]) -> list[Any]:
    try:
        return await load()
    except _Uncacheable as exc:
        return exc.rows


def _json(response: httpx.Response, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise MalformedResponseError(f"{path} answered 200 with a body that is not JSON") from None


def _retry_after(response: httpx.Response, now: float, floor: float) -> float:
    """`Retry-After` in seconds; when absent or malformed (`inf`, `nan`, `1e9`...), the rest of the
    current weight minute, and never less than `floor` (a 429 is never retried at once)."""
    value = parse_retry_after(response.headers, now)
    return max(60 - (now % 60), floor) if value is None else value


def _has_retry_after(response: httpx.Response, now: float) -> bool:
    return parse_retry_after(response.headers, now) is not None


def _api_error(response: httpx.Response) -> ExchangeAPIError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body:
        code = body.get("code")
        return ExchangeAPIError(
            response.status_code, code if isinstance(code, int) else None, str(body.get("msg"))
        )
    return ExchangeAPIError(response.status_code, None, response.text[:200])
