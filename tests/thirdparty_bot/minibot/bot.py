"""One decision cycle: tickers, 5m closes, funding (if any), the dashboard prompt, one LLM call."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .llm import Answer, DecisionClient
from .market import MarketFeed
from .prompt import SYSTEM, dashboard

COINS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT")


@dataclass(frozen=True)
class Cycle:
    prompt: str
    answer: Answer
    funding_available: bool


class MiniBot:
    def __init__(
        self, market: MarketFeed, llm: DecisionClient, *, coins: Sequence[str] = COINS, history: int = 10
    ) -> None:
        self.market = market
        self.llm = llm
        self.coins = tuple(coins)
        self.history = history

    async def run_cycle(self) -> Cycle:
        tickers = await self.market.tickers(self.coins)
        closes = dict(
            zip(self.coins, await asyncio.gather(*(self.market.closes(c) for c in self.coins)), strict=True)
        )
        funding = {
            c: await self.market.funding_rate(c) for c in self.coins[:1]
        }  # perp data, if the venue has it
        prompt = dashboard(tickers, closes, funding, history=self.history)
        answer = await self.llm.decide(SYSTEM, prompt)
        return Cycle(prompt, answer, any(v is not None for v in funding.values()))

    async def close(self) -> None:
        await self.market.close()
        await self.llm.close()


def summary(cycle: Cycle) -> dict[str, Any]:
    return {coin: d.get("signal") for coin, d in cycle.answer.decisions.items() if isinstance(d, dict)}
