"""The reference decision cycle of DESIGN.md, built only from the toolkit's public API, on real candles.

Per cycle, every `cycle_seconds` of market time, for each symbol: fetch the ticker snapshot (one batched
call), candles (cached until they close) and indicators (cached per symbol, timeframe and last close);
query the bot's open positions and recent trades; build the prompt and compress it; look the decision up
by (model, template version, quantised state); call the fake LLM on a miss; parse and validate; store the
decisions and any trade. Time is a FakeClock moved by the replay, LLM latency is modelled by the fake
provider, so every figure but the database and memory ones is deterministic given the data.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.compressor.engine import AdaptivePromptCompressor
from pytest_oxbot.cycle.answers import RuleAnswers
from pytest_oxbot.cycle.config import CycleConfig
from pytest_oxbot.cycle.memory import PeakRss
from pytest_oxbot.cycle.prompt import (
    TEMPLATE_VERSION,
    AccountView,
    PositionView,
    SymbolView,
    TradeView,
    render_prompt,
)
from pytest_oxbot.cycle.result import CycleResult
from pytest_oxbot.cycle.state import decision_key, quantised_state
from pytest_oxbot.db import Database, Position, TradingRepository
from pytest_oxbot.db import Decision as DecisionRow
from pytest_oxbot.fakes.exchange import TICKER_24HR, FakeExchange
from pytest_oxbot.fakes.llm import FakeLLMProvider
from pytest_oxbot.llm import CostAwareLLMClient, Decision, DecisionResult, Signal
from pytest_oxbot.market import Candle, MarketDataClient, Snapshot
from pytest_oxbot.market.indicators import IndicatorEngine, compute
from pytest_oxbot.market.models import INTERVAL_SECONDS
from pytest_oxbot.settings import Settings, get_settings
from pytest_oxbot.tokens import count_chat_tokens

STARTING_CASH = Decimal(10_000)
RECENT_TRADES = 5


class DecisionCycle:
    """One bot replaying `config` against a FakeExchange and a FakeLLMProvider, writing to `db`."""

    def __init__(
        self,
        config: CycleConfig,
        db: Database,
        bot_id: uuid.UUID,
        *,
        redis_url: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.repo = TradingRepository(db)
        self.bot_id = bot_id
        self.redis_url = redis_url
        self.settings = settings or get_settings()
        self.clock = FakeClock(config.start)
        self.llm_clock = FakeClock(config.start)  # the provider advances it by each call's modelled latency
        self.result = CycleResult(config.name, config.switches())
        self.answers = RuleAnswers()
        self.compressor = AdaptivePromptCompressor(config.model)
        self.cash = STARTING_CASH
        self.cache: HierarchicalCache | None = None
        self.indicators: IndicatorEngine | None = None

    # -- the replay -----------------------------------------------------------------------------

    async def run(self) -> CycleResult:
        """Replay every cycle; returns the measured figures (the cache namespace is removed after)."""
        cfg = self.config
        if cfg.decision_cache or cfg.market_cache:
            self.cache = await self._make_cache()
        if cfg.market_cache:
            self.indicators = IndicatorEngine(self.cache, ttl=3600.0)
        started = time.perf_counter()
        try:
            with PeakRss() as peak:
                await self._replay()
            self.result.peak_memory_mb = peak.megabytes
        finally:
            self.result.wall_s = time.perf_counter() - started
            if self.cache is not None:
                if self.redis_url:
                    await self.cache.clear()
                await self.cache.aclose()
        return self.result

    async def _replay(self) -> None:
        cfg = self.config
        exchange = FakeExchange(self.clock)
        provider = FakeLLMProvider(answers=self.answers, clock=self.llm_clock)
        with exchange, provider:
            market = MarketDataClient(
                exchange.base_url,
                settings=self.settings,
                cache=self.cache if cfg.market_cache else None,
                clock=self.clock,
                sleep=exchange.sleep,
                batch_window=0.0,
                max_symbols_per_call=20 if cfg.batch_tickers else 1,
            )
            client = provider.client(default_model=cfg.model)
            async with market, client:
                if self.cache is not None:
                    self.cache.reset_stats()
                for i in range(cfg.cycles):
                    self.clock.set(cfg.start + i * cfg.cycle_seconds)
                    with exchange.cycle():
                        views = await self._market_state(market)
                    await self._decide_and_store(views, client)
                    self.result.cycles += 1
        self.result.ticker_calls = exchange.calls_per_cycle(TICKER_24HR)
        self.result.exchange_calls = exchange.calls_per_cycle(None)
        if self.cache is not None:
            stats = self.cache.stats()
            self.result.cache_lookups, self.result.cache_hits = stats.lookups, stats.hits
        if self.indicators is not None:
            self.result.indicator_computations = self.indicators.computed

    async def _make_cache(self) -> HierarchicalCache:
        namespace = f"oxbot-cycle-{secrets.token_hex(4)}"  # never collides with another run's keys
        # L2 must keep an entry as long as its own TTL says (a 1h candle stays valid for up to an hour);
        # the cache's generic 300 s cap would drop still-valid candles every other cycle.
        longest = max(INTERVAL_SECONDS[self.config.intraday], INTERVAL_SECONDS[self.config.context])
        if self.redis_url:
            self.result.backends["cache"] = "redis"
            return await HierarchicalCache.connect(
                self.redis_url, clock=self.clock, namespace=namespace, l2_ttl=longest
            )
        self.result.backends["cache"] = "fakeredis"
        return HierarchicalCache.in_memory(clock=self.clock, namespace=namespace, l2_ttl=longest)

    # -- market data ------------------------------------------------------------------------------

    async def _market_state(self, market: MarketDataClient) -> list[SymbolView]:
        cfg = self.config
        if cfg.batch_tickers:
            batch = await market.fetch_market_data_batch(cfg.symbols)
            snapshots = {s: batch[s] for s in cfg.symbols}
        else:
            snapshots = {}
            for s in cfg.symbols:  # the naive bot: one request per symbol
                snapshots[s] = (await market.fetch_market_data_batch([s]))[s]
        candles = await asyncio.gather(
            *(
                market.fetch_candles(s, tf, cfg.candle_limit)
                for s in cfg.symbols
                for tf in (cfg.intraday, cfg.context)
            )
        )
        views = []
        for n, symbol in enumerate(cfg.symbols):
            snap = snapshots[symbol]
            if snap is None:
                continue  # an unknown symbol is left out, not guessed
            intraday, context = candles[2 * n], candles[2 * n + 1]
            views.append(await self._view(symbol, snap, intraday, context))
        return views

    async def _view(
        self, symbol: str, snap: Snapshot, intraday: list[Candle], context: list[Candle]
    ) -> SymbolView:
        cfg = self.config
        if self.indicators is not None:
            ind = await self.indicators.indicators(symbol, cfg.intraday, intraday)
            ctx = await self.indicators.indicators(symbol, cfg.context, context)
        else:
            ind, ctx = compute(symbol, cfg.intraday, intraday), compute(symbol, cfg.context, context)
            self.result.indicator_computations += 2
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

    async def _account(self, views: Sequence[SymbolView]) -> tuple[AccountView, dict[str, Position]]:
        t0 = time.perf_counter()
        positions = await self.repo.open_positions(self.bot_id)
        t1 = time.perf_counter()
        trades = await self.repo.recent_trades(self.bot_id, limit=RECENT_TRADES)
        t2 = time.perf_counter()
        self.result.db_query_times += [t1 - t0, t2 - t1]
        prices = {v.symbol: v.price for v in views}
        by_symbol = {p.symbol: p for p in positions}
        account = AccountView(
            cash=self.cash,
            positions=[
                PositionView(
                    p.symbol,
                    p.side,
                    p.quantity,
                    p.entry_price,
                    prices.get(p.symbol, p.current_price),
                    p.stop_loss,
                    p.take_profit,
                )
                for p in positions
            ],
            recent_trades=[TradeView(t.symbol, t.side, t.quantity, t.price, t.executed_at) for t in trades],
        )
        return account, by_symbol

    async def _decide_and_store(self, views: list[SymbolView], client: CostAwareLLMClient) -> None:
        cfg = self.config
        account, open_by_symbol = await self._account(views)
        position_views = {p.symbol: p for p in account.positions}
        keys: dict[str, str] = {}
        decided: dict[str, tuple[Decision, float, int, Decimal, bool]] = {}
        if cfg.decision_cache and self.cache is not None:
            for v in views:
                state = quantised_state(v, position_views.get(v.symbol), cfg.price_quantum)
                keys[v.symbol] = decision_key(cfg.model, TEMPLATE_VERSION, state)
            found = await self.cache.get_many(keys.values())  # one round trip per tier for all symbols
            self.result.decision_lookups += len(keys)
            for symbol, key in keys.items():
                if key in found:
                    self.result.decision_hits += 1
                    decided[symbol] = (_decision_from_cache(symbol, found[key]), 0.0, 0, Decimal(0), True)
        missing = [v for v in views if v.symbol not in decided]
        groups = [missing] if cfg.batch_llm else [[v] for v in missing]
        fresh: dict[str, Any] = {}
        for group in filter(None, groups):
            result, prompt_tokens = await self._ask(group, account, client)
            share = Decimal(len(group))
            for v in group:
                d = result.decisions[v.symbol]
                decided[v.symbol] = (
                    d,
                    result.latency_s,
                    prompt_tokens // len(group),
                    result.cost / share,
                    False,
                )
                if d.error is None and v.symbol in keys:  # a demoted (invalid) answer is never cached
                    fresh[keys[v.symbol]] = _decision_to_cache(d)
        if fresh and self.cache is not None:
            ttl = cfg.decision_ttl if cfg.decision_ttl is not None else self.settings.llm_cache_ttl_seconds
            await self.cache.set_many(fresh, ttl=ttl)
        await self._store(views, decided, open_by_symbol)

    async def _ask(
        self, group: list[SymbolView], account: AccountView, client: CostAwareLLMClient
    ) -> tuple[DecisionResult, int]:
        cfg = self.config
        now = datetime.fromtimestamp(self.clock.time(), UTC)
        related = {p.symbol for p in account.positions}
        shown = AccountView(
            account.cash,
            [p for p in account.positions if p.symbol in {v.symbol for v in group} or p.symbol in related],
            account.recent_trades,
        )
        full = render_prompt(group, shown, now=now, intraday=cfg.intraday, context=cfg.context)
        prompt = (
            self.compressor.compress_by_context(full, cfg.compress_context).text if cfg.compressor else full
        )
        self.answers.market = {
            v.symbol: (v, next((p for p in account.positions if p.symbol == v.symbol), None)) for v in group
        }
        per_symbol = self.settings.llm_max_tokens_per_call
        max_tokens = cfg.max_tokens if cfg.max_tokens is not None else per_symbol * len(group)
        full_tokens = count_chat_tokens(
            [{"role": "system", "content": client.system_prompt}, {"role": "user", "content": full}],
            cfg.model,
        )
        result = await client.decide(
            prompt,
            [v.symbol for v in group],
            model=cfg.model,
            prices={v.symbol: v.price for v in group},
            original_prompt_tokens=full_tokens,
            max_tokens=max_tokens,
        )
        self.result.llm_calls += 1
        self.result.llm_cost += result.cost
        self.result.prompt_tokens.append(result.usage.prompt_tokens)
        self.result.completion_tokens.append(result.usage.output_tokens)
        self.result.full_prompt_tokens.append(full_tokens)
        return result, result.usage.prompt_tokens

    async def _store(
        self,
        views: list[SymbolView],
        decided: dict[str, tuple[Decision, float, int, Decimal, bool]],
        open_by_symbol: dict[str, Position],
    ) -> None:
        now = datetime.fromtimestamp(self.clock.time(), UTC)
        rows = []
        for v in views:
            d, latency, tokens, cost, hit = decided[v.symbol]
            self.result.decisions += 1
            self.result.decision_latencies.append(latency)
            self.result.demoted += d.error is not None
            rows.append(
                DecisionRow(
                    bot_id=self.bot_id,
                    symbol=v.symbol,
                    model=self.config.model,
                    action=d.signal.value,
                    confidence=Decimal(str(round(d.confidence, 4))),
                    prompt_tokens=tokens,
                    completion_tokens=0,
                    cost_usd=cost,
                    latency_s=latency,
                    cache_hit=hit,
                    error=d.error,
                    created_at=now,
                )
            )
        t0 = time.perf_counter()
        await self.repo.add_all(rows)
        for v in views:
            await self._trade(decided[v.symbol][0], v, open_by_symbol.get(v.symbol), now)
        self.result.db_write_times.append(time.perf_counter() - t0)

    async def _trade(self, d: Decision, view: SymbolView, position: Position | None, now: datetime) -> None:
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
            self.result.opened += 1
        elif d.signal is Signal.CLOSE and position is not None:
            fill = await self.repo.close_position(position, view.price, now)
            self.cash += fill.realized_pnl
            self.result.closed += 1


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


async def run_cycle(
    config: CycleConfig,
    db: Database,
    bot_id: uuid.UUID,
    *,
    redis_url: str | None = None,
) -> CycleResult:
    """Replay `config` and return what it measured."""
    return await DecisionCycle(config, db, bot_id, redis_url=redis_url).run()
