"""The fake model's answers for the replay: real nof1 answer shapes, signals from a transparent rule.

The shipped nof1 answers are all "hold" (and their stop losses are at October 2025 prices), so replaying
them verbatim would never exercise the trade path. Each answer here is a real nof1 per-coin decision
object (same keys, same length in tokens) whose signal, quantity, stop loss and profit target are set by
a textbook RSI rule on the state the bot shows the model (the replay hands it over through
`TradingBot(before_llm_call=...)`):
- flat: RSI(14) < 30 and the longer trend not down -> buy_to_enter; RSI > 70 and not up -> sell_to_enter
- long: RSI > 65 -> close; short: RSI < 35 -> close; otherwise hold
Stops sit 2 ATR away, targets 3 ATR; size is a 1,000 USDT notional.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pytest_oxbot.fakes.llm import FakeRequest, load_nof1_conversations
from pytest_oxbot.llm.decisions import base_asset

from .context import SymbolView
from .render import num
from .tables import Position

NOTIONAL = Decimal(1000)


def _templates() -> list[dict[str, Any]]:
    """Every real per-coin decision object of the shipped conversations, in order."""
    out = []
    for conversation in load_nof1_conversations():
        answer = conversation["llm_response"]
        out += [dict(v) for v in answer.values() if isinstance(v, dict)]
    return out


class RuleAnswers:
    """`FakeLLMProvider(answers=RuleAnswers())`; the replay sets `market` before each call."""

    def __init__(self) -> None:
        self.market: dict[str, tuple[SymbolView, Position | None]] = {}
        self._templates = itertools.cycle(_templates())

    def __call__(self, request: FakeRequest) -> Mapping[str, Any]:
        answer: dict[str, Any] = {}
        for symbol, (view, position) in self.market.items():
            coin = base_asset(symbol)
            if re.search(rf"\b{re.escape(coin)}\b", request.prompt):
                answer[coin] = self._decide(coin, view, position)
        return answer

    def _decide(self, coin: str, view: SymbolView, position: Position | None) -> dict[str, Any]:
        template = dict(next(self._templates))
        rsi, trend, atr = view.intraday.rsi14, view.context.trend, Decimal(repr(view.intraday.atr14))
        price = view.price
        signal, why = "hold", f"RSI {rsi:.1f} with the {view.context.timeframe} trend {trend}: no edge."
        if position is None and rsi < 30 and trend != "down":
            signal, why = (
                "buy_to_enter",
                f"RSI {rsi:.1f} oversold while the {view.context.timeframe} trend is {trend}.",
            )
        elif position is None and rsi > 70 and trend != "up":
            signal, why = (
                "sell_to_enter",
                f"RSI {rsi:.1f} overbought while the {view.context.timeframe} trend is {trend}.",
            )
        elif position is not None and position.side == "long" and rsi > 65:
            signal, why = "close", f"RSI {rsi:.1f}: take the long off."
        elif position is not None and position.side == "short" and rsi < 35:
            signal, why = "close", f"RSI {rsi:.1f}: cover the short."
        short = signal == "sell_to_enter" or (position is not None and position.side == "short")
        stop = price + 2 * atr if short else price - 2 * atr
        target = price - 3 * atr if short else price + 3 * atr
        quantity = (
            position.quantity if position is not None else (NOTIONAL / price).quantize(Decimal("0.0001"))
        )
        template.update(
            coin=coin,
            signal=signal,
            quantity=float(quantity),
            stop_loss=float(num(stop)),
            profit_target=float(num(target)),
            leverage=1,
            confidence=0.6 if signal == "hold" else 0.7,
            risk_usd=float((2 * atr * quantity).quantize(Decimal("0.01"))),
            justification=why,
        )
        json.dumps(template)  # the answer must be plain JSON
        return template
