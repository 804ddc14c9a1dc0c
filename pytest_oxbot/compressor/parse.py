"""Split any text prompt into typed blocks (headings, key/value lines, series, tables, positions...).

The compressor never needs to understand a prompt's wording, only its shape: markdown sections,
`key = value` and `key: value` lines, bullet lists, tables, JSON blocks and numeric series are what
LLM trading prompts are made of, whoever wrote them. Every block keeps its original substrings, so a
renderer can only select or drop text, never rewrite a number.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from pytest_oxbot.compressor.text import NUMBER_RE, symbols_in


class Kind(StrEnum):
    """What a block is; decides how each compression level treats it."""

    SEPARATOR = "separator"
    HEADING = "heading"
    TABLE = "table"
    SERIES = "series"
    KV = "kv"
    POSITION = "position"
    BULLET = "bullet"
    JSON = "json"
    CODE = "code"
    PROSE = "prose"


class Raw(str):
    """A JSON number kept as its source text."""


@dataclass(slots=True)
class Block:
    """One unit of a prompt with the parsed view its renderer needs."""

    kind: Kind
    text: str
    symbol: str | None = None
    section: int = 0
    rank: int = 9  # headings: 1-6 markdown level, 7 bold or label line
    label: str = ""
    values: tuple[str, ...] = ()
    elided: bool = False
    pairs: tuple[tuple[str, str], ...] = ()
    header: tuple[str, ...] | None = None
    data: object = None
    bullet: str = ""
    inner: Block | None = None
    required: bool = False
    sep: str = ""  # kv lines: "=" or ":"


# --- line shapes -----------------------------------------------------------------------------------
_SEPARATOR = re.compile(r"^(?:-{3,}|\*{3,}|_{3,}|={3,})$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BOLD_LINE = re.compile(r"^\*\*[^*]+\*\*:?$")
_BULLET = re.compile(r"^([-*+•]|\d{1,3}[.)])\s+(.*)$")
_NUM = r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
_SERIES_CHARS = re.compile(r"[-+0-9.eE,\s]+")
_SERIES_BODY = re.compile(rf"{_NUM}(?:\s*,\s*{_NUM})*\s*,?")


class _SeriesMatch:
    """A numeric series line split into label, values and whether it was already shortened."""

    __slots__ = ("elided", "label", "values")

    def __init__(self, label: str, values: tuple[str, ...], elided: bool) -> None:
        self.label, self.values, self.elided = label, values, elided


def _series_match(line: str) -> _SeriesMatch | None:
    """`label: [n, n, n, ...]` with at least three numbers (string ops first: this runs on every line)."""
    if not line.endswith("]"):
        return None
    start = line.find("[")
    body = line[start + 1 : -1]
    if start < 0 or "[" in body or "]" in line[:start]:
        return None
    body = body.strip()
    elided = body.startswith(("…", "..."))
    if elided:
        body = body.lstrip("….").lstrip().lstrip(",")
    if not (_SERIES_CHARS.fullmatch(body) and _SERIES_BODY.fullmatch(body)):
        return None
    values = [v.strip() for v in body.split(",")]
    if not values[-1]:
        values.pop()
    label = line[:start].rstrip(":= ").strip()
    if len(values) < (1 if label else 3):  # a bare short list is more likely JSON than a series
        return None
    return _SeriesMatch(label, tuple(values), elided)


_EQ_SPLIT = re.compile(r",\s*(?=[^,=\[\]]+=)")
_EQ_PAIR = re.compile(r"^\s*([^=]+?)\s*=\s*(.+?)\s*$")
_COLON_KV = re.compile(r"^(\**[A-Za-z0-9][^:]{0,60}?:?\**):\**\s+(\S.*)$")
# key: value pairs inside dict-like or `k=v` lines (the value regex consumes quoted strings whole)
PAIR_RE = re.compile(
    r"""['"]?(?P<key>[A-Za-z_][A-Za-z0-9_]*)['"]?\s*[:=]\s*(?P<value>'[^']*'|"[^"]*"|[^\s,{}\[\]'"=]+(?![=\w]))"""
)
_SL_KEY = re.compile(r"^(?:stop[_ ]?loss|sl|stop|stop[_ ]?price)$", re.I)
_TP_KEY = re.compile(r"^(?:take[_ ]?profit|profit[_ ]?target|tp|target|target[_ ]?price)$", re.I)
SYMBOL_KEYS = frozenset({"symbol", "sym", "coin", "pair", "asset", "ticker", "instrument"})
_DECODER = json.JSONDecoder(parse_float=Raw, parse_int=Raw, parse_constant=Raw)

PRICE_KEY = re.compile(r"\b(?:price|last|close|mark|mid price|mid prices)\b")
RSI_KEY = re.compile(r"\brsi")
TREND_KEY = re.compile(r"\btrend\b")


@lru_cache(maxsize=4096)
def norm_key(key: str) -> str:
    """A key as the fact rules see it: lower case, no markup, underscores as spaces."""
    return re.sub(r"\s+", " ", key.replace("*", "").replace("_", " ").lower()).strip()


@lru_cache(maxsize=4096)
def is_sl(key: str) -> bool:
    return bool(_SL_KEY.match(key.strip("'\" ")))


@lru_cache(maxsize=4096)
def is_tp(key: str) -> bool:
    return bool(_TP_KEY.match(key.strip("'\" ")))


@lru_cache(maxsize=4096)
def required_kind(key: str) -> str | None:
    """Which required market fact a key names: price, rsi, trend, or none."""
    k = norm_key(key)
    if RSI_KEY.search(k):
        return "rsi"
    if TREND_KEY.search(k):
        return "trend"
    if PRICE_KEY.search(k) and not re.search(r"\b(?:entry|liquidation|avg|average|target|stop)\b", k):
        return "price"
    return None


# --- block parsers ---------------------------------------------------------------------------------
_SL_HINT = re.compile(r"(?i)(?:\bstop|\bsl\b|\bsl[=:'\"])")
_TP_HINT = re.compile(r"(?i)(?:\btake|profit|\btp\b|\btp[=:'\"]|target)")


def _position(text: str) -> Block | None:
    if not (_SL_HINT.search(text) and _TP_HINT.search(text)):
        return None
    pairs = tuple((m.group("key"), m.group("value")) for m in PAIR_RE.finditer(text))
    keys = [k for k, _ in pairs]
    if not (any(is_sl(k) for k in keys) and any(is_tp(k) for k in keys)):
        return None
    symbol = next((v.strip("'\"") for k, v in pairs if k.lower() in SYMBOL_KEYS), None)
    if symbol is None:
        head = text.split(":", 1)[0] if ":" in text else text
        found = symbols_in(head) or symbols_in(text)
        symbol = found[0] if found else None
    if symbol is None:
        return None
    base = symbols_in(symbol)
    symbol = base[0] if base else symbol
    kept = tuple(p for p in pairs if p[0].lower() not in SYMBOL_KEYS)
    return Block(Kind.POSITION, text, symbol=symbol, pairs=kept)


def _kv(text: str) -> Block | None:
    plain = text.replace("**", "")
    if "=" in plain and not plain.lstrip().startswith(("{", "[")):
        pieces = _EQ_SPLIT.split(plain)
        pairs = []
        for piece in pieces:
            m = _EQ_PAIR.match(piece)
            if m is None:
                return None
            pairs.append((m.group(1), m.group(2)))
        if all(len(k) <= 60 for k, _ in pairs):
            return Block(Kind.KV, plain.strip(), pairs=tuple(pairs), sep="=")
    m = _COLON_KV.match(text)
    if m and len(m.group(1).split()) <= 8:
        key = m.group(1).replace("*", "").rstrip(":").strip()
        value = m.group(2).replace("**", "").strip()
        if len(value.split()) > 10 and len(NUMBER_RE.findall(value)) < 3:
            return None  # a sentence behind a label is prose, not data
        return Block(Kind.KV, f"{key}: {value}", pairs=((key, value),), sep=":")
    return None


def classify_line(line: str) -> Block:
    """The block of one stripped, non-empty line (cheap first-character checks before regexes)."""
    head = line[0]
    if head in "-*_=" and _SEPARATOR.match(line):
        return Block(Kind.SEPARATOR, line)
    if head == "#":
        m = _MD_HEADING.match(line)
        if m:
            return Block(Kind.HEADING, line, rank=len(m.group(1)), label=m.group(2))
    if head == "*" and _BOLD_LINE.match(line):
        return Block(Kind.HEADING, line, rank=7, label=line.strip("*: "))
    series = _series_match(line) if line[-1] == "]" else None
    if series is not None:
        return Block(Kind.SERIES, line, label=series.label, values=series.values, elided=series.elided)
    if head in "-*+•0123456789":
        m = _BULLET.match(line)
        if m:
            return Block(Kind.BULLET, line, bullet=m.group(1), inner=classify_line(m.group(2)))
    has_colon, has_eq = ":" in line, "=" in line
    if has_colon or has_eq:
        pos = _position(line)
        if pos is not None and (head == "{" or len(pos.pairs) >= 2):
            return pos
    if has_colon and line[-1] == ":" and len(line.split()) <= 8 and not NUMBER_RE.search(line):
        return Block(Kind.HEADING, line, rank=7, label=line.rstrip(":"))
    if has_colon or has_eq:
        kv = _kv(line)
        if kv is not None:
            return kv
    return Block(Kind.PROSE, line)


def split_row(line: str) -> tuple[str, ...]:
    """The cells of one markdown table row."""
    return tuple(c.strip() for c in line.strip().strip("|").split("|"))


def table_rows(block: Block) -> list[tuple[str, ...]]:
    """The body rows of a table block (split on demand: most rows of a long table get dropped)."""
    return [split_row(ln) for ln in block.values]


def _table(lines: list[str]) -> Block:
    header: tuple[str, ...] | None = None
    body = lines
    if len(lines) >= 2 and all(re.fullmatch(r":?-{3,}:?", c) for c in split_row(lines[1])):
        header = split_row(lines[0])
        body = lines[2:]
    return Block(Kind.TABLE, "\n".join(lines), header=header, values=tuple(body))


def _json_at(text: str, start: int) -> tuple[object, int] | None:
    try:
        value, end = _DECODER.raw_decode(text, start)
    except ValueError:
        return None
    if not isinstance(value, dict | list) or not value:
        return None
    return value, end


def parse(prompt: str) -> list[Block]:
    """Blocks of a prompt, in order, each tagged with its section and the symbol it is about."""
    blocks: list[Block] = []
    lines = prompt.splitlines()
    offsets: list[int] = []  # start of each line in `prompt`, computed only if a JSON block shows up
    i = 0
    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        if not line:
            i += 1
            continue
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            body = "\n".join(lines[i + 1 : j])
            parsed = _json_at(body, len(body) - len(body.lstrip())) if body.strip()[:1] in "{[" else None
            if parsed is not None and not body[parsed[1] :].strip():
                blocks.append(Block(Kind.JSON, body, data=parsed[0]))
            else:
                blocks.append(Block(Kind.CODE, "\n".join(lines[i : j + 1])))
            i = j + 1
            continue
        if line.startswith("|") and line.endswith("|"):
            j = i
            while j < len(lines) and lines[j].strip().startswith("|") and lines[j].strip().endswith("|"):
                j += 1
            blocks.append(_table([ln.strip() for ln in lines[i:j]]))
            i = j
            continue
        if line[0] in "{[" and not (line[0] == "[" and _series_match(line)):
            if not offsets:
                pos = 0
                for ln in prompt.splitlines(keepends=True):
                    offsets.append(pos)
                    pos += len(ln)
            start = offsets[i] + (len(raw) - len(raw.lstrip()))
            parsed = _json_at(prompt, start)
            if parsed is not None:
                value, end = parsed
                j = i
                while j + 1 < len(lines) and offsets[j + 1] < end:
                    j += 1
                if not prompt[end : offsets[j] + len(lines[j])].strip():
                    blocks.append(Block(Kind.JSON, prompt[start:end], data=value))
                    i = j + 1
                    continue
        blocks.append(classify_line(line))
        i += 1
    _assign_sections(blocks)
    return blocks


def _assign_sections(blocks: list[Block]) -> None:
    section, symbol, symbol_rank = 0, None, 99
    for block in blocks:
        if block.kind is Kind.HEADING:
            if block.rank <= 6:
                section += 1
            found = symbols_in(block.label)
            if len(found) == 1:
                symbol, symbol_rank = found[0], block.rank
            elif block.rank < symbol_rank or (block.rank == symbol_rank and block.rank <= 6):
                # a bold/label sub-heading under a bold symbol heading stays in that symbol's section
                symbol, symbol_rank = None, 99
        elif block.kind is Kind.SEPARATOR:
            pass
        block.section = section
        if block.kind is not Kind.POSITION:
            block.symbol = symbol
            if symbol is None and block.kind in (Kind.KV, Kind.SERIES):
                named = symbols_in(block.label if block.kind is Kind.SERIES else block.pairs[0][0])
                block.symbol = named[0] if len(named) == 1 else None
        if block.inner is not None:
            block.inner.section = section
            if block.inner.kind is not Kind.POSITION:
                block.inner.symbol = symbol
