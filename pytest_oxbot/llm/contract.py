"""The compact answer contract: short keys, no prose unless asked, a JSON schema where the provider takes one.

Why: output tokens dominate an LLM call's latency (after ~0.4 s to the first token, every output token
costs ~7 ms on gpt-4o-mini) and they are the dearer tokens. A nof1-style answer spends ~100 tokens per
symbol on keys, a justification, an invalidation condition and a risk figure the bot does not act on;
this contract asks for what the bot acts on, in ~25 tokens:

    {"BTC": {"a": "buy", "c": 0.72, "q": 0.01, "sl": 96500, "tp": 99800, "lev": 2}}

`a` is the action (`hold`, `buy`, `sell`, `close`, for hold / buy_to_enter / sell_to_enter / close),
`c` the confidence (0..1), `q` the quantity, `sl`/`tp` the stop loss and profit target, `lev` the leverage;
`why` (one sentence) only when the caller asks for a justification. Where the provider supports OpenAI's
`response_format: {"type": "json_schema"}` the schema is sent with `strict: true` (the answer then always
parses); elsewhere `json_object` or the terse instruction block alone. `expand()` turns an answer back
into the shape `parse_decisions` validates, so every decision check applies unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pytest_oxbot.llm.decisions import base_asset

__all__ = ["ACTIONS", "CONTRACT_NAME", "AnswerContract", "ResponseFormatMode", "response_format_mode"]

ResponseFormatMode = Literal["json_schema", "json_object", "none"]
CONTRACT_NAME = "oxbot_decisions"

ACTIONS: dict[str, str] = {"hold": "hold", "buy": "buy_to_enter", "sell": "sell_to_enter", "close": "close"}
"""Compact action -> the decision parser's signal."""
_SIGNAL_TO_ACTION = {v: k for k, v in ACTIONS.items()}
_NUMBERS = (
    ("c", "confidence"),
    ("q", "quantity"),
    ("sl", "stop_loss"),
    ("tp", "profit_target"),
    ("lev", "leverage"),
)

# Which wire formats a provider accepts, by model-name family (documented by each provider):
# OpenAI structured outputs (gpt-4o-2024-08-06 and later, gpt-4.1, gpt-5, o-series) take json_schema;
# DeepSeek's and Qwen's OpenAI-compatible APIs take json_object only; others get the instructions alone.
_JSON_SCHEMA = re.compile(r"^(?:openai/|azure/)?(?:gpt-4o|gpt-4\.1|gpt-5|o[1-9])", re.IGNORECASE)
_JSON_OBJECT = re.compile(r"^(?:deepseek/)?(?:deepseek|qwen)", re.IGNORECASE)
_INSTRUCTED = re.compile(
    r"Answer with JSON only, one object per coin \(([A-Z0-9, ]+)\):.*?\"a\": hold\|buy\|sell\|close"
)


def response_format_mode(model: str) -> ResponseFormatMode:
    """The strongest answer format `model`'s provider is documented to enforce."""
    if _JSON_SCHEMA.match(model):
        return "json_schema"
    if _JSON_OBJECT.match(model):
        return "json_object"
    return "none"


