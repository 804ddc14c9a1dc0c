"""Prices per token (litellm's JSON format) and the exact cost of a call from the provider's `usage`.

Why a table in litellm's format: it is the de-facto public price map, so a user can drop in litellm's own
file (or have it read from an installed litellm) instead of learning a new schema. Money is `Decimal`,
parsed straight from the JSON text so `1.5e-07` stays exactly 0.00000015. An unknown model raises
`UnknownModelError`: a silent $0 would make the cheapest-looking model win every comparison.

Usage shapes handled (all seen in the wild, each a known source of wrong bills):
- OpenAI: `prompt_tokens_details.cached_tokens` is a *subset* of `prompt_tokens`; the details may be null.
- DeepSeek: `prompt_cache_hit_tokens` + `prompt_cache_miss_tokens` (= `prompt_tokens`).
- Anthropic: `input_tokens` excludes `cache_read_input_tokens` and `cache_creation_input_tokens`, which
  are *added* to it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_oxbot.errors import PricingError, UnknownModelError

__all__ = [
    "CostBreakdown",
    "MalformedUsageError",
    "ModelPrice",
    "PriceTable",
    "PricingError",
    "TokenUsage",
    "UnknownModelError",
    "default_price_table",
    "usage_from_response",
]

ZERO = Decimal(0)
# No model costs anything near $1 per token (the dearest ones are ~$0.0006): a larger "price" is a
# misplaced per-million figure or junk, and would blow up every budget computed from it.
MAX_PRICE_PER_TOKEN = Decimal(1)
_PRICE_FIELDS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
)
_ASCII_NUMBER = re.compile(r"\A[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
# Gateways put these in front of a model name; they do not change its price.
_ROUTE_PREFIXES = ("openai/", "deepseek/", "anthropic/", "gemini/", "openrouter/", "litellm/", "azure/")


class MalformedUsageError(PricingError):
    """A `usage` block that contradicts itself (negative, or cached > prompt)."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """One model's USD prices per token; cache rates default to the input rate (never to zero)."""

    model: str
    input_cost_per_token: Decimal
    output_cost_per_token: Decimal
    cache_read_input_token_cost: Decimal
    cache_creation_input_token_cost: Decimal
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    provider: str | None = None

    @classmethod
    def from_entry(cls, model: str, entry: Mapping[str, Any]) -> ModelPrice:
        """One litellm-format entry; a bad field is a `PricingError` naming the model and the field."""
        for name in ("input_cost_per_token", "output_cost_per_token"):
            if name not in entry:
                raise PricingError(f"price entry {model!r} lacks {name!r}")
        inp = _money(entry["input_cost_per_token"], model, "input_cost_per_token")
        out = _money(entry["output_cost_per_token"], model, "output_cost_per_token")
        read = entry.get("cache_read_input_token_cost")
        write = entry.get("cache_creation_input_token_cost")
        provider = entry.get("litellm_provider")
        return cls(
            model=model,
            input_cost_per_token=inp,
            output_cost_per_token=out,
            cache_read_input_token_cost=inp
            if read is None
            else _money(read, model, "cache_read_input_token_cost"),
            cache_creation_input_token_cost=(
                inp if write is None else _money(write, model, "cache_creation_input_token_cost")
            ),
            max_input_tokens=_opt_int(entry.get("max_input_tokens"), model, "max_input_tokens"),
            max_output_tokens=_opt_int(entry.get("max_output_tokens"), model, "max_output_tokens"),
            provider=provider if isinstance(provider, str) else None,
        )


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens by billing rate: uncached input, cache reads, cache writes, and output (reasoning included)."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens"):
            if getattr(self, name) < 0:
                raise MalformedUsageError(f"{name} is negative: {getattr(self, name)}")

    @property
    def prompt_tokens(self) -> int:
        """Every input token, whatever its rate (what the provider calls `prompt_tokens`)."""
        return self.input_tokens + self.cached_input_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """USD per billing rate; `total` is what the call cost."""

    input: Decimal
    cached_input: Decimal
    cache_write: Decimal
    output: Decimal

    @property
    def total(self) -> Decimal:
        return self.input + self.cached_input + self.cache_write + self.output


