"""Split any text prompt into typed blocks (headings, key/value lines, series, tables, positions...).

The compressor never needs to understand a prompt's wording, only its shape: markdown or plain-text
sections, `key = value` and `key: value` lines (also several on one line, `Side: LONG | Qty: 0.05`),
bullet lists, tables, JSON blocks, numeric series and prose are what LLM trading prompts are made of,
whoever wrote them. Every block keeps its original substrings and its line number, so a renderer can only
select or drop text, never rewrite a number, and can say line by line what it dropped.

Each block also carries what must never be lost: whether it is an instruction (imperatives such as MUST,
NEVER, DO NOT, ALWAYS, IMPORTANT, a line in a RULES-like section, or a user pattern) and whether it belongs
to the answer-format section (a RESPONSE/OUTPUT FORMAT heading, or a JSON example with `signal`-like keys).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import cast

from pytest_oxbot.compressor import template
from pytest_oxbot.compressor.text import (
    HAS_DIGIT,
    MENTION_RE,
    NUMBER_RE,
    collapse_spaces,
    current_prompt_symbols,
    join_numbers,
    number_as_written,
    plain,
    strip_emoji,
    symbols_in,
)


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
    PROTECTED = "protected"


# The kinds again as module constants, for the code that tests the kind of every block (parse, context,
# records, the renderer): in Python 3.11 each `Kind.X` goes through the enum metaclass's `__getattr__`
# hook, ~15x the cost of a global (3.12 dropped the hook); the ~3,800 of them in a compression were ~8 %
# of its instructions.
KIND_SEPARATOR, KIND_HEADING, KIND_TABLE, KIND_SERIES = Kind.SEPARATOR, Kind.HEADING, Kind.TABLE, Kind.SERIES
KIND_KV, KIND_POSITION, KIND_BULLET, KIND_JSON = Kind.KV, Kind.POSITION, Kind.BULLET, Kind.JSON
KIND_CODE, KIND_PROSE, KIND_PROTECTED = Kind.CODE, Kind.PROSE, Kind.PROTECTED


class Raw(str):
    """A JSON number kept as its source text."""


@dataclass(slots=True)
class Block:
    """One unit of a prompt with the parsed view its renderer needs."""

    kind: Kind
    text: str
    line: int = 0  # 0-based index of its first line in the prompt
    nlines: int = 1
    indent: int = 0
    blank_before: bool = False
    symbol: str | None = None
    rank: int = 9  # headings: 1-6 markdown/setext, 7 plain title, 8 label or entity line
    label: str = ""
    values: tuple[str, ...] = ()
    elided: bool = False
    pairs: tuple[tuple[str, str], ...] = ()
    header: tuple[str, ...] | None = None
    data: object = None
    bullet: str = ""
    inner: Block | None = None
    sep: str = ""  # kv lines: "=" or ":"
    instr: bool = False  # an instruction: never dropped in standard and analysis
    fmt: bool = False  # part of the answer-format section
    section: int = 0  # index of the top-level (rank <= 7) section it belongs to
    measure: str = ""  # JSON `{"BTC": 91234.5, ...}` under a label naming it (`Current Prices:`): "price"
    lead: str = ""  # JSON after a label on its line (`Tickers: {...}`): the label, written back before it
    # the block a bullet wraps, or the block itself (an attribute: it is read in every pass)
    core: Block = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # (`inner` first: most blocks have none, and a `Kind.X` lookup costs more than the test)
        self.core = self.inner if self.inner is not None and self.kind is KIND_BULLET else self


@dataclass(slots=True)
class Doc:
    """A parsed prompt: its blocks in order and what the renderers need to know about them."""

    text: str
    lines: list[str]
    blocks: list[Block]
    answer_keys: tuple[str, ...] = ()
    headings: list[int] = field(default_factory=list)  # indexes of heading blocks
    records: list[Record] = field(default_factory=list)  # entity records, in order
    carrying: set[int] | None = None  # ids of series that alone give a symbol's price or RSI (lazy)
    runs: list[range] | None = None  # blocks of each run of lines alike but for their numbers (lazy)
    seen: Seen | None = None  # data lines classified, for a re-parse (`parse`)


# --- what never goes -------------------------------------------------------------------------------
_INSTR_WORDS = re.compile(
    r"(?i)\b(?:must|mustn'?t|never|do not|don'?t|always|important|mandatory|required|requires?|critical|"
    r"only|avoid|should|shall|ensure|make sure|forbidden|prohibited|not allowed|no exceptions?|strictly|"
    r"exactly|warning|remember|reject)\b"
)
_YOU = re.compile(r"(?i)^(?:you are|you're|you will|you can|your (?:task|goal|job|role|objective|mission))\b")
IMPERATIVES = frozenset(
    [
        "analyze",
        "analyse",
        "answer",
        "respond",
        "reply",
        "return",
        "output",
        "provide",
        "include",
        "use",
        "consider",
        "decide",
        "prefer",
        "keep",
        "set",
        "place",
        "do",
        "avoid",
        "ensure",
        "check",
        "review",
        "evaluate",
        "look",
        "trade",
        "open",
        "close",
        "hold",
        "buy",
        "sell",
        "wait",
        "move",
        "give",
        "explain",
        "think",
        "reason",
        "base",
        "follow",
        "focus",
        "apply",
        "treat",
        "assume",
        "limit",
        "calculate",
        "compute",
        "show",
        "list",
        "write",
        "add",
        "make",
        "be",
        "stay",
        "exit",
        "enter",
        "take",
        "let",
        "trust",
        "remember",
        "note",
        "verify",
        "report",
        "choose",
        "select",
        "identify",
        "determine",
        "compare",
        "monitor",
        "protect",
        "reduce",
        "increase",
        "specify",
        "fill",
        "copy",
        "adapt",
        "skip",
        "ignore",
        "stop",
        "cancel",
        "prioritize",
        "prioritise",
        "read",
        "act",
        "aim",
        "size",
        "scale",
        "cut",
        "lower",
        "raise",
        "respect",
        "never",
        "always",
        "only",
        "go",
    ]
)
_LEAD = re.compile(r"^[\s\-*+•>#\d.)(\[\]|→➜▶►:]*")
_INSTR_HEADING = re.compile(
    r"(?i)\b(?:rules?|instructions?|guidelines?|constraints?|requirements?|framework|criteria|policy|"
    r"guidance|checklist|procedure|chain[ _-]?of[ _-]?thought|how to|strategy|steps?|system prompt|"
    r"task|objective|reminders?|warnings?|"
    r"reglas|regras|règles|regeln|regole|instrucciones|instruções|consignes|anweisungen|istruzioni|"
    r"restricciones|restrições|contraintes|requisitos|exigences|estrategia|estratégia|stratégie|"
    r"strategie|strategia)\b"
)
FORMAT_HEADING = re.compile(
    r"(?i)\b(?:response|respond|output|answer|reply|return|result|decision)s?\b.{0,24}\b(?:format|schema|structure|"
    r"template|json|spec(?:ification)?|fields?|keys|properties)\b|\b(?:json|yaml|toml)\s+(?:format|schema|output|structure|example|"
    r"template|response)\b|\bformat\b.{0,16}\b(?:response|output|answer|reply)\b"
    r"|^\W*(?:your\s+|expected\s+|final\s+)?(?:answer|response|reply|output)\W*$"  # `## Answer`, `# Output`
    r"|\b(?:reply|respond|answer)\s+(?:only\s+)?(?:in|with|as)\s+(?:json|yaml|toml|csv)\b"
    r"|\b(?:formato|format)\s+(?:de\s+|da\s+|do\s+|di\s+|della\s+)?(?:la\s+|l')?"
    r"(?:respuesta|resposta|réponse|risposta|salida|saída|sortie|uscita)\b|\b(?:antwort|ausgabe)format\b"
    r"|(?:输出|輸出|返回|回复|回覆|响应|響應|回答|决策|決策)(?:格式|要求|结构|結構)"
    r"|формат\s+(?:ответа|вывода)|出力形式|回答形式|출력\s?형식|응답\s?형식"  # ru, ja, ko
    # the tools the model answers by calling: their definitions are the answer's contract
    r"|^\W*(?:available\s+)?(?:tools?|functions?)(?:\s+(?:available|definitions?|schemas?))?\W*$"
    r"|\b(?:tool|function)[ _-]?call(?:s|ing)?\b"
)
# Keys whose values are the decision itself: their allowed values are the answer contract.
SIGNAL_KEYS = frozenset(
    {"signal", "action", "decision", "recommendation", "side", "direction", "trade_signal", "verdict"}
)


_INSTR_SINGLE = frozenset(
    [
        "must",
        "mustn't",
        "never",
        "always",
        "important",
        "mandatory",
        "required",
        "require",
        "requires",
        "critical",
        "only",
        "avoid",
        "should",
        "shall",
        "ensure",
        "forbidden",
        "prohibited",
        "strictly",
        "exactly",
        "warning",
        "remember",
        "reject",
        "don't",
    ]
)
# The same, in the languages bot prompts are most often written in besides English (es, pt, fr, de, it):
# words too short or too common to be a sign (`mai`, `nie`, `no`) are left out.
_OTHER_LANGUAGE_KEYWORDS = """
    nunca siempre debe debes deben obligatorio obligatoria importante prohibido prohibida evita evitar
    sempre obrigatório obrigatória proibido proibida evite
    jamais toujours doit doivent devez obligatoire interdit interdite évitez
    niemals immer muss musst müssen wichtig verboten pflicht vermeide
    devi devono obbligatorio vietato evitare
    никогда всегда должен должна должны обязательно обязан важно запрещено нельзя строго избегай необходимо
"""
_OTHER_LANGUAGE_IMPERATIVES = """
    analiza analice responde responda usa utiliza decide mantén mantenga considera devuelve
    analise use mantenha decida retorne
    analysez analyse répondez utilisez décidez gardez considérez renvoyez
    analysiere antworte verwende entscheide halte berücksichtige gib
    analizza rispondi utilizza decidi mantieni restituisci
    анализируй проанализируй отвечай ответь используй учитывай верни ставь выбери оцени
"""
_INSTR_SINGLE |= frozenset(_OTHER_LANGUAGE_KEYWORDS.split())
IMPERATIVES |= frozenset(_OTHER_LANGUAGE_IMPERATIVES.split())
_INSTR_PHRASES = ("do not", "make sure", "not allowed", "no exception")
# Chinese (simplified and traditional) writes no spaces between words: its instruction words are found
# as substrings. must, do not, forbidden, be sure to, never, strictly forbidden, may not, cannot,
# important, note, only, always, absolutely not
_CJK_INSTRUCTION = re.compile(
    "必须|必須|不要|禁止|务必|務必|切勿|严禁|嚴禁|不得|不能|不可|重要|注意|只能|只允许|只允許|永远|永遠|"
    "一定要|绝不|絕不|绝对不|絕對不|"
    "必ず|絶対|してください|しないで|禁止|반드시|절대|금지|하지 마|마십시오|하십시오"  # ja, ko
)
_TOKENS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")  # words in any alphabet: `más` is one word
_ASCII_TOKENS = re.compile(r"[a-z]+(?:'[a-z]+)?")  # the same for ASCII text, faster
# the same two without an apostrophe in the text: its words are the runs of letters (~20 % faster)
_LETTER_RUNS = re.compile(r"[^\W\d_]+")
_ASCII_LETTER_RUNS = re.compile(r"[a-z]+")
_FIRST_WORD = re.compile(r"[\s\-*+•>#\d.)(\[\]|→➜▶►:`]*([a-z']+)")
_NON_ASCII_WORD_CHAR = re.compile(r"[^\W\x00-\x7f]")  # a letter or digit beyond ASCII
_FIRST_WORD_ANY = re.compile(r"[\s\-*+•>#\d.)(\[\]|→➜▶►:`]*((?:[^\W\d_]|')+)")  # any alphabet: `mantén`


def instruction_signals(text: str) -> tuple[bool, str]:
    """(has an instruction keyword, the first word) of a line: one lower-casing, one word scan."""
    ascii_only = text.isascii()
    low = text.lower() if ascii_only else strip_emoji(text).lower()
    # ASCII letters only (`20‑Period EMA`, `oldest → latest`: dashes, arrows, quotes beyond ASCII): the
    # ASCII scans, ~2x faster, find the same words (lower-cased, a word is [a-z]) and no CJK keyword
    ascii_words = ascii_only or _NON_ASCII_WORD_CHAR.search(low) is None
    if "'" in low:
        words = (_ASCII_TOKENS if ascii_words else _TOKENS).findall(low)
    else:
        words = (_ASCII_LETTER_RUNS if ascii_words else _LETTER_RUNS).findall(low)
    keyword = (
        not _INSTR_SINGLE.isdisjoint(words)
        or (("not" in words or "no" in words or "sure" in words) and any(p in low for p in _INSTR_PHRASES))
        or (not ascii_words and _CJK_INSTRUCTION.search(low) is not None)
    )
    if not ascii_only:
        low = low.replace("\u2019", "'")  # `N’utilisez pas`: a typographic apostrophe
    m = (_FIRST_WORD if ascii_words else _FIRST_WORD_ANY).match(low)
    first = m.group(1) if m else ""
    # `Не копируй ...`, `Não use ...`, `Ne copiez pas ...`, `N'utilisez pas`, `Non copiare ...`: a
    # prohibition, in languages that start one with their "not". English "no" starts data as often ("No
    # clear trend.", "No trades"): a Spanish one is known by its verb (`No copies ...`, `No abras ...`).
    prohibition = (
        first in _NEGATION_FIRST
        or first.startswith("n'")
        or (first == "no" and len(words) > 1 and words[0] == "no" and words[1] in _SPANISH_PROHIBITIONS)
        or (first in ("no", "nothing") and _limits_the_answer(words))
    )
    return keyword or prohibition, first


# `No other text.`, `No commentary.`, `Nothing else.`: a limit on the answer (what a model must not add),
# unlike data that starts with "no" (`No clear trend.`, `No other positions open.`)
_ANSWER_EXTRAS = frozenset(
    {"text", "words", "commentary", "comments", "comment", "explanation", "explanations", "prose"}
    | {"markdown", "preamble", "output", "reasoning", "notes", "fences"}
)


def _limits_the_answer(words: list[str]) -> bool:
    if len(words) < 2 or len(words) > 8:
        return False
    if words[0] == "nothing":
        return words[1] == "else"
    if words[1] in ("other", "extra", "additional", "further"):
        return len(words) > 2 and words[2] in _ANSWER_EXTRAS
    return words[1] in _ANSWER_EXTRAS


_NEGATION_FIRST = frozenset({"не", "нельзя", "não", "ne", "non", "n'"})
# Spanish verbs bots forbid, in the forms "no" takes before them (tú, usted, ustedes): `No copies`, `No abra`
_SPANISH_FORBIDDEN_VERBS = """
    copies uses abras operes cierres compres vendas ignores inventes cambies añadas incluyas pongas hagas
    dejes entres mantengas arriesgues excedas superes repitas devuelvas escribas modifiques asumas persigas
    apliques recomiendes olvides utilices agregues respondas tomes sigas
    copie abra opere cierre compre venda invente cambie añada incluya ponga haga deje mantenga arriesgue
    exceda supere repita devuelva escriba modifique asuma persiga aplique recomiende olvide utilice agregue
    responda tome
    copien usen abran operen cierren compren vendan inventen cambien incluyan pongan hagan dejen mantengan
    excedan superen repitan devuelvan escriban modifiquen asuman utilicen
