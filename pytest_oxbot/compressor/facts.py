"""The facts a trading decision cannot do without, and a checker that compression kept them.

Required: each symbol with its current price, RSI and trend (where the prompt gives them), and each
open position with its stop-loss and take-profit. The checker also lists numbers that were changed.
It is public so a bot (and our benchmarks) can verify any compression, not only ours.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_oxbot.compressor.parse import (
    Block,
    Kind,
    is_sl,
    is_tp,
    norm_key,
    parse,
    required_kind,
    table_rows,
)
from pytest_oxbot.compressor.reduce import _series_carrying_facts, _symbol_column
from pytest_oxbot.compressor.text import changed_numbers


@dataclass(frozen=True, slots=True, order=True)
class Fact:
    """One required fact: (symbol, what, value as written)."""

    symbol: str
    kind: str  # "price" | "rsi" | "trend" | "sl" | "tp" | "position"
    value: str


def required_facts(prompt: str | list[Block]) -> frozenset[Fact]:
    """The required facts a prompt states."""
    blocks = parse(prompt) if isinstance(prompt, str) else prompt
    facts: set[Fact] = set()
    carrying = _series_carrying_facts(blocks)
    for b in _flatten(blocks):
        if b.kind is Kind.KV and b.symbol:
            for key, value in b.pairs:
                kind = required_kind(key)
                if kind:
                    facts.add(Fact(b.symbol, kind, value))
        elif b.kind is Kind.SERIES and id(b) in carrying and b.symbol:
            facts.add(Fact(b.symbol, required_kind(b.label) or "price", b.values[-1]))
        elif b.kind is Kind.POSITION and b.symbol:
            facts.add(Fact(b.symbol, "position", b.symbol))
            for key, value in b.pairs:
                if is_sl(key):
                    facts.add(Fact(b.symbol, "sl", value))
                elif is_tp(key):
                    facts.add(Fact(b.symbol, "tp", value))
        elif b.kind is Kind.TABLE and b.header is not None:
            facts.update(_table_facts(b.header, tuple(table_rows(b))))
    return frozenset(facts)


def _table_facts(header: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> set[Fact]:
    col = _symbol_column(header)
    if col is None:
        return set()
    kinds = {i: required_kind(name) for i, name in enumerate(header) if i != col}
    is_position = any(is_sl(norm_key(h)) for h in header) and any(is_tp(norm_key(h)) for h in header)
    facts: set[Fact] = set()
    for row in rows:
        if col >= len(row) or not row[col]:
            continue
        symbol = row[col]
        if is_position:
            facts.add(Fact(symbol, "position", symbol))
        for i, cell in enumerate(row):
            name = norm_key(header[i]) if i < len(header) else ""
            if is_position and is_sl(name):
                facts.add(Fact(symbol, "sl", cell))
            elif is_position and is_tp(name):
                facts.add(Fact(symbol, "tp", cell))
            elif kinds.get(i) and not is_position:
                facts.add(Fact(symbol, kinds[i] or "", cell))
    return facts


def _flatten(blocks: list[Block]) -> list[Block]:
    out: list[Block] = []
    for b in blocks:
        out.append(b.inner if b.kind is Kind.BULLET and b.inner is not None else b)
    return out


@dataclass(frozen=True, slots=True)
class FidelityReport:
    """What a compression changed that it must not have: numbers and required facts."""

    changed_numbers: tuple[str, ...]
    missing_facts: tuple[Fact, ...]

    @property
    def ok(self) -> bool:
        return not self.changed_numbers and not self.missing_facts


def check_fidelity(original: str, compressed: str) -> FidelityReport:
    """Numbers of `compressed` not found verbatim in `original`, and required facts it lost."""
    missing = sorted(required_facts(original) - required_facts(compressed))
    return FidelityReport(tuple(changed_numbers(original, compressed)), tuple(missing))
