"""Turn an LLM answer into validated per-symbol decisions; anything doubtful becomes HOLD.

Why so defensive: models wrap their JSON in prose or code fences, put braces in their reasoning, nest it
under `decisions`, skip a coin, or put a stop loss on the wrong side of the price. A parser that trades
on a best guess turns any of these into a real order. Here malformed output can only ever produce HOLD,
and each demotion keeps its reason in `Decision.error` so it can be logged and counted.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

__all__ = [
    "Decision",
    "ParsedDecisions",
    "Signal",
    "base_asset",
    "extract_json_candidates",
    "parse_decisions",
]

_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD")
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder(parse_float=Decimal)
_ALIASES: dict[str, tuple[str, ...]] = {
    "signal": ("signal", "action", "decision"),
    "confidence": ("confidence",),
    "entry_price": ("entry_price", "entry", "price"),
    "stop_loss": ("stop_loss", "sl", "stoploss"),
    "take_profit": ("take_profit", "profit_target", "tp", "target"),
    "leverage": ("leverage",),
    "quantity": ("quantity", "qty", "size"),
    "justification": ("justification", "reasoning", "reason", "rationale"),
}
_KNOWN_KEYS = frozenset({"symbol", "coin", *(alias for aliases in _ALIASES.values() for alias in aliases)})


class Signal(StrEnum):
    """The four actions of the nof1/0xBot prompt contract."""

    HOLD = "hold"
    BUY_TO_ENTER = "buy_to_enter"
    SELL_TO_ENTER = "sell_to_enter"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Decision:
    """One symbol's validated decision; `error` is set when a bad or missing one was turned into HOLD."""

    symbol: str
    signal: Signal = Signal.HOLD
    confidence: float = 0.0
    entry_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    leverage: Decimal | None = None
    quantity: Decimal | None = None
    justification: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)
    """Every other field of the answer, as given (`invalidation_condition`, `risk_usd`, ...)."""

    @property
    def is_trade(self) -> bool:
        """True only for a valid entry or close: the only decisions a bot may act on."""
        return self.error is None and self.signal is not Signal.HOLD

    @classmethod
    def hold(cls, symbol: str, error: str | None = None, extra: Mapping[str, Any] | None = None) -> Decision:
        return cls(symbol=symbol, error=error, extra=dict(extra or {}))


@dataclass(frozen=True, slots=True)
class ParsedDecisions:
    """Decisions keyed by the requested symbol (same order), plus parse-level errors."""

    decisions: dict[str, Decision]
    errors: list[str] = field(default_factory=list)

    @property
    def trades(self) -> list[Decision]:
        return [d for d in self.decisions.values() if d.is_trade]

    def __getitem__(self, symbol: str) -> Decision:
        return self.decisions[symbol]


def base_asset(symbol: str) -> str:
    """`BTC/USDT`, `BTCUSDT`, `btc-usdt`, `BTC` -> `BTC` (how prompts and answers name coins varies)."""
    s = symbol.strip().upper()
    for sep in ("/", "-", "_", ":"):
        if sep in s:
            return s.split(sep, 1)[0]
    for quote in _QUOTES:
        if s.endswith(quote) and len(s) > len(quote):
            return s[: -len(quote)]
    return s


def extract_json_candidates(text: str) -> Iterator[Any]:
    """Every JSON object/array embedded in `text`: whole text, fenced blocks, then any `{`/`[` that parses."""
    stripped = text.strip()
    with contextlib.suppress(ValueError):
        yield _DECODER.decode(stripped)
    for block in _FENCE.findall(text):
        with contextlib.suppress(ValueError):
            yield _DECODER.decode(block.strip())
    i, n = 0, len(text)
    while i < n:
        if text[i] in "{[":
            try:
                obj, end = _DECODER.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            if isinstance(obj, dict | list):
                yield obj
                i = end
                continue
        i += 1


def parse_decisions(
    text: str | Mapping[str, Any],
    symbols: Iterable[str],
    prices: Mapping[str, Decimal | float | str] | None = None,
) -> ParsedDecisions:
    """Parse an answer (text or an already-decoded object) into one `Decision` per requested symbol.

    `prices` (current price per symbol, any naming) lets the side of a stop loss or take profit be
    checked when the answer gives no entry price.
    """
    wanted = list(dict.fromkeys(symbols))
    by_base = {base_asset(s): s for s in wanted}
    ref_prices = {base_asset(k): _dec(v) for k, v in (prices or {}).items()}
    errors: list[str] = []
    raw = _find_decision_map(text, set(by_base), errors)
    out: dict[str, Decision] = {}
    for sym in wanted:
        base = base_asset(sym)
        item = raw.get(base)
        if item is None:
            out[sym] = Decision.hold(sym, errors[0] if errors and not raw else "missing from the answer")
            continue
        out[sym] = _validate(sym, item, ref_prices.get(base))
    return ParsedDecisions(out, errors)


