"""The reference trading bot: one decision cycle (docs/cycle.md), from the toolkit's public API only.

This is the part to copy. It knows nothing of fakes or replays: give it a `MarketDataClient`, a
`CostAwareLLMClient`, a `TradingRepository`, a clock and (optionally) a `HierarchicalCache`, and call
`run_cycle()` every few minutes. Per cycle, for each symbol: the ticker snapshot (one batched call),
candles (cached until they close), indicators (cached per symbol, timeframe and last close); the bot's
open positions and recent trades; the decision cache (model, template version, quantised state); on a
miss the prompt, compressed, and the LLM; validation; the decisions and any trade stored.
`CycleConfig` switches turn each optimisation off, which is how the naive bot is made.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.clock import Clock
from pytest_oxbot.compressor import AdaptivePromptCompressor
from pytest_oxbot.llm import CostAwareLLMClient, Decision, DecisionResult, Signal
from pytest_oxbot.llm.contract import AnswerContract
from pytest_oxbot.market import Candle, MarketDataClient, Snapshot
from pytest_oxbot.market.indicators import IndicatorEngine, compute
from pytest_oxbot.tokens import count_chat_tokens

from .config import CycleConfig
from .context import AccountView, SymbolView
from .render import COMPACT_TEMPLATE_VERSION, TEMPLATE_VERSION, render_prompt
from .repository import TradingRepository
from .state import decision_key, quantised_state
from .tables import DecisionRecord, Position

STARTING_CASH = Decimal(10_000)
RECENT_TRADES = 5

BeforeLLMCall = Callable[[Sequence[SymbolView], AccountView], None]


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    """One symbol's decision this cycle and its share of the LLM call that made it (nothing on a hit)."""

    decision: Decision
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)
    cache_hit: bool = False


@dataclass(frozen=True, slots=True)
class LLMCall:
    """What one call used: tokens sent (provider usage), tokens before compression, cost, latency."""

    prompt_tokens: int
    completion_tokens: int
    full_prompt_tokens: int
    cost: Decimal
    latency_s: float


@dataclass
class CycleOutcome:
    """Everything one cycle did, for the caller to log or aggregate."""

    decisions: dict[str, DecisionOutcome] = field(default_factory=dict)
    calls: list[LLMCall] = field(default_factory=list)
    db_query_s: list[float] = field(default_factory=list)
    db_write_s: float = 0.0
    decision_lookups: int = 0
    decision_hits: int = 0
    indicator_computations: int = 0
    opened: int = 0
    closed: int = 0


