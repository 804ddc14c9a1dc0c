"""Typed failures of the market-data client, so a caller can tell "retry later" from "fix your input"."""

from __future__ import annotations

from pytest_oxbot.errors import MarketDataError

__all__ = [
    "DeadlineExceededError",
    "ExchangeAPIError",
    "ExchangeUnavailableError",
    "IpBannedError",
    "MalformedResponseError",
    "MarketDataError",
    "RateLimitedError",
    "SymbolError",
    "UnknownSymbolError",
]


class SymbolError(MarketDataError, ValueError):
    """A symbol is not written as unified `BASE/QUOTE` (e.g. `BTC/USDT`); nothing was sent."""


class ExchangeAPIError(MarketDataError):
    """The exchange answered with an error body (`{"code": ..., "msg": ...}`) that retrying will not fix."""

    def __init__(self, status: int, code: int | None, msg: str) -> None:
        super().__init__(f"HTTP {status}, code {code}: {msg}")
        self.status = status
        self.code = code
        self.msg = msg


class UnknownSymbolError(ExchangeAPIError):
    """Binance error -1121: the symbol is unknown or delisted."""

    def __init__(self, symbol: str, status: int = 400, msg: str = "Invalid symbol.") -> None:
        super().__init__(status, -1121, f"{msg} ({symbol})")
        self.symbol = symbol


class RateLimitedError(MarketDataError):
    """HTTP 429: the request weight limit was hit; wait `retry_after` seconds before sending again."""

    def __init__(self, retry_after: float, detail: str = "") -> None:
        super().__init__(f"rate limited by the exchange; retry after {retry_after:g} s {detail}".rstrip())
        self.retry_after = retry_after


class IpBannedError(RateLimitedError):
    """HTTP 418: the IP is banned (after ignoring 429s) until `retry_after` seconds from now."""


class ExchangeUnavailableError(MarketDataError):
    """5xx answers or timeouts persisted through every retry."""

    def __init__(self, attempts: int, last: str) -> None:
        super().__init__(f"exchange unavailable after {attempts} attempt(s): {last}")
        self.attempts = attempts
        self.last = last


class DeadlineExceededError(ExchangeUnavailableError):
    """The call (every attempt and wait) did not complete within its total deadline (`max_total`)."""

    def __init__(self, attempts: int, deadline_s: float, what: str) -> None:
        super().__init__(attempts, f"no complete answer within the {deadline_s:g} s deadline ({what})")
        self.deadline_s = deadline_s


class MalformedResponseError(MarketDataError):
    """The exchange answered 200 with a body that is not the documented shape (or not JSON)."""
