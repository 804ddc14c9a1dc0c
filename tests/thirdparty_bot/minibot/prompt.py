"""The bot's own prompt: a markdown dashboard per coin, with a couple of indicators it computes itself."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from .market import Ticker


def ema(values: Sequence[float], period: int) -> float:
    k = 2 / (period + 1)
    out = values[0]
    for v in values[1:]:
        out = v * k + out * (1 - k)
    return out


def rsi(values: Sequence[float], period: int = 14) -> float:
    gains = [max(0.0, b - a) for a, b in itertools.pairwise(values)][-period:]
    losses = [max(0.0, a - b) for a, b in itertools.pairwise(values)][-period:]
    if not losses or sum(losses) == 0:
        return 100.0
    rs = (sum(gains) / period) / (sum(losses) / period)
    return 100 - 100 / (1 + rs)


SYSTEM = (
    "You are a crypto trading desk. Reply with JSON only: "
    '{"<COIN>": {"signal": "hold|buy_to_enter|sell_to_enter|close", "confidence": 0..1}} for every coin.'
)


def dashboard(
    tickers: Mapping[str, Ticker],
    closes: Mapping[str, Sequence[float]],
    funding: Mapping[str, float | None],
    *,
    history: int = 10,
) -> str:
    """One section per coin: price, 24 h change, EMA20/50, RSI14, the last `history` 5m closes."""
    lines = ["# Market dashboard (5m)", ""]
    for symbol, t in tickers.items():
        c = closes[symbol]
        fr = funding.get(symbol)
        lines += [
            f"## {symbol.split('/')[0]}",
            "| price | 24h % | EMA20 | EMA50 | RSI14 | funding |",
            "|---|---|---|---|---|---|",
            f"| {t.last} | {t.change_24h_pct:.2f} | {ema(c, 20):.4f} | {ema(c, 50):.4f} | {rsi(c):.1f} | "
            f"{'n/a' if fr is None else fr} |",
            f"last closes: {', '.join(str(x) for x in c[-history:])}",
            "",
        ]
    lines.append("Decide for every coin above.")
    return "\n".join(lines)
