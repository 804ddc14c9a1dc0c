"""The guide's `get_ultra_optimized_llm().analyze_market_ultra_fast(symbols=, market_data=, context=)`.

What the guide's service promised, done by the toolkit: one prompt for all symbols (batched), compressed
without changing a number (`AdaptivePromptCompressor`), answered from the cache when the exact same
request was answered before, priced from the provider's usage and checked against the budget
(`CostAwareLLMClient`), and parsed into validated per-symbol decisions (anything doubtful is HOLD).

`get_ultra_optimized_llm()` returns one shared service, as the guide's module-level instance did.
Configure it once at start-up with your client (`get_ultra_optimized_llm(CostAwareLLMClient.from_env())`:
the environment is read at your edge, never here); until then it uses `CostAwareLLMClient()`'s explicit
defaults with an in-memory cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.compressor import AdaptivePromptCompressor
from pytest_oxbot.llm.client import CostAwareLLMClient, DecisionResult

__all__ = [
    "UltraOptimizedLLM",
    "close_ultra_optimized_llm",
    "get_ultra_optimized_llm",
    "render_market_prompt",
]

_ANSWER_FORMAT = (
    "Answer with one JSON object mapping each symbol's base asset (BTC, ETH, ...) to "
    '{"signal": "hold"|"buy_to_enter"|"sell_to_enter"|"close", "confidence": 0..1, "entry_price", '
    '"stop_loss", "profit_target", "leverage", "quantity", "justification"}.'
)


def _fields(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return None


def render_market_prompt(
    symbols: Sequence[str], market_data: Mapping[str, Any] | Any, context: Mapping[str, Any] | str | None
) -> str:
    """A plain, deterministic prompt: the context, then each symbol's data as `key: value` lines.

    `market_data` maps each symbol to a mapping (or a dataclass such as the client's `Snapshot`); a
    value that is neither is written as it prints. Numbers are written exactly as given.
    """
    lines = ["# Trading context"]
    ctx = _fields(context)
    if ctx is not None:
        lines += [f"{k}: {v}" for k, v in ctx.items()]
    elif context:
        lines.append(str(context))
    lines += ["", "# Market data"]
    data = _fields(market_data) or {}
    for symbol in symbols:
        lines.append(f"## {symbol}")
        entry = data.get(symbol)
        fields = _fields(entry)
        if fields is not None:
            lines += [f"{k}: {v}" for k, v in fields.items() if k != "symbol"]
        elif entry is not None:
            lines.append(str(entry))
        else:
            lines.append("no data")
    lines += ["", f"Decide for: {', '.join(symbols)}", _ANSWER_FORMAT]
    return "\n".join(lines)


class UltraOptimizedLLM:
    """One batched, compressed, cached and priced decision call for many symbols."""

    def __init__(
        self,
        client: CostAwareLLMClient,
        *,
        compressor: AdaptivePromptCompressor | None = None,
        compression: str = "standard",
        model: str | None = None,
    ) -> None:
        self.client = client
        self.compressor = compressor or AdaptivePromptCompressor()
        self.compression = compression
        self.model = model
        self.last_prompt = ""
        """The prompt actually sent by the last call (after compression)."""

    async def analyze_market_ultra_fast(
        self,
        symbols: Sequence[str],
        market_data: Mapping[str, Any] | Any,
        context: Mapping[str, Any] | str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """`{symbol: decision}` for every symbol, from one LLM call (or a cache hit).

        Each decision has the parsed fields (`signal`, `confidence`, `entry_price`, `stop_loss`,
        `take_profit`, `leverage`, `quantity`, `justification`, `extra`), `error` when it was turned into
        HOLD, and the call's `model`, `cached`, `cost_usd` (Decimal, for the whole call) and `latency_s`.
        """
        prompt = render_market_prompt(symbols, market_data, context)
        compressed = self.compressor.compress_by_context(prompt, self.compression)
        text = str(compressed)
        self.last_prompt = text
        context_type = (_fields(context) or {}).get("context_type", "routine")
        result: DecisionResult = await self.client.decide(
            text,
            symbols,
            model=self.model,
            context_type=str(context_type),
            original_prompt_tokens=getattr(compressed, "original_tokens", None),
        )
        call = {
            "model": result.model,
            "cached": result.cache_hit,
            "cost_usd": result.cost,
            "latency_s": result.latency_s,
        }
        return {
            symbol: {
                "signal": d.signal.value,
                "confidence": d.confidence,
                "entry_price": d.entry_price,
                "stop_loss": d.stop_loss,
                "take_profit": d.take_profit,
                "leverage": d.leverage,
                "quantity": d.quantity,
                "justification": d.justification,
                "extra": dict(getattr(d, "extra", {}) or {}),
                "error": d.error,
                **call,
            }
            for symbol, d in result.decisions.items()
        }

    def get_comprehensive_cost_report(self) -> dict[str, Any]:
        """The client's report (spend by model and day, savings, `cost_optimization`)."""
        return self.client.get_comprehensive_cost_report()

    @property
    def total_cost(self) -> Decimal:
        return sum((r.cost for r in self.client.ledger.records), Decimal(0))

    async def aclose(self) -> None:
        await self.client.aclose()


_shared: UltraOptimizedLLM | None = None


def get_ultra_optimized_llm(client: CostAwareLLMClient | None = None) -> UltraOptimizedLLM:
    """The shared service; passing a client (once, at start-up) makes it the one every caller gets."""
    global _shared
    if client is not None:
        _shared = UltraOptimizedLLM(client)
    elif _shared is None:
        _shared = UltraOptimizedLLM(CostAwareLLMClient(cache=HierarchicalCache.memory_only()))
    return _shared


async def close_ultra_optimized_llm() -> None:
    """Close the shared service's client and forget it (the next `get_ultra_optimized_llm()` builds anew)."""
    global _shared
    service, _shared = _shared, None
    if service is not None:
        await service.aclose()