@dataclass(frozen=True, slots=True)
class AnswerContract:
    """The compact answer for `symbols` (any naming: `BTC/USDT`, `BTCUSDT`, `BTC`)."""

    symbols: tuple[str, ...]
    justification: bool = False
    name: str = CONTRACT_NAME

    @classmethod
    def for_symbols(cls, symbols: Sequence[str], *, justification: bool = False) -> AnswerContract:
        return cls(tuple(dict.fromkeys(base_asset(s) for s in symbols)), justification)

    @classmethod
    def from_request(cls, response_format: Any, prompt: str) -> AnswerContract | None:
        """The contract a request asks for, by its `response_format` schema or its instruction block.

        What a model that follows instructions would recognise; the fake provider answers in it.
        """
        if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, Mapping) else None
            if (
                isinstance(spec, Mapping)
                and spec.get("name") == CONTRACT_NAME
                and isinstance(schema, Mapping)
            ):
                symbols = schema.get("required")
                props = schema.get("properties")
                first: Any = next(iter(props.values()), {}) if isinstance(props, Mapping) and props else {}
                why = isinstance(first, Mapping) and "why" in (first.get("properties") or {})
                if isinstance(symbols, list) and all(isinstance(x, str) for x in symbols):
                    return cls(tuple(symbols), bool(why))
        found = _INSTRUCTED.search(prompt)
        if found is None:
            return None
        symbols = tuple(x.strip() for x in found.group(1).split(",") if x.strip())
        return cls(symbols, '"why"' in prompt[found.start() :]) if symbols else None

    def json_schema(self) -> dict[str, Any]:
        """A strict JSON schema: one required object per symbol, every key required (nullable numbers)."""
        number = {"type": ["number", "null"]}
        fields: dict[str, Any] = {
            "a": {"type": "string", "enum": sorted(ACTIONS)},
            "c": {"type": "number"},
            "q": number,
            "sl": number,
            "tp": number,
            "lev": {"type": ["integer", "null"]},
        }
        if self.justification:
            fields["why"] = {"type": "string"}
        decision = {
            "type": "object",
            "properties": fields,
            "required": list(fields),
            "additionalProperties": False,
        }
        return {
            "type": "object",
            "properties": {symbol: decision for symbol in self.symbols},
            "required": list(self.symbols),
            "additionalProperties": False,
        }

    def response_format(self, mode: ResponseFormatMode) -> dict[str, Any] | None:
        """The `response_format` request parameter for `mode` (None: send the instructions alone)."""
        if mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": self.name, "strict": True, "schema": self.json_schema()},
            }
        if mode == "json_object":
            return {"type": "json_object"}
        return None

    def instructions(self) -> str:
        """The terse answer block appended to the prompt (the schema alone does not say what keys mean)."""
        why = ', "why": one short sentence' if self.justification else ""
        example = ", ".join(f'"{s}": {{...}}' for s in self.symbols[:2]) + (
            ", ..." if len(self.symbols) > 2 else ""
        )
        return (
            "Answer with JSON only, one object per coin"
            f" ({', '.join(self.symbols)}): {{{example}}} where each is "
            '{"a": hold|buy|sell|close, "c": confidence 0..1, "q": quantity, "sl": stop loss, '
            f'"tp": profit target, "lev": leverage{why}}}; null for what does not apply. '
            "No other text. Do not copy example values."
        )

    def expand(self, answer: Any) -> Any:
        """A compact answer in the parser's shape (keys the parser knows); anything else unchanged."""
        if not isinstance(answer, Mapping):
            return answer
        out: dict[str, Any] = {}
        for key, item in answer.items():
            if not isinstance(item, Mapping) or "a" not in item:
                out[key] = item
                continue
            action = item.get("a")
            signal = ACTIONS.get(action.strip().lower(), action) if isinstance(action, str) else action
            expanded: dict[str, Any] = {"signal": signal}
            for short, long in _NUMBERS:
                if item.get(short) is not None:
                    expanded[long] = item[short]
            if isinstance(item.get("why"), str):
                expanded["justification"] = item["why"]
            expanded.update(
                {k: v for k, v in item.items() if k not in {"a", "why", *(s for s, _ in _NUMBERS)}}
            )
            out[key] = expanded
        return out

    def compact(self, answer: Mapping[str, Any]) -> dict[str, Any]:
        """A nof1-style answer (signal, quantity, stop_loss, profit_target, ...) in this contract's shape.

        What a model following the contract would write for the same decisions: the fake provider uses it
        so that the tokens it counts are those of a compact answer.
        """
        out: dict[str, Any] = {}
        for key, item in answer.items():
            if not isinstance(item, Mapping):
                continue
            signal = str(item.get("signal", "hold")).lower()
            entry: dict[str, Any] = {"a": _SIGNAL_TO_ACTION.get(signal, "hold")}
            for short, long in _NUMBERS:
                value = item.get(long)
                if long == "profit_target" and value is None:
                    value = item.get("take_profit")
                entry[short] = (
                    value if isinstance(value, int | float) and not isinstance(value, bool) else None
                )
            if entry["c"] is None:
                entry["c"] = 0.0
            if entry["lev"] is not None:
                entry["lev"] = int(entry["lev"])
            if entry["a"] in ("hold", "close"):
                entry.update(q=None if entry["a"] == "hold" else entry["q"], sl=None, tp=None, lev=None)
            if self.justification:
                why = item.get("justification")
                entry["why"] = why if isinstance(why, str) else ""
            out[base_asset(str(key))] = entry
        return out