class TradingBot:
    """The bot; its collaborators are injected so the same code runs live, on fakes, or in a replay."""

    def __init__(
        self,
        config: CycleConfig,
        *,
        bot_id: uuid.UUID,
        market: MarketDataClient,
        llm: CostAwareLLMClient,
        repository: TradingRepository,
        clock: Clock,
        cache: HierarchicalCache | None = None,
        before_llm_call: BeforeLLMCall | None = None,
    ) -> None:
        if (config.decision_cache or config.market_cache) and cache is None:
            raise ValueError("decision_cache / market_cache need a cache (or turn them off in the config)")
        self.config = config
        self.bot_id = bot_id
        self.market = market
        self.llm = llm
        self.repo = repository
        self.clock = clock
        self.cache = cache
        self.before_llm_call = before_llm_call
        self.compressor = AdaptivePromptCompressor(config.model) if config.compressor else None
        self.indicators = IndicatorEngine(cache, ttl=3600.0) if config.market_cache else None
        self.cash = STARTING_CASH

    async def run_cycle(self) -> CycleOutcome:
        """One decision cycle at `clock.time()`."""
        outcome = CycleOutcome()
        views = await self.market_state(outcome)
        account, open_by_symbol = await self._account(views, outcome)
        decided = await self._decide(views, account, outcome)
        await self._store(views, decided, open_by_symbol, outcome)
        return outcome

    # -- market data ------------------------------------------------------------------------------

    async def market_state(self, outcome: CycleOutcome) -> list[SymbolView]:
        """Snapshots, candles and indicators of every symbol (an unknown symbol is left out, not guessed)."""
        cfg = self.config
        if cfg.batch_tickers:
            batch = await self.market.fetch_market_data_batch(cfg.symbols)
            snapshots = {s: batch[s] for s in cfg.symbols}
        else:
            snapshots = {}
            for s in cfg.symbols:  # the naive bot: one request per symbol
                snapshots[s] = (await self.market.fetch_market_data_batch([s]))[s]
        timeframes = (cfg.intraday, cfg.context)
        candles = await asyncio.gather(
            *(self.market.fetch_candles(s, tf, cfg.candle_limit) for s in cfg.symbols for tf in timeframes)
        )
        views = []
        for n, symbol in enumerate(cfg.symbols):
            snap = snapshots[symbol]
            if snap is not None:
                views.append(await self._view(symbol, snap, candles[2 * n], candles[2 * n + 1], outcome))
        return views

    async def _view(
        self,
        symbol: str,
        snap: Snapshot,
        intraday: list[Candle],
        context: list[Candle],
        outcome: CycleOutcome,
    ) -> SymbolView:
        cfg = self.config
        if self.indicators is not None:
            before = self.indicators.computed
            ind = await self.indicators.indicators(symbol, cfg.intraday, intraday)
            ctx = await self.indicators.indicators(symbol, cfg.context, context)
            outcome.indicator_computations += self.indicators.computed - before
        else:
            ind, ctx = compute(symbol, cfg.intraday, intraday), compute(symbol, cfg.context, context)
            outcome.indicator_computations += 2
        volumes = [float(c.volume) for c in context[-20:]]
        return SymbolView(
            symbol=symbol,
            price=snap.last_price,
            change_24h_pct=snap.price_change_percent,
            volume_24h=snap.volume,
            intraday=ind,
            context=ctx,
            context_volume=volumes[-1],
            context_avg_volume=sum(volumes) / len(volumes),
        )

    # -- decisions --------------------------------------------------------------------------------

    async def _account(
        self, views: Sequence[SymbolView], outcome: CycleOutcome
    ) -> tuple[AccountView, dict[str, Position]]:
        t0 = time.perf_counter()
        positions = await self.repo.open_positions(self.bot_id)
        t1 = time.perf_counter()
        trades = await self.repo.recent_trades(self.bot_id, limit=RECENT_TRADES)
        t2 = time.perf_counter()
        outcome.db_query_s += [t1 - t0, t2 - t1]
        account = AccountView(
            cash=self.cash,
            positions=positions,
            recent_trades=trades,
            prices={v.symbol: v.price for v in views},
        )
        return account, {p.symbol: p for p in positions}

    async def _decide(
        self, views: list[SymbolView], account: AccountView, outcome: CycleOutcome
    ) -> dict[str, DecisionOutcome]:
        cfg = self.config
        positions = {p.symbol: p for p in account.positions}
        keys: dict[str, str] = {}
        decided: dict[str, DecisionOutcome] = {}
        if cfg.decision_cache and self.cache is not None:
            for v in views:
                state = quantised_state(v, positions.get(v.symbol), cfg.price_quantum)
                template = COMPACT_TEMPLATE_VERSION if cfg.compact_answers else TEMPLATE_VERSION
                keys[v.symbol] = decision_key(cfg.model, template, state)
            found = await self.cache.get_many(keys.values())  # one round trip per tier for all symbols
            outcome.decision_lookups += len(keys)
            for symbol, key in keys.items():
                if key in found:
                    outcome.decision_hits += 1
                    decided[symbol] = DecisionOutcome(
                        _decision_from_cache(symbol, found[key]), cache_hit=True
                    )
        missing = [v for v in views if v.symbol not in decided]
        groups = [missing] if cfg.batch_llm else [[v] for v in missing]
        fresh: dict[str, Any] = {}
        for group in filter(None, groups):
            result = await self._ask(group, account, outcome)
            n = len(group)
            for v in group:
                d = result.decisions[v.symbol]
                decided[v.symbol] = DecisionOutcome(
                    d,
                    latency_s=result.latency_s,  # every decision of a call waits for the whole answer
                    prompt_tokens=result.usage.prompt_tokens // n,
                    completion_tokens=result.usage.output_tokens // n,
                    cost=result.cost / n,
                )
                if d.error is None and v.symbol in keys:  # a demoted (invalid) answer is never cached
                    fresh[keys[v.symbol]] = _decision_to_cache(d)
        if fresh and self.cache is not None:
            await self.cache.set_many(fresh, ttl=cfg.decision_ttl)
        return decided

    async def _ask(
        self, group: list[SymbolView], account: AccountView, outcome: CycleOutcome
    ) -> DecisionResult:
        """One LLM call deciding `group`; the prompt shows the whole account, as nof1's does."""
        cfg = self.config
        now = datetime.fromtimestamp(self.clock.time(), UTC)
        full = render_prompt(
            group,
            account,
            now=now,
            intraday=cfg.intraday,
            context=cfg.context,
            answer_format=not cfg.compact_answers,
        )
        prompt = full
        if self.compressor is not None:
            prompt = self.compressor.compress_by_context(full, cfg.compress_context).text
        contract = AnswerContract.for_symbols([v.symbol for v in group]) if cfg.compact_answers else None
        sent_whole = (
            full if contract is None else f"{full}\n\n{contract.instructions()}"
        )  # as the client sends it
        messages = [
            {"role": "system", "content": self.llm.system_prompt},
            {"role": "user", "content": sent_whole},
        ]
        full_tokens = count_chat_tokens(messages, cfg.model)
        if self.before_llm_call is not None:
            self.before_llm_call(group, account)
        result = await self.llm.decide(
            prompt,
            [v.symbol for v in group],
            model=cfg.model,
            prices={v.symbol: v.price for v in group},
            original_prompt_tokens=full_tokens,
            contract=contract or False,
            max_tokens=cfg.max_tokens
            if cfg.max_tokens is not None
            else cfg.max_tokens_per_symbol * len(group),
        )
        outcome.calls.append(
            LLMCall(
                result.usage.prompt_tokens,
                result.usage.output_tokens,
                full_tokens,
                result.cost,
                result.latency_s,
            )
        )
        return result

    # -- storage ----------------------------------------------------------------------------------

    async def _store(
        self,
        views: list[SymbolView],
        decided: dict[str, DecisionOutcome],
        open_by_symbol: dict[str, Position],
        outcome: CycleOutcome,
    ) -> None:
        now = datetime.fromtimestamp(self.clock.time(), UTC)
        rows = [
            DecisionRecord(
                bot_id=self.bot_id,
                symbol=v.symbol,
                model=self.config.model,
                action=o.decision.signal.value,
                confidence=Decimal(str(round(o.decision.confidence, 4))),
                prompt_tokens=o.prompt_tokens,
                completion_tokens=o.completion_tokens,
                cost_usd=o.cost,
                latency_s=o.latency_s,
                cache_hit=o.cache_hit,
                error=o.decision.error,
                created_at=now,
            )
            for v in views
            for o in (decided[v.symbol],)
        ]
        t0 = time.perf_counter()
        await self.repo.add_all(rows)
        for v in views:
            await self._trade(decided[v.symbol].decision, v, open_by_symbol.get(v.symbol), now, outcome)
        outcome.db_write_s = time.perf_counter() - t0
        outcome.decisions = decided

    async def _trade(
        self, d: Decision, view: SymbolView, position: Position | None, now: datetime, outcome: CycleOutcome
    ) -> None:
        """Act on a valid entry or close only; anything else (HOLD, errors, duplicates) writes no trade."""
        if not d.is_trade:
            return
        if d.signal in (Signal.BUY_TO_ENTER, Signal.SELL_TO_ENTER) and position is None and d.quantity:
            side = "long" if d.signal is Signal.BUY_TO_ENTER else "short"
            await self.repo.open_position(
                self.bot_id,
                view.symbol,
                side,
                d.quantity,
                view.price,
                now,
                stop_loss=d.stop_loss,
                take_profit=d.take_profit,
            )
            outcome.opened += 1
        elif d.signal is Signal.CLOSE and position is not None:
            fill = await self.repo.close_position(position, view.price, now)
            self.cash += fill.realized_pnl
            outcome.closed += 1


def _decision_to_cache(d: Decision) -> dict[str, Any]:
    def text(x: Decimal | None) -> str | None:
        return None if x is None else str(x)

    return {
        "signal": d.signal.value,
        "confidence": d.confidence,
        "entry_price": text(d.entry_price),
        "stop_loss": text(d.stop_loss),
        "take_profit": text(d.take_profit),
        "leverage": text(d.leverage),
        "quantity": text(d.quantity),
        "justification": d.justification,
    }


def _decision_from_cache(symbol: str, value: dict[str, Any]) -> Decision:
    def dec(name: str) -> Decimal | None:
        raw = value.get(name)
        return None if raw is None else Decimal(raw)

    return Decision(
        symbol=symbol,
        signal=Signal(value["signal"]),
        confidence=float(value["confidence"]),
        entry_price=dec("entry_price"),
        stop_loss=dec("stop_loss"),
        take_profit=dec("take_profit"),
        leverage=dec("leverage"),
        quantity=dec("quantity"),
        justification=str(value["justification"]),
    )
