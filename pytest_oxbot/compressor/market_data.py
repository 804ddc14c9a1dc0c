"""CompressedMarketData: the last N prices of a symbol, gzip-packed, restored exactly.

0xBot kept the last 100 prices per symbol gzip-compressed in memory; this keeps that contract
with a lossless round trip: prices are stored as their decimal text (never floats), the gzip header
carries no timestamp (same input, same bytes), and decoding refuses oversized payloads.
No pickle: the payload is JSON text, safe to share between processes.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

DEFAULT_KEEP = 100
_MAX_DECODED = 1 << 20  # 1 MiB: far above 100 prices, far below a decompression bomb


def _text(price: Decimal | str | float | int) -> str:
    if isinstance(price, float):
        price = repr(price)  # the shortest text that round-trips to the same float
    try:
        value = Decimal(str(price))
    except InvalidOperation as exc:
        raise ValueError(f"not a price: {price!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite price: {price!r}")
    return str(value)


@dataclass(frozen=True, slots=True)
class CompressedMarketData:
    """The last `count` prices of `symbol`, oldest first, as gzip-compressed JSON."""

    symbol: str
    payload: bytes
    count: int
    raw_size: int

    @classmethod
    def from_prices(
        cls, symbol: str, prices: Iterable[Decimal | str | float | int], keep: int = DEFAULT_KEEP
    ) -> CompressedMarketData:
        if keep <= 0:
            raise ValueError(f"keep must be positive, got {keep}")
        texts = [_text(p) for p in prices][-keep:]
        raw = json.dumps(texts, separators=(",", ":")).encode()
        return cls(symbol, gzip.compress(raw, compresslevel=9, mtime=0), len(texts), len(raw))

    def prices(self) -> list[Decimal]:
        """The stored prices, exactly as given (as Decimal)."""
        inflater = zlib.decompressobj(wbits=31)  # gzip container
        raw = inflater.decompress(self.payload, _MAX_DECODED)
        if inflater.unconsumed_tail:
            raise ValueError("compressed market data exceeds the 1 MiB decode limit")
        texts = json.loads(raw)
        if not isinstance(texts, list) or len(texts) != self.count:
            raise ValueError("compressed market data is corrupt")
        return [Decimal(t) for t in texts]

    @property
    def compressed_size(self) -> int:
        return len(self.payload)

    @property
    def ratio(self) -> float:
        """compressed / raw bytes."""
        return self.compressed_size / self.raw_size if self.raw_size else 1.0
