"""The decision cache's key: model, prompt-template version and the *quantised* market state of a symbol.

Exact, never semantic: two states share a key only when every quantised field is equal, so prompts
that differ in a number the decision depends on always miss. Quantisation only drops precision no
decision can act on: price to 0.1 % steps (Binance's spot taker fee), RSI to whole points, MACD to
its sign, trends as they are, and the symbol's open position exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from .context import SymbolView
from .tables import Position


def quantised_state(view: SymbolView, position: Position | None, price_quantum: float) -> dict[str, Any]:
    """The fields a cached decision must agree on, as plain JSON values."""
    i, c = view.intraday, view.context
    return {
        "symbol": view.symbol,
        "price_step": round(math.log(float(view.price)) / math.log1p(price_quantum)),
        "rsi": round(i.rsi14),
        "rsi_context": round(c.rsi14),
        "trend": i.trend,
        "trend_context": c.trend,
        "macd_sign": (i.macd_histogram > 0) - (i.macd_histogram < 0),
        "position": None
        if position is None
        else [
            position.side,
            str(position.quantity),
            str(position.entry_price),
            str(position.stop_loss),
            str(position.take_profit),
        ],
    }


def decision_key(model: str, template_version: str, state: dict[str, Any]) -> str:
    material = json.dumps(
        {"model": model, "template": template_version, "state": state}, sort_keys=True, separators=(",", ":")
    )
    return "decision:" + hashlib.sha256(material.encode()).hexdigest()