def _find_decision_map(text: str | Mapping[str, Any], wanted: set[str], errors: list[str]) -> dict[str, Any]:
    candidates: Iterable[Any] = [text] if isinstance(text, Mapping) else extract_json_candidates(text)
    best: dict[str, Any] = {}
    for obj in candidates:
        found = _as_decision_map(obj)
        if len(set(found) & wanted) > len(set(best) & wanted) or (not best and found):
            best = found
        if wanted and wanted <= set(best):
            break
    if not best:
        errors.append("no JSON decision object found in the answer")
    return best


def _as_decision_map(obj: Any) -> dict[str, Any]:
    """Map base asset -> raw decision for the shapes models use."""
    if isinstance(obj, Mapping) and "decisions" in obj:
        return _as_decision_map(obj["decisions"])
    if isinstance(obj, list):
        result: dict[str, Any] = {}
        for item in obj:
            if isinstance(item, Mapping) and _symbol_of(item):
                result[base_asset(_symbol_of(item))] = item
        return result
    if isinstance(obj, Mapping):
        if _symbol_of(obj) and _first(obj, "signal") is not None:  # a single decision
            return {base_asset(_symbol_of(obj)): obj}
        return {base_asset(str(k)): v for k, v in obj.items() if isinstance(v, Mapping)}
    return {}


def _symbol_of(item: Mapping[str, Any]) -> str:
    value = item.get("symbol", item.get("coin", ""))
    return value if isinstance(value, str) else ""


def _first(item: Mapping[str, Any], name: str) -> Any:
    for alias in _ALIASES[name]:
        if item.get(alias) is not None:
            return item[alias]
    return None


def _validate(symbol: str, item: Any, ref_price: Decimal | None) -> Decision:
    try:
        decision = _build(symbol, item)
        _check(decision, ref_price)
    except ValueError as exc:
        return Decision.hold(symbol, f"invalid decision: {exc}", _extra(item))
    return decision


def _extra(item: Any) -> dict[str, Any]:
    """The answer's fields the Decision has no attribute for, kept as given (a bot may pass them on)."""
    if not isinstance(item, Mapping):
        return {}
    return {str(k): v for k, v in item.items() if k not in _KNOWN_KEYS}


def _build(symbol: str, item: Any) -> Decision:
    if not isinstance(item, Mapping):
        raise ValueError(f"expected an object, got {type(item).__name__}")
    raw_signal = _first(item, "signal")
    if not isinstance(raw_signal, str):
        raise ValueError(f"no signal (got {raw_signal!r})")
    try:
        signal = Signal(raw_signal.strip().lower())
    except ValueError:
        raise ValueError(f"unknown signal {raw_signal!r}") from None
    conf_raw = _first(item, "confidence")
    confidence = 0.0 if conf_raw is None else float(_dec(conf_raw, "confidence"))
    justification = _first(item, "justification")
    return Decision(
        symbol=symbol,
        signal=signal,
        confidence=confidence,
        entry_price=_opt_dec(item, "entry_price"),
        stop_loss=_opt_dec(item, "stop_loss"),
        take_profit=_opt_dec(item, "take_profit"),
        leverage=_opt_dec(item, "leverage"),
        quantity=_opt_dec(item, "quantity"),
        justification=justification if isinstance(justification, str) else "",
        extra=_extra(item),
    )


def _check(d: Decision, ref_price: Decimal | None) -> None:
    if not 0.0 <= d.confidence <= 1.0:
        raise ValueError(f"confidence {d.confidence} outside 0..1")
    for name in ("entry_price", "stop_loss", "take_profit", "leverage"):
        value = getattr(d, name)
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if d.quantity is not None and d.quantity < 0:
        raise ValueError(f"quantity must be >= 0, got {d.quantity}")
    if d.signal not in (Signal.BUY_TO_ENTER, Signal.SELL_TO_ENTER):
        return
    price = d.entry_price if d.entry_price is not None else ref_price
    long = d.signal is Signal.BUY_TO_ENTER
    side = "long" if long else "short"
    if price is not None:
        if d.stop_loss is not None and (d.stop_loss >= price if long else d.stop_loss <= price):
            raise ValueError(f"stop loss {d.stop_loss} on the wrong side of price {price} for a {side}")
        if d.take_profit is not None and (d.take_profit <= price if long else d.take_profit >= price):
            raise ValueError(f"take profit {d.take_profit} on the wrong side of price {price} for a {side}")
    elif (
        d.stop_loss is not None
        and d.take_profit is not None
        and (d.stop_loss >= d.take_profit if long else d.stop_loss <= d.take_profit)
    ):
        raise ValueError(f"stop loss {d.stop_loss} and take profit {d.take_profit} inverted for a {side}")


def _opt_dec(item: Mapping[str, Any], name: str) -> Decimal | None:
    value = _first(item, name)
    return None if value is None else _dec(value, name)


def _dec(value: Any, name: str = "value") -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{name} is not a number: {value!r}")
    try:
        d = Decimal(value) if isinstance(value, Decimal | int | str) else Decimal(str(value))
    except (InvalidOperation, TypeError):
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"{name} is not finite: {value!r}")
    return d