"""
_SPANISH_PROHIBITIONS = frozenset(_SPANISH_FORBIDDEN_VERBS.split())


def has_instruction_word(text: str) -> bool:
    """MUST, NEVER, DO NOT, ALWAYS, IMPORTANT, MANDATORY, REQUIRED, ..."""
    return instruction_signals(text)[0]


def is_instruction(text: str, patterns: Sequence[re.Pattern[str]] = ()) -> bool:
    """An imperative line: a keyword (MUST, NEVER, DO NOT, ALWAYS, IMPORTANT, ...), an imperative verb
    first, a role statement ("You are ..."), or a user-declared pattern."""
    keyword, first = instruction_signals(text)
    if keyword or first in IMPERATIVES:
        return True
    if _YOU.match(_LEAD.sub("", text.replace("*", ""), count=1)):
        return True
    return any(p.search(text) for p in patterns)


@lru_cache(maxsize=4096)
def _instruction_label(label: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    """`is_instruction` of a series label (labels repeat every cycle: memoised)."""
    return is_instruction(label, patterns)


# --- line shapes -----------------------------------------------------------------------------------
_SEPARATOR = re.compile(r"^(?:[-=_*~─━═—–·•]\s?){3,}$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
# a line that is only an opening (attributes allowed: `<asset symbol="BTC">`) or closing tag
_TAG_LINE = re.compile(r"^<(/?)([A-Za-z][\w-]{0,40})((?:\s+[\w:-]+=(?:\"[^\"<>]*\"|'[^'<>]*'))*)\s*>$")
_XML_VALUE = re.compile(r"^<([A-Za-z_][\w.-]{0,40})>([^<>]*)</\1>$")  # `<price>114,392.7</price>`
_BULLET = re.compile(r"^([-*+•]|\d{1,3}[.)]|[a-z][.)]|->|→)\s+(.*)$")
# (possessive throughout: what follows a number is never a digit, so giving one back never helps, and
# the engine keeps no backtracking state per value: a series line is ~20 % cheaper to match)
_NUM = r"[-+]?+(?:\d++(?:\.\d++)?+|\.\d++)(?:[eE][-+]?+\d++)?+"
_SERIES_CHARS = re.compile(r"[-+0-9.eE,\s]+")
_SERIES_BODY = re.compile(rf"\s*+{_NUM}(?:\s*+,\s*+{_NUM})*+\s*+,?")  # possessive: linear time
_COMMA_DIGIT = re.compile(r",\d")
_COMMA_VALUE = re.compile(r"[-+]?(?:\d+(?:\.\d{3})*(?:,\d+)?|\d{1,3}(?:,\d{3})*(?:\.\d+)?)")
_TERMINAL = (".", "!", "?", "。", "！", "？", "、", "，", "；")


def _terminal(text: str) -> bool:
    """Ends with a sentence's end mark, as `[.!?。！？、，；]$` finds (`$`: before a final newline too); two
    `endswith`, not a regex search tried at every position."""
    return text.endswith(_TERMINAL) or (text[-1:] == "\n" and text[:-1].endswith(_TERMINAL))


_HAS_CJK_TEXT = re.compile("[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")  # kana, ideographs, hangul
_NUMERIC_START = frozenset("0123456789+-−$€£¥₿~≈.")
_PARENS = re.compile(r"\([^)]*\)")


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
    if not _SERIES_BODY.fullmatch(body):
        return None
    if ", " in body and _COMMA_DIGIT.search(body):
        # `[89.100,00, 89.950,25]`: commas glued to digits and commas before a space; the values are what
        # the spaced commas separate (a decimal comma, or `[1,234, 5,678]`), each kept whole, never cut
        values = [v.strip() for v in body.split(", ")]
        if not all(_COMMA_VALUE.fullmatch(v) for v in values[:-1]) or not _COMMA_VALUE.fullmatch(
            values[-1].rstrip(",")
        ):
            return None
        values[-1] = values[-1].rstrip(",")
    else:
        values = "".join(body.split()).split(",")  # (no value has a space inside: the blanks go at once)
    if not values[-1]:
        values.pop()
    label = line[:start].rstrip(":= ").strip()
    if len(values) < (1 if label else 3):  # a bare short list is more likely JSON than a series
        return None
    return _SeriesMatch(label, tuple(values), elided)


# `key = value[, key = value]` (numbers keep their thousands separators: never split at "1,234")
# (`,(?!\d{3}(?!\d))\s*(?=[^,=\[\]]+=)|\s+(?=[A-Za-z_][\w.]*=)` written to start with a character set,
# each branch looking behind at which one it took: the same splits, but the regex engine skips to the
# commas and blanks instead of trying every position, 2.6 -> 1.2 us on a 100-char line)
_EQ_SPLIT = re.compile(r"[\s,](?:(?<=,)(?!\d{3}(?!\d))\s*(?=[^,=\[\]]+=)|(?<=\s)\s*(?=[A-Za-z_][\w.]*=))")
_EQ_KEY = re.compile(r"^[A-Za-z_][\w .()\-‑/%]{0,40}$")
# `Label: value` pairs, several per line when separated by | ; -> → or a comma before the next label
_CJK = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"  # kana, CJK ideographs, hangul
_LABEL_FULL = re.compile(  # (`24h Volume`; `1000PEPEUSDT`, a base quoted per thousand units)
    rf"(?:\d{{1,3}}[A-Za-z]{{1,2}} ?|1000(?=[A-Z])|1M(?=[A-Z]{{2}}))?"
    rf"[A-Za-z_(\[{_CJK}][\w .()\[\]/&%+\-‑'’]{{0,48}}"
)
_QUALIFIER_COMMA = re.compile(r",(?=[^(),:]{0,12}\))")  # `RSI(14, 1h)`: a comma inside a qualifier


def _is_label(text: str) -> bool:
    return _LABEL_FULL.fullmatch(text) is not None or (
        "," in text and "(" in text and _LABEL_FULL.fullmatch(_QUALIFIER_COMMA.sub(" ", text)) is not None
    )


_SEP = re.compile(r"\s*(?:\||;|->|→|,)\s*")  # (`_split_pairs` tests for these marks before it scans)
# key: value pairs inside dict-like or `k=v` lines (the value regex consumes quoted strings whole)
PAIR_RE = re.compile(
    r"""(?<![\w'"])['"]?(?P<key>[A-Za-z_][A-Za-z0-9_]*+)['"]?\s*+[:=]\s*+"""
    r"""(?P<value>'[^']*+'|"[^"]*+"|[^\s,{}\[\]'"=]++(?:,\d{3}(?!\d)[^\s,{}\[\]'"=]*+)*+(?![=\w]))"""
)
# (ccxt's `stopLossPrice`, `takeProfitPrice`: the level's price is the level)
_SL_KEY = re.compile(  # (OKX `slTriggerPx`)
    r"^(?:stop[_ -]?loss|sl|stop|stop[_ -]?price|stoploss)(?: price| px| trigger(?: price| px)?)?$", re.I
)
_TP_KEY = re.compile(
    r"^(?:take[_ -]?profit|profit[_ -]?target|tp|targets?|target[_ -]?price|takeprofit)"
    r"(?: ?\d)?(?: price| px| trigger(?: price| px)?)?$",
    re.I,
)
SYMBOL_KEYS = frozenset(
    {"symbol", "sym", "coin", "pair", "asset", "ticker", "instrument", "market", "name", "token"}
)
_DECODER = json.JSONDecoder(parse_float=Raw, parse_int=Raw, parse_constant=Raw)

# ... and the same words in the other languages bot prompts are written in (es, fr, de, it, pt, ru)
PRICE_KEY = re.compile(
    r"\b(?:prices?|px|last|close|marks?|precio|prix|cours|preis|kurs|prezzo|preço|цена|курс)\b"
    r"|^current(?: rate)?$"
)
_CJK_PRICE_KEY = re.compile(
    "价格|價格|现价|現價|最新价|最新價|收盘价|收盤價|価格|現在値|終値|가격|현재가|종가"
)  # searched in non-ASCII keys only
RSI_KEY = re.compile(r"\brsi")
TREND_KEY = re.compile(
    r"^(?:[\w()-]+ )?(?:trend|bias|regime|tendencia|tendance|tendenza|tendência|тренд)(?: \S+)?$"
)
_CJK_TREND_KEY = re.compile(r"\w{0,4}(?:趋势|趨勢|トレンド|추세|트렌드)")
_NOT_TREND = re.compile(r"\b(?:oi|open interest|volume|vol|funding)\b")


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z][a-z])")  # `entryPrice` -> `entry Price`


@lru_cache(maxsize=4096)
def norm_key(key: str) -> str:
    """A key as the fact rules see it: lower case, no markup, underscores and camelCase as spaces."""
    spaced = _CAMEL.sub(" ", plain(key).replace("_", " "))
    return re.sub(r"\s+", " ", spaced.lower()).strip(" :")


@lru_cache(maxsize=4096)
def is_sl(key: str) -> bool:
    return bool(_SL_KEY.match(norm_key(key).strip("'\" ")))


@lru_cache(maxsize=4096)
def is_tp(key: str) -> bool:
    return bool(_TP_KEY.match(norm_key(key).strip("'\" ")))


@lru_cache(maxsize=4096)
def required_kind(key: str) -> str | None:
    """Which required market fact a key names: price, rsi, trend, or none."""
    k = norm_key(key)
    if "(" in k:  # `trend (ema 50 vs ema 200)`, `rsi(14, 1h)`: the qualifier is not the name
        k = _PARENS.sub(" ", k).strip() or k
    if RSI_KEY.search(k):
        return "rsi"
    cjk = not k.isascii()
    if (TREND_KEY.search(k) or (cjk and _CJK_TREND_KEY.fullmatch(k))) and not _NOT_TREND.search(k):
        return "trend"
    if (PRICE_KEY.search(k) or (cjk and _CJK_PRICE_KEY.search(k))) and not re.search(
        r"\b(?:entry|liquidation|liq|avg|average|targets?|stop|change|ema\w*|sma\w*|vwap|range|volume|value|"
        r"account|status|positions?|capital|time|funding|interest|take|profit|loss|tp|sl|"
        r"entrada|entrée|einstieg\w*|входа|"
        r"стоп\w*|тейк\w*|ликвидац\w*|средн\w*|цел\w*)\b"
        r"|入场|入場|开仓|開倉|止损|止損|止盈|强平|強平|均价|均價|平均|目标|目標|涨跌|漲跌|建値|損切|利確|진입|손절|익절",
        k,
    ):
        return "price"
    return None


_KEY_UNIT = re.compile(r"\s*\((?:[a-z]{1,5}|[$€£¥%])\)$")


@lru_cache(maxsize=4096)
def position_field(key: str) -> str | None:
    """Which position fact a key names: id, side, qty, entry, sl, tp, pnl (or None); a unit in
    parentheses is not part of the name (`unrealized P&L (USDT)`, `entry ($)`)."""
    k = _KEY_UNIT.sub("", norm_key(key).strip("'\" "))
    if is_sl(k):
        return "sl"
    if is_tp(k):
        return "tp"
    if re.fullmatch(r"side|direction|pos(?:ition)? side|dir", k):  # (OKX `posSide`)
        return "side"
    # exchanges' own names: Binance `positionAmt` (signed), OKX `pos`, Hyperliquid `szi` (signed)
    if re.fullmatch(r"qty|quantity|size|amount|contracts|position size|units|szi|position amt|pos", k):
        return "qty"
    if k in ("long", "short"):  # ai-hedge-fund's `{"BTC": {"long": 0.35, "long_cost_basis": ...}}`
        return "qty"
    if re.fullmatch(r"(?:long |short )?cost basis|(?:avg|average) cost", k):
        return "entry"
    # Bybit `avgPrice`, OKX `avgPx`, Alpaca `avg_entry_price`
    if re.fullmatch(
        r"entry(?: zone| range| price| px)?|(?:avg|average) (?:entry(?: price)?|price|px)|open price", k
    ):
        return "entry"
    # Binance `unRealizedProfit`, Bybit `unrealisedPnl`, Alpaca `unrealized_pl`, OKX `upl`
    if re.fullmatch(r"(?:un ?reali[sz]ed |u ?)?(?:pnl|p&l|p/l|pl|profit)(?: usd)?|upnl|upl", k):
        return "pnl"
    if re.fullmatch(r"open rate|entry rate", k):  # freqtrade's `/status`
        return "entry"
    if re.fullmatch(r"(?:trade|position|ticket) (?:id|no|#)|id|ticket", k):
        return "id"  # what the answer names the position by (`{"123": "keep|exit"}`): not bookkeeping
    for field_name, words in _OTHER_FIELDS:
        if words.fullmatch(k):
            return field_name
    return None


# Position field names in the other languages bot prompts are written in (ru, zh, ja, ko, es, fr, de).
_OTHER_FIELDS = tuple(
    (name, re.compile(words))
    for name, words in (
        (
            "sl",
            r"стоп(?:[- ]?лосс)?|止损价?|止損價?|損切り?|ストップロス|손절(?:가)?|stop de pérdida"
            r"|verlustbegrenzung",
        ),
        (
            "tp",
            r"тейк(?:[- ]?профит)?|止盈价?|止盈價?|利確|利益確定|익절(?:가)?|toma de ganancias"
            r"|(?:kurs)?ziel|gewinnziel",
        ),
        ("side", r"направление|сторона|方向|방향|lado|dirección|sens|richtung"),
        ("qty", r"количество|размер(?: позиции)?|数量|數量|수량|cantidad|quantité|menge"),
        (
            "entry",
            r"вход|цена входа|入场价?|入場價?|开仓价|開倉價|建値|진입가|entrada|precio de entrada|"
            r"prix d'entrée|einstieg(?:spreis)?",
        ),
        ("pnl", r"прибыль|pnl|盈亏|盈虧|損益|含み損益|손익|guv|g ?u ?v|gewinn(?:/| und )verlust"),
    )
)


# --- block parsers ---------------------------------------------------------------------------------


_POSITION_HEAD = re.compile(r"^[-*•\s]*([\w:/.-]{2,24}?):\s+(?=[A-Za-z_]\w*=)")


def _position(text: str) -> Block | None:
    """A one-line position: a Python/JSON dict or `SYM: k=v ...` with a stop loss and a take profit, or a
    side with an entry or a quantity (as a record of lines is: `- BTC: side=Long qty=0.1 entry=1 sl=2`)."""
    low = text.lower()
    if not (
        # (chained `in` tests, not a genexpr: this runs on every dict or `k=v` line)
        (
            ("stop" in low or "sl" in low)
            and ("tp" in low or "take" in low or "profit" in low or "target" in low)
        )
        or ("side" in low and ("entry" in low or "qty" in low))
    ):
        return None
    head = ""
    m = _POSITION_HEAD.match(text)  # `- xyz:NVDA: qty=1 ...`: the entity before the first pair
    if m and text[:1] != "{":
        head, text_pairs = m.group(1), text[m.end() :]
    else:
        text_pairs = text
    pairs: tuple[tuple[str, str], ...] = tuple(PAIR_RE.findall(text_pairs))  # (its two groups: key, value)
    # Jesse's `type=long`: the side (keys are ASCII: a `type` key puts "type" in `low`)
    if "type" in low and any(k.lower() == "type" for k, _ in pairs):
        pairs = tuple(
            ("side", v) if k.lower() == "type" and _SIDE_VALUE.fullmatch(v) else (k, v) for k, v in pairs
        )
    fields = {position_field(k) for k, _ in pairs}
    if not ({"sl", "tp"} <= fields or ("side" in fields and bool(fields & {"entry", "qty"}))):
        return None
    # the symbol key's value, and the pairs but for symbol keys: one pass over the pairs (a dict line
    # holds ~17), not a genexpr for each
    symbol: str | None = None
    kept_pairs: list[tuple[str, str]] = []
    for pair in pairs:
        if pair[0].lower() in SYMBOL_KEYS:
            if symbol is None:
                symbol = pair[1].strip("'\"")
        else:
            kept_pairs.append(pair)
    if symbol is None:
        found = symbols_in(head) or symbols_in(text)
        # (`position: type=long ...` under `symbol: BTC-USDT`: no symbol of its own, the context's is it)
        symbol = found[0] if found else (head if norm_key(head) not in _GENERIC_HEADS else None)
    if symbol is not None:
        base = symbols_in(symbol)
        symbol = base[0] if base else symbol
    return Block(Kind.POSITION, text, symbol=symbol, pairs=tuple(kept_pairs), label=head)


_SIDE_VALUE = re.compile(r"""["']?(?:long|short|LONG|SHORT|Long|Short)["']?""")
_GENERIC_HEADS = frozenset({"", "position", "pos", "trade", "open position", "current position"})


def split_pairs(text: str) -> tuple[tuple[str, str], ...] | None:
    """`Label: value` pairs of a line (`Side: LONG | Qty: 0.05`, `Entry: $1 -> Current: $2`), or None
    when the line does not start with a label. (String scans, not one big regex: this runs on every line.)"""
    return _split_pairs(plain(text))


def _split_pairs(body: str) -> tuple[tuple[str, str], ...] | None:
    colon = body.find(":")
    if colon <= 0 or not _is_label(body[:colon].rstrip()) or body[colon + 1 : colon + 3] == "//":
        return None
    if _in_number(body, colon):
        return None  # `BTC 1m close 90963.44 at 14:00`: a time (or a ratio), not `key: value`
    starts = [(0, body[:colon].strip(), colon + 1)]  # (start, key, value start)
    # (one colon, one pair; no separator after it (`Latest: 1  Average: 2`), no pair after it: either way
    # no `_SEP` scan, which is tried at every position)
    rest = body[colon + 1 :]
    further = ":" in rest and ("," in rest or "|" in rest or ";" in rest or "->" in rest or "→" in rest)
    for sep in _SEP.finditer(body, colon + 1) if further else ():
        nxt = body.find(":", sep.end())
        if nxt < 0:
            break
        key = body[sep.end() : nxt].rstrip()
        if (
            key
            and not _in_number(body, nxt)
            and body[nxt + 1 : nxt + 3] != "//"  # `https://`: a link, not `key: value`
            and _is_label(key)
            and sep.start() >= starts[-1][2]
            and _balanced(body[: sep.start()])
        ):
            starts.append((sep.start(), key, nxt + 1))
    pairs: list[tuple[str, str]] = []
    for i, (_, key, vstart) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(body)
        value = body[vstart:end].strip()
        if i and not value:  # "Label: Label: value" nests: keep it as one value of the first label
            return ((starts[0][1], body[starts[0][2] :].strip()),)
        pairs.append((key, value))
    if len(pairs) > 1 and any(not v for _, v in pairs):
        return ((starts[0][1], body[starts[0][2] :].strip()),)
    return tuple(pairs)


def _in_number(text: str, at: int) -> bool:
    """The character at `at` sits between two digits (`14:00`, `1:2`)."""
    return 0 < at < len(text) - 1 and text[at - 1].isdigit() and text[at + 1].isdigit()


def _balanced(text: str) -> bool:
    """No bracket or quote left open: a separator inside `(...)` does not start a new pair."""
    return (
        text.count("(") == text.count(")")
        and text.count("[") == text.count("]")
        and text.count('"') % 2 == 0
        and text.count("“") == text.count("”")
    )


def _kv(text: str, body: str) -> Block | None:
    """A `key = value` / `Label: value` line (`body` is the text without decoration)."""
    if "=" in body and not body.startswith("{") and ":" not in body.split("=", 1)[0]:
        pieces = _EQ_SPLIT.split(body)
        pairs: list[tuple[str, str]] = []
        label = ""
        if len(pieces) > 2 and "=" not in pieces[0]:
            label = pieces.pop(0).strip()  # `[BINANCE] BTCUSDT price=1 rsi=2`: an entity, then pairs
        for piece in pieces:
            key, eq, value = piece.partition("=")
            key, value = key.strip(), value.strip()
            if not eq or not value or "=" in value or not _EQ_KEY.match(key) or len(key.split()) > 5:
                pairs = []
                break
            pairs.append((key, value))
        if pairs:
            return Block(KIND_KV, text, pairs=tuple(pairs), sep="=", label=label)
    if "：" in body:  # the full-width colon of Chinese and Japanese text: one character, as `:` is
        body = body.replace("：", ":")
    if ":" not in body:
        return None
    pairs2 = _split_pairs(body)
    if not pairs2:
        return None
    key, value = pairs2[0]
    if len(key.split()) > 6 or not value:
        return None
    if len(pairs2) == 1 and len(value.split()) > 12 and len(NUMBER_RE.findall(value)) < 2:
        return None  # a sentence behind a label is prose, not data
    if len(pairs2) == 1 and _sentence_about_a_symbol(key, value):
        return None  # `Session recap: BTC last traded at 89,225.34, ...`: prose under a lead-in label
    return Block(KIND_KV, text, pairs=pairs2, sep=":")


def _sentence_about_a_symbol(key: str, value: str) -> bool:
    """A value that is a sentence naming a symbol, behind a label that names neither a symbol nor a
    market field: read as prose, so its prices are found by their cues as in any sentence."""
    words = value.split()
    return (
        len(words) >= 6
        and _terminal(value)
        and not MARKET_LABEL.match(key)
        and not symbols_in(key)
        and bool(symbols_in(value))
        and not _value_start(words[0])
    )


# --- entity lines: `BTC: price 89225.34, rsi 55.2, trend up; last 1h closes 1, 2, 3` ---------------
# Labels a market-data line is made of: a value behind one of these is data about the line's entity.
MARKET_LABEL = re.compile(
    r"(?i)^(?:\d+[a-z]{1,2} )?(?:last|current|mark|spot|close|closes|open|high|low|bid|ask|mid|rsi|macd|"
    r"ema|sma|atr|vwap|adx|trend|bias|regime|volume|vol|change|chg|oi|open interest|funding|spread|"
    r"momentum|volatility|side|qty|size|entry|sl|tp|stop|target|pnl|upnl|liq|leverage|lev|"
    r"(?:[\w ]+ )?price)\b"
)
# A comma between two digits never separates (`1,250`, and a decimal comma: `2.965,10`, `1,25`).
_SEGMENT_SEP = re.compile(r"\s*[;|；、，]\s*|,(?!\d)\s*")  # (、，； separate in Japanese and Chinese)
_PERIOD_TOKEN = re.compile(r"\d+[A-Za-z]{1,2}")  # `24h`, `1h`, `15m`: part of a label, not a value
_LABEL_SEP = re.compile(r"^([A-Za-z][\w ()%/.&-]{0,40}?)\s*[:=]\s*(\S.*)$")
_ENTITY_DECOR = re.compile(r"[()\[\]*_`/-]+")


def segments(value: str) -> list[str]:
    """The parts of a value separated by `,` `;` `|` (never inside brackets, never a thousands comma)."""
    out: list[str] = []
    start = 0
    for m in _SEGMENT_SEP.finditer(value):
        if _balanced(value[start : m.start()]):
            out.append(value[start : m.start()])
            start = m.end()
    out.append(value[start:])
    return [s.strip() for s in out]


def _value_start(token: str) -> bool:
    if token[:1] == "(":  # an accounting negative: `(1,234.50)`
        return number_as_written(token, anchored=True) == token
    return token[:1] in _NUMERIC_START and bool(NUMBER_RE.match(token)) and not _PERIOD_TOKEN.fullmatch(token)


def _segment(seg: str) -> tuple[str, str] | None:
    """`price 89225.34` / `rsi: 55.2` / `RSI(14) 48.3` / `trend up` -> (label, value); None: no label."""
    m = _LABEL_SEP.match(seg)
    if m and len(m.group(1).split()) <= 4:
        return m.group(1).strip(), m.group(2).strip()
    tokens = seg.split()
    if _value_start(tokens[0]):
        return None  # `$0.49533 (+3.07%)`: a value and its remark, no label
    for i in range(1, min(len(tokens), 6)):
        if _value_start(tokens[i]) and _balanced(" ".join(tokens[:i])):  # `RSI(14, 1h) 38.9`
            return " ".join(tokens[:i]), " ".join(tokens[i:])
    if 2 <= len(tokens) <= 4 and tokens[-1].isalpha() and not HAS_DIGIT.search(tokens[-1]):
        return " ".join(tokens[:-1]), tokens[-1]
    return None


def entity_values(
    value: str, implicit_price: bool = True
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]] | None:
    """The labelled values of an entity line's value, and the text each one is written as: `price
    89225.34, rsi 55.2; last 1h closes 1, 2, 3` -> (price, 89225.34), (rsi, 55.2), (last 1h closes,
    1, 2, 3). A number straight after the entity is its price (`**Bitcoin**: $89,225 (+2.1%)`) when
    `implicit_price`, i.e. when the key names the entity and nothing else: after `BTC 1m volumes:` a
    bare number is a volume, and the line is not an entity line. None unless at least one label is
    market vocabulary."""
    pairs: list[tuple[str, str]] = []
    raws: list[str] = []
    market = False
    for seg in segments(value):
        if not seg:
            return None
        parsed = _segment(seg)
        if parsed is not None and MARKET_LABEL.match(parsed[0].lower()):
            market = True
        if parsed is None or not parsed[0]:
            if pairs:  # a list goes on: `closes 1, 2, 3`; a remark belongs to the value before it
                key, val = pairs[-1]
                pairs[-1] = (key, f"{val}, {seg}")
                raws[-1] = f"{raws[-1]}, {seg}"
                continue
            if not implicit_price or not _value_start(seg.split()[0]):
                return None
            parsed, market = ("price", seg), True
            raws.append(seg)
            pairs.append(parsed)
            continue
        if len(parsed[0].split()) > 4:
            return None
        pairs.append(parsed)
        raws.append(seg)
    return (tuple(pairs), tuple(raws)) if market and pairs else None


