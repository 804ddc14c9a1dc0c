"""Market data: the batched MarketDataClient, unified symbols, Decimal snapshots and candles, typed errors."""

from pytest_oxbot.market.client import CandleBatch, MarketDataClient
from pytest_oxbot.market.errors import (
    DeadlineExceededError,
    ExchangeAPIError,
    ExchangeUnavailableError,
    IpBannedError,
    MalformedResponseError,
    MarketDataError,
    RateLimitedError,
    SymbolError,
    UnknownSymbolError,
)
from pytest_oxbot.market.limits import WeightBudget
from pytest_oxbot.market.models import Candle, Snapshot, SnapshotBatch, SymbolFailure
from pytest_oxbot.market.symbols import from_exchange, to_exchange

__all__ = [
    "Candle",
    "CandleBatch",
    "DeadlineExceededError",
    "ExchangeAPIError",
    "ExchangeUnavailableError",
    "IpBannedError",
    "MalformedResponseError",
    "MarketDataClient",
    "MarketDataError",
    "RateLimitedError",
    "Snapshot",
    "SnapshotBatch",
    "SymbolError",
    "SymbolFailure",
    "UnknownSymbolError",
    "WeightBudget",
    "from_exchange",
    "to_exchange",
]
