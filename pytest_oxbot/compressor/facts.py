"""What a trading prompt cannot lose, and a checker that a compression kept it.

Required facts: each symbol with its current price, RSI and trend (where the prompt gives them), and each
open position with its side, quantity, entry, stop-loss, take-profit and P&L, in whatever shape it is
written (Python/JSON dicts, `k=v` lines, markdown blocks of `Label: value` bullets, tables, JSON state).
Besides the facts: every number must appear in the input written the same way, every instruction line
must stay, and the answer-format section must stay (in `emergency`, its keys and allowed values).
The checker is public so a bot (and our tests) can verify any compression, not only ours.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from pytest_oxbot.compressor.parse import (
    KIND_KV,
    KIND_SERIES,
    SIGNAL_KEYS,
    SYMBOL_KEYS,
    Block,
    Doc,
    Kind,
    Raw,
    alike_runs,
    compile_patterns,
    dump_json,
    is_symbol_key,
    norm_key,
    parse,
    position_field,
    required_kind,
    symbol_of,
    table_rows,
)
from pytest_oxbot.compressor.text import (
    HAS_DIGIT,
    MENTION_RE,
    NUMBER_RE,
    learn_symbols,
    norm,
    number_as_written,
    number_changes,
    numbers_in,
    plain,
    prompt_symbols,
    sentences,
    symbols_in,
)
from pytest_oxbot.errors import CompressorError

__all__ = [
    "Fact",
    "FidelityError",
    "FidelityReport",
    "PromptFacts",
    "check_fidelity",
    "prompt_facts",
    "required_facts",
]

POSITION_FIELDS = ("id", "side", "qty", "entry", "sl", "tp", "pnl")
_SIDE_WORD = re.compile(r"(?i)^\W*(long|short|buy|sell)\b")
_SIDE_LINE = re.compile(
    r"(?i)^(?P<side>long|short)\b[\s:]*(?P<qty>[-+]?\d[\d,]*(?:\.\d+)?)?\s*(?:[A-Z]{2,10}\s*)?(?:@|(?:at|по|à|bei|a)\b)\s*"
)


@dataclass(frozen=True, slots=True, order=True)
class Fact:
    """One required fact: (symbol, what, value as written)."""

    symbol: str
    kind: str  # price | rsi | trend | position | side | qty | entry | sl | tp | pnl
    value: str


def fact_value(value: str, kind: str) -> str:
    """The part of a value a fact compares: the first number as written, or the first word for
    side and trend (`$86,979.38 (-4.0% away)` -> `$86,979.38`; `2 965,10` and `(1,234.50)` whole;
    `**LONG**` -> `LONG`)."""
    text = plain(str(value)).strip("'\" ")
    if kind in ("side", "trend", "position"):
        m = re.search(r"[A-Za-z][\w-]*", text)
        return m.group(0) if m else text
    return number_as_written(text) or text


# --- facts ---------------------------------------------------------------------------------------
def _position_facts(symbol: str, pairs: Iterable[tuple[str, str]]) -> set[Fact]:
    facts = {Fact(symbol, "position", symbol)}
    seen: set[str] = set()
    for key, value in pairs:
        kind = position_field(key)
        if kind and kind not in seen:
            seen.add(kind)
            facts.add(Fact(symbol, kind, fact_value(value, kind)))
    return facts


def side_line_facts(symbol: str, value: str) -> set[Fact]:
    """`Bitcoin: LONG 0.05 @ $89,244.47 (Current: ..., PnL: $+67.95)`."""
    text = plain(value)
    m = _SIDE_LINE.match(text)
    if not m:
        return set()
    facts = {Fact(symbol, "position", symbol), Fact(symbol, "side", m.group("side"))}
    if m.group("qty"):
        facts.add(Fact(symbol, "qty", m.group("qty")))
    entry = number_as_written(text, m.end(), anchored=True)
    if entry:
        facts.add(Fact(symbol, "entry", entry))
    pnl = re.search(r"(?i)\b(?:u?pnl|p&l)\s*[:=]\s*", text)
    if pnl:
        num = number_as_written(text, pnl.end(), anchored=True)
        if num:
            facts.add(Fact(symbol, "pnl", num))
    return facts


_ONE_LINE_POSITION = re.compile(r"^\W{0,3}(?P<sym>[A-Za-z][\w/:-]{1,20})\s+(?=(?i:long|short)\b)")
# a stop or a target after a position's entry: `| SL 2,850.00`, `stop: $147.10`, `with a stop at 2,850.00`
_SL_CUE = re.compile(r"(?i)(?<![a-z])(?:sl|stop(?:[ _-]?loss)?)(?![a-z])\s*(?:[:=@]|(?:at|of|is)\b)?\s*")
_TP_CUE = re.compile(
    r"(?i)(?<![a-z])(?:tp\d?|take[ _-]?profit|target)(?![a-z])\s*(?:[:=@]|(?:at|of|is)\b)?\s*"
)


def _levels_after(text: str, start: int, sym: str) -> set[Fact]:
    """The stop loss and take profit written after `start` (the first number after each cue)."""
    facts: set[Fact] = set()
    for kind, cue in (("sl", _SL_CUE), ("tp", _TP_CUE)):
        found = cue.search(text, start)
        num = number_as_written(text, found.end(), anchored=True) if found else None
        if num:
            facts.add(Fact(sym, kind, num))
    return facts


def one_line_position_facts(text: str) -> set[Fact]:
    """`ETH long 0.05 @ 2,965.10 | SL 2,850.00 | TP 3,200.00`: a position written on one line, the symbol
    first, then side, quantity and entry as `side_line_facts` reads them, then its stop and target."""
    m = _ONE_LINE_POSITION.match(text)
    sym = symbol_of(m.group("sym")) if m else None
    if m is None or sym is None:
        return set()
    facts = side_line_facts(sym, text[m.end() :])
    if "entry" not in {f.kind for f in facts}:
        return set()  # `BTC long bias since Monday`: a side without a position
    return facts | _levels_after(text, m.end(), sym)


def required_facts(prompt: str | Doc, *, include_history: bool = False) -> frozenset[Fact]:
    """The required facts a prompt states. Of a series written one value per line only the last line's
    are required; `include_history=True` gives every line's (what a compression states: lines it kept
    apart may read as one run once what stood between them is gone)."""
    if isinstance(prompt, str):
        with prompt_symbols(learn_symbols(prompt)):
            return required_facts(parse(prompt), include_history=include_history)
    doc = prompt
    facts: set[Fact] = set()
    blocks = doc.blocks
    carrying = carrying_series(doc)
    history = set() if include_history else {i for run in alike_runs(doc) for i in run[:-1]}
    in_position: set[int] = set()
    for rec in doc.records:
        if rec.is_position and rec.symbol and not blocks[rec.start].fmt:  # not an answer example
            facts.update(_position_facts(rec.symbol, rec.pairs))
            in_position.update(range(rec.start, rec.end))
    for idx, b in enumerate(blocks):
        core = b.core
        if b.fmt or idx in history:
            continue  # an answer example states no fact; nor does a line of history
        if core.kind is Kind.KV:
            sym = b.symbol
            if idx not in in_position and sym:
                facts.update(kv_facts(sym, core))
            if len(core.pairs) == 1 and core.sep == ":":
                named = symbol_of(core.pairs[0][0])
                if named:
                    facts.update(side_line_facts(named, core.pairs[0][1]))
                else:
                    facts.update(listed_facts(plain(core.text)))
        elif core.kind is Kind.SERIES and id(core) in carrying and core.symbol:
            kind = required_kind(core.label) or "price"
            facts.add(Fact(core.symbol, kind, core.values[-1]))
        elif core.kind is Kind.POSITION and core.symbol:
            facts.update(_position_facts(core.symbol, core.pairs))
        elif core.kind is Kind.TABLE and core.header is not None:
            facts.update(_table_facts(core.header, table_rows(core), b.symbol))
        elif core.kind is Kind.JSON and core.measure and isinstance(core.data, dict):
            for key, value in core.data.items():
                named = symbol_of(str(key))
                if named:
                    facts.add(Fact(named, core.measure, fact_value(str(value), core.measure)))
        elif core.kind is Kind.JSON:
            facts.update(_json_facts(core.data, None))
            if b.symbol and latest_kline(core.data) is not None:  # klines under a label naming the symbol
                facts.update(_json_facts(core.data, b.symbol))
        elif core.kind is Kind.PROSE and HAS_DIGIT.search(core.text):
            text = plain(core.text)
            facts.update(one_line_position_facts(text))
            facts.update(line_sentence_facts(text))
    return frozenset(facts)


def sentences_with_subject(text: str) -> Iterator[tuple[str, str | None]]:
    """Each sentence of a line with the symbol the line named last before it: a sentence that names no
    symbol is about that one (`BTC is trading at $107,478.30. RSI(14) is 50.7 and the trend is up.`)."""
    carried: str | None = None
    for sentence in sentences(text):
        yield sentence, carried
        named = symbols_in(sentence)
        if named:
            carried = named[-1]


def line_sentence_facts(text: str) -> set[Fact]:
    """`sentence_facts` of each sentence of a line, a sentence naming no symbol read as about the one
    named before it (`sentences_with_subject`)."""
    facts: set[Fact] = set()
    for sentence, carried in sentences_with_subject(text):
        found = sentence_facts(sentence)
        if not found and carried is not None and HAS_DIGIT.search(sentence) and not symbols_in(sentence):
            found = sentence_facts(f"{carried} {sentence}")
        facts.update(found)
    return facts


def is_list_value(value: str) -> bool:
    """`1, 2, 3`: a series written without brackets (its values are history, not the current fact)."""
    return value.count(",") >= 2 and len(NUMBER_RE.findall(value)) >= 3


def restates_a_kind(core: Block) -> bool:
    """An entity line naming a price, RSI or trend more than once (one per timeframe, say): no part of
    it can be taken out without the label it belongs to, so it is kept whole."""
    kinds = [kind for key, _ in core.pairs if (kind := required_kind(key))]
    return len(kinds) != len(set(kinds))


def kv_facts(sym: str, core: Block) -> set[Fact]:
    """The required facts of one key/value line about `sym`: its price, RSI and trend (the first value
    of each; an unbracketed series is history), or its position fields when it states a position."""
    if core.sep == "entity":
        keys = {position_field(k) for k, _ in core.pairs}
        if ("sl" in keys and "tp" in keys) or ("side" in keys and ("entry" in keys or "qty" in keys)):
            return _position_facts(sym, core.pairs)
    if core.sep != "entity":
        found = ((key, required_kind(key), value) for key, value in core.pairs)
        return {Fact(sym, kind, fact_value(value, kind)) for _, kind, value in found if kind}
    facts: dict[str, Fact] = {}
    repeated = restates_a_kind(core)  # `BTC 1h: close 1, rsi 52 | 4h: close 2, rsi 55`: the first is the fact
    for key, value in core.pairs:
        kind = required_kind(key)
        if kind and kind not in facts and (repeated or not is_list_value(value)):
            fact = Fact(sym, kind, fact_value(value, kind))
            if kind == "trend" or NUMBER_RE.search(fact.value):
                facts[kind] = fact
    return set(facts.values())


# A price in prose: `Bitcoin is trading at 89,225`, `Ether sits at $3,012`, `BTC price 89225.34`,
# `BTC 1m close 90720.02` (the last close is the price).
_PROSE_CUE = re.compile(
    r"(?i)\b(?P<label>price|last|close|mark|rsi|trend)\b(?:\s*\(\d+\))?(?:\s+(?:is|was|of|at|near|around))?"
    r"\s*[:=]?\s*(?=[-+$€£~\d.])"
    r"|\b(?:trading|trades|traded|sits|sitting|stands|priced|quoted|changes hands|changing hands|is)\s+"
    r"(?:at|near|around)\s+(?=[$€£~\d])"
)


_LIST_LABEL = re.compile(r"^\W{0,3}([^:：\d]{1,30}(?:\([^():]{1,12}\))?)[:：]\s*")  # (`RSI(4h):`)
_LIST_SPLIT = re.compile(r"\s*[,;]\s+(?=\S)|\s+[·|•]\s+")  # (`BTC 99,412.7 | ETH 3,991.06`, `·`)
# (a price word may stand between the symbol and its number: `Current: BTC/USDT last 91230.5 | ...`)
_LIST_ITEM = re.compile(
    r"^(?P<sym>[A-Za-z][A-Za-z0-9/_-]{1,15})\s*[:=(]?\s*(?:(?:last|price|px|mark|close)\s+)?"
)


def listed_facts(text: str) -> set[Fact]:
    """`Prices: BTC ($91,230.50), ETH ($3,012.44)`, `RSI: BTC 52.1; ETH 47.8`: a label naming a price or
    an RSI, then symbols each with its number. Every item must be so, or it is not such a list."""
    label = _LIST_LABEL.match(text)
    kind = required_kind(label.group(1)) if label else None
    if kind is None and label is not None and _INDEX_LABEL.fullmatch(norm_key(label.group(1))):
        kind = "price"  # `Underlying index: BTC 97,215.40 | ETH 3,702.88`: the index price of each
    if label is not None and kind is None and _HOLDINGS.fullmatch(norm_key(label.group(1))):
        return _listed_positions(_HOLDING_SPLIT.split(text[label.end() :].rstrip(" .")))
    if label is None or kind not in ("price", "rsi"):
        return set()
    items = _LIST_SPLIT.split(text[label.end() :].rstrip(" ."))
    if len(items) < 2:
        return set()
    facts: set[Fact] = set()
    for item in items:
        m = _LIST_ITEM.match(item)
        sym = symbol_of(m.group("sym")) if m else None
        num = number_as_written(item, m.end(), anchored=True) if m and sym else None
        if m is None or sym is None or not num or num.endswith("%"):
            return set()
        facts.add(Fact(sym, kind, num))
    return facts


_INDEX_LABEL = re.compile(r"(?:underlying |spot |mark )?index(?: prices?| levels?)?")
_HOLDINGS = re.compile(r"(?:current |open )?(?:holdings|positions)|portfolio|holding|position")
_HOLDING_SPLIT = re.compile(r"(?<=\))\s*[,;]\s+|\s*;\s+|,\s+(?=[A-Za-z]{2,10}\s+[-+]?\d)")
_HOLDING = re.compile(
    r"^(?P<sym>[A-Za-z][A-Za-z0-9/_-]{1,15})\s+(?P<qty>[-+]?\d[\d,]*(?:\.\d+)?)\s*"
    r"(?:\(\s*(?:avg|average|entry|cost)\s*:?\s*|@\s*|at\s+)"
)


def _listed_positions(items: list[str]) -> set[Fact]:
    """`Holdings: BTC 0.35 (avg $88,100.00), SOL 120 (avg $139.20, short)`: each item a symbol, its
    quantity and its entry (and maybe its side). Every item must be so, or it is not such a list."""
    facts: set[Fact] = set()
    for item in (i.strip() for i in items):
        m = _HOLDING.match(item)
        sym = symbol_of(m.group("sym")) if m else None
        entry = number_as_written(item, m.end(), anchored=True) if m and sym else None
        if m is None or sym is None or not entry:
            return set()
        facts |= {Fact(sym, "position", sym), Fact(sym, "qty", m.group("qty")), Fact(sym, "entry", entry)}
        side = _SIDE_IN_ITEM.search(item, m.end())
        if side:
            facts.add(Fact(sym, "side", side.group(1)))
    return facts


_SIDE_IN_ITEM = re.compile(r"(?i)\b(long|short)\b")
# `You hold 0.5 ETH long at 2,965.10 with a stop at 2,850.00 and a target of 3,200.00`
_PROSE_POSITION = re.compile(
    r"(?i)\b(?:hold|holding|have|has|are|is|opened|open|carry|carrying)\s+(?:an?\s+)?"
    r"(?P<qty>\d[\d,]*(?:\.\d+)?)\s+(?P<sym>[A-Za-z][A-Za-z0-9/_-]{1,15})\s+"
    r"(?P<side>long|short)\b(?:\s+position)?\s+(?:at|@|from|entered at|with an entry of)\s+"
)


def _prose_position_facts(sentence: str, held: re.Match[str], sym: str) -> set[Fact]:
    entry = number_as_written(sentence, held.end(), anchored=True)
    if not entry:
        return set()
    facts = {
        Fact(sym, "position", sym),
        Fact(sym, "side", held.group("side")),
        Fact(sym, "qty", held.group("qty")),
        Fact(sym, "entry", entry),
    }
    return facts | _levels_after(sentence, held.end(), sym)


def sentence_facts(sentence: str) -> set[Fact]:
    """Prices (and RSI) a prose sentence states about a symbol it names: the first value after a price
    cue, before the next symbol is named (or a list of them: `listed_facts`). A number without such a cue
    is not taken for a fact."""
    listed = listed_facts(sentence) if ":" in sentence or "：" in sentence else set()
    if listed:
        return listed
    held = _PROSE_POSITION.search(sentence)
    if held is not None and (sym := symbol_of(held.group("sym"))) is not None:
        return _prose_position_facts(sentence, held, sym)
    facts: dict[tuple[str, str], Fact] = {}
    mentions = list(MENTION_RE.finditer(sentence))
    for n, m in enumerate(mentions):
        sym = symbol_of(m.group(0))
        if sym is None:
            continue
        end = mentions[n + 1].start() if n + 1 < len(mentions) else len(sentence)
        clause = sentence[m.end() : end]
        for cue in _PROSE_CUE.finditer(clause):
            label = (cue.group("label") or "price").lower()
            kind = "rsi" if label == "rsi" else "trend" if label == "trend" else "price"
            if kind == "trend":
                continue  # a trend in prose is a word among words: not a checkable fact
            num = NUMBER_RE.match(clause, cue.end())
            if num is None or num.group(0).endswith("%") or ":" in num.group(0):
                continue
            facts.setdefault((sym, kind), Fact(sym, kind, num.group(0)))
    return set(facts.values())


def symbol_column(header: Sequence[str] | None, rows: Sequence[Sequence[str]] = ()) -> int | None:
    """The column that names the row's symbol: a `symbol`-like header, or a first column whose cells
    each name exactly one symbol."""
    if header is None:
        return None
    for i, col in enumerate(header):
        if is_symbol_key(col):
            return i
    if rows and all(r and symbol_of(r[0]) for r in rows[:5]):  # the first rows tell
        return 0
    return None


_TIME_CELL = re.compile(r"\d{4}-\d\d-\d\d|\d{1,2}:\d\d|\d{9,13}$")  # a date, a time or epoch seconds/ms


def time_order(rows: Sequence[Sequence[str]], col: int = 0) -> int:
    """1 if column `col` is a time index oldest first, -1 newest first, 0 if it is not a time index
    (ISO dates and times and epoch numbers of one width order as their text does)."""
    if not rows or len(rows[0]) <= col or not _TIME_CELL.match(rows[0][col]):
        return 0  # most columns: told by the first cell
    cells = [r[col] for r in rows if len(r) > col]
    if not all(_TIME_CELL.match(c) for c in cells):
        return 0
    if len(cells) > 1 and cells[0] == cells[-1]:
        return 0  # (`00:01:12` in every row: an age, not a time index)
    return 1 if cells[0] <= cells[-1] else -1


def time_column(header: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple[int, int] | None:
    """(column, order) of a table's time index: the first column of dates, times or epochs, else a row
    number column counting up (pandas' `0 1 2`, or `55 56 57` after `tail()`: rows in time order).
    Judged on the first rows and the last, as the reducer sees a long table."""
    if not rows:
        return None
    for col in range(len(header)):
        order = time_order(rows, col)
        if order:
            return col, order
    firsts = [r[0] for r in rows if r]
    if all(c.isdigit() for c in firsts) and all(int(a) < int(b) for a, b in itertools.pairwise(firsts)):
        return 0, 1
    return None


def latest_row(
    header: Sequence[str], rows: Sequence[Sequence[str]], symbol: str | None
) -> tuple[int, int] | None:
    """(row, time column) of a table in time order, about one symbol and without a symbol column,
    whose prices and RSI are that symbol's current ones (`BTCUSDT 1h candles:` over `df.tail()`)."""
    if symbol is None or not rows or not any(required_kind(h) for h in header):
        return None
    if symbol_column(header, rows) is not None:
        return None
    found = time_column(header, rows)
    if found is None or not any(required_kind(h) for i, h in enumerate(header) if i != found[0]):
        return None
    col, order = found
    return (len(rows) - 1 if order > 0 else 0), col


_TIMEFRAME_NAME = re.compile(r"(?i)tf|time ?frame|interval|period|resolution|candle")
_TIMEFRAME = re.compile(r"\d{0,3}[smhdwMHDW]|\d{1,3}\s?(?:min|mins|minutes?|hours?|days?|weeks?)")


def timeframe_row(
    header: Sequence[str], rows: Sequence[Sequence[str]], symbol: str | None
) -> tuple[int, int] | None:
    """(0, timeframe column) of a table about one symbol with one row per timeframe (`BTC/USDT` over
    `| TF | Close | RSI |` / `| 15m | ... |` / `| 1h | ... |`): every row is current, the first (the
    shortest timeframe, as written) states the symbol's facts."""
    if symbol is None or not rows or symbol_column(header, rows) is not None:
        return None
    for col, name in enumerate(header):
        if (
            _TIMEFRAME_NAME.fullmatch(norm_key(name).strip())
            and all(col < len(r) and _TIMEFRAME.fullmatch(r[col].strip()) for r in rows)
            and any(required_kind(h) for i, h in enumerate(header) if i != col)
        ):
            return 0, col
    return None


def _table_facts(
    header: Sequence[str], rows: Sequence[Sequence[str]], symbol: str | None = None
) -> set[Fact]:
    col = symbol_column(header, rows)
    if col is None:
        latest = latest_row(header, rows, symbol) or timeframe_row(header, rows, symbol)
        if latest is None or symbol is None:
            return set()
        row, time_col = rows[latest[0]], latest[1]
        named = ((header[i], row[i]) for i in range(min(len(header), len(row))) if i != time_col and row[i])
        return {Fact(symbol, kind, fact_value(v, kind)) for h, v in named if (kind := required_kind(h))}
    fields = {i: position_field(name) for i, name in enumerate(header) if i != col}
    found = set(fields.values())
    is_position = bool(found & {"sl", "tp"}) or ("side" in found and bool(found & {"entry", "qty"}))
    kinds = {i: required_kind(name) for i, name in enumerate(header) if i != col}
    facts: set[Fact] = set()
    for row in rows:
        if col >= len(row) or not row[col]:
            continue
        symbol = symbol_of(row[col]) or plain(row[col])
        if is_position:
            facts.update(_position_facts(symbol, ((header[i], row[i]) for i in fields if i < len(row))))
        else:
            for i, kind in kinds.items():
                if kind and i < len(row) and row[i]:
                    facts.add(Fact(symbol, kind, fact_value(row[i], kind)))
    return facts


def _flat_pairs(value: dict[object, object]) -> list[tuple[str, str]]:
    """Scalar pairs of a dict and of the dicts nested in it (`exit_plan: {stop_loss: ...}`)."""
    out: list[tuple[str, str]] = []
    for k, v in value.items():
        if isinstance(v, dict):
            out.extend(_flat_pairs(v))
        elif not isinstance(v, list) and v is not None:  # (`"stopLossPrice": null`: no level set)
            out.append((str(k), str(v)))
    return out


def _kline(row: object) -> bool:
    """One candle as exchanges send them (Binance's klines): `[open time, open, high, low, close,
    volume, ...]`, an epoch in seconds or milliseconds first, then prices that agree (low <= open,
    close <= high). The agreement is what tells it from any other list of numbers."""
    if not isinstance(row, list) or not 5 <= len(row) <= 12:
        return False
    stamp = row[0]
    if not isinstance(stamp, Raw) or not stamp.isdigit() or len(stamp) not in (10, 13):
        return False
    try:
        o, h, low, c = (float(x) for x in row[1:5] if isinstance(x, str))
    except ValueError:
        return False
    return low <= min(o, c) and h >= max(o, c)


def latest_kline(value: object) -> int | None:
    """The index of the latest candle of a JSON list of klines (None if the list is something else)."""
    if not isinstance(value, list) or not value or not all(_kline(r) for r in value):
        return None
    stamps = [int(r[0]) for r in value]
    return stamps.index(max(stamps))


def _json_facts(value: object, symbol: str | None) -> set[Fact]:
    facts: set[Fact] = set()
    if isinstance(value, list) and symbol and (latest := latest_kline(value)) is not None:
        close = value[latest][4]
        return {Fact(symbol, "price", fact_value(str(close), "price"))}  # a candle's close: its price
    if isinstance(value, list):
        for item in value:
            facts.update(_json_facts(item, symbol))
        return facts
    if not isinstance(value, dict):
        return facts
    own = next((str(v) for k, v in value.items() if isinstance(v, str) and is_symbol_key(str(k))), None)
    sym = (symbol_of(own) or own) if own else symbol
    pairs = _flat_pairs(value)
    fields = {position_field(k) for k, _ in pairs}
    if sym and (bool(fields & {"sl", "tp"}) or ("entry" in fields and bool(fields & {"side", "qty"}))):
        # (an entry with a side or a size is a position too: ccxt's positions, Hyperliquid's `szi`)
        facts.update(_position_facts(sym, pairs))
    elif sym:
        for k, v in value.items():
            kind = required_kind(str(k))
            if kind and not isinstance(v, dict | list):
                facts.add(Fact(sym, kind, fact_value(str(v), kind)))
    for k, v in value.items():
        if isinstance(v, dict | list):
            facts.update(_json_facts(v, symbol_of(str(k)) or sym))
    return facts


def carrying_series(doc: Doc) -> set[int]:
    """`series_carrying_facts` of a parsed prompt, computed once."""
    if doc.carrying is None:
        doc.carrying = series_carrying_facts(doc.blocks)
    return doc.carrying


def series_carrying_facts(blocks: Sequence[Block]) -> set[int]:
    """Series that are the only place a symbol's price or RSI is given (they keep their last value)."""
    have: set[tuple[str, str]] = set()
    for b in blocks:
        core = b.core
        if core.kind is KIND_KV and core.symbol:
            have.update((core.symbol, k) for k in (required_kind(key) for key, _ in core.pairs) if k)
    needed: set[int] = set()
    for b in blocks:
        core = b.core
        if core.kind is KIND_SERIES and core.symbol:
            kind = required_kind(core.label)
            if kind in ("price", "rsi") and (core.symbol, kind) not in have:
                have.add((core.symbol, kind))
                needed.add(id(core))
    return needed


# --- the answer contract ---------------------------------------------------------------------------
ENUM_RE = re.compile(
    r"""(?:`[\w -]+`|"[\w -]+"|'[\w -]+'|\b[A-Z][A-Z_]+\b)"""
    r"""(?:\s*(?:,\s*or\b|/|\||,|\bor\b)\s*(?:`[\w -]+`|"[\w -]+"|'[\w -]+'|\b[A-Z][A-Z_]+\b))+"""
)
DONT_COPY = re.compile(
    r"(?i)\b(?:do not|don'?t|never|avoid)\b[^.!\n]{0,40}\b(?:copy|reuse|repeat|paste|echo)\b"
    r"|\bexample values?\b|\b(?:illustrative|placeholders?)\b|\byour own (?:analysis|values|numbers)\b"
    r"|(?:不要|勿|禁止|不得)(?:复制|複製|照抄|抄袭|抄襲)|示例(?:中的)?(?:数值|數值|值)"
    # es, pt, fr, it, de, ru, ja, ko: a negation, then a word for copying
    r"|\b(?:no|não|nao|ne|non|nicht|не|нельзя)\b[^.!\n]{0,24}(?:copi|recopi|kopier|копир)"
    r"|\bkopier\w*\b[^.!\n]{0,24}\b(?:nicht|niemals|nie)\b|コピーしない|コピー禁止|복사하지|복사 금지"
)
_FORMAT_NAME = r"(?:json|yaml|toml|csv|tsv|xml|(?:tab|comma)[- ]separated)"
ANSWER_ONLY = re.compile(
    rf"(?i)\b{_FORMAT_NAME}\b[^\n]{{0,40}}"
    r"\b(?:only|nothing else|no other|no (?:extra )?text|valid|parseable)\b"
    rf"|\b(?:only|just|solo|sólo|solamente|únicamente|apenas|somente|seulement|uniquement|nur)\b"
    rf"[^\n]{{0,24}}\b{_FORMAT_NAME}\b"
    rf"|\b(?:respond|answer|reply|output|return|responde|responda|réponds|répondez|antworte|rispondi|"
    rf"отвечай|ответь|отвечайте|верни|выведи|только|строго)\b"
    rf"[^\n]{{0,40}}\b{_FORMAT_NAME}\b"
    # a limit on what the answer may hold, in any format (`one row per symbol, no extra text.`)
    r"|\bno\s+(?:other|extra|additional|further)\s+(?:text|words|commentary|comments?|explanations?|prose)\b"
    r"|\bno\s+(?:commentary|explanations?|prose|preamble)\b|\bnothing\s+else\b"
)


_PAIR_TEXT = re.compile(r"\b[A-Z0-9]{2,10}[/_-](?:USDT|USDC|BUSD|USD|PERP)\b")


def is_enumeration_line(text: str) -> bool:
    """A line that states the allowed values of a decision key (`signal must be one of: hold, ...`)."""
    low = text.lower()
    return any(k in low for k in SIGNAL_KEYS) and bool(ENUM_RE.search(_PAIR_TEXT.sub(" ", plain(text))))


_ALLOWED_CUE = re.compile(
    r"(?i)\b(?:signal|action|decision|side|direction|recommendation|verdict)s?\b[^.\n]{0,24}?"
    r"\b(?:can be|must be|is one of|are one of|one of|allowed|either)\b"
)


def states_allowed_values(text: str) -> bool:
    """A line that says a decision key's allowed values outright (`action can be: "buy", "sell", ...`),
    wherever it stands: `is_enumeration_line` with the wording that says so (outside the answer format,
    `Reaction Check: ... ETH/BTC` is no such line)."""
    return _ALLOWED_CUE.search(text) is not None and is_enumeration_line(text)


def is_contract_line(text: str) -> bool:
    """A line of the answer contract `emergency` keeps: allowed values, "do not copy", "JSON only"."""
    return is_enumeration_line(text) or bool(DONT_COPY.search(text)) or bool(ANSWER_ONLY.search(text))


# --- the answer contract (what minimal / emergency keep) ------------------------------------------
_JSONISH = re.compile(r"""^\s*(?:[-*]\s+)?(?:[{}\[\],]+\s*|["'][^"']+["']\s*:.*)$""")
_EXAMPLE_PAIR = re.compile(
    r"""(?P<k>(?P<q>["']?)(?P<key>[A-Za-z_][\w ]*?)(?P=q)\s*:\s*)"""
    r"""(?P<v>"[^"\n]*"|'[^'\n]*'|[-+]?[$€£]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?%?(?![\w.–-]))"""
)
_TYPES = frozenset({"number", "int", "string"})
# type names of the languages an answer's model is declared in (Python, TypeScript, JSON Schema)
_TYPE_NAME = re.compile(
    r"(?:float|str|bool|boolean|integer|decimal|double|list|dict|literal|optional|array|object|enum)\b", re.I
)
_INLINE_EXAMPLE = re.compile(r"""\{\s*["'][^"'\n]+["']\s*:""")
_QUOTED_CHOICES = re.compile(r"""["'][^\W\d]\w*(?:\s*\|\s*[^\W\d]\w*)+["']""")  # `action="buy|sell"`
# A list item that names an answer field: an identifier, then nothing, a dash, a colon, `(` or `,`.
_FIELD_ITEM = re.compile(r"""^[`"']?[A-Za-z_]\w*[`"']?\s*(?:$|[—–:(,]|-\s)""")
_ALTERNATIVES = re.compile(r"""\w\s*(?:\||/)\s*\w|["']\s*(?:or|,)\s*["']|\bor\b""")


def example_type(key: str, value: str) -> str:
    """The type that stands for an example value, or the value itself when it is an allowed value."""
    k = norm_key(key).replace(" ", "_")
    if k in SIGNAL_KEYS or k in SYMBOL_KEYS:
        return value
    if value[:1] in "\"'":
        return value if _ALTERNATIVES.search(value[1:-1]) else "string"
    return "number" if re.search(r"[.eE%]", value) else "int"


def typed_line(text: str) -> str:
    """An example line with its example values replaced by their types (`"stop_loss": 3045.00,` ->
    `"stop_loss": number,`); keys, allowed values and structure stay."""
    out = _EXAMPLE_PAIR.sub(lambda m: m.group("k") + example_type(m.group("key"), m.group("v")), text)
    if out == text and ":" in text and not _JSONISH.match(text):
        key, _, value = text.partition(":")
        first = value.strip().split(" ", 1)[0]
        if NUMBER_RE.fullmatch(first) and not re.search(r"\d[–—-]\d", first):
            return f"{key}: number"
    return out


def contract_kind(block: Block, answer_keys: frozenset[str]) -> str | None:
    """How `minimal`/`emergency` keep an instruction or answer-format line: "verbatim" (allowed values,
    "do not copy", "JSON only", the definition of an answer key), "template" (an example line, kept with
    its values replaced by types) or None (dropped)."""
    text = plain(block.text)
    if is_enumeration_line(text) or DONT_COPY.search(text) or ANSWER_ONLY.search(text):
        return "verbatim"
    if block.fmt and block.kind is Kind.BULLET and _FIELD_ITEM.match(plain(block.core.text)):
        return "verbatim"  # `1. bid_spread — percent`, `2) signal (BUY / SELL / HOLD)`: an answer field
    if block.fmt and (_JSONISH.match(text) or _INLINE_EXAMPLE.search(text) or _QUOTED_CHOICES.search(text)):
        return "template"  # (`Responde solo con JSON: {"BTC": {"señal": ...}}`: an example after a lead)
    if block.fmt and block.core.kind is Kind.PROSE and block.kind is not Kind.BULLET:
        # A sentence in the answer-format section is about the answer, in whatever language it is
        # written ("Never provide a plain-text response", `No copies los valores del ejemplo.`); a row
        # there (`symbol<TAB>signal`, `BTC | buy|sell|hold`) is the answer's own shape.
        return "verbatim"
    core = block.core
    if core.kind is Kind.KV and (core.sep == ":" or (core.sep == "=" and block.fmt)):
        key = norm_key(core.pairs[0][0]).replace(" ", "_")
        if key in answer_keys or block.fmt:
            first = core.pairs[0][1].split(" ", 1)[0]
            example = first in _TYPES or (
                bool(NUMBER_RE.fullmatch(first)) and not re.search(r"\d[–—-]\d", first)
            )
            if key in answer_keys or example:
                return "template" if example else "verbatim"
            if _TYPE_NAME.match(first):
                return "verbatim"  # `confidence: float  # 0.0 to 1.0`: a field's definition (a model class)
            if first.startswith("<") or re.fullmatch(r"[-+]?\d+(?:\.\d+)?[–—-]\d+(?:\.\d+)?", first):
                return "verbatim"  # `WHY: <max 20 words>`, `confidence = 0.0-1.0`: a placeholder, a range
            if HAS_DIGIT.search(core.text) is None:
                return "verbatim"  # `Step 1: reasoning (plain text)`: a sentence about the answer
    return None


# --- the check ------------------------------------------------------------------------------------
STRICT_LEVELS = frozenset({"lossless", "analysis", "moderate", "standard", "lean"})


@dataclass(slots=True)
class PromptFacts:
    """Everything of an original prompt the check compares a compression against (computed once)."""

    numbers: Counter[str]
    facts: frozenset[Fact]
    instructions: tuple[tuple[int, str], ...]  # (line, text) of every instruction line
    format_lines: tuple[tuple[int, str], ...]  # (line, text) of the answer-format section
    contract: tuple[tuple[int, str], ...]  # (line, text) emergency must keep
    answer_keys: tuple[str, ...]
    protected: tuple[tuple[int, str], ...]
    # indented lines of the answer format's code blocks (a YAML template), each with its indentation
    # relative to the block's first line: the indentation is the structure, kept by the strict levels
    layout: tuple[tuple[int, str], ...] = ()


def _line_texts(doc: Doc, b: Block) -> Iterator[tuple[int, str]]:
    if b.kind is Kind.JSON:
        yield b.line, dump_json(b.data)
        return
    for k in range(b.nlines):
        text = doc.lines[b.line + k].strip() if b.line + k < len(doc.lines) else ""
        if text and not text.startswith("```"):
            yield b.line + k, text.replace("<keep>", "").replace("</keep>", "")


def carries_facts(b: Block) -> bool:
    """A key/value or position line about a symbol with a required or position field: data."""
    core = b.core
    return (
        core.kind in (Kind.KV, Kind.POSITION)
        and bool(b.symbol)
        and any(required_kind(k) or position_field(k) for k, _ in core.pairs)
    )


def prompt_facts(doc: Doc) -> PromptFacts:
    instructions: list[tuple[int, str]] = []
    fmt: list[tuple[int, str]] = []
    contract: list[tuple[int, str]] = []
    protected: list[tuple[int, str]] = []
    layout: list[tuple[int, str]] = []
    lower_keys = frozenset(k.lower() for k in doc.answer_keys)
    positions = {i for rec in doc.records if rec.is_position for i in range(rec.start, rec.end)}
    for idx, b in enumerate(doc.blocks):
        if b.kind is Kind.PROTECTED:
            protected.extend(_line_texts(doc, b))
            continue
        if b.kind is Kind.SEPARATOR:
            continue
        texts = list(_line_texts(doc, b))
        if b.fmt:
            # (a table's rule line carries nothing: `|---|` may be written `|-|`)
            fmt.extend(t for t in texts if b.kind is not Kind.TABLE or not _RULE_LINE.fullmatch(t[1]))
            if b.kind is Kind.CODE:
                layout.extend(_indented_lines(doc, b))
        if b.instr and b.kind is not Kind.HEADING and b.kind is not Kind.TABLE:
            instructions.extend(texts)
        line_block = b.kind not in (Kind.JSON, Kind.TABLE, Kind.CODE, Kind.HEADING)
        data = idx in positions or carries_facts(b)  # a position's `Side: LONG` is data, not the contract
        contract_line = b.fmt or b.instr or (line_block and states_allowed_values(b.text))
        if line_block and not data and contract_line and contract_kind(b, lower_keys) == "verbatim":
            contract.extend(texts)
    return PromptFacts(
        Counter(numbers_in(doc.text)),
        required_facts(doc),
        tuple(instructions),
        tuple(fmt),
        tuple(contract),
        doc.answer_keys,
        tuple(protected),
        tuple(layout),
    )


_RULE_LINE = re.compile(r"\|?(?:\s*:?-+:?\s*\|)+\s*(?::?-+:?)?\s*")


def _indented_lines(doc: Doc, b: Block) -> Iterator[tuple[int, str]]:
    base = len(doc.lines[b.line]) - len(doc.lines[b.line].lstrip()) if b.line < len(doc.lines) else 0
    for k in range(1, b.nlines):
        line = doc.lines[b.line + k].rstrip() if b.line + k < len(doc.lines) else ""
        indent = len(line) - len(line.lstrip())
        if line.strip() and indent > base and not line.lstrip().startswith("```"):
            yield b.line + k, line[base:]


@dataclass(frozen=True, slots=True)
class FidelityReport:
    """What a compression changed or lost that it must not have."""

    changed_numbers: tuple[str, ...]
    missing_facts: tuple[Fact, ...]
    missing_instructions: tuple[str, ...] = ()
    missing_format: tuple[str, ...] = ()
    missing_protected: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (
            self.changed_numbers
            or self.missing_facts
            or self.missing_instructions
            or self.missing_format
            or self.missing_protected
        )

    @property
    def defects(self) -> int:
        """How many things went wrong (0 when `ok`)."""
        return (
            len(self.changed_numbers)
            + len(self.missing_facts)
            + len(self.missing_instructions)
            + len(self.missing_format)
            + len(self.missing_protected)
        )

    def __str__(self) -> str:
        if self.ok:
            return "fidelity ok"
        parts = []
        for name in (
            "changed_numbers",
            "missing_facts",
            "missing_instructions",
            "missing_format",
            "missing_protected",
        ):
            items = getattr(self, name)
            if items:
                parts.append(f"{name.replace('_', ' ')}: {'; '.join(map(str, items[:8]))}")
        return "fidelity broken: " + " | ".join(parts)


class FidelityError(CompressorError):
    """A compression changed a number or lost a required fact, instruction or the answer format."""

    def __init__(self, report: FidelityReport) -> None:
        super().__init__(str(report))
        self.report = report


def check_against(
    original: PromptFacts, compressed: str, level: str = "standard", compressed_doc: Doc | None = None
) -> FidelityReport:
    """`check_fidelity` with the original already analysed (what `compress*()` runs)."""
    changed = tuple(number_changes(original.numbers, compressed))
    out_doc = compressed_doc or parse(compressed)
    missing_facts = tuple(sorted(original.facts - required_facts(out_doc, include_history=True)))
    hay = norm(compressed)
    missing_protected = tuple(t for _, t in original.protected if norm(t) not in hay)
    if level in STRICT_LEVELS:
        missing_instr = tuple(dict.fromkeys(t for _, t in original.instructions if norm(t) not in hay))
        missing_fmt = tuple(dict.fromkeys(t for _, t in original.format_lines if norm(t) not in hay))
        missing_fmt += tuple(
            f"indentation of {t.strip()!r}" for _, t in original.layout if t not in compressed
        )
    else:
        missing_instr = ()
        missing_fmt = tuple(dict.fromkeys(t for _, t in original.contract if norm(t) not in hay))
        missing_fmt += tuple(
            f"answer key {k!r}"
            for k in original.answer_keys
            if not re.search(rf"(?<![\w$]){re.escape(k)}(?![\w$])", compressed)  # (`$ref`: no \b before `$`)
        )
    return FidelityReport(changed, missing_facts, missing_instr, missing_fmt, missing_protected)


def check_fidelity(
    original: str,
    compressed: str,
    level: str = "standard",
    *,
    instructions: Iterable[str | re.Pattern[str]] = (),
    protect: Iterable[str | re.Pattern[str]] = (),
) -> FidelityReport:
    """What `compressed` changed or lost relative to `original`, judged for a compression `level`:

    - numbers of `compressed` not written the same way (and as often) in `original`;
    - required facts (price, RSI, trend per symbol; side, quantity, entry, SL, TP, P&L per position) lost;
    - for `standard` and milder levels: instruction lines and answer-format lines lost; for `minimal` and
      `emergency`: the answer keys, the allowed values, "do not copy" and "JSON only" lines lost;
    - protected spans (`<keep>...</keep>` or `protect` patterns) lost.
    """
    with prompt_symbols(learn_symbols(original)):  # the original's tickers, for both texts
        doc = parse(original, compile_patterns(protect), compile_patterns(instructions))
        return check_against(prompt_facts(doc), compressed, level)