def _names_a_measure(words: Sequence[str]) -> bool:
    """Key words besides the entity that say what the values are (`1m volumes`, `RSI`), unlike a name
    or a venue (`Bitcoin Cash (BCH)`, `BTC Perp`)."""
    return any(w[0].isdigit() or MARKET_LABEL.match(w) or MARKET_LABEL.match(w.rstrip("sS")) for w in words)


def _entity_values(kv: Block) -> None:
    """A one-pair `Entity: labelled values` line becomes the entity (label) and its values (pairs):
    `BTC: price 89225.34, rsi 55.2`. Only when the key names one symbol and nothing more."""
    key, value = kv.pairs[0]
    found = symbols_in(key)  # memoised, and emphasis does not hide a ticker from it
    if len(found) != 1 or required_kind(key) or position_field(key) or _SIDE_START.match(value):
        return
    rest = _ENTITY_DECOR.sub(" ", MENTION_RE.sub(" ", plain(key))).split()
    if len(rest) > 2:
        return
    parsed = entity_values(value, implicit_price=not _names_a_measure(rest))
    if parsed is None:
        return
    kv.label, kv.sep = key, "entity"
    kv.pairs, kv.values = parsed


_SIDE_START = re.compile(r"(?i)^\W*(?:long|short)\b")


