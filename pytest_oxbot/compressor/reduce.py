"""Render parsed blocks at one compression level; the only code that decides what text survives.

Every output fragment is either an original substring or a join of original substrings (values,
keys, cells), so numbers cannot change. Each transform is a projection (applying it to its own
output changes nothing), which is what makes compression idempotent.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable

from pytest_oxbot.compressor.levels import Level
from pytest_oxbot.compressor.parse import (
    SYMBOL_KEYS,
    Block,
    Kind,
    Raw,
    is_sl,
    is_tp,
    norm_key,
    required_kind,
    split_row,
)
from pytest_oxbot.compressor.text import NUMBER_RE, first_sentence, symbols_in

# Position fields under their short names; canonical names map to themselves (idempotence).
_POSITION_ALIASES = {
    "quantity": "qty",
    "qty": "qty",
    "size": "qty",
    "amount": "qty",
    "contracts": "qty",
    "entry_price": "entry",
    "entry": "entry",
    "avg_entry_price": "entry",
    "current_price": "price",
    "price": "price",
    "mark_price": "price",
    "liquidation_price": "liq",
    "liq": "liq",
    "unrealized_pnl": "pnl",
    "pnl": "pnl",
    "unrealised_pnl": "pnl",
    "leverage": "lev",
    "lev": "lev",
    "profit_target": "tp",
    "take_profit": "tp",
    "tp": "tp",
    "target": "tp",
    "target_price": "tp",
    "stop_loss": "sl",
    "sl": "sl",
    "stop": "sl",
    "stop_price": "sl",
    "stoploss": "sl",
    "invalidation_condition": "invalidation",
    "invalidation": "invalidation",
    "confidence": "conf",
    "conf": "conf",
    "risk_usd": "risk",
    "risk": "risk",
    "notional_usd": "notional",
    "notional": "notional",
    "side": "side",
    "direction": "side",
}
_POSITION_FIELDS = {
    "standard": ("side", "qty", "entry", "sl", "tp", "pnl", "lev", "invalidation"),
    "essential": ("side", "qty", "entry", "sl", "tp", "pnl"),
}
_BOOKKEEPING = re.compile(r"(?:^|_)(?:oid|id|uuid)$|^wait_for_fill$|^order_id", re.I)


class Reducer:
    """Renders the blocks of one prompt at one level and records what it left out."""

    def __init__(self, blocks: list[Block], level: Level) -> None:
        self.blocks = blocks
        self.level = level
        self.dropped: Counter[str] = Counter()
        self._seen_prose: set[str] = set()
        self._needs_series = _series_carrying_facts(blocks)

    # -- entry -------------------------------------------------------------------------------
    def render(self) -> str:
        out: list[tuple[Block, str]] = []
        for block in self.blocks:
            text = self._block(block)
            if text:
                out.append((block, text))
        if self.level.prune_headings:
            out = self._prune_headings(out)
        if self.level.static_first:
            out = self._static_first(out)
        pieces: list[str] = []
        for i, (block, text) in enumerate(out):
            if i and block.kind is Kind.TABLE and out[i - 1][0].kind is Kind.TABLE:
                pieces.append("")  # two tables need a blank line or they read back as one
            pieces.append(text)
        return "\n".join(pieces)

    def notes(self) -> tuple[str, ...]:
        return tuple(f"{what} x{n}" for what, n in sorted(self.dropped.items()))

    # -- per kind ----------------------------------------------------------------------------
    def _block(self, b: Block) -> str:
        lv = self.level
        if b.kind is Kind.SEPARATOR:
            self.dropped["separators"] += 1
            return ""
        if b.kind is Kind.HEADING:
            return b.text
        if b.kind is Kind.SERIES:
            return self._series(b)
        if b.kind is Kind.KV:
            return self._kv(b)
        if b.kind is Kind.POSITION:
            text = self._position(b)
            return text if lv.positions == "raw" else f"- {text}"
        if b.kind is Kind.TABLE:
            return self._table(b)
        if b.kind is Kind.JSON:
            return self._json(b)
        if b.kind is Kind.CODE:
            if lv.code:
                return b.text
            self.dropped["code blocks"] += 1
            return ""
        if b.kind is Kind.BULLET:
            return self._bullet(b)
        return self._prose(b.text, b)

    def _bullet(self, b: Block) -> str:
        inner = b.inner
        assert inner is not None
        if inner.kind is Kind.POSITION:
            text = self._position(inner)
            return f"- {text}" if self.level.positions != "raw" else b.text
        if not self.level.bullets and inner.kind is not Kind.KV:
            self.dropped["bullets"] += 1
            return ""
        body = self._prose(inner.text, inner, bullet=True) if inner.kind is Kind.PROSE else self._block(inner)
        return f"{b.bullet} {body}" if body else ""

    def _prose(self, text: str, b: Block, bullet: bool = False) -> str:
        lv = self.level
        if lv.prose == "none" and not bullet:
            self.dropped["prose lines"] += 1
            return ""
        out = text
        if lv.prose != "all":
            out = first_sentence(text)
            if out != text:
                self.dropped["prose sentences after the first"] += 1
        if lv.dedupe and not bullet:
            # the same sentence once per symbol is boilerplate: keep its first occurrence
            key = out
            for sym in symbols_in(out):
                key = re.sub(rf"\b{re.escape(sym)}\b", "§", key)
            if key in self._seen_prose:
                self.dropped["prose repeated per symbol"] += 1
                return ""
            self._seen_prose.add(key)
        return out

    def _series(self, b: Block) -> str:
        keep = self.level.series
        floor = 1 if id(b) in self._needs_series else 0
        if keep is None:
            return b.text
        keep = max(keep, floor)
        if keep == 0:
            self.dropped["series"] += 1
            return ""
        label = _PERIOD.sub(r"(\1)", _FILLER.sub("", b.label)) if self.level.prose != "all" else b.label
        # The "…" marker costs two tokens a series; from the standard rung on, the section's own
        # wording ("oldest → latest") has to carry that the series is a tail.
        marker = self.level.prose == "all" or (self.level.series or 0) > 3
        if len(b.values) > keep:
            self.dropped[f"series shortened to the last {keep} values"] += 1
            return _series_text(label, b.values[-keep:], marker)
        return _series_text(label, b.values, b.elided and marker)

    def _kv(self, b: Block) -> str:
        mode = self.level.kv
        if mode == "all" or (mode == "symbol_required" and b.symbol is None):
            if self.level.series is None:
                return b.text
            if b.sep == "=":
                return ", ".join(f"{k}={v}" for k, v in b.pairs)
            return " ".join(b.text.split())
        kept = [(k, v) for k, v in b.pairs if b.symbol is not None and required_kind(k) is not None]
        if len(kept) < len(b.pairs):
            self.dropped["key/values not required"] += len(b.pairs) - len(kept)
        if not kept:
            return ""
        if len(kept) == len(b.pairs):
            return b.text
        if b.sep == ":":
            return "; ".join(f"{k}: {v}" for k, v in kept)
        return ", ".join(f"{k}={v}" for k, v in kept)

    def _position(self, b: Block) -> str:
        mode = self.level.positions
        if mode == "raw":
            return b.text
        fields: list[tuple[str, str]] = []
        for key, value in b.pairs:
            name = _POSITION_ALIASES.get(key.lower(), key)
            if _BOOKKEEPING.search(key):
                self.dropped["position bookkeeping fields"] += 1
                continue
            if mode != "compact" and name not in _POSITION_FIELDS[mode] and not (is_sl(key) or is_tp(key)):
                self.dropped["position fields"] += 1
                continue
            if any(name == n for n, _ in fields):
                continue
            fields.append((name, value))
        return f"{b.symbol}: " + " ".join(f"{k}={v}" for k, v in fields)

    def _table(self, b: Block) -> str:
        header, lines = b.header, list(b.values)
        sym_col = _symbol_column(header)
        keep_cols: list[int] | None = None
        if self.level.kv == "required" and header is not None:
            if sym_col is None:
                self.dropped["tables"] += 1
                return ""
            keep_cols = [
                i
                for i, col in enumerate(header)
                if i == sym_col or required_kind(col) or is_sl(norm_key(col)) or is_tp(norm_key(col))
            ]
        if sym_col is None and _numeric([split_row(ln) for ln in lines[:4]]):
            keep = self.level.table_rows
            if keep == 0:
                self.dropped["time-series tables"] += 1
                return ""
            if keep is not None and len(lines) > keep:
                self.dropped[f"tables shortened to the last {keep} rows"] += 1
                lines = lines[-keep:]
        rows = [split_row(ln) for ln in lines]
        if keep_cols is not None and header is not None:
            if len(keep_cols) < len(header):
                self.dropped["table columns not required"] += len(header) - len(keep_cols)
            header = tuple(header[i] for i in keep_cols)
            rows = [tuple(r[i] for i in keep_cols if i < len(r)) for r in rows]
        tight = self.level.series is not None  # cell padding costs a token per cell
        out = []
        if header is not None:
            out.append(_row(header, tight))
            out.append(_row(tuple("---" for _ in header), tight))
        out.extend(_row(r, tight) for r in rows)
        return "\n".join(out)

    def _json(self, b: Block) -> str:
        value = b.data
        if self.level.prune_json:
            value = _prune(value)
            if value is None:
                self.dropped["JSON blocks"] += 1
                return ""
        elif self.level.series is not None:
            value = self._shorten(value)
        return _dump(value)

    def _shorten(self, value: object) -> object:
        if isinstance(value, dict):
            return {k: self._shorten(v) for k, v in value.items()}
        if isinstance(value, list):
            keep_values, keep_rows = self.level.series, self.level.table_rows
            values_keep = max(keep_values, 1) if keep_values is not None else None
            rows_keep = max(keep_rows, 1) if keep_rows is not None else None
            if values_keep and all(isinstance(v, Raw) for v in value) and len(value) > values_keep:
                self.dropped["JSON arrays shortened"] += 1
                return value[-values_keep:]
            if rows_keep and all(isinstance(v, list) for v in value) and len(value) > rows_keep:
                self.dropped["JSON row arrays shortened"] += 1
                value = value[-rows_keep:]
            return [self._shorten(v) for v in value]
        return value

    # -- document-level passes ---------------------------------------------------------------
    def _prune_headings(self, out: list[tuple[Block, str]]) -> list[tuple[Block, str]]:
        kept: list[tuple[Block, str]] = []
        next_rank: int | None = None  # rank of the next kept heading, 99 for content, None for end
        for block, text in reversed(out):
            if block.kind is Kind.HEADING:
                names_symbol = bool(symbols_in(block.label))  # "each symbol" is a required fact
                if not names_symbol and (next_rank is None or (next_rank != 99 and next_rank <= block.rank)):
                    self.dropped["headings with nothing under them"] += 1
                    continue
                next_rank = block.rank
            else:
                next_rank = 99
            kept.append((block, text))
        kept.reverse()
        return kept

    def _static_first(self, out: list[tuple[Block, str]]) -> list[tuple[Block, str]]:
        sections: dict[int, list[tuple[Block, str]]] = {}
        for item in out:
            sections.setdefault(item[0].section, []).append(item)
        static = [s for s, items in sections.items() if s > 0 and _is_static(items)]
        if not static or static == list(sections)[: len(static)]:
            return out
        self.dropped["static sections moved first (not dropped)"] += len(static)
        ordered = [item for s in static for item in sections[s]]
        ordered += [item for s, items in sections.items() if s not in static for item in items]
        return ordered


# --- helpers -----------------------------------------------------------------------------------
_FILLER = re.compile(r"\s+(?:indicators?|series|values)\b", re.I)
_PERIOD = re.compile(r"\s*\((\d+)[\s\u2011-]*periods?\)", re.I)  # "EMA (20‑period)" -> "EMA(20)"


def _series_text(label: str, values: Iterable[str], elided: bool) -> str:
    body = ("…," if elided else "") + ",".join(values)
    return f"{label}: [{body}]" if label else f"[{body}]"


def _row(cells: tuple[str, ...], tight: bool) -> str:
    return "|" + "|".join(cells) + "|" if tight else "| " + " | ".join(cells) + " |"


def _numeric(rows: list[tuple[str, ...]]) -> bool:
    cells = [c for r in rows for c in r]
    return bool(cells) and sum(bool(NUMBER_RE.fullmatch(c)) for c in cells) * 2 >= len(cells)


def _symbol_column(header: tuple[str, ...] | None) -> int | None:
    if header is None:
        return None
    for i, col in enumerate(header):
        if norm_key(col) in SYMBOL_KEYS:
            return i
    return None


_STATIC_HEADING = re.compile(
    r"(?i)\b(?:rules?|instructions?|guidelines?|response format|output format|schema)\b"
)


def _is_static(items: list[tuple[Block, str]]) -> bool:
    """A section that reads the same every cycle: instructions, or text with no data in it."""
    first = items[0][0]
    if first.kind is Kind.HEADING and first.rank <= 6 and _STATIC_HEADING.search(first.label):
        return not any(b.kind in (Kind.SERIES, Kind.POSITION, Kind.TABLE) for b, _ in items)
    for block, text in items:
        if block.kind in (Kind.SERIES, Kind.KV, Kind.POSITION, Kind.TABLE) or symbols_in(text):
            return False
        if block.kind in (Kind.PROSE, Kind.HEADING) and NUMBER_RE.search(text):
            return False
    return True


def _series_carrying_facts(blocks: list[Block]) -> set[int]:
    """Series that are the only place a symbol's price or RSI is given (they keep their last value)."""
    have: set[tuple[str, str]] = set()
    for b in (x.inner if x.kind is Kind.BULLET and x.inner is not None else x for x in blocks):
        if b.kind is Kind.KV and b.symbol:
            have.update((b.symbol, k) for k in (required_kind(key) for key, _ in b.pairs) if k)
    needed: set[int] = set()
    for b in (x.inner if x.kind is Kind.BULLET and x.inner is not None else x for x in blocks):
        if b.kind is Kind.SERIES and b.symbol:
            kind = required_kind(b.label)
            if kind in ("price", "rsi") and (b.symbol, kind) not in have:
                have.add((b.symbol, kind))
                needed.add(id(b))
    return needed


def _prune(value: object, under_symbol: bool = False) -> object | None:
    """Keep only the market facts and positions of a JSON value."""
    if isinstance(value, dict):
        kept: dict[str, object] = {}
        is_symbol_obj = any(k.lower() in SYMBOL_KEYS for k in value)
        for key, item in value.items():
            if symbols_in(key):
                sub = _prune(item, True)
                if sub is not None:
                    kept[key] = sub
            elif isinstance(item, dict | list):
                sub = _prune(item, under_symbol or is_symbol_obj)
                if sub is not None:
                    kept[key] = sub
            elif key.lower() in SYMBOL_KEYS or (
                (under_symbol or is_symbol_obj)
                and (
                    required_kind(key)
                    or is_sl(key)
                    or is_tp(key)
                    or _POSITION_ALIASES.get(key.lower()) in _POSITION_FIELDS["essential"]
                )
            ):
                kept[key] = item
        meaningful = [k for k in kept if k.lower() not in SYMBOL_KEYS]
        return kept if meaningful else None
    if isinstance(value, list):
        items = [p for p in (_prune(v, under_symbol) for v in value) if p is not None]
        return items or None
    return None


def _dump(value: object) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(k, ensure_ascii=False)}:{_dump(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