def usage_from_response(usage: Mapping[str, Any]) -> TokenUsage:
    """Normalise an OpenAI, DeepSeek or Anthropic `usage` block into billing buckets."""
    if "input_tokens" in usage and "prompt_tokens" not in usage:  # Anthropic Messages API
        return TokenUsage(
            input_tokens=_int(usage.get("input_tokens")),
            output_tokens=_int(usage.get("output_tokens")),
            cached_input_tokens=_int(usage.get("cache_read_input_tokens")),
            cache_write_tokens=_int(usage.get("cache_creation_input_tokens")),
        )
    prompt = _int(usage.get("prompt_tokens"))
    completion = _int(usage.get("completion_tokens"))
    if usage.get("prompt_cache_hit_tokens") is not None:  # DeepSeek
        hit = _int(usage.get("prompt_cache_hit_tokens"))
        miss = usage.get("prompt_cache_miss_tokens")
        miss_n = prompt - hit if miss is None else _int(miss)
        if hit + miss_n != prompt and prompt:
            raise MalformedUsageError(f"DeepSeek usage: hit {hit} + miss {miss_n} != prompt_tokens {prompt}")
        return TokenUsage(input_tokens=miss_n, output_tokens=completion, cached_input_tokens=hit)
    details = usage.get("prompt_tokens_details") or {}  # OpenAI: may be absent or null
    cached = _int(details.get("cached_tokens"))
    if cached > prompt:
        raise MalformedUsageError(
            f"cached_tokens {cached} > prompt_tokens {prompt}: cached tokens are a subset"
        )
    write = _int(usage.get("cache_creation_input_tokens"))  # OpenAI-compatible Anthropic gateways
    return TokenUsage(
        input_tokens=prompt - cached - min(write, prompt - cached),
        output_tokens=completion,
        cached_input_tokens=cached,
        cache_write_tokens=min(write, prompt - cached),
    )


