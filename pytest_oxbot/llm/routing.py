"""Which model answers a prompt: by context type and size, with a faster fallback on a latency alert.

Why this is small and explicit: routing decides what a decision costs, so its rules must be readable
and testable: a table context_type -> model, a context-window check, and a fallback model used while the
monitor says the chosen model is slow (re-tried after a cool-down, so one bad minute is not forever).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pytest_oxbot.clock import Clock, SystemClock
from pytest_oxbot.llm.errors import NoModelFits
from pytest_oxbot.monitor.performance import LatencyAlert
from pytest_oxbot.pricing import PriceTable

__all__ = ["DEFAULT_CONTEXT_MODELS", "ModelRouter"]

# Routine cycles go to the cheapest capable model; rarer, harder situations to a stronger one.
DEFAULT_CONTEXT_MODELS: Mapping[str, str] = {
    "routine": "gpt-4o-mini",
    "simple": "gpt-4o-mini",
    "complex": "gpt-4.1-mini",
    "high_volatility": "gpt-4.1-mini",
    "critical": "gpt-4o",
}


class ModelRouter:
    """`select_optimal_model(prompt_tokens, context_type)`; subscribe `on_latency_alert` to a monitor."""

    def __init__(
        self,
        price_table: PriceTable,
        *,
        default_model: str = "gpt-4o-mini",
        context_models: Mapping[str, str] | None = None,
        fallback_model: str | None = "gpt-4.1-nano",
        reply_tokens: int = 300,
        cooldown_s: float = 300.0,
        clock: Clock | None = None,
    ) -> None:
        self.price_table = price_table
        self.default_model = default_model
        self.context_models = dict(DEFAULT_CONTEXT_MODELS if context_models is None else context_models)
        self.fallback_model = fallback_model
        self.reply_tokens = reply_tokens
        self.cooldown_s = cooldown_s
        self.clock: Clock = clock or SystemClock()
        self._slow_until: dict[str, float] = {}
        self._forced: str | None = None
        for model in {
            default_model,
            *self.context_models.values(),
            *([fallback_model] if fallback_model else []),
        }:
            price_table.get(model)  # an unpriced model is a configuration error: say so now

    @property
    def forced_model(self) -> str | None:
        """The model every selection tries first while an operator (or the live monitor) forces one."""
        return self._forced

    def force_model(self, model: str | None) -> None:
        """Route every selection to `model` first (None: back to the normal rules); it must be priced."""
        if model is not None:
            self.price_table.get(model)
        self._forced = model

    def on_latency_alert(self, alert: LatencyAlert) -> None:
        if alert.active:
            self._slow_until[alert.model] = self.clock.monotonic() + self.cooldown_s
        else:
            self._slow_until.pop(alert.model, None)

    def is_degraded(self, model: str) -> bool:
        until = self._slow_until.get(model)
        if until is None:
            return False
        if self.clock.monotonic() >= until:  # cool-down over: give the model another chance
            del self._slow_until[model]
            return False
        return True

    def candidates(self, context_type: str) -> list[str]:
        """Preferred model first, then the fallback, then every other configured model cheapest first."""
        preferred = self.context_models.get(context_type, self.default_model)
        others = self.price_table.cheapest_first(
            sorted(set(self.context_models.values()) | {self.default_model})
        )
        order = [preferred]
        if self.fallback_model:
            order.append(self.fallback_model)
        order += others
        return list(dict.fromkeys(order))

    def select_optimal_model(
        self, prompt_tokens: int, context_type: str = "routine", *, max_cost: Decimal | None = None
    ) -> str:
        """The model for this prompt: preferred for the context, unless slow, too small or over `max_cost`."""
        order = self.candidates(context_type)
        if order[0] and self.is_degraded(order[0]) and self.fallback_model:
            order.remove(self.fallback_model)
            order.insert(0, self.fallback_model)
        if self._forced is not None:
            order = [self._forced, *(m for m in order if m != self._forced)]
        for model in order:
            price = self.price_table.get(model)
            if (
                price.max_input_tokens is not None
                and prompt_tokens + self.reply_tokens > price.max_input_tokens
            ):
                continue
            if (
                max_cost is not None
                and self.price_table.max_cost(model, prompt_tokens, self.reply_tokens) > max_cost
            ):
                continue
            return model
        raise NoModelFits(
            f"no model takes {prompt_tokens} prompt tokens"
            + (f" within ${max_cost} per call" if max_cost is not None else "")
            + f" (tried {', '.join(order)})"
        )
