"""The guide's `OptimizedNetworkClient()` and `CompressedMarketData().compress_price_series(prices)`."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.cache.protocol import AsyncCache
from pytest_oxbot.clock import Clock
from pytest_oxbot.compressor.market_data import DEFAULT_KEEP
from pytest_oxbot.compressor.market_data import CompressedMarketData as _Compressed
from pytest_oxbot.errors import CompressorError
from pytest_oxbot.market.client import DEFAULT_BASE_URL, MarketDataClient
from pytest_oxbot.market.models import Snapshot

__all__ = ["CompressedMarketData", "OptimizedNetworkClient"]

_MAX_DECODED = 1 << 20


class OptimizedNetworkClient(MarketDataClient):
    """0xBot's `OptimizedNetworkClient`: the batched `MarketDataClient`, candles cached in memory.

    `fetch_market_data_batch(symbols)` costs one exchange call for all of them; `get_market_data(symbol)`
    (the guide's one-by-one form) goes through the same batcher, so concurrent single calls share it too.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        cache: AsyncCache | None = None,
        clock: Clock | None = None,
        **kwargs: Any,
    ) -> None:
        self._own_cache = HierarchicalCache.memory_only(clock=clock) if cache is None else None
        super().__init__(base_url, cache if cache is not None else self._own_cache, clock, **kwargs)

    async def __aenter__(self) -> OptimizedNetworkClient:
        return self

    async def get_market_data(self, symbol: str) -> Snapshot | None:
        """One symbol's snapshot (None when the exchange does not list it)."""
        return (await self.fetch_market_data_batch([symbol]))[symbol]

    async def aclose(self) -> None:
        await super().aclose()
        if self._own_cache is not None:
            await self._own_cache.aclose()


class CompressedMarketData:
    """`compress_price_series(prices) -> bytes`: the last `keep` prices, gzip-compressed, exactly.

    Prices are kept as decimal text (a float as its shortest round-trip text), the gzip header has no
    timestamp (same prices, same bytes), and `decompress_price_series` refuses payloads over 1 MiB.
    """

    def __init__(self, keep: int = DEFAULT_KEEP) -> None:
        self.keep = keep

    def compress_price_series(self, prices: Iterable[Decimal | str | float | int]) -> bytes:
        return _Compressed.from_prices("", prices, keep=self.keep).payload

    def decompress_price_series(self, payload: bytes) -> list[Decimal]:
        """The prices `compress_price_series` was given (the last `keep`), as Decimal."""
        inflater = zlib.decompressobj(wbits=31)
        try:
            raw = inflater.decompress(payload, _MAX_DECODED)
            texts = json.loads(raw)
        except (zlib.error, ValueError) as exc:
            raise CompressorError(f"not a compressed price series: {exc}") from None
        if inflater.unconsumed_tail:
            raise CompressorError("compressed price series exceeds the 1 MiB decode limit")
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise CompressorError("compressed price series is corrupt")
        return [Decimal(t) for t in texts]