class PriceTable:
    """Model name -> `ModelPrice`, merged from the shipped file, litellm's map and a user file."""

    def __init__(self, prices: Mapping[str, ModelPrice], sources: tuple[str, ...] = ()) -> None:
        self._prices = dict(prices)
        self.sources = sources

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "mapping") -> PriceTable:
        """Chat prices from litellm's format; anything else (images, embeddings, `null` costs) is skipped.

        A chat entry with a bad value is a `PricingError` naming `source`, the model and the field.
        """
        prices: dict[str, ModelPrice] = {}
        for model, entry in data.items():
            if not isinstance(model, str) or model.startswith("_") or model == "sample_spec":
                continue
            if not isinstance(entry, Mapping):
                continue
            if entry.get("input_cost_per_token") is None or entry.get("output_cost_per_token") is None:
                continue  # images, embeddings, audio, unpriced: not chat prices
            try:
                prices[model] = ModelPrice.from_entry(model, entry)
            except PricingError as exc:
                raise PricingError(f"price file {source}: {exc}") from None
        return cls(prices, (source,))

    @classmethod
    def from_json_text(cls, text: str, source: str) -> PriceTable:
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise PricingError(f"price file {source}: invalid JSON ({exc})") from None
        except RecursionError:
            raise PricingError(f"price file {source}: nested too deeply to be a price table") from None
        except ValueError as exc:  # e.g. an integer longer than Python's digit limit
            raise PricingError(f"price file {source}: invalid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise PricingError(f"price file {source}: expected an object of model -> prices")
        return cls.from_mapping(data, source)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PriceTable:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise PricingError(f"cannot read price file {p}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise PricingError(f"price file {p}: not UTF-8 text") from None
        return cls.from_json_text(text, str(p))

    @classmethod
    def shipped(cls) -> PriceTable:
        """The small table in the package (see its `_meta` for date and source)."""
        text = resources.files("pytest_oxbot").joinpath("data/prices/model_prices.json").read_text("utf-8")
        return cls.from_json_text(text, "pytest_oxbot/data/prices/model_prices.json")

    @classmethod
    def from_litellm(cls) -> PriceTable | None:
        """litellm's own map when litellm is installed (it may refresh it from the network itself)."""
        try:
            import litellm
        except ImportError:
            return None
        data = {
            k: {kk: (str(vv) if isinstance(vv, float) else vv) for kk, vv in v.items()}
            for k, v in litellm.model_cost.items()
            if isinstance(v, dict)
        }
        return cls.from_mapping(data, "litellm.model_cost")

    def merged(self, other: PriceTable) -> PriceTable:
        """A table where `other`'s prices win."""
        return PriceTable({**self._prices, **other._prices}, self.sources + other.sources)

    def get(self, model: str) -> ModelPrice:
        if model in self._prices:
            return self._prices[model]
        for prefix in _ROUTE_PREFIXES:
            if model.startswith(prefix) and model[len(prefix) :] in self._prices:
                return self._prices[model[len(prefix) :]]
        raise UnknownModelError(
            f"no price for model {model!r} (sources: {', '.join(self.sources) or 'none'}); "
            "add it to a price file in litellm's format rather than treating it as free"
        )

    def __contains__(self, model: object) -> bool:
        if not isinstance(model, str):
            return False
        try:
            self.get(model)
        except UnknownModelError:
            return False
        return True

    def models(self) -> list[str]:
        return sorted(self._prices)

    def cost(self, model: str, usage: TokenUsage) -> CostBreakdown:
        p = self.get(model)
        return CostBreakdown(
            input=p.input_cost_per_token * usage.input_tokens,
            cached_input=p.cache_read_input_token_cost * usage.cached_input_tokens,
            cache_write=p.cache_creation_input_token_cost * usage.cache_write_tokens,
            output=p.output_cost_per_token * usage.output_tokens,
        )

    def max_cost(self, model: str, prompt_tokens: int, max_output_tokens: int) -> Decimal:
        """The most a call can cost: every prompt token at the highest input rate, every output token."""
        p = self.get(model)
        top_input = max(p.input_cost_per_token, p.cache_creation_input_token_cost)
        return top_input * prompt_tokens + p.output_cost_per_token * max_output_tokens

    def cheapest_first(self, models: list[str] | None = None) -> list[str]:
        """Models ordered by a typical call's cost (2,000 prompt + 300 output tokens)."""
        names = models if models is not None else self.models()
        return sorted(names, key=lambda m: (self.max_cost(m, 2000, 300), m))


def default_price_table(
    user_file: str | os.PathLike[str] | None = None, *, use_litellm: bool = True
) -> PriceTable:
    """Shipped table, overridden by litellm's map (if installed), overridden by the user's file."""
    table = PriceTable.shipped()
    if use_litellm:
        lite = PriceTable.from_litellm()
        if lite is not None:
            table = table.merged(lite)
    if user_file:
        table = table.merged(PriceTable.from_file(user_file))
    return table


def to_units(amount: Decimal, unit: Decimal) -> int:
    """Whole `unit`s, rounded up, so an integer ledger never under-counts spend."""
    return int((amount / unit).to_integral_value(rounding=ROUND_CEILING))


def _money(value: Any, model: str = "?", field: str = "price") -> Decimal:
    """A per-token USD price: a finite number within 0..MAX_PRICE_PER_TOKEN, never a guess."""
    where = f"model {model!r}: {field}"
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise PricingError(f"{where} must be a number, got {type(value).__name__} {_short(value)}")
    if isinstance(value, str) and not _ASCII_NUMBER.match(value.strip()):
        raise PricingError(f"{where} must be a number, got {_short(value)}")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PricingError(f"{where} must be a number, got {_short(value)}") from None
    if not d.is_finite() or d < 0:
        raise PricingError(f"{where} must be a finite, non-negative number, got {_short(value)}")
    if d > MAX_PRICE_PER_TOKEN:
        raise PricingError(
            f"{where} is ${d} per token, over ${MAX_PRICE_PER_TOKEN}: litellm's format is USD per token, "
            "not per million"
        )
    return d


def _int(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float) or int(value) != value:
        raise MalformedUsageError(f"token count must be a whole number: {value!r}")
    return int(value)


def _opt_int(value: Any, model: str = "?", field: str = "value") -> int | None:
    """An optional positive whole number of tokens (`128000`, `128000.0` or `"128000"`)."""
    if value is None:
        return None
    where = f"model {model!r}: {field}"
    number: Decimal | None = None
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = Decimal(value.strip())
    if number is None or not number.is_finite() or number != number.to_integral_value() or number < 1:
        raise PricingError(f"{where} must be a whole number of tokens >= 1, got {_short(value)}")
    if number > 10**12:
        raise PricingError(f"{where} is implausibly large: {_short(value)}")
    return int(number)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