def _is_label_line(core: str) -> bool:
    """A short line that names what follows (`Fee Structure:`, `PORTFOLIO`, `Bitcoin (BTC/USDT):`)."""
    if len(core) > 90:
        return False
    words = core.split()
    if not words or len(words) > 8 or _terminal(core):
        return False
    if core.endswith((":", "：")):
        return True
    caps = _PARENS.sub("", core)  # `BULLISH FVG (15m)`: capitals but for a parenthesis
    if not caps.isascii() and _HAS_CJK_TEXT.search(caps):
        return False  # CJK has no case: `BTC/JPYを0.08 BTCロングで保有` is a sentence, not a title
    return caps.isupper() and sum(c.isalpha() for c in caps) >= 3


def classify_line(line: str, patterns: Sequence[re.Pattern[str]] = (), _nested: int = 0) -> Block:
    """The block of one stripped, non-empty line (cheap first-character checks before regexes).
    A bullet's content is classified in turn, to a few levels (`- - - ... x` is text past them)."""
    head = line[0]
    if (head in "-=_*~─━═—–·•") and _SEPARATOR.match(line):
        return Block(KIND_SEPARATOR, line)
    if head == "<" and (tag := _TAG_LINE.match(line)) is not None:
        # `<output_format>` opens a section as a heading does; `</output_format>` ends it (an empty label);
        # attributes are part of the label: `<asset symbol="BTC">` is about BTC
        label = "" if tag.group(1) else tag.group(2).replace("_", " ").replace("-", " ")
        if tag.group(3) and label:
            label += " " + re.sub(r"[\"']", "", tag.group(3)).strip()
        return Block(KIND_HEADING, line, rank=7, label=label)
    if head == "<" and (element := _XML_VALUE.match(line)) is not None and element.group(2).strip():
        # `<price>114,392.7</price>`: a key and its value, as `price: 114,392.7` is
        return Block(KIND_KV, line, pairs=((element.group(1), element.group(2).strip()),), sep=":")
    if head == "#":
        m = _MD_HEADING.match(line)
        if m:
            label = plain(m.group(2))
            return Block(KIND_HEADING, line, rank=len(m.group(1)), label=label, instr=is_instruction(label))
    series = _series_match(line) if line[-1] == "]" else None
    if series is not None:  # (`Do not buy at these levels: [...]` is an instruction: never shortened)
        instr = _instruction_label(series.label, tuple(patterns)) if series.label else False
        return Block(
            KIND_SERIES, line, label=series.label, values=series.values, elided=series.elided, instr=instr
        )
    if head in "-*+•0123456789abcdefgh→" and not line.startswith("**") and _nested < _MAX_BULLET_NESTING:
        m = _BULLET.match(line)
        if m:
            inner = classify_line(m.group(2), patterns, _nested + 1)
            if inner.kind is KIND_HEADING:  # `7. RESPONSE FORMAT`, `- **Fee Structure:**`: a heading
                return Block(KIND_HEADING, line, rank=inner.rank, label=inner.label, instr=inner.instr)
            return Block(KIND_BULLET, line, bullet=m.group(1), inner=inner, instr=inner.instr)
    core = plain(line)
    if not core:
        return Block(KIND_SEPARATOR, line)
    has_colon, has_eq = ":" in core or "：" in core, "=" in core
    if head == "{" or (has_eq and "{" not in line):
        pos = _position(line)
        if pos is not None and (head == "{" or len(pos.pairs) >= 2):
            return pos
    user = bool(patterns) and any(p.search(core) for p in patterns)
    kv = _kv(line, core) if has_colon or has_eq else None
    if kv is not None and kv.sep == ":" and len(kv.pairs) == 1:
        _entity_values(kv)
    elif kv is not None and kv.sep == ":" and symbol_of(kv.pairs[0][0]):
        # `BNB-USDT: last 612.4 | RSI(14, 1h) 38.9 | trend: down`: the entity's values, one of them labelled
        # with a colon; read as one `Entity: values` line, or the first values would be one opaque value
        rest = core.replace("：", ":").split(":", 1)[1].strip()
        whole = Block(KIND_KV, line, pairs=((kv.pairs[0][0], rest),), sep=":")
        _entity_values(whole)
        if whole.sep == "entity":
            kv = whole
    if kv is not None:
        value = kv.pairs[0][1]
        if value[:1] in _NUMERIC_START and not user:
            return kv  # a data line (`Open Interest: 29909.65 ...`): no instruction keyword scan
        m = _FIRST_WORD.match(value.lower()) if kv.sep == ":" else None
        kv.instr = user or instruction_signals(core)[0] or (m is not None and m.group(1) in IMPERATIVES)
        return kv
    word, first = instruction_signals(core)
    instr = (
        word
        or user
        or first in IMPERATIVES
        or (first in ("you", "your") and bool(_YOU.match(_LEAD.sub("", core, count=1))))
    )
    if (
        _is_label_line(core)
        and (not instr or core.endswith(":") or _heading_flags(core)[0])  # `OUTPUT FORMAT` heads a section
        and not _looks_like_kv_value(core)
    ):
        entity = (len(core.split()) == 1 and not any(_heading_flags(core.rstrip(":")))) or (
            len(core.split()) <= 3 and len(symbols_in(core)) == 1
        )
        rank = 8 if core.endswith(":") or "*" in line or entity else 7
        return Block(KIND_HEADING, line, rank=rank, label=core.rstrip(":").strip(), instr=instr)
    return Block(KIND_PROSE, line, instr=instr)


_DICT_CHARS = re.compile(r"[{}'\"]")


# Two dicts on a line are a `}` and a `{` with only spaces and commas between them (a cheap test first:
# most lines that start with `{` hold one dict)
_DICT_AFTER_DICT = re.compile(r"\}[ ,]*\{")


