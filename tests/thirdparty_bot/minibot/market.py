"""Market data through ccxt's Binance class (aiohttp underneath)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ccxt.async_support as ccxt


@dataclass(frozen=True)
class Ticker:
    symbol: str
    last: float
    change_24h_pct: float
    volume_24h: float


class MarketFeed:
    """`batched=True` asks for every ticker in one call; False asks symbol by symbol (the naive way)."""

    def __init__(self, api_urls: Mapping[str, Any] | None = None, *, batched: bool = True) -> None:
        self.exchange = ccxt.binance(
            {"enableRateLimit": False, "options": {"fetchMarkets": {"types": ["spot"]}}}
        )
        if api_urls is not None:  # a testnet, a proxy, or a test double
            self.exchange.urls["api"] = dict(api_urls)
        self.batched = batched

    async def tickers(self, symbols: Sequence[str]) -> dict[str, Ticker]:
        if self.batched:
            raw = await self.exchange.fetch_tickers(list(symbols))
        else:
            raw = {s: await self.exchange.fetch_ticker(s) for s in symbols}
        return {
            s: Ticker(s, float(t["last"]), float(t["percentage"] or 0.0), float(t["baseVolume"] or 0.0))
            for s, t in raw.items()
        }

    async def closes(self, symbol: str, timeframe: str = "5m", limit: int = 60) -> list[float]:
        """Closes of the closed candles (ccxt's last row is the forming one)."""
        rows = await self.exchange.fetch_ohlcv(symbol, timeframe, limit=limit + 1)
        return [float(r[4]) for r in rows[:-1]]

    async def funding_rate(self, symbol: str) -> float | None:
        """Perpetual funding, when the venue has it; None when it cannot be had (the bot goes on)."""
        try:
            raw = await self.exchange.fapiPublicGetPremiumIndex({"symbol": symbol.replace("/", "")})
        except ccxt.ExchangeError:
            return None
        return float(raw["lastFundingRate"])

    async def close(self) -> None:
        await self.exchange.close()
