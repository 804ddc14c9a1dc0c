"""Render a parsed prompt at one compression level; the only code that decides what text survives.

Every output fragment is an original substring, a join of original substrings (values, keys, cells) or,
in `minimal`/`emergency`, a type name standing for an example value; so a number can be dropped but never
rewritten. Each transform is a projection (applying it to its own output changes nothing), which is what
makes compression idempotent. Everything removed is reported line by line (`Dropped`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from pytest_oxbot.compressor import template
from pytest_oxbot.compressor.facts import (
    _TYPES,
    POSITION_FIELDS,
    carries_facts,
    carrying_series,
    contract_kind,
    example_type,
    fact_value,
    is_list_value,
    kv_facts,
    latest_kline,
    latest_row,
    listed_facts,
    restates_a_kind,
    sentence_facts,
    sentences_with_subject,
    side_line_facts,
    states_allowed_values,
    symbol_column,
    time_column,
    timeframe_row,
    typed_line,
)
from pytest_oxbot.compressor.levels import Level
from pytest_oxbot.compressor.parse import (
    DECISION_KEYS,
    KIND_BULLET,
    KIND_CODE,
    KIND_HEADING,
    KIND_JSON,
    KIND_KV,
    KIND_POSITION,
    KIND_PROSE,
    KIND_PROTECTED,
    KIND_SEPARATOR,
    KIND_SERIES,
    KIND_TABLE,
    SYMBOL_KEYS,
    Block,
    Doc,
    Raw,
    Record,
    alike_runs,
    data_pairs,
    dump_json,
    is_instruction,
    is_json_schema,
    is_sl,
    is_symbol_key,
    is_tp,
    lists_choices,
    norm_key,
    position_field,
    required_kind,
    segments,
    split_row,
    symbol_of,
    table_rows,
)
from pytest_oxbot.compressor.text import (
    EMOJI_RE,
    HAS_DIGIT,
    NUMBER_RE,
    join_numbers,
    norm,
    plain,
    sentences,
    symbols_in,
)

__all__ = ["Dropped", "Reducer", "contract_kind", "typed_line"]


DUPLICATE = "duplicate of line"  # the reason given to a repeated instruction line


@dataclass(frozen=True, slots=True)
class Dropped:
    """One line of the original prompt that lost content, and why."""

    line: int  # 1-based line number in the original prompt
    text: str  # the original line
    reason: str
    kept: str | None = None  # what is left of it when it was shortened rather than removed

    def __str__(self) -> str:
        tail = f" -> kept {self.kept!r}" if self.kept is not None else ""
        return f"line {self.line}: {self.reason}: {self.text!r}{tail}"


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
    "standard": ("id", "side", "qty", "entry", "sl", "tp", "pnl", "lev", "invalidation"),
    "essential": ("id", "side", "qty", "entry", "sl", "tp", "pnl"),
}
_BOOKKEEPING = re.compile(r"(?:^|_)(?:oid|id|uuid)$|^wait_for_fill$|^order_id", re.I)
_FILLER = re.compile(r"\s+(?:indicators?|series|values)\b", re.I)
_PERIOD = re.compile(r"\s*\((\d+)[\s\u2011-]*periods?\)", re.I)  # "EMA (20‑period)" -> "EMA(20)"
_MARKET_WORDS = re.compile(r"(?i)\b(?:price|rsi|trend|trading at|bias)\b")
_TAG = re.compile(r"\[([A-Z][A-Z0-9_]{3,})\]")
_SHORT_TAG = re.compile(r"\[([A-Z0-9]{1,3})\]")
# (`\s*=\s*` starting with a character set, then a look-behind for which it took: the same matches, the
# regex engine skipping to blanks and `=` instead of trying every position)
_EQ_SPACES = re.compile(r"[\s=](?:(?<==)|(?<=\s)\s*=)\s*")


def _typed_json(value: object, key: str = "") -> object:
    if isinstance(value, dict):
        return {k: _typed_json(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed_json(v, key) for v in value]
    if isinstance(value, Raw):
        return value if value in _TYPES or value[:1] in "tfnNI" else Raw(example_type(key, value))
    if isinstance(value, str):
        kept = example_type(key, f'"{value}"')
        return value if kept.startswith('"') else Raw(kept)
    return value


def _typed_answer(value: object, key: str = "") -> object:
    """The answer example's values replaced by their types, and nothing else: a JSON document that
    also holds the positions, the rules and their wording (a prompt that is one JSON state) keeps
    those as written. A JSON Schema has no example values: it is kept whole."""
    if is_json_schema(value):
        return value
    if isinstance(value, dict):
        if _is_answer_object(value):
            return _typed_json(value, key)
        return {k: _typed_answer(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed_answer(v, key) for v in value]
    return value


def _is_answer_object(value: dict[object, object]) -> bool:
    """An object with a decision key (`signal`) or a value listing the choices (`"do": "trim|add|exit"`),
    or whose objects have one (`{"BTC": {"signal": ...}}`)."""
    if any(str(k).lower() in DECISION_KEYS for k in value) or any(
        isinstance(v, str) and lists_choices(v) for v in value.values()
    ):
        return True
    return any(
        isinstance(v, dict) and any(str(k).lower() in DECISION_KEYS for k in v) for v in value.values()
    )


# --- the renderer ------------------------------------------------------------------------------------
_BARE_PAIR_VALUE = re.compile(r"[^\s,'\"{}\[\]=]+(?:,\d{3}(?!\d)[^\s,'\"{}\[\]=]*)*")


# a zone or a ladder of targets: `89,200 - 89,500`, `91,000 / 93,500`, `135.0 TP2: 130.0 TP3: 128.0`
_NUMBER_LADDER = re.compile(r"[$€£]?\d[\d,.]*(?:\s*(?:-|–|/|to|[Tt][Pp]\d:)\s*[$€£]?\d[\d,.]*)+")


def _pair_value(value: str) -> str:
    """A `k=v` value that reads back whole: quoted when a space or a decimal comma is part of it
    (`entry="2 965,10"`; bare, `entry=2 965,10` would read as `entry=2`)."""
    if _BARE_PAIR_VALUE.fullmatch(value) or value[:1] in "'\"":
        return value
    return f"'{value}'" if '"' in value else f'"{value}"'


_SL_WORD = re.compile(r"(?i)(?<![a-z])(?:sl|stop[ _-]?loss|stop)(?![a-z])")
_TP_WORD = re.compile(r"(?i)(?<![a-z])(?:tp|take[ _-]?profit|target)(?![a-z])")
# the same named in Chinese, Japanese, Korean or Russian: searched in non-ASCII text only (a case-blind
# search for non-ASCII words is slow, and English text never needs it)
_SL_OTHER = re.compile("止损|止損|損切|ストップ|손절|[Сс]топ")
_TP_OTHER = re.compile("止盈|利確|利益確定|익절|[Тт]ейк")
_PARAGRAPH_LINES = 6  # a wrapped sentence, not a section: how many lines a kept paragraph may join
_PROSE_KINDS = (KIND_PROSE, KIND_KV, KIND_BULLET)
_TEMPLATE_KINDS = (KIND_PROSE, KIND_KV)  # what a line a template stands for is (or a bullet holds)
_UNREAD_KINDS = (KIND_PROSE, KIND_BULLET, KIND_CODE, KIND_TABLE, KIND_KV, KIND_HEADING)


def _names_sl_or_tp(text: str) -> bool:
    if _SL_WORD.search(text) is not None or _TP_WORD.search(text) is not None:
        return True
    return not text.isascii() and (_SL_OTHER.search(text) is not None or _TP_OTHER.search(text) is not None)


# a side, then a fill (`short perp Hyperliquid 0.60 BTC @ 93,950.0`), or a quantity of shares or
# contracts at a price (`BTC>100k YES: 1,500 shares @ 0.31`): a position leg, however written
_SIDE_AT = re.compile(
    r"(?i)\b(?:long|short)\b[^@\n]{0,40}@\s*[$€£]?\d"
    r"|\d[\d,.]*\s*(?:shares|contracts|units|lots)\s*(?:@|at)\s*[$€£]?\d"
)


def _plain_series(value: str) -> bool:
    """`0.1702, 0.1693, 0.1688`: numbers and nothing else (not `52.1, 4h: close 90,880.20`)."""
    items = value.split(", ")
    return len(items) >= 3 and all(NUMBER_RE.fullmatch(item.strip()) for item in items)


def _names_sl_and_tp(text: str) -> bool:
    """A stop loss and a take profit are both named (a position line in a shape not read)."""
    if text.isascii():
        return _SL_WORD.search(text) is not None and _TP_WORD.search(text) is not None
    sl = _SL_WORD.search(text) is not None or _SL_OTHER.search(text) is not None
    return sl and (_TP_WORD.search(text) is not None or _TP_OTHER.search(text) is not None)


class Reducer:
    """Renders the blocks of one prompt at one level and records what it left out."""

    def __init__(
        self,
        doc: Doc,
        level: Level,
        count: Callable[[str], int],
        static: Sequence[re.Pattern[str]] = (),
        static_labels: frozenset[str] = frozenset(),
    ) -> None:
        self.doc = doc
        self.blocks = doc.blocks
        self.level = level
        self.count = count
        self.static = static
        self.static_labels = static_labels
        self.dropped: list[Dropped] = []
        self.notes: dict[str, int] = {}
        self._needs_series = carrying_series(doc)
        self._keys = frozenset(k.lower() for k in doc.answer_keys)
        self._skip: dict[int, str] = {}  # block -> why it is left out (planned before rendering)
        self._replace: dict[int, str] = {}  # block -> the text it is rendered as (planned)
        self._pos: dict[int, Record] = {}
        self._pos_indexed = False  # (`_index_positions` ran: most prompts have none, so `_pos` can't tell)
        self._owner = -1  # the block being rendered (each Dropped entry remembers it)
        self._tables: set[int] = set()  # blocks whose text is a pivot table
        self._owners: list[int] = []
        self._dups: dict[int, str] | None = None  # (`_duplicates`)
        # `- symbol: BTC` heading `price: 1` lines: the line that says whose price it is stays with it
        self._naming = {
            rec.start
            for rec in doc.records
            if rec.symbol
            and doc.blocks[rec.start].kind is not KIND_HEADING
            and any(required_kind(k) for k, _ in rec.pairs)
        }

    def duplicate_lines(self) -> dict[int, str]:
        """0-based lines of the repeated instruction lines this level drops, with why. Known before
        `render` (the engine re-parses without them instead of rendering twice)."""
        if not self.level.dedupe:
            return {}
        self._index_positions()
        return {
            line: why
            for idx, why in self._duplicates().items()
            for line in range(self.blocks[idx].line, self.blocks[idx].line + self.blocks[idx].nlines)
        }

    def _index_positions(self) -> None:
        if self._pos_indexed:
            return
        self._pos_indexed = True
        for rec in self.doc.records:
            if rec.is_position:
                for i in range(rec.start, rec.end):
                    self._pos[i] = rec

    def _duplicates(self) -> dict[int, str]:
        """Identical instruction lines after their first occurrence (blocks, with why); their emoji must
        be the same too (`🟢 Do not short.` / `🔴 Do not short.`: the colour may be all that differs).
        Found once per reducer (`duplicate_lines`, then `render`, ask for them)."""
        if self._dups is None:
            self._dups = self._find_duplicates()
        return self._dups

    def _find_duplicates(self) -> dict[int, str]:
        seen: dict[tuple[str, str], int] = {}
        out: dict[int, str] = {}
        for idx, b in enumerate(self.blocks):
            if (
                b.instr
                and not b.fmt
                and b.kind in (KIND_PROSE, KIND_KV, KIND_BULLET)
                and idx not in self._pos
                and _two_words(b.text)
            ):
                key = (norm(b.text), _emoji(b.text))
                if key in seen:
                    out[idx] = f"{DUPLICATE} {self.blocks[seen[key]].line + 1}"
                else:
                    seen[key] = idx
        return out

    # -- entry -------------------------------------------------------------------------------
    def render(self) -> str:
        lv = self.level
        self._index_positions()
        if lv.dedupe:  # first: a duplicate between two records must not keep them apart only once
            self._plan_dedupe(collapse=lv.prose != "none")
        if lv.series is not None:
            self._plan_history(max(lv.series, 1))
        texts: dict[int, str] = {}
        for idx, block in enumerate(self.blocks):
            self._owner = idx
            if idx in self._skip:
                self._drop(block, self._skip[idx])
                texts[idx] = ""
                continue
            # (`text`, not `texts[idx]`, until it is final: one dict store a block, not four look-ups)
            text = self._replace[idx] if idx in self._replace else self._block(idx, block)
            if text and block.lead:  # `Tickers: {...}`: the label it was written after
                # (a table rendered anew starts its own line: `Snapshot: <table>...` -> `Snapshot:`, rows)
                apart = block.kind is KIND_TABLE and text != block.text
                text = f"{block.lead}{chr(10) if apart else ' '}{text}"
            if text and block.bullet == "```" and lv.name == "lossless":
                # lossless changes no shape: a fenced block stays fenced (the other levels save the fence)
                text = f"```{block.label}\n{text}\n```"
            texts[idx] = text
            if text or idx in self._pos or block.kind not in _UNREAD_KINDS:
                continue
            if HAS_DIGIT.search(block.text) is None or not symbols_in(block.text):
                continue
            # A position in a shape not read (`ETH long 0.05 @ 2,965.10 | SL ... | TP ...`, a row
            # under `SYMBOL SIDE QTY ENTRY SL TP`): kept as written, never condensed, never lost.
            header = None if _names_sl_and_tp(block.text) else self._position_header_above(idx)
            if header is not None or _names_sl_and_tp(block.text) or _SIDE_AT.search(block.text):
                texts[idx] = self._keep_unread_position(idx, block)
                if header is not None and not texts[header]:  # its row is read by its header
                    texts[header] = self._keep_unread_position(header, self.blocks[header])
        self._keep_wrapped_positions(texts)
        if lv.pivot:  # after: what this level drops between two records does not keep them apart
            self._plan_pivots(texts)
        out = [(idx, text) for idx, text in texts.items() if text]
        if lv.prune_headings:
            out = self._prune_headings(out)
        if self.static or self.static_labels:
            out = self._static_first(out)
        if lv.template:
            out = self._templates(out)
        if lv.decorate:
            out = self._shorten_tags(out)
        pieces: list[str] = []
        for i, (idx, text) in enumerate(out):
            if i and text.startswith("|") and out[i - 1][1].rsplit("\n", 1)[-1].startswith("|"):
                pieces.append("")  # two tables need a blank line or they read back as one
            elif i and self._ends_list(out[i - 1][0], idx, text):
                pieces.append("")  # the blank line that ends a list also ends its record: it stays
            pieces.append(text)
        return "\n".join(pieces)

    def _ends_list(self, prev: int, idx: int, text: str) -> bool:
        """A plain line after a blank line that follows a list (a record's end, see `records`)."""
        # (asked of every pair of lines written: the next line and its blank line are tested first)
        if idx != prev + 1 or prev < 0 or idx >= len(self.blocks):
            return False
        b = self.blocks[idx]
        return (
            b.blank_before
            and self.blocks[prev].kind is KIND_BULLET
            and b.kind is not KIND_BULLET
            and b.kind is not KIND_HEADING
            and not text.startswith(("-", "|"))
        )

    @staticmethod
    def _kept_apart(b: Block) -> bool:
        """A line inside a position's lines that condensing must not swallow: an instruction or the
        answer format (`DECIDE: HOLD or CLOSE?`, `Answer JSON only: {...}`): its own rules apply."""
        return (b.instr or b.fmt) and not data_pairs(b.core)

    def _position_header_above(self, idx: int) -> int | None:
        """The header line of position columns the row `idx` sits under (TSV, fixed width, HTML)."""
        for k in range(idx - 1, max(idx - 60, -1), -1):
            b = self.blocks[k]
            if self.blocks[k + 1].blank_before or k in self._pos:
                return None
            if HAS_DIGIT.search(b.text) is None and _names_sl_and_tp(b.text):
                return k
            if b.kind is KIND_HEADING:
                return None
        return None

    def _keep_wrapped_positions(self, texts: dict[int, str]) -> None:
        """A position written as prose wrapped over lines (`We are long 0.35 BTC from 93,150.00. The stop
        loss is at 91,900.00 and the take` / `profit at 101,500.00.`): no one line names the symbol, the
        stop and the target, the paragraph does. Its dropped lines are kept as written."""
        blocks, done = self.blocks, -1

        def joins(k: int) -> bool:  # the line `k` continues the paragraph of the line above it
            return (
                not blocks[k].blank_before and blocks[k - 1].kind in _PROSE_KINDS and k - 1 not in self._pos
            )

        for idx, text in texts.items():
            b = blocks[idx]
            if text or idx <= done or b.kind not in _PROSE_KINDS or idx in self._pos:
                continue
            if HAS_DIGIT.search(b.text) is None:
                continue  # no number lost
            if not (
                _names_sl_or_tp(b.text) or (idx and joins(idx) and _names_sl_or_tp(blocks[idx - 1].text))
            ):
                continue  # no stop or target named on the line or the one it continues: not a position's
            start = end = idx
            while start > 0 and idx - start < _PARAGRAPH_LINES - 1 and joins(start):
                start -= 1
            while (
                end + 1 < len(blocks)
                and end - start < _PARAGRAPH_LINES - 1
                and blocks[end + 1].kind in _PROSE_KINDS
                and (end + 1) not in self._pos
                and joins(end + 1)
            ):
                end += 1
            done = end
            if end == start:
                continue  # one line: the rule for a line has judged it
            joined = " ".join(blocks[k].text for k in range(start, end + 1))
            if _names_sl_and_tp(joined) and symbols_in(joined):
                for k in range(start, end + 1):
                    if not texts[k]:
                        texts[k] = self._keep_unread_position(k, blocks[k])

    def _keep_unread_position(self, idx: int, b: Block) -> str:
        """Kept as written rather than lost: facts that were not understood cannot be condensed."""
        kept = [(d, o) for d, o in zip(self.dropped, self._owners, strict=True) if o != idx]
        self.dropped = [d for d, _ in kept]
        self._owners = [o for _, o in kept]
        return b.text.strip()

    # -- bookkeeping -------------------------------------------------------------------------
    def _drop(self, b: Block, reason: str, kept: str | None = None) -> None:
        line = self.doc.lines[b.line].strip() if b.line < len(self.doc.lines) else b.text
        self.dropped.append(Dropped(b.line + 1, line, reason, kept))
        self._owners.append(self._owner)

    def _note(self, what: str, n: int = 1) -> None:
        self.notes[what] = self.notes.get(what, 0) + n

    def _line(self, text: str) -> str:
        if not self.level.decorate:
            return text.strip()
        if "\t" in text.strip():  # tab-separated columns (a TSV answer row): the tabs are its structure
            return "\t".join(plain(cell) for cell in text.strip().split("\t"))
        return plain(text)

    # -- per kind ----------------------------------------------------------------------------
    def _block(self, idx: int, b: Block) -> str:
        lv = self.level
        if b.kind is KIND_PROTECTED:
            return b.text
        if b.kind is KIND_SEPARATOR:
            self._drop(b, "separator line")
            return ""
        if (
            idx in self._pos
            and lv.positions == "essential"
            and b.kind is not KIND_HEADING
            and not self._kept_apart(b)
        ):
            rec = self._pos[idx]
            first = next(
                i
                for i in range(rec.start, rec.end)
                if self.blocks[i].kind is not KIND_HEADING and not self._kept_apart(self.blocks[i])
            )
            if idx == first:
                text = self._record_line(rec)
                kept = [self.doc.lines[i].strip() for i in range(self.blocks[rec.start].line, b.line + 1)]
                if norm(text) != norm(" ".join(kept)):
                    self._drop(b, "position lines condensed to side, qty, entry, SL, TP, P&L", text)
                return text
            self._drop(b, "position lines condensed to side, qty, entry, SL, TP, P&L")
            return ""
        if b.kind is KIND_HEADING:
            if b.sep == "setext" and self.level.decorate:  # `RULES` + `=====` -> `# RULES`
                return "#" * b.rank + " " + self._line(b.text)
            return self._line(b.text)
        # (a line giving a decision key's allowed values is the contract wherever it stands: after an
        # example whose stop/target keys made it read as data, `action can be: "buy", ..., "move_sl".`)
        if (
            lv.instructions == "contract"
            and (b.fmt or b.instr or (b.kind in _PROSE_KINDS and states_allowed_values(b.text)))
            and not carries_facts(b)
        ):
            return self._contract(b)
        if b.fmt or b.instr:
            return self._whole(b)
        if b.kind is KIND_SERIES:
            return self._series(b)
        if b.kind is KIND_KV:
            return self._kv(b)
        if b.kind is KIND_POSITION:
            text = self._position(b)
            return text if lv.positions == "raw" else f"- {text}"
        if b.kind is KIND_TABLE:
            return self._table(b)
        if b.kind is KIND_JSON:
            return self._json(b)
        if b.kind is KIND_CODE:
            if lv.code:
                return b.text
            self._drop(b, "code block")
            return ""
        if b.kind is KIND_BULLET:
            return self._bullet(b)
        return self._prose(b)

    def _whole(self, b: Block) -> str:
        """An instruction or answer-format block, kept whole (decoration aside)."""
        if b.kind is KIND_JSON:
            return dump_json(b.data) if self.level.decorate else b.text
        if b.kind is KIND_TABLE:
            return self._table(b)
        if b.kind is KIND_CODE:
            return b.text
        return self._line(b.text)

    def _contract(self, b: Block) -> str:
        if b.kind is KIND_JSON:
            if b.fmt:
                return dump_json(_typed_answer(b.data))
            self._drop(b, "JSON block outside the answer contract")
            return ""
        if b.kind is KIND_CODE:
            if b.fmt:
                return "\n".join(typed_line(ln) for ln in b.text.splitlines())
            self._drop(b, "code block")
            return ""
        if b.kind is KIND_TABLE:
            if b.fmt:
                return self._table(b)  # the answer's own columns (`symbol<TAB>signal<TAB>...`)
            self._drop(b, "instruction table outside the answer contract")
            return ""
        kind = contract_kind(b, self._keys)
        text = self._line(b.text)
        if kind == "verbatim":
            return text
        if kind == "template":
            typed = typed_line(text)
            if typed != text:
                self._drop(b, "example values replaced by their types", typed)
            return typed
        if not b.fmt and b.core.kind is KIND_PROSE and HAS_DIGIT.search(b.text):
            # `BTC last 89,225.34, RSI 55.2. You should never hold more than 2 positions.`: the rule goes
            # at this level, the market facts in the same line stay.
            return self._prose(b)
        self._drop(b, "answer-format line outside the contract" if b.fmt else "instruction line")
        return ""

    def _bullet(self, b: Block) -> str:
        inner = b.inner
        assert inner is not None
        if inner.kind is KIND_POSITION:
            text = self._position(inner)
            return f"- {text}" if self.level.positions != "raw" else b.text
        if inner.kind is KIND_PROSE:
            body = self._prose(inner, report=False)
            if body != self._line(inner.text):
                self._drop(
                    b,
                    "prose sentences without data" if body else "prose line",
                    f"{b.bullet} {body}" if body else None,
                )
        else:
            body = self._block(-1, inner)
        return f"{b.bullet} {body}" if body else ""

    def _prose(self, b: Block, report: bool = True) -> str:
        lv = self.level
        text = self._line(b.text)
        if lv.prose == "all":
            return text
        if lv.prose == "none":
            kept = [s for s, carried in sentences_with_subject(text) if self._market_sentence(s, b, carried)]
            out = " ".join(kept)
            if report and out != text:  # (every sentence kept: nothing went)
                self._drop(
                    b, "prose line" if not out else "prose sentences without market facts", out or None
                )
            return out
        parts = sentences(text)
        kept = [parts[0]] + [s for s in parts[1:] if _worth_keeping(s)]
        out = " ".join(kept)
        if out != text and report:
            self._drop(b, "prose sentences without data", out)
        return out

    def _market_sentence(self, sentence: str, b: Block, carried: str | None = None) -> bool:
        """A prose sentence that states a symbol's price, RSI or trend (kept even in emergency); one that
        names no symbol is about `carried`, the symbol an earlier sentence of its line named."""
        if not HAS_DIGIT.search(sentence):
            return False
        if sentence_facts(sentence):
            return True
        named = symbols_in(sentence) or ([b.symbol] if b.symbol else []) or ([carried] if carried else [])
        return bool(named) and bool(_MARKET_WORDS.search(sentence))

    def _series(self, b: Block) -> str:
        lv = self.level
        keep = lv.series
        if keep is None:
            return b.text
        keep = max(keep, 1 if id(b) in self._needs_series else 0)
        if keep == 0:
            self._drop(b, "series")
            return ""
        label = _series_label(b.label, lv.prose != "all", lv.decorate)
        # The "…" marker costs two tokens a series; from the standard rung on, the section's own
        # wording ("oldest → latest") has to carry that the series is a tail.
        marker = lv.prose == "all" or (lv.series or 0) > 3
        if len(b.values) > keep:
            text = _series_text(label, b.values[-keep:], marker)
            self._drop(b, f"series shortened to the last {keep} values", text)
            return text
        return _series_text(label, b.values, b.elided and marker)

    def _kv(self, b: Block) -> str:
        mode = self.level.kv
        if mode == "all" or (mode == "symbol_required" and b.symbol is None):
            if not self.level.decorate:
                return b.text.strip()
            if b.sep == "entity" and self.level.series is not None:
                if restates_a_kind(b) and not any(_plain_series(v) for _, v in b.pairs):
                    return plain(b.text)  # one RSI per timeframe: no value may go without its label
                return self._entity_series(b)
            text = plain(b.text)
            if b.sep == "=":
                return _EQ_SPACES.sub("=", text)
            if self.level.prose == "trim" and len(b.pairs) == 1 and ". " in text:
                key, _, value = text.partition(": ")
                parts = sentences(value)
                kept_s = [parts[0]] + [s for s in parts[1:] if _worth_keeping(s)]
                if len(kept_s) < len(parts):
                    text = f"{key}: {' '.join(kept_s)}"
                    self._drop(b, "sentences without data in a value", text)
            return text
        if b.symbol is None and len(b.pairs) == 1 and listed_facts(plain(b.text)):
            return plain(b.text)  # `RSI: BTC 52.1, ETH 47.8`: every item is a fact
        if (
            b.sep == ":"
            and len(b.pairs) == 1
            and (named := symbol_of(b.pairs[0][0])) is not None
            and side_line_facts(named, b.pairs[0][1])
        ):
            return plain(b.text)  # `BTC-PERPETUAL: long 0.80 BTC @ 95,112.0, stop 91,500.0`: a position
        if b.sep == "entity" and restates_a_kind(b):
            return plain(b.text)  # one RSI per timeframe: a value taken out would lose its timeframe
        needed = {(f.kind, f.value) for f in kv_facts(b.symbol, b)} if b.symbol is not None else set()
        kept_at = [
            i
            for i, (k, v) in enumerate(b.pairs)
            if norm_key(k) in SYMBOL_KEYS
            or ((kind := required_kind(k)) and (kind, fact_value(v, kind)) in needed)
        ]
        if len(kept_at) == sum(norm_key(k) in SYMBOL_KEYS for k, _ in b.pairs):
            if kept_at and self._owner in self._naming:
                kept_at = [kept_at[0]]
            else:
                self._drop(b, "key/value line without required facts")
                return ""
        if len(kept_at) == len(b.pairs):
            text = plain(b.text)
            return _EQ_SPACES.sub("=", text) if b.sep == "=" else text
        kept = [b.pairs[i] for i in kept_at]
        if b.sep == "entity":  # the segments as written: `BTC: price 89225.34, rsi 55.2`
            text = f"{plain(b.label)}: " + ", ".join(plain(b.values[i]) for i in kept_at)
            self._drop(b, "key/values not required", text)
            return text
        text = (
            "; ".join(f"{plain(k)}: {plain(v)}" for k, v in kept)
            if b.sep == ":"
            else ", ".join(f"{k}={v}" for k, v in kept)
        )
        if b.label:
            text = f"{plain(b.label)} {text}"
        self._drop(b, "key/values not required", text)
        return text

    def _entity_series(self, b: Block) -> str:
        """An entity line whose values include an unbracketed series (`last 1h closes 1, 2, 3, 4`):
        the series keeps its last values, as a bracketed one does at this level."""
        keep = self.level.series
        assert keep is not None
        parts: list[str] = []
        shortened = False
        for (key, value), raw in zip(b.pairs, b.values, strict=True):
            if not is_list_value(value):
                parts.append(plain(raw))
                continue
            tail = self._series_tail(value)
            if tail == value:
                parts.append(plain(raw))
                continue
            shortened = True
            if tail:
                parts.append(f"{plain(key)} {tail}")
        text = plain(b.text)
        if not shortened:
            return text
        out = f"{plain(b.label)}: " + ", ".join(parts)
        self._drop(b, f"series shortened to the last {keep} values" if keep else "series", out)
        return out

    def _series_tail(self, value: str) -> str:
        """The last values of an unbracketed series (`1, 2, 3, 4`) this level keeps ("" for none)."""
        keep = self.level.series
        values = segments(value)
        if keep is None or len(values) <= keep:
            return value
        return join_numbers(values[-keep:], ", ") if keep else ""

    def _position(self, b: Block) -> str:
        mode = self.level.positions
        if mode == "raw":
            return b.text
        fields: dict[str, str] = {}
        dropped = 0
        for key, value in b.pairs:
            name = _position_name(key, mode)
            if name is None:
                dropped += 1
            elif name not in fields:
                fields[name] = value
        text = f"{b.symbol}: " + " ".join(f"{k}={_pair_value(v)}" for k, v in fields.items())
        if dropped:
            self._drop(b, "position fields not needed at this level", f"- {text}")
        return text

    def _record_line(self, rec: Record) -> str:
        """A position written over several lines, as one line of its required fields."""
        fields: dict[str, str] = {}
        for key, value in rec.pairs:
            name = position_field(key)
            whole = plain(value).strip()  # a zone or a ladder (`89,200 - 89,500`) stays whole
            value = whole if _NUMBER_LADDER.fullmatch(whole) else fact_value(value, name) if name else value
            if name and name not in fields:
                fields[name] = value
            elif name == "tp":  # `TP1: 135.0 TP2: 130.0`: every target
                fields[name] += f" / {value}"
        order = [f for f in POSITION_FIELDS if f in fields]
        return f"- {rec.symbol}: " + " ".join(f"{f}={_pair_value(fields[f])}" for f in order)

    def _table(self, b: Block) -> str:
        header, lines = b.header, list(b.values)
        sep = b.sep or "|"
        all_rows = table_rows(b) if sep == " " else None  # aligned by position: read when parsed
        head_rows = all_rows[:5] if all_rows is not None else [split_row(ln, sep) for ln in lines[:5]]
        sym_col = symbol_column(header, head_rows)
        keep_cols: list[int] | None = None
        fields = {position_field(h) for h in header} if header is not None else set()
        is_position = bool(fields & {"sl", "tp"}) or ("side" in fields and bool(fields & {"entry", "qty"}))
        last_row = (all_rows[-1] if all_rows is not None else split_row(lines[-1], sep)) if lines else ()
        sample = head_rows if len(lines) <= len(head_rows) else [*head_rows, last_row]  # enough to tell
        latest: tuple[int, int] | None = None  # (row, time column) of a symbol's current price or RSI
        if sym_col is None and header is not None and not b.fmt:
            latest = latest_row(header, sample, b.symbol)
            if latest is not None and latest[0]:
                latest = (len(lines) - 1, latest[1])
        timeframes = (
            timeframe_row(header, sample, b.symbol)
            if latest is None and sym_col is None and header is not None and not b.fmt
            else None
        )
        if self.level.kv == "required" and header is not None and not b.fmt:
            if sym_col is None and latest is None and timeframes is None:
                self._drop(b, "table without required facts")
                return ""
            keep_cols = [
                i
                for i, col in enumerate(header)
                if i == sym_col or required_kind(col) or (is_position and position_field(col))
            ]
            if latest is not None:  # the time, then the symbol's facts
                keep_cols = [latest[1], *(i for i in keep_cols if i != latest[1])]
            elif timeframes is not None:  # each timeframe, then its values (every row is current)
                keep_cols = [timeframes[1], *(i for i in keep_cols if i != timeframes[1])]
            elif keep_cols == [sym_col]:  # symbols and nothing about them (`sym|funding_8h`)
                self._drop(b, "table without required facts")
                return ""
        found = time_column(header, [head_rows[0], last_row]) if header is not None and lines else None
        newest_first = found is not None and found[1] < 0
        # history only with a time index: balances, resting orders or a book are live state, kept whole
        if (
            latest is not None
            or (  # (history only with a time index: a book or balances are live state)
                sym_col is None and not is_position and found is not None and _numeric(head_rows[:4])
            )
        ):
            keep = self.level.table_rows
            if latest is not None and (keep == 0 or self.level.kv == "required"):
                keep = 1
            if keep == 0:
                self._drop(b, "time-series table")
                return ""
            if keep is not None and len(lines) > keep:
                first = b.line + b.nlines - len(b.values)  # the lines above the rows: header, rule
                cut = range(keep, len(lines)) if newest_first else range(len(lines) - keep)
                why = f"table shortened to the {'first' if newest_first else 'last'} {keep} rows (the latest)"
                for k in cut:
                    self.dropped.append(Dropped(first + k + 1, lines[k], why))
                    self._owners.append(self._owner)
                lines = lines[:keep] if newest_first else lines[-keep:]
                if all_rows is not None:
                    all_rows = all_rows[:keep] if newest_first else all_rows[-keep:]
        rows = all_rows if all_rows is not None else [split_row(ln, sep) for ln in lines]
        if keep_cols is not None and header is not None:
            if len(keep_cols) < len(header):
                gone = ", ".join(h for i, h in enumerate(header) if i not in keep_cols)
                self._drop(b, f"table columns without required facts ({gone})")
            header = tuple(header[i] for i in keep_cols)
            rows = [tuple(r[i] for i in keep_cols if i < len(r)) for r in rows]
        if not self.level.decorate and keep_cols is None and len(lines) == len(b.values):
            return b.text
        tight = self.level.decorate
        if tight:
            header = tuple(plain(c) for c in header) if header is not None else None
            rows = [tuple(plain(c) for c in r) for r in rows]
        out = []
        if sep == ",":  # CSV stays CSV: no rule line, no pipes
            out = [join_numbers(cells) for cells in ([header] if header is not None else []) + rows]
            return "\n".join(out)
        if sep == "\t":  # TSV stays TSV (an answer format written so must keep its tabs)
            return "\n".join("\t".join(cells) for cells in ([header] if header is not None else []) + rows)
        if b.sep == "|":  # `sym|px|rsi` without outer pipes or a rule line stays so (it is the shorter)
            bar = "|" if tight else " | "
            return "\n".join(bar.join(cells) for cells in ([header] if header is not None else []) + rows)
        if header is not None:
            out.append(_row(header, tight))
            out.append(_row(tuple(("-" if tight else "---") for _ in header), tight))
        out.extend(_row(r, tight) for r in rows)
        return "\n".join(out)

    def _json(self, b: Block) -> str:
        value = b.data
        if self.level.prune_json and not b.measure:  # a symbol -> price map: every value is a fact
            value = _prune(value)
            if value is None:
                self._drop(b, "JSON block without market facts or positions")
                return ""
            self._drop(b, "JSON pruned to market facts and positions", None)
        elif self.level.series is not None:
            shortened = self._shorten(value)
            if shortened != value:
                self._drop(b, "JSON arrays shortened")
            value = shortened
        return dump_json(value) if self.level.decorate or value is not b.data else b.text

    def _shorten(self, value: object) -> object:
        if isinstance(value, dict):
            return {k: self._shorten(v) for k, v in value.items()}
        if isinstance(value, list):
            keep_values, keep_rows = self.level.series, self.level.table_rows
            latest = latest_kline(value)
            if latest is not None:  # candles: the latest rows, each whole (cells mean by position)
                keep = max(keep_rows, 1) if keep_rows is not None else len(value)
                if latest == len(value) - 1:
                    return value[-keep:]
                return value[:keep] if latest == 0 else value  # newest first; or unordered: all
            values_keep = max(keep_values, 1) if keep_values is not None else None
            rows_keep = max(keep_rows, 1) if keep_rows is not None else None
            if values_keep and all(isinstance(v, Raw) for v in value) and len(value) > values_keep:
                return value[-values_keep:]
            if rows_keep and all(isinstance(v, list) for v in value) and len(value) > rows_keep:
                value = value[-rows_keep:]
            return [self._shorten(v) for v in value]
        return value

    # -- plans made before rendering ----------------------------------------------------------
    def _plan_pivots(self, texts: dict[int, str]) -> None:
        """Runs of at least two records made only of `Label: value` lines (`### Bitcoin` + bullets,
        `TSLA` + `Net Funding [HL]: ...`, `Symbol: BTC | Side: LONG` blocks) become one table with the
        labels once, when that costs fewer tokens."""
        recs = self.doc.records
        run: list[Record] = []
        for rec in [*recs, None]:
            ok = rec is not None and self._pivotable(rec)  # asked once: `_pivot` changes nothing it reads
            if rec is not None and ok and (not run or self._continues(run[-1], rec, texts)):
                run.append(rec)
                continue
            if rec is not None and run and ok and len(run) == 1:
                run = [rec]
                continue
            if len(run) >= 2:
                self._pivot(run, texts)
            run = [rec] if rec is not None and ok else []

    def _pivotable(self, rec: Record) -> bool:
        head = self.blocks[rec.start]
        if head.fmt or head.instr or head.kind is KIND_PROTECTED:
            return False
        if head.kind is not KIND_HEADING and head.core.kind is not KIND_KV:
            return False
        if head.text[:1] == "<" and head.kind is not KIND_HEADING:
            return False  # `<ticker symbol="BTC" price="1"/>`: its cells would keep quotes and `/>`
        if head.core.kind is KIND_KV and head.core.sep == "entity" and restates_a_kind(head.core):
            return False  # one RSI per timeframe: one column per name would lose which is which
        # a member this level drops (a repeated instruction line) does not stand in the way
        members = [self.blocks[k] for k in range(rec.start + 1, rec.end) if k not in self._skip]
        one_line = head.kind is not KIND_HEADING and not members and len(head.core.pairs) >= 2
        if len(members) + (head.kind is not KIND_HEADING) < 2 and not one_line:
            return False
        for m in members:
            core = m.core
            if core.kind is not KIND_KV or m.fmt or m.instr or core.instr:
                return False
            if any("|" in v for _, v in core.pairs) or core.text[:1] == "<":
                return False
        return True

    def _continues(self, prev: Record, rec: Record, texts: dict[int, str]) -> bool:
        if any(texts[k] for k in range(prev.end, rec.start)):
            return False  # something this level keeps stands between the two records
        a_keys = {norm_key(k) for k, _ in prev.pairs}
        b_keys = {norm_key(k) for k, _ in rec.pairs}
        if len(a_keys & b_keys) * 5 < len(a_keys | b_keys) * 3:
            return False  # different labels: another kind of record
        a, b = self.blocks[prev.start], self.blocks[rec.start]
        if a.kind is not b.kind or (a.core.sep == "entity") != (b.core.sep == "entity"):
            return False  # `BTC: price 1` names its row, `symbol=BTC price=1` has a column for it
        return a.kind is not KIND_HEADING or a.rank == b.rank or (a.rank >= 7 and b.rank >= 7)

    def _pivot(self, run: list[Record], texts: dict[int, str]) -> None:
        columns: dict[str, str] = {}  # normalised key -> label shown
        rows: list[dict[str, str]] = []
        names: list[str] = []
        by_heading = self.blocks[run[0].start].kind is KIND_HEADING
        by_entity = self.blocks[run[0].start].core.sep == "entity"
        for rec in run:
            head = self.blocks[rec.start]
            row: dict[str, str] = {}
            pairs = list(rec.pairs)
            for key, value in pairs:
                k = norm_key(key)
                if k in row:
                    return  # a label twice in one record: not a simple record, leave it
                if by_entity and is_list_value(value):  # an unbracketed series, as `_entity_series`
                    value = self._series_tail(value)
                    if not value:
                        continue
                columns.setdefault(k, key)  # pairs come from the undecorated line already
                row[k] = value
            rows.append(row)
            names.append(
                plain(head.label if by_heading else head.core.label) if by_heading or by_entity else ""
            )
        filled = sum(len(r) for r in rows)
        if filled * 5 < len(rows) * len(columns) * 4 or len(columns) > 14:
            return  # the records do not share their labels: a table would be mostly empty
        if self.level.kv != "all":  # minimal / emergency: the required columns only
            columns = {
                k: v for k, v in columns.items() if k in SYMBOL_KEYS or required_kind(v) or position_field(v)
            }
            if not columns:
                return
        named = by_heading or by_entity
        shown: dict[str, str] = {}
        for k, label in columns.items():
            # `$1.0 (4H Range: $0.9 - $1.1)` in every row: the labelled aside is a column of its own
            split = [_ASIDE.fullmatch(r.get(k, "")) for r in rows]
            if (
                self.level.kv == "all"  # minimal/emergency keep required columns only: no new column
                and len(rows) > 1
                and all(split)
                and len({m.group(2) for m in split if m}) == 1
            ):
                aside = f"{k}\x00aside"
                rows = [
                    {**r, k: m.group(1), aside: m.group(3)} for r, m in zip(rows, split, strict=True) if m
                ]
                shown[k] = label
                shown[aside] = split[0].group(2) if split[0] else ""
            else:
                shown[k] = label
        for k, label in list(shown.items()):  # `+0.01% / 8h`, `2.40x average` in every row: the unit once
            unit = _common_unit([r.get(k, "") for r in rows]) if self.level.kv == "all" else ""
            if unit:
                shown[k] = f"{label} ({unit.strip()})"
                rows = [{**r, k: r[k][: -len(unit)]} for r in rows]
        columns = shown
        header = (["name"] if named else []) + list(shown.values())
        lines = [_row(tuple(header), True), _row(tuple("-" for _ in header), True)]
        for name, row in zip(names, rows, strict=True):
            cells = ([name] if named else []) + [row.get(k, "") for k in columns]
            lines.append(_row(tuple(cells), True))
        table = "\n".join(lines)
        first = run[0].start
        # Cells and labels are the records' own substrings, so no number can change; the table is kept
        # only when it is shorter (characters: a token count per candidate would cost more than it saves).
        members = {i for rec in run for i in range(rec.start, rec.end)}
        before = sum(len(texts[i]) + 1 for i in members if texts[i])
        if len(table) >= before:
            return
        for i in members:
            texts[i] = ""
        texts[first] = table
        self._tables.add(first)
        # the records' own lines lost nothing (their pairs are the table), except columns left out above
        keep = [
            k
            for k, owner in enumerate(self._owners)
            if owner not in members or self.level.kv != "all" or self.dropped[k].reason.startswith("series")
        ]
        self.dropped = [  # a shortened series in a pivoted line: its cell is what is kept now
            replace(self.dropped[k], kept=None) if self._owners[k] in members else self.dropped[k]
            for k in keep
        ]
        self._owners = [self._owners[k] for k in keep]
        self._note("records pivoted into tables", len(run))

    def _plan_history(self, keep: int) -> None:
        """A series written one value per line keeps its last lines, as a bracketed series keeps its
        last values (the last line, the current value, always)."""
        for run in alike_runs(self.doc):
            if len(run) > keep:
                why = (
                    f"history: one of {len(run)} lines alike but for their numbers, "
                    f"the last {keep} kept (to line {self.blocks[run[-1]].line + 1})"
                )
                for idx in run[:-keep]:
                    self._skip.setdefault(idx, why)

    def _plan_dedupe(self, collapse: bool) -> None:
        # Identical instruction lines first: a section that differs from its twin only by a repeated
        # instruction is a twin once that line is gone (else a second pass would merge what the first
        # kept apart, and compressing twice would not give the same text).
        self._skip.update(self._duplicates())
        if collapse:
            self._plan_twins()
        same: dict[tuple[str, str], list[tuple[int, str]]] = {}  # (text, emoji) -> [(block, symbol)]
        members = {
            i for rec in self.doc.records if rec.end - rec.start > 2 for i in range(rec.start + 1, rec.end)
        }
        boiler: dict[tuple[str, str], list[tuple[int, str]]] = {}  # (masked text, emoji) -> [...]
        for idx, b in enumerate(self.blocks):
            if idx in self._skip or idx in self._replace or b.kind in (KIND_HEADING, KIND_PROTECTED):
                continue
            core = b.core
            if (
                not collapse
                or b.instr
                or b.fmt
                or not b.symbol
                or idx in self._pos
                or b.kind is KIND_SERIES  # (its values are numbers: a digit, known without a scan)
                or HAS_DIGIT.search(b.text)
            ):
                continue
            if core.kind is KIND_PROSE and symbols_in(core.text) == [b.symbol]:
                masked = _mention(b.symbol).sub("§", plain(b.text))
                boiler.setdefault((masked, _emoji(b.text)), []).append((idx, b.symbol))
            elif (
                core.kind in (KIND_PROSE, KIND_KV)
                and idx not in members
                and not any(required_kind(k) or position_field(k) for k, _ in core.pairs)
            ):
                same.setdefault((plain(b.text), _emoji(b.text)), []).append((idx, b.symbol))
        for (masked, _), items in boiler.items():
            symbols = list(dict.fromkeys(sym for _, sym in items))
            if len(symbols) < 2:
                continue
            first = items[0][0]
            self._replace[first] = masked.replace("§", ", ".join(symbols), 1).replace("§", symbols[0])
            self._drop(
                self.blocks[first], "per-symbol boilerplate collapsed into one line", self._replace[first]
            )
            for idx, _ in items[1:]:
                self._skip[idx] = f"per-symbol boilerplate collapsed into line {self.blocks[first].line + 1}"
        for (text, _), places in same.items():
            symbols = list(dict.fromkeys(sym for _, sym in places))
            if len(symbols) < 2:
                continue
            first = places[0][0]
            b = self.blocks[first]
            tag = "[" + ", ".join(symbols) + "]"
            body = plain(b.inner.text) if b.kind is KIND_BULLET and b.inner is not None else text
            self._replace[first] = f"{b.bullet} {tag} {body}" if b.kind is KIND_BULLET else f"{tag} {body}"
            self._drop(b, "line repeated for several symbols, kept once naming them", self._replace[first])
            for idx, _ in places[1:]:
                self._skip[idx] = f"same line as for another symbol, kept once at line {b.line + 1}"

    def _plan_twins(self) -> None:
        """Adjacent sections about one symbol each whose text is the same but for the symbol
        (`### FVG Analysis (ETH/USDT)` / `No unmitigated FVGs detected.`) become one section naming
        all of them."""
        heads = [i for i in self.doc.headings if i not in self._skip]
        ends = _section_ends(self.blocks, heads)
        groups: list[list[tuple[int, int, str]]] = []
        for h in heads:
            b = self.blocks[h]
            named = symbols_in(b.label)
            if len(named) != 1 or b.instr or b.fmt:
                continue
            end = ends[h]
            body = [x for k, x in enumerate(self.blocks[h + 1 : end], h + 1) if k not in self._skip]
            if not body:
                continue
            if any(
                x.core.kind is not KIND_PROSE or x.instr or HAS_DIGIT.search(x.text) or symbols_in(x.text)
                for x in body
            ):
                continue
            key = _mention(named[0]).sub("§", plain(b.text)) + "\n" + "\n".join(plain(x.text) for x in body)
            if groups and groups[-1][-1][1] == h and groups[-1][-1][2] == key:
                groups[-1].append((h, end, key))
            else:
                groups.append([(h, end, key)])
        for group in groups:
            if len(group) < 2:
                continue
            first = group[0][0]
            mentions = [
                _mention(symbols_in(self.blocks[h].label)[0]).search(plain(self.blocks[h].text))
                for h, _, _ in group
            ]
            names = ", ".join(m.group(0) for m in mentions if m)
            head = plain(self.blocks[first].text)
            m0 = mentions[0]
            if m0 is None:
                continue
            self._replace[first] = head[: m0.start()] + names + head[m0.end() :]
            self._drop(self.blocks[first], "identical per-symbol sections merged", self._replace[first])
            for h, end, _ in group[1:]:
                for k in range(h, end):
                    self._skip[k] = (
                        f"identical per-symbol section merged into line {self.blocks[first].line + 1}"
                    )

    # -- document-level passes ---------------------------------------------------------------
    def _prune_headings(self, out: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """A heading whose lines were all dropped goes too (a heading that had no lines stays: it is
        the content, e.g. `### No Open Positions`)."""
        emitted = {idx for idx, _ in out}
        heads = self.doc.headings
        ends = _section_ends(self.blocks, heads)
        for h in reversed(heads):
            if h not in emitted or h in self._replace or h in self._tables:
                continue
            end = ends[h]
            content = [k for k in range(h + 1, end) if self.blocks[k].kind is not KIND_SEPARATOR]
            if content and not any(k in emitted for k in content) and not self._names_kept(h, emitted):
                emitted.discard(h)
                self._drop(self.blocks[h], "heading whose lines were all dropped")
        return [(idx, text) for idx, text in out if idx in emitted]

    def _names_kept(self, h: int, emitted: set[int]) -> bool:
        """A heading that names the symbol of kept lines below it stays, even past its own scope (a
        `BTCUSDT:` label is the only place that says whose `Price:` follows)."""
        named = symbols_in(self.blocks[h].label)
        if len(named) != 1:
            return False
        for k in range(h + 1, len(self.blocks)):
            b = self.blocks[k]
            if b.symbol != named[0] and b.kind is not KIND_SEPARATOR:
                return False
            if k in emitted:
                return True
        return False

    def _static_first(self, out: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Sections the caller names as static (or that were seen unchanged in the previous prompt of
        the same template) move ahead of the rest, in their original order."""
        heads = self.doc.headings
        static: set[int] = set()
        for n, h in enumerate(heads):
            b = self.blocks[h]
            named = any(p.search(b.label) for p in self.static) or b.label in self.static_labels
            if not named:
                continue
            end = next((k for k in heads[n + 1 :] if self.blocks[k].rank <= b.rank), len(self.blocks))
            static.update(range(h, end))
        if not static:
            return out
        first = [item for item in out if item[0] in static]
        rest = [item for item in out if item[0] not in static]
        if out[: len(first)] != first:
            self._note("static sections moved first (not dropped)")
        return first + rest

    def _templates(self, out: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Consecutive lines alike but for a few words (one sentence per symbol) written once as a
        template with a row of values per line (`template.write`: values as written, read back exactly)."""
        blocks, n, pos, tables = self.blocks, len(self.blocks), self._pos, self._tables
        # per line: its spaces if a template may stand for it, else -1; a run is lines with as many
        # spaces (a cheap necessary condition of the same words); this runs on every prompt: inline tests
        spaces = [
            t.count(" ")
            if 0 <= idx < n
            and (b := blocks[idx]).kind in _PROSE_KINDS
            and b.core.kind in _TEMPLATE_KINDS
            and not (b.instr or b.fmt or b.core.instr)
            and len(t) >= 20
            and "\n" not in t
            and "|" not in t
            and "{" not in t
            and idx not in pos
            and idx not in tables
            else -1
            for idx, t in out
        ]
        result: list[tuple[int, str]] = []
        i = 0
        while i < len(out):
            j = i + 1
            while (
                spaces[i] >= 0
                and j < len(out)
                and spaces[j] == spaces[i]
                and not self._ends_list(out[j - 1][0], out[j][0], out[j][1])  # (a blank line kept)
            ):
                j += 1
            written = template.write([t for _, t in out[i:j]], self.count) if j - i >= 2 else None
            if written is None:
                result.extend(out[i:j])
                i = j
                continue
            result.append((out[i][0], written))
            self._note("lines alike but for their values written once as a template", j - i)
            i = j
        return result

    def _shorten_tags(self, out: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """A source tag on every line (`[HYPERLIQUID]`) becomes a short alias with one legend line."""
        counts: dict[str, int] = {}
        for idx, text in out:
            b = self.blocks[idx]
            if "[" in text and not (b.instr or b.fmt or b.kind in (KIND_PROTECTED, KIND_CODE, KIND_JSON)):
                for tag in _TAG.findall(text):
                    counts[tag] = counts.get(tag, 0) + 1
        if not any(n >= 3 for n in counts.values()):
            return out
        aliases: dict[str, str] = {}
        taken = {m for _, t in out if "[" in t for m in _SHORT_TAG.findall(t)}
        for tag, n in counts.items():
            if n < 3:
                continue
            alias = _alias(tag, taken)
            saved = n * (self.count(f"[{tag}]") - self.count(f"[{alias}]")) - self.count(f" {alias}={tag},")
            if saved > 0:
                aliases[tag] = alias
                taken.add(alias)
        if not aliases:
            return out
        legend = "Sources: " + ", ".join(f"{a}={t}" for t, a in aliases.items())
        result: list[tuple[int, str]] = []
        placed = False
        pattern = re.compile(r"\[(" + "|".join(map(re.escape, aliases)) + r")\]")
        for idx, text in out:
            b = self.blocks[idx]
            if not (b.instr or b.fmt or b.kind in (KIND_PROTECTED, KIND_CODE, KIND_JSON)) and pattern.search(
                text
            ):
                if not placed:  # before the record this line belongs to, never inside it
                    start = next((r.start for r in self.doc.records if r.start <= idx < r.end), idx)
                    at = next((n for n, (i, _) in enumerate(result) if i >= start), len(result))
                    result.insert(at, (result[at][0] if at < len(result) else idx, legend))
                    placed = True
                text = pattern.sub(lambda m: f"[{aliases[m.group(1)]}]", text)
            result.append((idx, text))
        self._note("source tags shortened", sum(counts[t] for t in aliases))
        return result


# --- helpers -----------------------------------------------------------------------------------
_WORDS = re.compile(r"[A-Za-z]{2,}")


def _two_words(text: str) -> bool:
    """At least two words of two letters or more (what `len(_WORDS.findall(text)) >= 2` says, without
    the list: a second search from where the first word ends)."""
    first = _WORDS.search(text)
    return first is not None and _WORDS.search(text, first.end()) is not None


def _emoji(text: str) -> str:
    """The pictographs of a line, in order: lines that differ only in them are not the same line."""
    return "" if text.isascii() else "".join(EMOJI_RE.findall(text))


@lru_cache(maxsize=256)
def _mention(sym: str) -> re.Pattern[str]:
    """A symbol as a prompt names it: `BTC`, `BTC/USDT`, `BTCUSDT`, `BTC-PERP`."""
    return re.compile(rf"\b{re.escape(sym)}(?:[/_-]?(?:USDT|USDC|BUSD|USD|PERP))?\b")


def _section_ends(blocks: Sequence[Block], heads: Sequence[int]) -> dict[int, int]:
    """For each heading, the index of the next heading of the same or a higher rank (or the end)."""
    ends: dict[int, int] = {}
    open_: list[int] = []
    for h in heads:
        rank = blocks[h].rank
        while open_ and blocks[open_[-1]].rank >= rank:
            ends[open_.pop()] = h
        open_.append(h)
    for h in open_:
        ends[h] = len(blocks)
    return ends


def _alias(tag: str, taken: set[str]) -> str:
    parts = [p for p in re.split(r"[_ ]+", tag) if p]
    base = "".join(p[0] for p in parts) if len(parts) > 1 else tag[:2]
    alias, n = base, 2
    while alias in taken:
        alias = f"{base[:2]}{tag[n]}" if n < len(tag) else f"{base}{n}"
        n += 1
    return alias


def _worth_keeping(sentence: str) -> bool:
    """A later sentence of a prose line that trimming keeps: it has a number, names a symbol, is an
    instruction, or is written in capitals (a title run into the line)."""
    return bool(
        HAS_DIGIT.search(sentence) or symbols_in(sentence) or sentence.isupper() or is_instruction(sentence)
    )


@lru_cache(maxsize=4096)
def _position_name(key: str, mode: str) -> str | None:
    """A position key under its short name, or None when the level drops it (keys repeat: memoised)."""
    name = _POSITION_ALIASES.get(key.lower()) or position_field(key) or key
    if _BOOKKEEPING.search(key) and name != "id":
        return None
    if mode != "compact" and name not in _POSITION_FIELDS[mode] and not (is_sl(key) or is_tp(key)):
        return None
    return name


@lru_cache(maxsize=1024)
def _series_label(label: str, shorten: bool, decorate: bool) -> str:
    """A series label as a level writes it (labels repeat every cycle: memoised)."""
    if shorten:
        label = _PERIOD.sub(r"(\1)", _FILLER.sub("", label))
    return plain(label) if decorate else label


def _series_text(label: str, values: Iterable[str], elided: bool) -> str:
    body = join_numbers(values)
    if elided:
        body = ("…, " if ", " in body else "…,") + body
    return f"{label}: [{body}]" if label else f"[{body}]"


_ASIDE = re.compile(r"(.*?\S) \((\d{0,2}[A-Za-z][\w ]{0,24}): ([^()]+)\)")
# A unit written after the value in every cell of a column: words, or `/ 8h`-like periods (never a number)
_UNIT = re.compile(r" (?:/ ?\d{0,3}[A-Za-z]{1,8}|[A-Za-z][A-Za-z.]*(?: [A-Za-z][A-Za-z.]*){0,2})")


def _common_unit(cells: list[str]) -> str:
    """The unit all cells end with (` / 8h`, ` average`, ` USD`), or "" (a cell without it, or only one
    row: nothing is saved). What stays of each cell is its value, numbers untouched."""
    if len(cells) < 2 or not all(cells):
        return ""
    tail = cells[0]
    for c in cells[1:]:
        n = 0
        while n < len(tail) and n < len(c) and tail[-1 - n] == c[-1 - n]:
            n += 1
        tail = tail[len(tail) - n :] if n else ""
        if not tail:
            return ""
    for j, ch in enumerate(tail):
        if ch == " " and _UNIT.fullmatch(tail[j:]):
            unit = tail[j:]
            if all(c[: -len(unit)].strip() and HAS_DIGIT.search(c[: -len(unit)]) for c in cells):
                return unit
            return ""
    return ""


def _row(cells: tuple[str, ...], tight: bool) -> str:
    if tight:
        return "|" + "|".join(cells) + "|"
    return "| " + " | ".join(cells) + " |"


def _numeric(rows: list[tuple[str, ...]]) -> bool:
    cells = [c for r in rows for c in r]
    return bool(cells) and sum(bool(NUMBER_RE.fullmatch(c)) for c in cells) * 2 >= len(cells)


def _prune(value: object, under_symbol: bool = False) -> object | None:
    """Keep only the market facts and positions of a JSON value."""
    if isinstance(value, dict):
        kept: dict[str, object] = {}
        is_symbol_obj = any(is_symbol_key(str(k)) for k in value)
        for key, item in value.items():
            if symbols_in(str(key)):
                sub = _prune(item, True)
                if sub is not None:
                    kept[key] = sub
            elif isinstance(item, dict | list):
                sub = _prune(item, under_symbol or is_symbol_obj)
                if sub is not None:
                    kept[key] = sub
            elif is_symbol_key(str(key)) or (
                (under_symbol or is_symbol_obj) and (required_kind(str(key)) or position_field(str(key)))
            ):
                kept[key] = item
        meaningful = [k for k in kept if not is_symbol_key(str(k))]
        return kept if meaningful else None
    if isinstance(value, list):
        latest = latest_kline(value)
        if latest is not None:
            return [value[latest]]  # the current candle, whole: its cells mean by position
        items = [p for p in (_prune(v, under_symbol) for v in value) if p is not None]
        return items or None
    return None