def _dict_groups(line: str) -> list[str]:
    """The top-level `{...}` groups of a line when it is only such groups (else one group: the line)."""
    groups: list[str] = []
    depth, start, quote = 0, -1, ""
    for m in _DICT_CHARS.finditer(line):  # only the characters that matter: a long line costs little
        k, ch = m.start(), m.group()
        if quote:
            if ch == quote and line[k - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            if depth == 0:
                if line[start + 1 if groups else 0 : k].strip(" ,"):
                    return [line]  # text between the dicts: not a plain run of dicts
                start = k
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                groups.append(line[start : k + 1])
                start = k
            elif depth < 0:
                return [line]
    if depth or not groups or line[start + 1 :].strip(" ,"):
        return [line]
    return groups


def _classify(line: str, patterns: Sequence[re.Pattern[str]], seen: Seen | None = None) -> Block:
    """`classify_line`, memoised for lines without a digit: those are a bot's static text (headings,
    instructions, labels), the same every cycle, while data lines change and are parsed afresh once per
    prompt (`seen`: one compression parses the prompt again without its repeated instruction lines)."""
    if HAS_DIGIT.search(line) is None:
        return _clone(_classify_static(line, tuple(patterns), current_prompt_symbols()))
    if seen is None:
        return classify_line(line, patterns)
    known = seen.get(line)
    if known is None:  # first seen: this block is the one used; what later passes change is remembered
        block = classify_line(line, patterns)
        seen[line] = (block, _as_classified(block))
        return block
    return _reclassified(*known)


@lru_cache(maxsize=4096)
def _classify_static(line: str, patterns: tuple[re.Pattern[str], ...], symbols: frozenset[str]) -> Block:
    return classify_line(line, patterns)  # (`symbols`: the prompt's own tickers change what a line names)


# What the passes after `classify_line` may change in a block (kind, rank, label, sep, instr, symbol) as
# classified, and the same of its inner block: with the block, a fresh copy of it as classified.
Classified = tuple[Kind, int, str, str, bool, "str | None", "Classified | None"]
Seen = dict[str, tuple[Block, Classified]]


def _as_classified(b: Block) -> Classified:
    inner = b.inner
    return (
        b.kind,
        b.rank,
        b.label,
        b.sep,
        b.instr,
        b.symbol,
        None if inner is None else _as_classified(inner),
    )


def _reclassified(b: Block, was: Classified) -> Block:
    """A fresh copy of `b` as `classify_line` gave it (`was`: its fields then), whatever passes changed."""
    kind, rank, label, sep, instr, symbol, inner = was
    return Block(
        kind,
        b.text,
        0,
        1,
        0,
        False,
        symbol,
        rank,
        label,
        b.values,
        b.elided,
        b.pairs,
        b.header,
        b.data,
        b.bullet,
        None if b.inner is None or inner is None else _reclassified(b.inner, inner),
        sep,
        instr,
    )


def _clone(b: Block) -> Block:
    """A fresh copy of a classified line (later passes set its symbol, section and flags). Positional
    arguments, in `Block`'s field order: a keyword call costs twice as much."""
    inner = b.inner
    return Block(
        b.kind,
        b.text,
        0,
        1,
        0,
        False,
        b.symbol,
        b.rank,
        b.label,
        b.values,
        b.elided,
        b.pairs,
        b.header,
        b.data,
        b.bullet,
        None if inner is None else _clone(inner),
        b.sep,
        b.instr,
    )


def _looks_like_kv_value(core: str) -> bool:
    """`Label: value` on one line is data, not a heading (`Open Interest: 1,000` or `Trend: up`)."""
    if not core.endswith(":") and ":" in core:
        key, _, value = core.partition(":")
        return bool(value.strip()) and len(key.split()) <= 6
    return False


_CSV_HEADER = re.compile(r"[A-Za-z_][\w ()%./-]{0,30}")
_SV_HEADER = re.compile(r"(?:[A-Za-z_]|\d+[A-Za-z]{1,2}\b)[\w ()%./-]{0,30}")


def _csv_end(lines: list[str], i: int, sep: str = ",") -> int | None:
    """Where a CSV block starting at line `i` ends: a header of labels, then rows with as many
    cells, some numeric (no quoting: a quoted cell may hide a comma, and then this is not our table).
    Also tab-separated (`sep="\\t"`) and `Symbol | Price | RSI` tables without outer pipes (`sep="|"`),
    whose labels may start with a period (`24h`)."""
    head = lines[i].strip()
    if i + 1 >= len(lines) or lines[i + 1].count(sep) != lines[i].count(sep) or '"' in head:
        return None
    if sep == "," and "  " in head:
        return None
    cells = head.split(sep)
    label = _CSV_HEADER if sep == "," else _SV_HEADER
    if len(cells) < 2 or not all(label.fullmatch(c.strip()) for c in cells):
        return None
    j = i + 1
    while j < len(lines):
        row = lines[j].strip()
        parts = row.split(sep)
        if (
            '"' in row
            or len(parts) != len(cells)
            or not any(_value_start(c.strip()) for c in parts)
            or (sep == "," and any("," in n for n in NUMBER_RE.findall(row)))  # `1,234`: one number
        ):
            break
        j += 1
    return j if j > i + 1 else None


_FIXED_NAME = r"(?:[A-Za-z_%][\w()%./-]{0,30}|\.\.\.)"  # a column name of an aligned table
_FIXED_LABEL = re.compile(_FIXED_NAME)
# (a word of a name of several words may be a parenthesis: `Ref Price (MidPrice)`, `Amount (Orig)`)
_FIXED_HEAD = re.compile(rf"{_FIXED_NAME}(?:\s+(?:{_FIXED_NAME}|\([\w%./-]{{1,20}}\)))+")
_WORD_SPAN = re.compile(r"\S+")
_NAME_SPAN = re.compile(r"\S+(?: \S+)*")  # words one space apart: one name (Hummingbot's `Best Bid`)
_DASH_RULE = re.compile(r"-+(?: +-+)+")


def _aligned_cells(line: str, starts: list[int], ends: list[int]) -> tuple[str, ...] | None:
    """The cells of one row of a whitespace-aligned table: the index words left of the first column
    as one cell (`2025-11-21 10:00`), then one cell per column, read by position (right-aligned under
    its name as pandas prints, or left-aligned), else one word per column if the count is exact. None
    if neither reading holds: a date and a time in the middle of a row are one cell, never two."""
    words = [(m.start(), m.end(), m.group()) for m in _WORD_SPAN.finditer(line)]
    n = 0
    while n < len(words) and words[n][1] < starts[0]:
        n += 1
    index, rest = " ".join(w[2] for w in words[:n]), words[n:]
    for right in (True, False):
        cols: list[list[tuple[int, int, str]]] = [[] for _ in starts]
        for w in rest:
            if right:
                k = next((k for k, e in enumerate(ends) if e >= w[1]), -1)
                if k < 0 or (k and w[0] <= ends[k - 1]):
                    break
            else:
                k = next((k for k in range(len(starts) - 1, -1, -1) if starts[k] <= w[0]), -1)
                if k < 0:
                    break
            cols[k].append(w)
        else:
            edges = ends if right else starts
            lined_up = all(
                not c or c[-1 if right else 0][1 if right else 0] == edges[k] for k, c in enumerate(cols)
            )
            if lined_up and not _shifted(cols):
                return (index, *(" ".join(w[2] for w in c) for c in cols))
    cells = _overlapping_cells(rest, starts, ends)
    if cells is not None:
        return (index, *cells)
    if len(rest) == len(starts):
        return (index, *(w[2] for w in rest))
    return None


def _overlapping_cells(
    words: list[tuple[int, int, str]], starts: list[int], ends: list[int]
) -> list[str] | None:
    """Cells as tabulate and f-strings align them (decimal points lined up, names left or right): words
    one space apart are one cell, and each cell lies under exactly one column name."""
    cells = [""] * len(starts)
    chunk: list[tuple[int, int, str]] = []
    for w in [*words, (-1, -1, "")]:
        if chunk and (w[0] != chunk[-1][1] + 1):
            a, b = chunk[0][0], chunk[-1][1]
            under = [k for k in range(len(starts)) if starts[k] < b and a < ends[k]]
            if len(under) != 1 or cells[under[0]]:
                return None
            cells[under[0]] = " ".join(c[2] for c in chunk)
            chunk = []
        chunk.append(w)
    return None if any(" " in c for c in cells) and not all(cells) else cells


def _shifted(cols: list[list[tuple[int, int, str]]]) -> bool:
    """Two words in one column while another column is empty: a value has most likely slid under its
    neighbour's name (`79465.38 -1003.873`), so this reading is not trusted."""
    return any(len(c) > 1 for c in cols) and any(not c for c in cols)


def _fixed_table(lines: list[str], i: int) -> tuple[int, Block] | None:
    """A whitespace-aligned table at line `i` (pandas' `to_string()`, `df.tail()`, `print(df)`): a
    header of column names, pandas' index name alone on the next line if the index has one, then rows
    whose words line up under the names, mostly numbers. Gives (end, table block)."""
    head = lines[i]
    if "\t" in head:
        return None
    spans = [(m.start(), m.end()) for m in _WORD_SPAN.finditer(head)]
    if all(_FIXED_LABEL.fullmatch(head[a:b]) for a, b in spans):
        found = _fixed_rows(lines, i, spans)
        if found is not None:
            return found
    names = [(m.start(), m.end()) for m in _NAME_SPAN.finditer(head)]
    if len(names) == len(spans) or not all(_FIXED_HEAD.fullmatch(f"x {head[a:b]}") for a, b in names):
        return None
    return _fixed_rows(lines, i, names)  # names of several words, two spaces or more between names


def _fixed_rows(lines: list[str], i: int, spans: list[tuple[int, int]]) -> tuple[int, Block] | None:
    head = lines[i]
    if len(spans) < 2:
        return None
    starts, ends = [a for a, _ in spans], [b for _, b in spans]
    j, index_name = i + 1, ""
    if j < len(lines) and _DASH_RULE.fullmatch(lines[j].strip()) and len(lines[j].split()) == len(spans):
        j += 1  # tabulate's `simple` rule under the names
    elif j < len(lines):
        name = lines[j].split()
        alone = len(name) == 1 and lines[j].find(name[0]) + len(name[0]) < starts[0]  # left of the names
        if alone and _FIXED_LABEL.fullmatch(name[0]) and HAS_DIGIT.search(name[0]) is None:
            index_name, j = name[0], j + 1
    first = j
    rows: list[tuple[str, ...]] = []
    while j < len(lines) and "\t" not in lines[j]:
        cells = _aligned_cells(lines[j], starts, ends)
        if cells is None or not lines[j].strip():
            break
        values = [c for c in cells[1:] if c]
        if len(values) * 2 < len(starts) or sum(
            bool(NUMBER_RE.fullmatch(c)) or c in ("NaN", "None", "...") for c in values
        ) * 2 < len(values):
            break
        rows.append(cells)
        j += 1
    if not rows or any(not any(r[k] for r in rows) for k in range(1, len(starts) + 1)):
        return None  # no rows, or a column no row fills: a name with a space in it, not our table
    indexed = any(r[0] for r in rows)
    if (index_name and not indexed) or (len(spans) == 2 and not indexed):
        return None  # two words over two numbers: too little to call a table without an index
    header = ((index_name,) if indexed else ()) + tuple(head[a:b] for a, b in spans)
    data = tuple(r if indexed else r[1:] for r in rows)
    text = "\n".join(ln.rstrip() for ln in lines[i:j])
    block = Block(Kind.TABLE, text, nlines=j - i, header=header, values=tuple(lines[first:j]), sep=" ")
    block.data = data
    return j, block


def split_row(line: str, sep: str = "|") -> tuple[str, ...]:
    """The cells of one markdown table row (empty cells at either end included), or of a CSV/TSV row."""
    if sep in (",", "\t"):
        return tuple(c.strip() for c in line.split(sep))
    row = line.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") else row
    return tuple(c.strip() for c in row.split("|"))


def table_rows(block: Block) -> list[tuple[str, ...]]:
    """The body rows of a table block (split on demand: most rows of a long table get dropped)."""
    if block.sep == " ":  # aligned by position: read once, when parsed
        return list(cast("tuple[tuple[str, ...], ...]", block.data))
    return [split_row(ln, block.sep or "|") for ln in block.values]


_TABLE_RULE = re.compile(r":?-+:?")


def _table(lines: list[str], at: int, sep: str = "") -> Block:
    header: tuple[str, ...] | None = None
    body = lines
    if sep:  # CSV, TSV, or pipes without outer ones: the first line is the header, no rule line
        header, body = split_row(lines[0], sep), lines[1:]
    elif len(lines) >= 2 and all(_TABLE_RULE.fullmatch(c) for c in split_row(lines[1])):
        header = split_row(lines[0])
        body = lines[2:]
    return Block(
        Kind.TABLE, "\n".join(lines), line=at, nlines=len(lines), header=header, values=tuple(body), sep=sep
    )


_HTML_ROW = re.compile(r"(?is)<tr\b[^>]*>(.*?)</tr\s*>")
_HTML_CELL = re.compile(r"(?is)<t([hd])\b[^>]*>(.*?)</t[hd]\s*>")
_HTML_TAG = re.compile(r"<[^>]*>")
_HTML_TABLE_LINES = 2_000


def _html_table(lines: list[str], i: int) -> tuple[int, Block] | None:
    """`<table><tr><th>Symbol</th><th>Price</th></tr><tr><td>BTC</td>...</table>` (on one line or many,
    maybe after a label: `Snapshot: <table>...`): read as the table it is (its header is its first row of
    `<th>`); the text is kept for `lossless`, the label is written back before the table."""
    end = next(
        (j for j in range(i, min(len(lines), i + _HTML_TABLE_LINES)) if "</table" in lines[j].lower()), None
    )
    if end is None:
        return None
    first = lines[i].strip()
    lead = first[: first.lower().index("<table")].strip()
    text = "\n".join(lines[i : end + 1]).strip()[len(first) - len(first.lstrip()) :]
    text = text[text.lower().index("<table") :]
    if text.lower().count("<table") != 1 or not text.lower().rstrip().endswith("</table>"):
        return None
    rows: list[tuple[str, ...]] = []
    header: tuple[str, ...] | None = None
    for n, row in enumerate(_HTML_ROW.findall(text)):
        cells = _HTML_CELL.findall(row)
        values = tuple(collapse_spaces(_HTML_TAG.sub("", c).replace("&nbsp;", " ")) for _, c in cells)
        if not values or any("|" in v for v in values):
            return None
        if n == 0 and all(kind.lower() == "h" for kind, _ in cells):
            header = values
        else:
            rows.append(values)
    if header is None or not rows or any(len(r) != len(header) for r in rows):
        return None
    body = ["|" + "|".join(r) + "|" for r in rows]
    block = Block(Kind.TABLE, text, line=i, nlines=end - i + 1, header=header, values=tuple(body), lead=lead)
    return end + 1, block


def dump_json(value: object) -> str:
    """Minified JSON with every number written exactly as in the source (and never glued into what
    reads as a thousands separator: `[100, 200]` stays two numbers)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{dump_json(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list):
        items = [dump_json(v) for v in value]
        return (
            "["
            + (join_numbers(items) if value and all(isinstance(v, Raw) for v in value) else ",".join(items))
            + "]"
        )
    return json.dumps(value, ensure_ascii=False)


_BARE_TYPE = re.compile(r"(?<=:)(number|int|string)(?=\s*[,}\]])")
_TYPE_MARK = "\ue000type:"


def _typed_template(line: str) -> object | None:
    """A one-line JSON template whose example values were replaced by bare type names."""
    quoted = _BARE_TYPE.sub(lambda m: f'"{_TYPE_MARK}{m.group(1)}"', line)
    parsed = _json_at(quoted, 0)
    if parsed is None or quoted[parsed[1] :].strip():
        return None
    value = parsed[0]

    def restore(v: object) -> object:
        if isinstance(v, dict):
            return {k: restore(x) for k, x in v.items()}
        if isinstance(v, list):
            return [restore(x) for x in v]
        if isinstance(v, str) and v.startswith(_TYPE_MARK):
            return Raw(v[len(_TYPE_MARK) :])
        return v

    return restore(value)


_MAX_BULLET_NESTING = 8
_MAX_JSON_DEPTH = 64  # deeper is text, not data: every pass that walks JSON recurses


def _json_at(text: str, start: int) -> tuple[object, int] | None:
    try:
        value, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):  # (`[[[[...` nested past Python's limit)
        return None
    if not isinstance(value, dict | list) or not value:
        return None
    if text.count("[", start, end) + text.count("{", start, end) > _MAX_JSON_DEPTH and _deeper_than(
        value, _MAX_JSON_DEPTH
    ):
        return None
    return value, end


def _deeper_than(value: object, limit: int) -> bool:
    """Whether JSON data nests more than `limit` containers deep (walked without recursion)."""
    todo: list[tuple[object, int]] = [(value, 1)]
    while todo:
        node, depth = todo.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        todo.extend((c, depth + 1) for c in cast(Iterable[object], children) if isinstance(c, dict | list))
    return False


_KEEP_OPEN, _KEEP_CLOSE = "<keep>", "</keep>"
LEGEND = re.compile(r"^Sources: [A-Z0-9]{1,4}=[A-Z][A-Z0-9_]+(?:, [A-Z0-9]{1,4}=[A-Z][A-Z0-9_]+)*$")


def _protected_lines(lines: list[str], patterns: Sequence[re.Pattern[str]]) -> set[int]:
    """Lines inside `<keep>...</keep>` spans (markers may span lines) or matching a protect pattern.
    A `<keep>` never closed protects to the end; a line with a `</keep>` never opened is protected too
    (the user meant to keep something there: keep it, and take the marker out as for any span)."""
    out: set[int] = set()
    inside = False
    for i, ln in enumerate(lines):
        if inside or _KEEP_OPEN in ln or _KEEP_CLOSE in ln:
            out.add(i)
        opened = ln.rfind(_KEEP_OPEN)
        closed = ln.rfind(_KEEP_CLOSE)
        if opened > closed:
            inside = True
        elif closed >= 0:
            inside = False
        if patterns and any(p.search(ln) for p in patterns):
            out.add(i)
    return out


def compile_patterns(patterns: Iterable[str | re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    return tuple(p if isinstance(p, re.Pattern) else re.compile(p) for p in patterns)


def parse(
    prompt: str,
    protect: Sequence[re.Pattern[str]] = (),
    instructions: Sequence[re.Pattern[str]] = (),
    seen: Seen | None = None,
) -> Doc:
    """Blocks of a prompt, in order, each tagged with its symbol, section and what must never go.

    `seen`: data lines classified by an earlier parse of the same prompt, filled in as it goes (a memo
    for a prompt that will be parsed again; None: no memo)."""
    prompt = template.expand(prompt)  # our own `Lines of "...":` rows: read as the lines they stand for
    blocks: list[Block] = []
    lines = prompt.splitlines()
    offsets: list[int] = []  # start of each line in `prompt`, computed only if a JSON block shows up
    kept = _protected_lines(lines, protect) if ("keep>" in prompt or protect) else set()
    i = 0
    blank = False
    n = len(lines)
    while i < n:
        raw = lines[i]
        line = raw.strip()
        if not line:
            i += 1
            blank = True
            continue
        start = i
        # (a table, CSV or YAML block needs a next line with its separator: most lines fail that at once)
        after = lines[i + 1] if i + 1 < n else ""
        head = line[0]  # (first-character tests before the method calls: most lines fail them all)
        if i in kept:
            j = i
            while j + 1 < len(lines) and j + 1 in kept:  # blank lines in a span are kept too
                j += 1
            text = "\n".join(lines[i : j + 1]).replace(_KEEP_OPEN, "").replace(_KEEP_CLOSE, "")
            block = Block(KIND_PROTECTED, text.strip("\n"), nlines=j - i + 1)
            i = j + 1
        elif head == "`" and line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            body = "\n".join(lines[i + 1 : j])
            parsed = _json_at(body, len(body) - len(body.lstrip())) if body.strip()[:1] in "{[" else None
            if parsed is not None and not body[parsed[1] :].strip():
                block = Block(KIND_JSON, body, data=parsed[0], nlines=j - i + 1, label=line[3:].strip())
                block.bullet = "```"  # remembered: a fenced example is re-fenced
            else:
                block = Block(KIND_CODE, "\n".join(lines[i : j + 1]), nlines=j - i + 1)
            i = j + 1
        elif "," in line and "," in after and (csv_end := _csv_end(lines, i)) is not None:
            block = _table([ln.strip() for ln in lines[i:csv_end]], i, ",")
            i = csv_end
        elif head == "|" and line[-1] == "|" and len(line) > 1:
            j = i
            while j < len(lines) and lines[j].strip().startswith("|") and lines[j].strip().endswith("|"):
                j += 1
            block = _table([ln.strip() for ln in lines[i:j]], i)
            i = j
        elif (
            line[-1] == ":"
            and after.strip()
            and (yaml_end := _yaml_answer_end(lines, i, _after_format(blocks))) is not None
        ):
            block = Block(KIND_CODE, "\n".join(lines[i:yaml_end]), nlines=yaml_end - i)
            i = yaml_end
        elif "\t" in line and "\t" in after and (tsv_end := _csv_end(lines, i, "\t")) is not None:
            block = _table([ln.strip() for ln in lines[i:tsv_end]], i, "\t")
            i = tsv_end
        elif (
            "|" in line
            and i + 2 < len(lines)
            and _PSQL_RULE.fullmatch(lines[i + 1].strip())
            and (rows_end := _csv_end([lines[i], *lines[i + 2 : i + 2 + _PSQL_ROWS]], 0, "|")) is not None
        ):  # psql: ` symbol | last_price` / `--------+-----------` / ` BTC | 97,004.150` (the rule dropped)
            block = _table([ln.strip() for ln in [lines[i], *lines[i + 2 : i + 1 + rows_end]]], i, "|")
            block.nlines = rows_end + 1
            i += rows_end + 1
        elif (
            "|" in line
            and "|" in after
            and line[0] != "|"
            and (bare_end := _csv_end(lines, i, "|")) is not None
        ):
            block = _table([ln.strip() for ln in lines[i:bare_end]], i, "|")
            i = bare_end
        elif "  " in line and _FIXED_HEAD.fullmatch(line) and (fixed := _fixed_table(lines, i)) is not None:
            i, block = fixed
        elif ("<table" in line or "<TABLE" in line) and (html := _html_table(lines, i)) is not None:
            i, block = html
        else:
            found: Block | None = None
            if line[0] in "{[" and not (line[0] == "[" and _series_match(line)):
                whole = None
                if not line.startswith("{'"):  # (a Python dict is no JSON: no decode error to build, whose
                    # message counts the prompt's lines up to the dict)
                    begin = _line_offsets(prompt, offsets)[i] + (len(raw) - len(raw.lstrip()))
                    whole = _json_to_line_end(prompt, lines, offsets, i, begin)
                    if whole is not None:
                        value, end, j = whole
                        found = Block(KIND_JSON, prompt[begin:end], data=value, nlines=j - i + 1)
                        i = j + 1
                if (
                    whole is None
                    and (":number" in line or ":int" in line or ":string" in line)  # (the look-behind
                    and _BARE_TYPE.search(line)  # regex tries every position: substring tests first)
                ):
                    typed = _typed_template(line)  # our own emergency template: `"confidence":number`
                    if typed is not None:
                        found = Block(KIND_JSON, line, data=typed)
                        i += 1
            if found is None and (": {" in line or ": [" in line) and line[0] not in "{[":
                labelled = _labelled_json(prompt, lines, offsets, i, raw)
                if labelled is not None:
                    found, i = labelled
            if found is None and head == "S" and line.startswith("Sources: ") and LEGEND.match(line):
                found = Block(KIND_PROTECTED, line)  # our own source-tag legend: never dropped again
                i += 1
            if found is None and line[0] == "{" and _DICT_AFTER_DICT.search(line):
                groups = _dict_groups(line)  # `{...} {...} {...}`: one position per dict
                if len(groups) > 1:
                    for group in groups[:-1]:
                        part = _classify(group, instructions, seen)
                        part.line, part.blank_before = start, blank
                        blocks.append(part)
                    found = _classify(groups[-1], instructions, seen)
                    i += 1
            if found is None:
                found = _classify(line, instructions, seen)
                if found.kind is KIND_SEPARATOR and blocks and not blank and line[0] in "=-─━═":
                    _setext(blocks[-1], 1 if line[0] in "=═" else 2)
                i += 1
            block = found
        block.line = start
        if block.inner is not None:
            block.inner.line = start  # what is reported of a bullet's content names its line
        block.indent = len(raw) - len(raw.lstrip()) if raw[0] != head else 0  # (no margin: no strip)
        block.blank_before = blank
        blank = False
        blocks.append(block)
    _infer_entity_headers(blocks)
    _answer_shapes(blocks)
    doc = Doc(prompt, lines, blocks, seen=seen)
    _assign_context(doc)
    doc.records = records(blocks)
    for rec in doc.records:
        if rec.symbol and blocks[rec.start].kind is not KIND_HEADING:
            for b in blocks[rec.start + 1 : rec.end]:  # `- symbol: BTC` then `price: 1`: BTC's price
                if b.symbol is None:
                    b.symbol = b.core.symbol = rec.symbol
        if rec.is_position and not blocks[rec.start].fmt:
            for b in blocks[rec.start : rec.end]:  # a position is data, not part of the answer format
                b.fmt = b.core.fmt = False
    return doc


def _setext(prev: Block, rank: int) -> None:
    """`Title` underlined by `====` or `----` is a heading."""
    core = plain(prev.text)
    if prev.kind in (Kind.PROSE, Kind.HEADING) and len(core.split()) <= 10 and not _terminal(core):
        prev.kind, prev.rank, prev.label = Kind.HEADING, rank, core.rstrip(":")
        prev.sep = "setext"  # written back as `#`/`##` once its underline is gone


def _infer_entity_headers(blocks: list[Block]) -> None:
    """A short plain line followed by at least two `Label: value` lines names an entity (`TSLA`,
    `NDX (QQQ proxy)`): it is a heading for what follows. So is one followed by a single such line when
    it names a symbol or is an INI section (`[BTCUSDT@okx]` / `last=62,432.0`: what `minimal` leaves of
    a section must still be read as that symbol's), and a line naming a symbol over a position line
    (`DCA bot #7 SOL/USDT long` / `- SOL: qty=4.8 entry=134.62 ...`, as `minimal` writes a position)."""
    for i, b in enumerate(blocks):
        if b.kind is not KIND_PROSE or i + 1 >= len(blocks):
            continue
        after = blocks[i + 1].core
        if after.kind is KIND_POSITION and not b.instr and len(b.text.split()) <= 8 and symbols_in(b.text):
            b.kind, b.rank, b.label = KIND_HEADING, 8, plain(b.text).rstrip(":")
            continue
        if (
            after.kind is KIND_TABLE
            and not b.instr
            and len(b.text.split()) <= 4
            and len(symbols_in(b.text)) == 1
        ):
            b.kind, b.rank, b.label = KIND_HEADING, 8, plain(b.text).rstrip(":")  # `BTC/USDT` over its table
            continue
        if after.kind is not KIND_KV:
            continue
        if _INI_SECTION.fullmatch(b.text):  # `[OPEN_LEGS]` over `leg1 = ...`: a section, not a command
            b.kind, b.rank, b.label, b.instr = KIND_HEADING, 8, b.text[1:-1], False
            continue
        core = plain(b.text)
        if b.instr or len(core.split()) > 6 or _terminal(core) or (NUMBER_RE.search(core) and ":" in core):
            continue
        if (i + 2 < len(blocks) and blocks[i + 2].core.kind is KIND_KV) or (
            after.pairs[0][1][:1] in _NUMERIC_START  # a value, not a sentence
            and HAS_DIGIT.search(core) is None
            and symbols_in(core)
        ):
            b.kind, b.rank, b.label = KIND_HEADING, 8, core.rstrip(":")


# A line that leads into the shape of the answer: an answer verb, and a colon at its end
# (`Reply with one line per coin, in this exact shape:`, `Bot, answer with exactly three lines:`)
# (`\b(?:respond|...)` written to start with the verbs' first letters, then a look-behind for the word
# start and for which letter it was: the same matches, but the regex engine skips to those letters
# instead of trying every position, 1.8 -> 1.1 us on an 80-char line)
ANSWER_LEAD = re.compile(
    r"(?i)[aorw](?<!\w[aorw])(?:(?<=r)(?:espond|eply|eturn)|(?<=a)nswer|(?<=o)utput|(?<=w)rite)"
    r"\w*\b[^\n]{0,100}[:：]$"
)


# ... or one that says the answer's shape (`Reply as a compact table, one row per symbol, columns: ...`)
_ANSWER_SHAPE = re.compile(
    r"(?i)^\W{0,3}(?:respond|reply|answer|output|return)\b[^\n]{0,60}?"
    r"\b(?:columns?|fields?|keys|format|shape|table|one (?:line|row) per)\b"
)


def leads_into_answer(text: str) -> bool:
    """`ANSWER_LEAD` (after the cheap test most lines fail: a colon at the end) or `_ANSWER_SHAPE`."""
    end = text.rstrip(" *_`\t")
    if end[-1:] in (":", "：") and len(end) < 300 and ANSWER_LEAD.search(end) is not None:
        return True
    return text[:1] in "RrAaOo*-#>" and _ANSWER_SHAPE.match(text) is not None


def _answer_shapes(blocks: list[Block]) -> None:
    """Lines in capitals right under an answer lead-in or an answer-format heading (`SYMBOL ACTION SIZE`,
    `SYMBOL|ACTION|PRICE|QTY`, `ACTION ∈ {BID, ASK, CANCEL, NONE}`) are the answer's shape, not headings:
    as headings they closed the answer format, and `emergency` dropped them."""
    opened = False
    heading, lines = Kind.HEADING, (Kind.PROSE, Kind.KV)
    for b in blocks:  # (every block of every prompt: the common case, a line not ending in `:`, is cheap)
        kind = b.kind
        if kind is heading:
            if opened and not b.blank_before and b.rank >= 7 and b.text[:1] not in "<#[":
                b.kind, b.rank, b.label = Kind.PROSE, 9, ""
                continue
            opened = b.rank >= 7 and _heading_flags(b.label)[0]
        else:
            opened = kind in lines and leads_into_answer(b.text)


_PSQL_RULE = re.compile(r"-+(?:\+-+)+")
_PSQL_ROWS = 2_000  # rows of one psql table read at most (the rest is read as what it is)
_INI_SECTION = re.compile(r"\[[A-Za-z_][\w .@:/-]{0,60}\]")


def _assign_context(doc: Doc) -> None:
    """Per block: the symbol it is about, whether it is an instruction or part of the answer format,
    and its top-level section. Flags come from the enclosing headings (a stack, by rank)."""
    stack: list[Block] = []  # enclosing headings
    rules: list[bool] = []  # per enclosing heading: in a RULES-like section (its own or an enclosing one)
    in_fmt_stack = in_rules_stack = False
    symbol, symbol_rank = None, 99
    section = 0
    keys: dict[str, None] = {}
    says_one_of = _says_one_of(doc.text)  # (allowed values are stated so; most prompts never do)
    closed = {
        m.group(2)
        for b in doc.blocks
        if b.kind is KIND_HEADING and b.text[:2] == "</" and (m := _TAG_LINE.match(b.text)) is not None
    }
    lead = False  # right under an answer lead-in line (`Reply with one line per coin, in this shape:`)
    for idx, b in enumerate(doc.blocks):
        if b.kind is KIND_HEADING:
            lead = False
            tag = _TAG_LINE.match(b.text) if b.text[:1] == "<" else None
            if tag is not None and tag.group(1):  # `</output_format>`: closes its tag, and what is in it
                opened = next(
                    (k for k in range(len(stack) - 1, -1, -1) if _opens(stack[k], tag.group(2))), -1
                )
                if opened >= 0:
                    b.fmt, b.instr = stack[opened].fmt, stack[opened].instr
                    del stack[opened:], rules[opened:]
                    in_fmt_stack = bool(stack) and stack[-1].fmt
                    in_rules_stack = bool(rules) and rules[-1]
                    if symbol is not None and not any(h.symbol == symbol for h in stack):
                        symbol, symbol_rank = None, 99  # the tag that named the symbol is closed
                    b.section, b.symbol = section, symbol
                    doc.headings.append(idx)
                    continue
            while stack and stack[-1].rank >= b.rank and not (tag is not None and _nests(stack[-1], closed)):
                stack.pop()  # (an opening tag nests in the tag that is open: XML sections nest)
                rules.pop()
            if b.rank <= 7:
                section += 1
            doc.headings.append(idx)
            found = symbols_in(b.label)
            if len(found) == 1:
                symbol, symbol_rank = found[0], b.rank
            elif b.rank < symbol_rank or (b.rank == symbol_rank and b.rank <= 7) or len(found) > 1:
                symbol, symbol_rank = None, 99
            is_format, is_rules = _heading_flags(b.label)
            b.fmt = is_format or (bool(stack) and stack[-1].fmt)  # (a heading's flags include its stack's)
            b.instr = b.instr or b.fmt or is_rules
            b.symbol = symbol
            b.section = section
            stack.append(b)
            rules.append(is_rules or (bool(rules) and rules[-1]))
            in_fmt_stack, in_rules_stack = b.fmt, rules[-1]
            continue
        in_fmt = in_fmt_stack
        in_rules = in_rules_stack
        b.section = section
        core = b.core
        if lead and (b.blank_before or (HAS_DIGIT.search(core.text) and symbols_in(core.text))):
            lead = False  # a blank line, or data about a symbol: the answer's shape has ended
        if lead:
            in_fmt = True
        elif b.instr and core.kind in (KIND_PROSE, KIND_KV) and leads_into_answer(core.text):
            lead = in_fmt = True  # (the lead-in is the answer format's first line: "one line per coin")
        if b.kind is KIND_POSITION and b.symbol is None:
            b.symbol = symbol or b.label or None  # naming no symbol, it is about the context's
        if b.kind is not KIND_POSITION:
            b.symbol = symbol
            own = own_symbol(core) if core.kind is KIND_KV else None
            if own is not None:
                b.symbol = own  # the line names its entity: that beats the heading
            elif symbol is None and core.kind in (KIND_KV, KIND_SERIES):
                named = symbols_in(core.label if core.kind is KIND_SERIES or core.label else core.pairs[0][0])
                b.symbol = named[0] if len(named) == 1 else None
        if core is not b:
            core.section = b.section
            if core.kind is not KIND_POSITION:
                core.symbol = b.symbol
            elif core.symbol is None:
                core.symbol = b.symbol or core.label or None
        if core.kind is KIND_JSON and not in_fmt:
            if core.lead:
                label: Block | None = Block(KIND_HEADING, core.lead, rank=8)
            else:
                label = doc.blocks[idx - 1] if idx and doc.blocks[idx - 1].kind is KIND_HEADING else None
            core.measure = _symbol_map_measure(label, core.data)
        if (
            (
                (
                    not in_fmt  # (already in the answer format: nothing to learn)
                    and core.kind in (KIND_JSON, KIND_CODE)
                    and _answer_example(core)
                    and not _decision_data(doc, idx)
                )
                or (core.text[:1] in "\"'{[sSaAdD" and _JSONISH_SIGNAL.match(core.text))
                or ("{" in core.text and core.kind in (KIND_KV, KIND_PROSE) and has_inline_answer(core.text))
                or (  # ReAct's `Final Answer: {"BTCUSDT": "hold"}`: the label says it is the answer
                    core.kind is KIND_KV
                    and core.pairs[0][1][:1] in "{["
                    and _ANSWER_LABEL.fullmatch(norm_key(core.pairs[0][0])) is not None
                )
            )
            or (
                says_one_of and core.kind in (KIND_PROSE, KIND_KV) and _states_allowed_values(core.text, keys)
            )
        ):
            in_fmt = True
        if in_fmt and not in_fmt_stack and not lead and idx and not b.blank_before:
            prev = doc.blocks[idx - 1]  # `Output: a JSON list like` right over the example: its lead-in
            if (
                prev.core.kind in (KIND_PROSE, KIND_KV)
                and not prev.fmt
                and HAS_DIGIT.search(prev.text) is None
            ):
                prev.fmt = prev.core.fmt = True
        if in_fmt and not _position_data(core):
            b.fmt = core.fmt = True
            if core.kind is KIND_JSON:
                keys.update(dict.fromkeys(_json_keys(core.data)))
            elif core.kind is KIND_CODE:
                yaml = (_YAML_KEY.match(ln) for ln in core.text.splitlines())
                keys.update((m.group(1), None) for m in yaml if m)
            else:
                keys.update((m.group(1), None) for m in _QUOTED_KEY.finditer(core.text))
        if in_rules and core.kind in (KIND_PROSE, KIND_KV, KIND_HEADING):
            b.instr = core.instr = True
        elif core.instr:
            b.instr = True
    doc.answer_keys = tuple(keys)


def _labelled_json(
    prompt: str, lines: list[str], offsets: list[int], i: int, raw: str
) -> tuple[Block, int] | None:
    """`Tickers: {"BTC/USDT": {"last": 1}}`, `Observation: [{...}]`: data after a short label, read as
    the JSON it is (its facts, its pruning) and written back after its label. Not an answer example
    (`Respond with JSON: {"signal": ...}`, `Final Answer: {...}`), not a template, not an instruction."""
    line = raw.strip()
    colon = line.find(": ")
    if colon <= 0 or line[colon + 2] not in "{[" or line[colon + 3 : colon + 4] in _NUMERIC_START:
        return None  # (`Mid prices: [1, 2, 3]`: a series, read and shortened as series are)
    lead = line[: colon + 1]
    if len(lead.split()) > 4 or not _is_label(lead[:-1]):
        return None
    if _ANSWER_LABEL.fullmatch(norm_key(lead)) or has_inline_answer(line) or is_instruction(lead):
        return None
    begin = _line_offsets(prompt, offsets)[i] + (len(raw) - len(raw.lstrip())) + colon + 2
    whole = _json_to_line_end(prompt, lines, offsets, i, begin)
    if whole is None or _placeholders(whole[0]) or lists_choices(whole[0]):
        return None
    value, end, j = whole
    return Block(Kind.JSON, prompt[begin:end], data=value, nlines=j - i + 1, lead=lead), j + 1


def _line_offsets(prompt: str, offsets: list[int]) -> list[int]:
    """Where each line of `prompt` starts, filled into `offsets` on first use (most prompts need none)."""
    if not offsets:
        offsets.extend(itertools.accumulate(map(len, prompt.splitlines(keepends=True)), initial=0))
    return offsets


def _json_to_line_end(
    prompt: str, lines: list[str], offsets: list[int], i: int, begin: int
) -> tuple[object, int, int] | None:
    """(value, end, last line) of the JSON at `begin` (on line `i`, maybe over several lines) when
    nothing but blanks follows it on its last line; else None."""
    parsed = _json_at(prompt, begin)
    if parsed is None:
        return None
    value, end = parsed
    j = i
    while j + 1 < len(lines) and offsets[j + 1] < end:
        j += 1
    return None if prompt[end : offsets[j] + len(lines[j])].strip() else (value, end, j)


def _symbol_map_measure(label: Block | None, data: object) -> str:
    """The fact a map of symbols to bare values states, named by the label line above it
    (`Current Prices:` over `{"BTC": 91234.56, "ETH": 3012.78}`: each symbol's price). A map of symbols
    to numbers that no label names (`Observation: {"BTCUSDT": 90603.52}`, a tool's answer) states a
    "value" per symbol: what it measures is unknown, so it is kept whole, never pruned as noise."""
    if not isinstance(data, dict) or not data:
        return ""
    if not all(isinstance(v, str) and not isinstance(v, bool) for v in data.values()):
        return ""  # nested, or a JSON true/false/null: not one value per symbol
    if not all(symbol_of(str(k)) for k in data):
        return ""
    named = (
        required_kind(label.label or label.text.rstrip(":"))
        if label is not None and label.rank == 8
        else None
    )
    if named:
        return named
    return "value" if all(number_as_written(v) == v.strip() for v in data.values()) else ""


_ANSWER_LABEL = re.compile(r"(?:final )?(?:answer|response|output|reply|decision)")
_ALLOWED_EACH = re.compile(  # `Each value is one of: hold, close.` after the answer's example
    r"(?i)^\W{0,3}(?:each|every|all|the)\s+(?:values?|fields?|answers?|entries|keys?)\s+"
    r"(?:is|are|must be|should be|can be|may be)\s+one of\b"
)


def _says_one_of(text: str) -> bool:
    return "one of" in text or "One of" in text or "ONE OF" in text  # (3 C searches: no regex, no copy)


def _states_allowed_values(text: str, keys: dict[str, None]) -> bool:
    """`"decision" is one of: open_long, close, hold.` (after the answer's example, whose keys are known),
    `Each value is one of: ...`, or a choice among named options (`For each symbol choose one of:
    OPEN_LONG, OPEN_SHORT, CLOSE, HOLD.`): the answer's allowed values."""
    if not _says_one_of(text):
        return False
    if keys:
        allowed = _ALLOWED_VALUES.match(text)
        if allowed is not None and (
            allowed.group(1).lower() in keys or allowed.group(1).lower() in DECISION_KEYS
        ):
            return True
        if _ALLOWED_EACH.match(text) is not None:
            return True
    return _CHOOSE_ONE_OF.search(text) is not None


_OPTION = r"""(?:\b[A-Z][A-Z0-9_]+\b|`[\w-]+`|"[\w-]+"|'[\w-]+')"""
_CHOOSE_ONE_OF = re.compile(  # a choice among options written as names: the answer's allowed values
    r"(?i:\b(?:choose|pick|select|answer with|reply with|respond with|return|output|use)\b[^.\n]{0,40}"
    r"\bone of\b(?:\s+(?:the\s+)?(?:following|these|those)(?:\s+\w+)?)?)\W{0,3}"
    rf"{_OPTION}(?:\s*(?:,|/|\||\bor\b)\s*{_OPTION})+"
)
_ALLOWED_VALUES = re.compile(
    r"""(?i)^\W{0,3}["'`]?([A-Za-z_]\w*)["'`]?\s+(?:is|are|must be|should be|can be|may be)\s+one of\b"""
)


def _opens(heading: Block, name: str) -> bool:
    """The heading is the opening tag `<name>` (with or without attributes)."""
    tag = _TAG_LINE.match(heading.text) if heading.text[:1] == "<" else None
    return tag is not None and not tag.group(1) and tag.group(2) == name


def _nests(heading: Block, closed: set[str]) -> bool:
    """An opening tag whose closing tag comes later holds the tags opened before it closes (XML
    sections nest); a tag never closed is a section marker, ended by the next one as a heading is."""
    tag = _TAG_LINE.match(heading.text) if heading.text[:1] == "<" else None
    return tag is not None and not tag.group(1) and tag.group(2) in closed


def own_symbol(core: Block) -> str | None:
    """The symbol a key/value line names itself: `BTC: price ...` or `symbol=SOLUSDT price=...`."""
    if core.sep == "entity":
        return symbol_of(core.label)
    for key, value in core.pairs:
        if is_symbol_key(key):
            return symbol_of(value)
    return None


@lru_cache(maxsize=4096)
def _heading_flags(label: str) -> tuple[bool, bool]:
    """(opens the answer format, opens a RULES-like section) for a heading (headings repeat: memoised)."""
    return bool(FORMAT_HEADING.search(label)), bool(_INSTR_HEADING.search(label))


def _position_data(block: Block) -> bool:
    """A position (a dict line or a table with symbol, stop loss and take profit columns) is data
    wherever it stands, even after an answer-format heading."""
    if block.kind is KIND_POSITION:
        # an XML element (`<action symbol="BTC" stop_loss="117900.0"/>`) under an answer-format
        # heading is the answer's example, written as the answer is to be written
        return not block.text.startswith("<")
    if block.kind is KIND_TABLE and block.header is not None:
        names = [norm_key(h) for h in block.header]
        if any(n in DECISION_KEYS for n in names) or any(lists_choices(v) for v in block.values):
            return False  # `symbol  signal  stop_loss` / `BTC  buy|sell|hold  number`: the answer's columns
        return any(is_symbol_key(n) for n in names) and any(is_sl(n) or is_tp(n) for n in names)
    return False


# --- records: an entity header and the lines that describe it ---------------------------------------
def symbol_of(text: str) -> str | None:
    """The one symbol a text names (None for none or several)."""
    found = symbols_in(plain(text))
    return found[0] if len(found) == 1 else None


@dataclass(slots=True)
class Record:
    """A run of blocks about one entity: a heading or `Symbol: X` line and its `Label: value` lines."""

    start: int  # index of the header block
    end: int  # one past the last member
    symbol: str | None
    pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_position(self) -> bool:
        """Stop loss and take profit, or a side with an entry or a quantity (a trade setup with an
        entry and a target but no side is a hypothesis, not a position)."""
        if not self.symbol:
            return False
        keys = {position_field(k) for k, _ in self.pairs}
        if "sl" in keys and "tp" in keys:
            return True
        return "side" in keys and ("entry" in keys or "qty" in keys)


_MEMBER_KINDS = (Kind.KV, Kind.PROSE, Kind.SERIES)


def records(blocks: Sequence[Block]) -> list[Record]:
    """Records of a prompt: each heading (any rank) or `Symbol: X ...` line with the key/value lines
    that follow it, up to the next heading, separator, table, JSON or code block."""
    out: list[Record] = []
    i = 0
    n = len(blocks)
    opener = ""  # the first label of the last paragraph record (`trade id`)
    while i < n:
        b = blocks[i]
        core = b.core
        paragraph = None
        if not (b.kind is KIND_HEADING or _opens_record(core)):
            paragraph = _paragraph_symbol(blocks, i, opener)
            if paragraph is None:
                i += 1
                continue
        rec = Record(i, i + 1, None)
        if paragraph is not None:  # `Trade ID: 123` / `Current Pair: BTC/USDT` / ...: one trade a paragraph
            rec.pairs.extend(core.pairs)
            rec.symbol = paragraph
            opener = norm_key(core.pairs[0][0])
        elif b.kind is KIND_HEADING:
            rec.symbol = symbol_of(b.label)
            side = _HEADING_SIDE.search(b.label) if rec.symbol else None
            if side:  # `📈 BTC/USDT LONG` over `Entry: ...` / `SL: ...`: a signal's side is in its title
                rec.pairs.append(("side", side.group(1) or side.group(2)))
        elif core.sep == "entity":  # `BTC: price 1, rsi 2`: a record of one line
            rec.pairs.extend(core.pairs)
            rec.symbol = symbol_of(core.label)
            out.append(rec)
            i += 1
            continue
        else:
            rec.pairs.extend(core.pairs)
            named = next((v for k, v in core.pairs if is_symbol_key(k)), core.pairs[0][1])
            rec.symbol = symbol_of(named) or (plain(named).split() or [named])[0]
        j = i + 1
        bullets = indented = False
        while j < n:
            m = blocks[j]
            mc = m.core
            if m.kind is KIND_HEADING or mc.kind not in _MEMBER_KINDS:
                break
            if (bullets or indented) and m.blank_before and m.kind is not KIND_BULLET and not m.indent:
                break  # a list (or indented lines), a blank line, then a plain line: the record ended
            if paragraph is not None and (
                m.blank_before or mc.kind is not KIND_KV or norm_key(mc.pairs[0][0]) == opener
            ):
                break  # a blank line, or the next trade's first label (`Trade ID:` again)
            if indented and m.indent <= b.indent and m.kind is not KIND_BULLET:
                break  # members indented under their header, then a plain line back at its margin
            if b.kind is not KIND_HEADING and (
                ((m.instr or m.fmt) and not data_pairs(mc)) or _names_other(mc, rec.symbol)
            ):
                break  # a `symbol: X` record is data: an instruction or another symbol ends it
            bullets = bullets or m.kind is KIND_BULLET
            indented = indented or m.indent > b.indent
            if _opens_record(mc) and paragraph is None:
                break  # the next record's header
            if mc.kind is KIND_KV:
                rec.pairs.extend(mc.pairs)
            j += 1
        rec.end = j
        if rec.symbol is None:
            rec.symbol = next((symbol_of(v) or v for k, v in rec.pairs if is_symbol_key(k)), None)
        if rec.symbol is None and b.symbol:
            rec.symbol = b.symbol
        out.append(rec)
        i = j if j > i + 1 else i + 1
    return out


_HEADING_SIDE = re.compile(r"\b(LONG|SHORT|Long|Short)\b(?!-)|\b(long|short)\W*$")  # (`DCA bot #7 SOL long`)


def data_pairs(block: Block) -> bool:
    """A key/value line with a market or position field (`Entry Price: $1`), even in a RULES section."""
    return block.kind is Kind.KV and any(required_kind(k) or position_field(k) for k, _ in block.pairs)


def _names_other(block: Block, symbol: str | None) -> bool:
    """A line that names a symbol other than `symbol`."""
    return any(s != symbol for s in symbols_in(block.text))


def _opens_record(core: Block) -> bool:
    """A `Symbol: X ...` / `symbol=X ...` line (the symbol key may come later: `exchange: Binance |
    symbol: BTC-USDT`), or an entity line (`BTC: price 1, rsi 2`)."""
    return core.kind is KIND_KV and (core.sep == "entity" or any(is_symbol_key(k) for k, _ in core.pairs))


def _paragraph_symbol(blocks: Sequence[Block], i: int, opener: str) -> str | None:
    """The symbol of a paragraph of `Label: value` lines that starts at `i` and names its symbol on a
    later line (freqtrade's `/status`: `Trade ID: 123`, `Current Pair: BTC/USDT`, `Open Rate: ...`).
    A paragraph starts after a blank line or a line of another kind, or where the previous one started
    (`opener`, its first label): blank lines are not always there (a compressed prompt has none)."""
    first = blocks[i]
    if first.kind is not KIND_KV or first.sep != ":" or first.fmt:
        return None
    key = norm_key(first.pairs[0][0])
    if i and not first.blank_before and blocks[i - 1].core.kind is KIND_KV and key != opener:
        return None
    for j in range(i + 1, min(i + 12, len(blocks))):
        m = blocks[j]
        if m.kind is not KIND_KV or m.sep != ":" or m.blank_before or norm_key(m.pairs[0][0]) == key:
            return None
        if is_symbol_key(m.pairs[0][0]):
            return symbol_of(m.pairs[0][1])
    return None


@lru_cache(maxsize=4096)
def is_symbol_key(key: str) -> bool:
    """`symbol`, `pair`, `Current Pair`, `ticker`, ...: a key whose value names the symbol."""
    k = norm_key(key)
    return k in SYMBOL_KEYS or _SYMBOL_KEY.fullmatch(k) is not None


_SYMBOL_KEY = re.compile(r"(?:current|trading|trade) (?:pair|symbol|market|coin)|inst(?:rument)? id")  # OKX


def _json_keys(value: object) -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if not symbols_in(str(k)):
                out.append(str(k))
            out.extend(_json_keys(v))
    elif isinstance(value, list):
        for v in value:
            out.extend(_json_keys(v))
    return out


_YAML_KEY = re.compile(r"^\s*(?:-\s+)?([A-Za-z_]\w*)\s*:")
_QUOTED_KEY = re.compile(r"""["']([A-Za-z_]\w*)["']\s*:""")
DECISION_KEYS = frozenset({"signal", "action", "decision", "recommendation", "trade_signal", "verdict"})
_JSONISH_SIGNAL = re.compile(r"""^\s*[{\[]?\s*["']?(?:signal|action|decision)["']?\s*:""", re.I)


_CHOICES = re.compile(r"[^\W\d]\w*(?:\s*\|\s*[^\W\d]\w*)+")
# An answer example inside a line (`Respond in JSON: {"signal": "buy|sell|hold"}`): a decision key or
# a quoted list of choices after a `{`.
_INLINE_ANSWER = re.compile(
    r"""(?i)\{.*?["'](?:signal|action|decision|recommendation|trade_signal|verdict)["']\s*:"""
    r"""|\{.*?["'][^\W\d]\w*(?:\s*\|\s*[^\W\d]\w*)+["']"""
)


def has_inline_answer(text: str) -> bool:
    """An answer template inside a line (`Respond: {"signal": "buy|sell"}`). Tried from each line's first
    `{` only: what matches from a later brace matches from the first (`.*?` spans the braces between),
    and a search from every brace is quadratic (3,000 nested `{"a":` took 3.4 s)."""
    for line in text.split("\n") if "\n" in text else (text,):
        start = line.find("{")
        if start >= 0 and _INLINE_ANSWER.match(line, start):
            return True
    return False


def lists_choices(value: object) -> bool:
    """A string value written as allowed choices (`buy|sell|hold`), anywhere in a JSON value."""
    if isinstance(value, str):  # (`BTC|USDT` names a pair, not choices)
        return _CHOICES.fullmatch(value.strip()) is not None and not symbols_in(value)
    if isinstance(value, dict):
        return any(lists_choices(v) for v in value.values())
    if isinstance(value, list):
        return any(lists_choices(v) for v in value)
    return False


_YAML_OPEN = re.compile(r"^(?:-\s+)?[A-Za-z_][\w-]*\s*:$")
_YAML_VALUE = re.compile(r"^\s*(?:-\s+)?[^:]+:\s*(.+)$")


def _after_format(blocks: list[Block]) -> bool:
    """The last line read opens the answer format (`Output format (YAML, nothing else):`), or leads
    into it under such a heading or by naming YAML (`OUTPUT FORMAT` / `One YAML document:`)."""
    if not blocks:
        return False
    last = blocks[-1]
    if last.kind is Kind.HEADING and _heading_flags(last.label)[0]:
        return True
    lead = last.text.rstrip("*_ ")
    if not lead.endswith(":") or len(lead) > 120:
        return False
    return "yaml" in lead.lower() or (
        len(blocks) > 1 and blocks[-2].kind is Kind.HEADING and _heading_flags(blocks[-2].label)[0]
    )


def _yaml_answer_end(lines: list[str], i: int, after_format: bool = False) -> int | None:
    """End of an unfenced YAML answer template at line `i` (`decisions:` and the lines indented under
    it, or `- ` items), if it has a `signal`-like key or a value listing choices, or stands right under
    an answer-format heading: its indentation is its structure, so it is kept as written, like a
    fenced one."""
    base = len(lines[i]) - len(lines[i].lstrip())
    if not _YAML_OPEN.match(lines[i].strip()):
        return None
    j = i + 1
    while j < len(lines) and (item := lines[j].strip()):
        indent = len(lines[j]) - len(lines[j].lstrip())
        if indent < base:
            break
        # the document's next top-level key (`dca:`, `comment: one sentence`) belongs to it too; a line
        # of data after the template does not
        if (
            indent == base
            and not item.startswith("- ")
            and (not _YAML_SIBLING.match(item) or HAS_DIGIT.search(item) or symbols_in(item))
        ):
            break
        j += 1
    if j - i < 3:
        return None
    body = lines[i + 1 : j]
    if after_format or any((m := _YAML_KEY.match(ln)) and m.group(1).lower() in DECISION_KEYS for ln in body):
        return j
    return j if any((m := _YAML_VALUE.match(ln)) and _yaml_lists_choices(m.group(1)) for ln in body) else None


_YAML_SIBLING = re.compile(r"""(?:[A-Za-z_][\w-]*|"[^"]{1,30}")\s*:(?:\s|$)""")
_FLOW_VALUE = re.compile(r":\s*([^,{}]+)")


def _yaml_lists_choices(value: str) -> bool:
    """`keep|pause|stop`, or a flow mapping with such a value (`{action: keep|pause|stop, size: 0}`)."""
    if value.startswith("{") and value.rstrip().endswith("}"):
        return any(lists_choices(v) for v in _FLOW_VALUE.findall(value))
    return lists_choices(value)


_SCHEMA_KEYS = ("parameters", "input_schema", "json_schema", "schema", "function")


def is_json_schema(value: object, depth: int = 0) -> bool:
    """A JSON Schema or a tool definition (OpenAI `tools`/`response_format`, Anthropic `input_schema`):
    the answer's contract itself, with no example values in it."""
    if isinstance(value, list):
        return depth < 2 and any(is_json_schema(v, depth + 1) for v in value[:8])
    if not isinstance(value, dict):
        return False
    if isinstance(value.get("properties"), dict) and value.get("type") in ("object", None):
        return True
    return depth < 2 and any(is_json_schema(value.get(k), depth + 1) for k in _SCHEMA_KEYS if k in value)


def _answer_example(block: Block) -> bool:
    """A JSON or code block that shows the decision to answer with: it has a `signal`-like key, or a
    value listing the allowed answers (`"comprar|vender|mantener"`: in any language)."""
    if block.kind is Kind.JSON:
        return (
            any(k.lower() in DECISION_KEYS for k in _json_keys(block.data))
            or lists_choices(block.data)
            or is_json_schema(block.data)
        )
    return bool(re.search(r"""(?i)["']?\b(?:signal|action|decision)\b["']?\s*:""", block.text))


_PLACEHOLDER = re.compile(
    r"(?i)(?:string|str|text|number|num|integer|int|float|double|decimal|bool(?:ean)?|\.\.\.|…)"
    r"|<[^>]*>|\[[^\]]*\]|.*\b(?:between|one of|e\.g\.)\b.*|[^\W\d]\w*(?:\s*/\s*[^\W\d]\w*)+"
)
_ANSWER_CUE = re.compile(
    r"(?i)\b(?:respond|response|answer|reply|output|return|format|example|e\.g\.|sample|template|schema|"
    r"structure|like this)\b"
)


def _placeholders(value: object) -> bool:
    """A value of a template rather than data: `"string"`, `"<reason>"`, `"buy/sell/hold"`, `"..."`."""
    if isinstance(value, str) and not isinstance(value, Raw):
        return _PLACEHOLDER.fullmatch(value.strip()) is not None or lists_choices(value)
    if isinstance(value, dict):
        return any(_placeholders(v) for v in value.values())
    if isinstance(value, list):
        return any(_placeholders(v) for v in value)
    return False


def _decision_data(doc: Doc, idx: int) -> bool:
    """A JSON block with `signal`-like keys that is input, not the answer's example: other agents'
    signals handed to this one (`{"BTC": {"technical_agent": {"signal": "bullish", "confidence": 72}}}`).
    Said only on strong evidence, since an answer example taken for data would lose the contract:
    concrete values only, no answer cue on the line before it, and the answer format stated later."""
    block = doc.blocks[idx]
    if block.kind is not Kind.JSON or _placeholders(block.data) or block.bullet == "```":
        return False
    if idx and _ANSWER_CUE.search(doc.blocks[idx - 1].text):
        return False
    for later in doc.blocks[idx + 1 :]:
        if later.kind is Kind.HEADING and _heading_flags(later.label)[0]:
            return True
        if later.kind in (Kind.KV, Kind.PROSE) and "{" in later.text and has_inline_answer(later.text):
            return True
    return False


# --- a series written one value per line -----------------------------------------------------------
ALIKE_MIN = 8
"""Fewer lines alike are a list someone wrote, not a dump of history."""
_ALIKE_KINDS = (Kind.PROSE, Kind.KV)
_NO_DIGITS = str.maketrans("", "", "0123456789+-−")  # what is left of a line but for its numbers


def alike_runs(doc: Doc) -> list[range]:
    """Runs of at least `ALIKE_MIN` consecutive data lines that are the same but for their numbers
    (`BTC 1m close 90963.44 at 14:00`, one line per candle): a series written one value per line, whose
    last line is the current value and the others history. Never instructions, answer format or
    positions. Computed once per parsed prompt."""
    if doc.runs is None:
        doc.runs = _alike_runs(doc)
    return doc.runs


def _alike_runs(doc: Doc) -> list[range]:
    runs: list[range] = []
    blocks = doc.blocks
    n = len(blocks)
    i = 0
    while i < n:  # only a stretch of at least ALIKE_MIN data lines can hold a run: most prompts have none
        b = blocks[i]
        if b.core.kind not in _ALIKE_KINDS or b.instr or b.fmt:
            i += 1
            continue
        end = i + 1
        while end < n and (b := blocks[end]).core.kind in _ALIKE_KINDS and not (b.instr or b.fmt):
            end += 1
        if end - i >= ALIKE_MIN:
            runs += _alike_in(blocks, i, end)
        i = end
    if runs:  # a position's lines are never history (rare: looked at only when there is a run)
        positions = {i for rec in doc.records if rec.is_position for i in range(rec.start, rec.end)}
        runs = [run for run in runs if positions.isdisjoint(run)]
    return runs


def _alike_in(blocks: list[Block], first: int, end: int) -> list[range]:
    """The runs of lines alike in `blocks[first:end]`, a stretch of lines that may be alike."""
    runs: list[range] = []
    start, shape = first, ""
    for i in range(first, end + 1):
        here = ""
        if i < end:
            text = blocks[i].text
            here = text.translate(_NO_DIGITS)
            if len(here) == len(text):
                here = ""  # no number: not a line of a series
        if here and here == shape:
            continue
        if shape and i - start >= ALIKE_MIN and _in_time_order(blocks[start:i]):
            runs.append(range(start, i))
        start, shape = i, here
    return runs


_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?|\b\d{2}:\d{2}(?::\d{2})?\b")


def _in_time_order(blocks: Sequence[Block]) -> bool:
    """Each line stamped with a date or time, oldest first: history. An order book (`bid 1: 3012.10`),
    resting grid orders or a ranking are alike too, but they are live state, not history; and a list
    newest first would keep its oldest lines."""
    stamps = [m.group(0) if (m := _STAMP.search(b.text)) else "" for b in blocks]
    return all(stamps) and all(a < b for a, b in itertools.pairwise(stamps))
