"""Turn an LLM answer into validated per-symbol decisions; anything doubtful becomes HOLD.

Why so defensive: models wrap their JSON in prose or code fences, put braces in their reasoning, nest it
under `decisions`, skip a coin, repeat a coin with another reading, quote an example before the answer,
or put a stop loss on the wrong side of the market. A parser that trades on a best guess turns any of
these into a real order. Here malformed or ambiguous output can only ever produce HOLD, and each demotion
keeps its reason in `Decision.error` so it can be logged and counted. The checks a trade passes are listed
in `_check` and in docs/llm.md ("Decisions"); `tests/llm/test_decisions_fuzz.py` checks them on generated
answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pytest_oxbot.errors import SettingsError

__all__ = [
    "DEFAULT_LIMITS",
    "Decision",
    "DecisionLimits",
    "ParsedDecisions",
    "Signal",
    "base_asset",
    "extract_json_candidates",
    "parse_decisions",
]

# Quote currencies recognised at the end of a concatenated name (`BTCUSDT`), longest first.
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "GBP", "TRY", "BRL", "DAI")
_SEPARATORS = ("/", "-", "_", ":")
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
_SIGNAL_KEYS = _ALIASES["signal"]
_FIELD_KEYS = frozenset(alias for aliases in _ALIASES.values() for alias in aliases)
# Keys that make an object a (possibly broken) decision rather than, say, echoed market data.
_DECISION_KEYS = frozenset(
    (*_SIGNAL_KEYS, "confidence", *_ALIASES["stop_loss"], *_ALIASES["take_profit"], "leverage")
)
# The documented rule for several JSON values in one answer (docs/llm.md, "Which JSON is the answer").
_MARKER_WINDOW = 160
_EXAMPLE_MARKER = re.compile(r"\b(?:for example|example|e\.g\.|for instance|sample|template)\b", re.I)
_FINAL_MARKER = re.compile(r"\bfinal\b", re.I)
_MAX_WRAPPER_DEPTH = 4  # {"decisions": {"decisions": ...}} deeper than this is not a decision map
_MAX_DECODE_ATTEMPTS = 5_000  # failed `{`/`[` starts tried per answer: bounds the scan on hostile text
_MAX_TOO_DEEP = 8  # starts nested past the recursion limit before the rest of the answer is given up
_KNOWN_KEYS = frozenset({"symbol", "coin", *(alias for aliases in _ALIASES.values() for alias in aliases)})


class Signal(StrEnum):
    """The four actions of the nof1/0xBot prompt contract."""

    HOLD = "hold"
    BUY_TO_ENTER = "buy_to_enter"
    SELL_TO_ENTER = "sell_to_enter"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class DecisionLimits:
    """What a trade may ask for; anything outside is HOLD with the reason. Explicit, never ambient.

    - `max_leverage`: leverage must be within 1..max_leverage (nof1's models used up to 20).
    - `max_entry_deviation`: a given entry price must be within this fraction of the current price
      (0.05 = ±5 %); an entry far from the market is a misread number, not a limit order.
    - `max_level_distance`: stop loss and take profit must be within this fraction of the current price
      (else of the entry); 0.5 keeps them between half and one and a half times the price.
    - `max_quantity`: an optional cap on the quantity (always > 0 when given).
    - `require_price`: an entry needs a current price to be checked against (else HOLD).
    - `max_answer_chars`: a longer answer is not searched (HOLD): bounds the parse on hostile output.
    """

    max_leverage: Decimal = Decimal(20)
    max_entry_deviation: Decimal = Decimal("0.05")
    max_level_distance: Decimal = Decimal("0.5")
    max_quantity: Decimal | None = None
    require_price: bool = False
    max_answer_chars: int = 100_000

    def __post_init__(self) -> None:
        for name in ("max_leverage", "max_entry_deviation", "max_level_distance", "max_quantity"):
            value = getattr(self, name)
            if value is None and name == "max_quantity":
                continue
            if not (isinstance(value, Decimal) and value.is_finite() and value > 0):
                raise SettingsError(f"DecisionLimits.{name} must be a finite Decimal > 0, got {value!r}")
        if self.max_leverage < 1:
            raise SettingsError(f"DecisionLimits.max_leverage must be >= 1, got {self.max_leverage}")
        if self.max_level_distance >= 1:
            raise SettingsError(
                f"DecisionLimits.max_level_distance must be < 1 (a fraction of the price), got "
                f"{self.max_level_distance}"
            )
        if not (isinstance(self.max_answer_chars, int) and self.max_answer_chars >= 1):
            raise SettingsError(
                f"DecisionLimits.max_answer_chars must be an integer >= 1, got {self.max_answer_chars!r}"
            )


DEFAULT_LIMITS = DecisionLimits()


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
    return _split_symbol(symbol)[0]


def _split_symbol(symbol: str) -> tuple[str, str | None]:
    """(base, quote or None): `BTC/USDT:USDT` -> (BTC, USDT), `BTCEUR` -> (BTC, EUR), `BTC` -> (BTC, None)."""
    s = symbol.strip().upper()
    for sep in _SEPARATORS:
        if sep in s:
            base, rest = s.split(sep, 1)
            quote = re.split(r"[/\-_:]", rest, maxsplit=1)[0]
            return base, quote or None
    for quote in _QUOTES:
        if s.endswith(quote) and len(s) > len(quote):
            return s[: -len(quote)], quote
    return s, None


@dataclass(frozen=True, slots=True)
class _Market:
    symbol: str  # as the caller wrote it
    base: str
    quote: str | None

    def matches(self, name: str) -> bool:
        """Whether an answer's key names this market: same base, and the same quote when both say one."""
        key = name.strip().upper()
        if not key or len(key) > 64:
            return False
        if any(sep in key for sep in _SEPARATORS):
            base, quote = _split_symbol(key)
            return base == self.base and (quote is None or self.quote is None or quote == self.quote)
        if key == self.base:
            return True
        if self.quote is not None:
            return key == self.base + self.quote
        return key.startswith(self.base) and key[len(self.base) :] in _QUOTES


class _Obj(dict[str, Any]):
    """A decoded JSON object that remembers every (key, value) pair, so duplicate keys are seen."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs

    def conflicting_keys(self, among: frozenset[str]) -> list[str]:
        seen: dict[str, Any] = {}
        out: list[str] = []
        for key, value in self.pairs:
            if key not in among:
                continue
            if key in seen and seen[key] != value and key not in out:
                out.append(key)
            seen.setdefault(key, value)
        return out


_DECODER = json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_Obj)


@dataclass(frozen=True, slots=True)
class _Candidate:
    value: Any
    start: int
    end: int
    lead: str  # the text just before it (its own line and the one before), for the marker rule


def _scan(text: str, notes: list[str] | None = None) -> Iterator[_Candidate]:
    """Every top-level JSON object/array in `text`, in order, never one nested in another.

    Hostile text is bounded: after `_MAX_DECODE_ATTEMPTS` failed starts, or a few starts nested deeper
    than the interpreter's recursion limit (each costs a deep C recursion), the rest is not searched.
    """
    i, n, failures, too_deep, previous_end = 0, len(text), 0, 0, 0
    while i < n:
        if failures >= _MAX_DECODE_ATTEMPTS or too_deep >= _MAX_TOO_DEEP:
            if notes is not None:
                notes.append(f"answer not searched past character {i}: malformed or nested too deeply")
            return
        j = _next_open(text, i)
        if j < 0:
            return
        try:
            obj, end = _DECODER.raw_decode(text, j)
        except ValueError:
            failures += 1
            i = j + 1
            continue
        except RecursionError:  # hostile nesting: never raised out of the parser
            too_deep += 1
            i = j + 1
            continue
        if isinstance(obj, dict | list):
            window = text[max(previous_end, j - _MARKER_WINDOW) : j]
            lead = "\n".join(window.rsplit("\n", 2)[-2:])
            yield _Candidate(obj, j, end, lead)
            previous_end = end
            i = end
        else:
            i = j + 1


def _next_open(text: str, start: int) -> int:
    a, b = text.find("{", start), text.find("[", start)
    if a < 0:
        return b
    if b < 0:
        return a
    return min(a, b)


def extract_json_candidates(text: str) -> Iterator[Any]:
    """Every top-level JSON object/array embedded in `text` (prose, code fences, braces in reasoning)."""
    for candidate in _scan(text):
        yield candidate.value


def parse_decisions(
    text: str | Mapping[str, Any] | Sequence[Any],
    symbols: Iterable[str],
    prices: Mapping[str, Any] | None = None,
    *,
    limits: DecisionLimits = DEFAULT_LIMITS,
) -> ParsedDecisions:
    """Parse an answer (text or an already-decoded object) into one `Decision` per requested symbol.

    `prices` (current price per symbol, any naming: `BTC/USDT`, `BTCUSDT`, `BTC`) lets stop loss, take
    profit and entry be checked against the market; a price given as None or junk makes that symbol's
    entries HOLD with an error naming it. Never raises on any answer: malformed, ambiguous or invalid
    output is HOLD with the reason.
    """
    markets = [_Market(s, *_split_symbol(s)) for s in dict.fromkeys(str(s) for s in symbols)]
    errors: list[str] = []
    ref = _reference_prices(markets, prices or {})
    found = _collect(text, markets, errors, limits)
    out: dict[str, Decision] = {}
    for m in markets:
        items = found.get(m.symbol, [])
        if not items:
            reason = errors[0] if errors and not found else "missing from the answer"
            out[m.symbol] = Decision.hold(m.symbol, reason)
            continue
        readings = [_validate(m.symbol, item, ref.get(m.symbol), limits) for item in items]
        first = readings[0]
        # Readings that differ only in their prose are the same decision.
        if any(replace(r, justification="") != replace(first, justification="") for r in readings[1:]):
            message = (
                f"conflicting decisions for {m.symbol} in the answer ({len(readings)} readings that "
                "disagree): HOLD"
            )
            errors.append(message)
            out[m.symbol] = Decision.hold(m.symbol, message)
        else:
            out[m.symbol] = first
    return ParsedDecisions(out, errors)


@dataclass(frozen=True, slots=True)
class _Price:
    value: Decimal | None
    error: str | None = None


def _reference_prices(markets: list[_Market], prices: Mapping[str, Any]) -> dict[str, _Price]:
    out: dict[str, _Price] = {}
    for key, raw in prices.items():
        for m in markets:
            if not m.matches(str(key)):
                continue
            try:
                value = _dec(raw, f"current price of {m.symbol}")
                if value <= 0:
                    raise ValueError(f"current price of {m.symbol} must be positive, got {value}")
                out[m.symbol] = _Price(value)
            except ValueError as exc:
                out[m.symbol] = _Price(None, f"no usable current price for {m.symbol}: {exc}")
    return out


def _collect(
    text: str | Mapping[str, Any] | Sequence[Any],
    markets: list[_Market],
    errors: list[str],
    limits: DecisionLimits,
) -> dict[str, list[Any]]:
    """Raw decision items per requested symbol from the answer's decision objects (see the rule)."""
    if isinstance(text, str):
        if len(text) > limits.max_answer_chars:
            errors.append(f"answer is {len(text)} characters, over the {limits.max_answer_chars} searched")
            return {}
        notes: list[str] = []
        candidates = [(c.value, c.lead) for c in _scan(text, notes)]
        errors.extend(notes)
    else:
        candidates = [(text, "")]
    decision_objects = []
    for value, lead in candidates:
        entries = _entries(value)
        if any(isinstance(item, Mapping) and _DECISION_KEYS.intersection(item) for _, item in entries):
            decision_objects.append((entries, lead))
    if not decision_objects:
        errors.append("no JSON decision object found in the answer")
        return {}
    answers = [(e, lead) for e, lead in decision_objects if not _EXAMPLE_MARKER.search(lead)]
    finals = [(e, lead) for e, lead in answers if _FINAL_MARKER.search(lead)]
    if finals:
        answers = finals
    if not answers:
        errors.append("the answer's only decision objects are introduced as examples")
        return {}
    found: dict[str, list[Any]] = {}
    for entries, _ in answers:
        for name, item in entries:
            matching = [m for m in markets if m.matches(name)]
            if len(matching) > 1:
                errors.append(
                    f"{name!r} is ambiguous between {', '.join(m.symbol for m in matching)}: ignored"
                )
                continue
            if matching:
                found.setdefault(matching[0].symbol, []).append(item)
    return found


def _entries(value: Any) -> list[tuple[str, Any]]:
    """(name, raw decision) pairs for the shapes models use; iterative, so no nesting can recurse.

    Shapes: a symbol -> decision map, a list of decisions naming their `symbol`/`coin`, a single such
    decision, and any of these under a `decisions` key (beside other symbols, which count too).
    """
    out: list[tuple[str, Any]] = []
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop(0)
        if isinstance(node, list):
            for item in node:
                if isinstance(item, Mapping) and _symbol_of(item):
                    out.append((_symbol_of(item), item))
        elif isinstance(node, Mapping):
            if _symbol_of(node) and _has_signal(node):  # a single decision
                out.append((_symbol_of(node), node))
                continue
            pairs = node.pairs if isinstance(node, _Obj) else list(node.items())
            for k, v in pairs:
                if k == "decisions":
                    if depth < _MAX_WRAPPER_DEPTH:
                        stack.append((v, depth + 1))
                elif isinstance(v, Mapping):
                    out.append((str(k), v))
    return out


def _has_signal(item: Mapping[str, Any]) -> bool:
    return any(item.get(k) is not None for k in _SIGNAL_KEYS)


def _symbol_of(item: Mapping[str, Any]) -> str:
    value = item.get("symbol", item.get("coin", ""))
    return value if isinstance(value, str) else ""


def _first(item: Mapping[str, Any], name: str) -> Any:
    for alias in _ALIASES[name]:
        if item.get(alias) is not None:
            return item[alias]
    return None


def _validate(symbol: str, item: Any, price: _Price | None, limits: DecisionLimits) -> Decision:
    try:
        decision = _build(symbol, item)
        _check(decision, price, limits)
    except (ValueError, ArithmeticError) as exc:
        return Decision.hold(symbol, f"invalid decision: {exc}", _extra(item))
    except RecursionError:  # comparing hostile, deeply nested duplicate values
        return Decision.hold(symbol, "invalid decision: nested too deeply", _extra(item))
    return decision


def _extra(item: Any) -> dict[str, Any]:
    """The answer's fields the Decision has no attribute for, kept as given (a bot may pass them on)."""
    if not isinstance(item, Mapping):
        return {}
    return {str(k): v for k, v in item.items() if k not in _KNOWN_KEYS}


def _build(symbol: str, item: Any) -> Decision:
    if not isinstance(item, Mapping):
        raise ValueError(f"expected an object, got {type(item).__name__}")
    if isinstance(item, _Obj) and (dupes := item.conflicting_keys(_FIELD_KEYS)):
        raise ValueError(f"field(s) {', '.join(map(repr, dupes))} given twice with different values")
    raw_signal = _first(item, "signal")
    if not isinstance(raw_signal, str):
        raise ValueError(f"no signal (got {_short(raw_signal)})")
    try:
        signal = Signal(raw_signal.strip().lower())
    except ValueError:
        raise ValueError(f"unknown signal {_short(raw_signal)}") from None
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


def _check(d: Decision, price: _Price | None, limits: DecisionLimits) -> None:
    """The documented checks; each failure is the HOLD's reason (docs/llm.md lists them)."""
    if not 0.0 <= d.confidence <= 1.0:
        raise ValueError(f"confidence {d.confidence} outside 0..1")
    for name in ("entry_price", "stop_loss", "take_profit"):
        value = getattr(d, name)
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if d.signal is Signal.HOLD:
        return  # nothing to act on: sizes and levels of a HOLD are not checked further
    if d.leverage is not None and not 1 <= d.leverage <= limits.max_leverage:
        raise ValueError(f"leverage {d.leverage} outside 1..{limits.max_leverage}")
    if d.quantity is not None:
        if d.quantity <= 0:
            raise ValueError(f"quantity must be positive, got {d.quantity}")
        if limits.max_quantity is not None and d.quantity > limits.max_quantity:
            raise ValueError(f"quantity {d.quantity} above the limit {limits.max_quantity}")
    if d.signal not in (Signal.BUY_TO_ENTER, Signal.SELL_TO_ENTER):
        return
    if price is not None and price.error is not None:
        raise ValueError(price.error)
    current = price.value if price is not None else None
    if current is None and limits.require_price:
        raise ValueError(f"no current price for {d.symbol} to check an entry against")
    entry = d.entry_price
    if entry is not None and current is not None:
        deviation = abs(entry - current) / current
        if deviation > limits.max_entry_deviation:
            raise ValueError(
                f"entry {entry} is {_pct(deviation)} from the current price {current} "
                f"(allowed ±{_pct(limits.max_entry_deviation)})"
            )
    long = d.signal is Signal.BUY_TO_ENTER
    side = "long" if long else "short"
    refs = [p for p in (entry, current) if p is not None]
    if refs:
        low, high = min(refs), max(refs)
        if d.stop_loss is not None and (d.stop_loss >= low if long else d.stop_loss <= high):
            where = "entry/current price" if len(refs) == 2 else "price"
            raise ValueError(
                f"stop loss {d.stop_loss} on the wrong side of the {where} {low if long else high} "
                f"for a {side}"
            )
        if d.take_profit is not None and (d.take_profit <= high if long else d.take_profit >= low):
            where = "entry/current price" if len(refs) == 2 else "price"
            raise ValueError(
                f"take profit {d.take_profit} on the wrong side of the {where} {high if long else low} "
                f"for a {side}"
            )
        anchor = current if current is not None else refs[0]
        for name, level in (("stop loss", d.stop_loss), ("take profit", d.take_profit)):
            if level is not None and abs(level - anchor) / anchor > limits.max_level_distance:
                raise ValueError(
                    f"{name} {level} is {_pct(abs(level - anchor) / anchor)} from the price {anchor} "
                    f"(allowed ±{_pct(limits.max_level_distance)})"
                )
    elif d.stop_loss is not None and d.take_profit is not None:
        if d.stop_loss >= d.take_profit if long else d.stop_loss <= d.take_profit:
            raise ValueError(f"stop loss {d.stop_loss} and take profit {d.take_profit} inverted for a {side}")
        band = limits.max_level_distance
        lo, hi = sorted((d.stop_loss, d.take_profit))
        if hi / lo > (1 + band) / (1 - band):
            raise ValueError(
                f"stop loss {d.stop_loss} and take profit {d.take_profit} cannot both be within "
                f"±{_pct(band)} of one price"
            )


def _pct(fraction: Decimal) -> str:
    return f"{float(fraction) * 100:.3g} %"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _opt_dec(item: Mapping[str, Any], name: str) -> Decimal | None:
    value = _first(item, name)
    return None if value is None else _dec(value, name)


def _dec(value: Any, name: str = "value") -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ValueError(f"{name} is not a number: {_short(value)}")
    if isinstance(value, str) and (len(value) > 64 or not value.strip().isascii()):
        raise ValueError(f"{name} is not a number: {_short(value)}")
    try:
        d = Decimal(value) if isinstance(value, Decimal | int | str) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{name} is not a number: {_short(value)}") from None
    if not d.is_finite():
        raise ValueError(f"{name} is not finite: {_short(value)}")
    if d.adjusted() > 30 or (d != 0 and d.adjusted() < -30):
        raise ValueError(f"{name} is out of any sane range: {_short(value)}")
    return d
