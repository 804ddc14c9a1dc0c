"""Decisions a test counts by hand, priced exactly: for bots that do not use the toolkit's LLM client.

Why strict types at the call: money is Decimal everywhere in the package. A float cost accepted here
would only blow up at teardown (`Decimal + float`), far from the line that passed it; a token count of
`12.5` or `True` is a bug in the caller's bookkeeping. Both are refused where they are passed, with what
to pass instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pytest_oxbot.errors import FakeError
from pytest_oxbot.pricing import PriceTable, TokenUsage, usage_from_response

__all__ = ["RecordError", "RecordedDecision", "cost_of_decision", "usage_from_counts", "usage_mapping"]


class RecordError(FakeError, TypeError):
    """`record_usage` / `record_decision` got something it cannot price exactly."""


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    """One decision counted for the `cost_per_decision` KPI, with what it cost (USD, exact)."""

    cost: Decimal
    model: str | None = None
    usage: TokenUsage | None = None
    source: str = "record_decision"


def usage_mapping(usage: object) -> Mapping[str, Any]:
    """A provider `usage` block as a mapping: a dict, or an SDK object (`model_dump()` / `to_dict()`)."""
    if isinstance(usage, Mapping):
        return usage
    for method in ("model_dump", "to_dict"):
        dump = getattr(usage, method, None)
        if callable(dump):
            data = dump()
            if isinstance(data, Mapping):
                return data
    raise RecordError(
        f"usage must be a provider's usage block (a dict, or the SDK's usage object), not "
        f"{type(usage).__name__}: e.g. record_usage('gpt-4o-mini', response.usage)"
    )


def usage_from_counts(
    prompt_tokens: object,
    completion_tokens: object,
    cached_tokens: object = 0,
    cache_write_tokens: object = 0,
) -> TokenUsage:
    """OpenAI's counting: `cached_tokens` and `cache_write_tokens` are part of `prompt_tokens`."""
    counts = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cached_tokens": cached_tokens,
        "cache_write_tokens": cache_write_tokens,
    }
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RecordError(f"{name} must be a whole number of tokens >= 0, not {value!r}")
    prompt, completion = int(prompt_tokens), int(completion_tokens)  # type: ignore[call-overload]
    cached, written = int(cached_tokens), int(cache_write_tokens)  # type: ignore[call-overload]
    if cached + written > prompt:
        raise RecordError(
            f"cached_tokens ({cached}) + cache_write_tokens ({written}) exceed prompt_tokens ({prompt}): "
            "they are counted inside prompt_tokens"
        )
    return TokenUsage(
        input_tokens=prompt - cached - written,
        output_tokens=completion,
        cached_input_tokens=cached,
        cache_write_tokens=written,
    )


def price(table: PriceTable, model: str, usage: TokenUsage) -> Decimal:
    if not isinstance(model, str) or not model:
        raise RecordError(f"model must be the model name the call was billed for, not {model!r}")
    return table.cost(model, usage).total


def parse_usage(usage: object) -> TokenUsage:
    return usage_from_response(usage_mapping(usage))


def cost_of_decision(result: object) -> tuple[Decimal, str | None, TokenUsage | None]:
    """The cost (and model, usage when known) of what `record_decision` was given.

    Accepted: the toolkit's `DecisionResult`, or any object or mapping with a `cost` that is a `Decimal`
    (an `int` or a decimal string is exact too). A float is refused: it cannot carry an exact price.
    """
    raw = result.get("cost", _MISSING) if isinstance(result, Mapping) else getattr(result, "cost", _MISSING)
    if raw is _MISSING:
        raise RecordError(
            f"record_decision takes a DecisionResult or an object/mapping with a Decimal `cost`, not "
            f"{type(result).__name__}; for your own client's calls use record_usage(model, usage)"
        )
    cost = _money(raw)
    get = (
        result.get
        if isinstance(result, Mapping)
        else lambda name, default=None: getattr(result, name, default)
    )
    model = get("model", None)
    usage = get("usage", None)
    return cost, model if isinstance(model, str) else None, usage if isinstance(usage, TokenUsage) else None


_MISSING: Any = object()


def _money(value: object) -> Decimal:
    if isinstance(value, bool | float):
        raise RecordError(
            f"cost must be a Decimal, not {type(value).__name__} {value!r}: money is kept exact; pass "
            f"Decimal('{value}') or price the call from its tokens with record_usage(model, usage)"
        )
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise RecordError(f"cost {value!r} is not a decimal number") from None
    else:
        raise RecordError(f"cost must be a Decimal, not {type(value).__name__}")
    if not amount.is_finite() or amount < 0:
        raise RecordError(f"cost must be a finite amount >= 0, not {value!r}")
    return amount
