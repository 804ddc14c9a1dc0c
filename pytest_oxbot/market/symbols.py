"""Unified symbols (`BTC/USDT`, 0xBot's and ccxt's spelling) at the API surface, Binance's inside."""

from __future__ import annotations

import re

from pytest_oxbot.market.errors import SymbolError

__all__ = ["from_exchange", "to_exchange"]

_UNIFIED = re.compile(r"^([A-Z0-9]{1,20})/([A-Z0-9]{1,20})$")
_KNOWN_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL")


def to_exchange(symbol: str) -> str:
    """`BTC/USDT` -> `BTCUSDT`; anything else is a `SymbolError` raised before a request is made."""
    match = _UNIFIED.match(symbol.strip().upper()) if isinstance(symbol, str) else None
    if match is None:
        raise SymbolError(f"symbol {symbol!r} is not a unified BASE/QUOTE symbol such as 'BTC/USDT'")
    return match.group(1) + match.group(2)


def from_exchange(symbol: str, quotes: tuple[str, ...] = _KNOWN_QUOTES) -> str:
    """`BTCUSDT` -> `BTC/USDT` for the common quote assets (longest quote first)."""
    for quote in sorted(quotes, key=len, reverse=True):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return f"{symbol[: -len(quote)]}/{quote}"
    raise SymbolError(f"cannot tell the quote asset of {symbol!r}")
