"""Lexical helpers shared by the parser, the fidelity check and the tests: numbers, symbols, decoration.

Numbers are handled as the exact substrings of the prompt, never parsed to float and printed back.
A number "as written" is what a reader takes for one value: sign, currency, thousands separators,
decimals, exponent, a glued unit or ratio suffix (`%`, `x`, `k`, `15m`), ranges and dates glued by a
dash (`383–405`, `2025-10-28`) and times or ratios glued by `:` or `/` (`07:03`, `3:1`). Comparing these
whole tokens is what catches a split such as `$17,500` -> `$17, 500`, which a digit-run comparison misses.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from pytest_oxbot.compressor import template

_CORE = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
_SIGNED = rf"[-+−±]?[$€£¥₿]?[-+−]?{_CORE}"
_UNIT = r"(?:%|[A-Za-z]{1,3}(?![A-Za-z]))?"
NUMBER_RE = re.compile(  # the leading lookahead lets the scan skip letters fast
    rf"(?=[~≈\-+−±$€£¥₿.\d])(?<![\w.])[~≈]?{_SIGNED}{_UNIT}(?:[–—-]{_SIGNED}{_UNIT}|[:/]{_CORE}{_UNIT})*(?!\w)"
)
_SHORT_INT_END = re.compile(r"[^\d.]*\d{1,3}(?:,\d{3})*")
# A bare digit run, for "does this text hold any number" checks that must be cheap.
HAS_DIGIT = re.compile(r"\d")

# Common crypto base assets; anything written as a pair (BTC/USDT, ETHUSDT, SOL-PERP, 1000PEPEUSDT) is
# found too. Tickers that are also words a prompt writes in capitals (NOT, ME, IP, S, W, ONE, MOVE, GAS,
# CORE, FLOW, MEME, ALT, GMT, TRUMP, ...) are left out: they are found in pair form only.
_SYMBOL_LIST = (
    "BTC ETH SOL BNB XRP DOGE ADA AVAX DOT LINK MATIC POL LTC TRX TON SHIB ARB OP SUI APT PEPE "
    "NEAR ATOM UNI BCH ETC FIL HYPE XLM WIF INJ SEI TIA RNDR RENDER AAVE MKR ICP HBAR VET ALGO "
    "XBT BONK FLOKI TAO ENA ONDO JUP JTO PYTH WLD FET STRK ZRO EIGEN ETHFI PNUT POPCAT MEW BRETT PENGU "
    "FARTCOIN KAITO BERA AI16Z PENDLE ORDI RUNE RAY STX IMX GRT LDO CRV SNX DYDX GMX FTM EGLD KAS XMR "
    "ZEC ZEN ZIL ZRX XTZ XDC XEC YFI EOS NEO IOTA KSM KAVA MANA SAND AXS GALA CHZ CFX CKB CRO MNT BGB "
    "BSV LUNA LUNC HNT JASMY ARKM AEVO AGIX ANKR API3 ASTR AXL BAKE BLUR BOME CAKE CELO CVX ENS FXS "
    "LPT LRC MINA MOG QNT ROSE RSR SSV THETA TRB TWT WOO XAI ZETA PAXG XAUT"
)
KNOWN_SYMBOLS = frozenset(_SYMBOL_LIST.split())
# Coin names bots print instead of tickers ("**Bitcoin** (BTC/USDT):").
COIN_NAMES = {
    "bitcoin": "BTC",
    "ethereum": "ETH",
    "ether": "ETH",
    "solana": "SOL",
    "ripple": "XRP",
    "dogecoin": "DOGE",
    "cardano": "ADA",
    "avalanche": "AVAX",
    "polkadot": "DOT",
    "chainlink": "LINK",
    "litecoin": "LTC",
    "polygon": "MATIC",
    "tron": "TRX",
    "toncoin": "TON",
    "arbitrum": "ARB",
    "optimism": "OP",
    "aptos": "APT",
    "cosmos": "ATOM",
    "uniswap": "UNI",
    "stellar": "XLM",
}
# Names of two words whose first word names another coin: `Bitcoin Cash (BCH)` is one coin, not BTC too.
TWO_WORD_NAMES = {
    "Bitcoin Cash": "BCH",
    "Bitcoin SV": "BSV",
    "Ethereum Classic": "ETC",
    "Wrapped Bitcoin": "WBTC",
    "Shiba Inu": "SHIB",
}
_TWO_WORD_TICKER = {" ".join(n.lower().split()): t for n, t in TWO_WORD_NAMES.items()}
_TWO_WORD_TICKERS = frozenset(TWO_WORD_NAMES.values())
_TWO_WORD_FIRST = frozenset(f(n.split()[0]) for n in TWO_WORD_NAMES for f in (str.title, str.upper))
_TWO_WORD_RE = re.compile(r"(?i)\b(?:" + "|".join(n.replace(" ", r"\s+") for n in TWO_WORD_NAMES) + r")\b")
_ONE_WORD_NAMES = KNOWN_SYMBOLS | _TWO_WORD_TICKERS | {n.capitalize() for n in COIN_NAMES}
# Any way a text names a symbol: a ticker (with a quote asset or not) or a coin name.
MENTION_RE = re.compile(
    r"\b(?:[A-Z][A-Z0-9]{1,9}?[/_-]?(?:USDT|USDC|BUSD|USD|PERP)|"
    + "|".join(n.replace(" ", r"\s+") for n in TWO_WORD_NAMES)
    + "|"
    + "|".join(sorted(_ONE_WORD_NAMES, key=len, reverse=True))
    + r")\b"
)
# (`1000PEPEUSDT`, `1MBABYDOGEUSDT`: a base quoted per thousand or million units is that base)
_PAIR_RE = re.compile(
    r"(?:\b|(?<=\b1000)|(?<=\b1M))([A-Z][A-Z0-9]{1,9}?)[/_-]?(?:USD_PERP|USDT|USDC|FDUSD|BUSD|USD|PERP)\b"
)
# (`\b[A-Z]...` written as `[A-Z](?<!\w[A-Z])...`: the same matches, the look-behind asking that no word
# character precede the capital; a pattern that starts with a character set lets the regex engine skip
# to the next capital at C speed instead of trying every position: ~3x faster on a line)
_WORD_RE = re.compile(r"[A-Z](?<!\w[A-Z])[A-Za-z0-9]{1,9}\b")

# Pictographs and dingbats used as decoration (🟢 ⚠️ ▶ ✅ 📈 ...), with their variation selectors and joiners.
# Arrows (→ ←) and maths signs are meaning, not decoration, and are not in these ranges.
_PICTOGRAPH = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u25a0-\u25ff\u2300-\u23ff"
# A run starts with a pictograph (or a variation/keycap mark): a zero-width joiner alone joins
# nothing decorative, and removing it could glue two numbers (`55<ZWJ>.2` -> `55.2`).
EMOJI_RE = re.compile(f"[{_PICTOGRAPH}\ufe0f\u20e3][{_PICTOGRAPH}\ufe0f\u200d\u20e3]*")
# Markdown emphasis that decorates words: **bold**, __bold__, *italic*. Never inside a word ("5*3"),
# never across a number's own characters.
# The markers never sit between a number and its sign, currency or unit (`$**17,500**`, `**5**%`): taking
# them out there would glue the two into another number as written.
# (Each starts with its marker and then looks behind it for the character before: the same matches as
# the look-behind written first, but a pattern that starts with a literal is searched for it at C speed,
# not tried at every position: `**bold**` in a 200-char line 3.4 -> 1.3 us.)
_BOLD_RE = re.compile(r"\*\*(?<![\w*$€£¥+\-−~.]\*\*)(?=\S)(.+?)(?<=\S)\*\*(?![\w*%])")
_UBOLD_RE = re.compile(r"__(?<![\w_$€£¥+\-−~.]__)(?=\S)(.+?)(?<=\S)__(?![\w_%])")
_ITALIC_RE = re.compile(r"\*(?<![\w*$€£¥+\-−~.]\*)(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*%])")
# (`[ \t\u00a0]{2,}|\t` starting with its character set: the same matches, found by skipping to blanks)
_SPACES = re.compile(r"[ \t\u00a0](?:[ \t\u00a0]+|(?<=\t))")


def numbers_in(text: str) -> list[str]:
    """Every number of a text, as written."""
    return NUMBER_RE.findall(text)


# What a reader still reads as the same number after NUMBER_RE's match: other digit groupings
# (`2 965,10`, `2.965,10`, `2'965.10`, `1,25`) and then a glued unit (`+59,23%`).
_CONTINUED = re.compile(r"(?:[ ,.'’\u00a0\u202f]\d+)+(?:%|[A-Za-z]{1,3}(?![A-Za-z]))?")


def number_as_written(text: str, pos: int = 0, *, anchored: bool = False) -> str | None:
    """The first number of `text` (from `pos`; at `pos` when `anchored`) with all a reader reads as
    part of it: a grouping NUMBER_RE splits (`2 965,10`, `2.965,10`, `2'965.10`: taking `2` alone
    would change the value) and the parentheses of an accounting negative (`(1,234.50)`)."""
    m = NUMBER_RE.match(text, pos) if anchored else NUMBER_RE.search(text, pos)
    if m is None:
        if anchored and text.startswith("(", pos):
            inner = number_as_written(text, pos + 1, anchored=True)
            if inner is not None and text.startswith(")", pos + 1 + len(inner)):
                return f"({inner})"
        return None
    start, end = m.span()
    more = _CONTINUED.match(text, end)
    if more is not None:
        end = more.end()
    if start > pos and text[start - 1] == "(" and text.startswith(")", end):
        start, end = start - 1, end + 1
    return text[start:end]


def changed_numbers(original: str, compressed: str) -> list[str]:
    """Numbers of `compressed` that are not written the same way (and as often) in `original` (each
    text read as its lines: a template of lines alike counts its words once per line it stands for)."""
    return number_changes(Counter(numbers_in(template.expand(original))), compressed)


def number_changes(available: Counter[str], compressed: str) -> list[str]:
    """`changed_numbers` against the precomputed number counts of the original (read as its lines)."""
    changed: list[str] = []
    for number, count in sorted(Counter(numbers_in(template.expand(compressed))).items()):
        if count > available[number]:
            changed.extend([number] * (count - available[number]))
    return changed


def join_numbers(values: Iterable[str], sep: str = ",") -> str:
    """Values joined with `sep`, or with `sep + " "` when the tight join would read as other numbers
    (`100,200` is one number with a thousands separator; `100, 200` is two; `89.950,25` with a decimal
    comma is kept apart from the next value by a space too)."""
    items = list(values)
    # one scan of the values joined by a NUL (never part of a separator) rather than a generator per value
    if sep in "\0".join(items):
        return (sep + " ").join(items)
    for a, b in itertools.pairwise(items):
        # `12` then `345` reads as `12,345`: the only way a tight join changes a number (`a` with a `.`
        # never matches `_SHORT_INT_END`: tested first, as prices have one)
        if (
            "." not in a
            and len(b) >= 3
            and b[:3].isdigit()
            and (len(b) == 3 or not b[3].isdigit())
            and _SHORT_INT_END.fullmatch(a)
        ):
            return (sep + " ").join(items)
    return sep.join(items)


# Tickers the prompt being compressed shows to be symbols (`AAPL: price 231.50`), beyond the known ones:
# set for the length of one compression or check (`prompt_symbols`), so a stock bot's facts are read.
_PROMPT_SYMBOLS: ContextVar[frozenset[str]] = ContextVar("oxbot_prompt_symbols", default=frozenset())


@contextmanager
def prompt_symbols(extra: frozenset[str]) -> Iterator[None]:
    """Within the block, `extra` tickers are symbols too (one prompt's own universe)."""
    token = _PROMPT_SYMBOLS.set(extra)
    try:
        yield
    finally:
        _PROMPT_SYMBOLS.reset(token)


def current_prompt_symbols() -> frozenset[str]:
    return _PROMPT_SYMBOLS.get()


# `AAPL: price 231.50, RSI 55.2`, `- **NVDA** (last 181.20)`, `TSLA | close 402.1`: a capitalised ticker
# naming a line that gives a price, close, last or RSI with a number
# (searched in "\n" + prompt: a pattern that starts with a literal is scanned for it at C speed)
# (possessive lead: a match's ticker starts at the first character past the marks whatever the split, so
# giving marks back never matches otherwise; at each of a prompt's newlines a failure is then cheaper)
_LINE_TICKER = re.compile(
    r"\n[ \t\-*•>#|]*+\**+([A-Z][A-Z0-9]{1,5}(?:\.[A-Z])?)\**[ \t]*(?:[:(|]|[ \t]-[ \t])"
)
_TICKER_CUE = re.compile(
    r"[^\n]{0,40}?\b(?i:price|close|last|mark|rsi)\b[ \t]*(?:\([^)\n]{0,12}\))?[ \t]*[:=]?[ \t]*[-+$€£]?\d"
)
# `TSLA indicators: VWAP 455.92 | RSI(14, 1m) 54.2`, `AAPL last price 270.37`: the ticker, then words
_LINE_TICKER_WORDS = re.compile(r"\n[ \t\-*•>#|]*+\**+([A-Z][A-Z0-9]{1,5}(?:\.[A-Z])?)\**[ \t]+(?=[a-z])")
# a JSON map of tickers to numbers (`Current Prices: {"AAPL": 270.37, ...}`), read when a price is named
# just before it
_JSON_NUMBER_MAP = re.compile(r'\{\s*"[A-Z][A-Z0-9]{1,5}(?:\.[A-Z])?"\s*:\s*-?\d[^{}]{0,3000}\}')
_JSON_NUMBER_KEY = re.compile(r'"([A-Z][A-Z0-9]{1,5}(?:\.[A-Z])?)"\s*:\s*-?\d')
_JSON_TICKER = re.compile(r"""\"(?:symbol|ticker)"\s*:\s*"([A-Z][A-Z0-9]{1,5}(?:\.[A-Z])?)\"""")
_DICT_TICKER = re.compile(r"""'(?:symbol|ticker)'\s*:\s*'([A-Z][A-Z0-9]{1,5}(?:\.[A-Z])?)'""")  # Python dicts
# capitalised words a prompt writes as labels: never learned as tickers
_NOT_TICKER_WORDS = """
    RSI EMA SMA MACD ATR ADX VWAP OBV BB OI PNL UPNL TP SL NAV ETF FVG UTC GMT USD USDT USDC EUR JSON
    YAML API BUY SELL HOLD LONG SHORT NOTE NOTES RULE RULES MARKET DATA PRICE PRICES CLOSE OPEN HIGH LOW
    LAST MARK TREND VOLUME VOL AVG MAX MIN ID OK NO YES AND OR THE IF IN AT ON TO OF FOR IS IT BY AS AN
    ALL ANY NOW NEW TOP KEY RISK CASH FEE FEES BOT AI LLM GPT TOTAL SUMMARY STATUS SIGNAL SIGNALS ENTRY
    EXIT STOP TARGET SIDE QTY SIZE LEVEL LEVELS ZONE SUPPORT CURRENT INDEX INFO WARNING IMPORTANT
"""
_NOT_TICKERS = frozenset(_NOT_TICKER_WORDS.split())


def learn_symbols(prompt: str) -> frozenset[str]:
    """The tickers a prompt shows to be symbols though none is known: the name of a line giving a
    price, close, last or RSI, a `symbol`/`ticker` value in JSON, or a key of a JSON map of prices."""
    found: set[str] = set()
    text = "\n" + prompt
    for pattern in (_LINE_TICKER, _LINE_TICKER_WORDS):
        for m in pattern.finditer(text):
            ticker = m.group(1)
            if (
                ticker not in KNOWN_SYMBOLS
                and ticker not in _NOT_TICKERS
                and _TICKER_CUE.match(text, m.end())
            ):
                found.add(ticker)
    if '{"' in prompt:
        for m in _JSON_NUMBER_MAP.finditer(prompt):
            if "price" in prompt[max(0, m.start() - 40) : m.start()].lower():
                found.update(_JSON_NUMBER_KEY.findall(m.group()))
    if '"symbol"' in prompt or '"ticker"' in prompt:
        found.update(_JSON_TICKER.findall(prompt))
    if "'symbol'" in prompt or "'ticker'" in prompt:
        found.update(_DICT_TICKER.findall(prompt))
    return frozenset(
        t for t in found if t not in _NOT_TICKERS and t not in KNOWN_SYMBOLS and not _PAIR_RE.fullmatch(t)
    )


def symbols_in(text: str) -> list[str]:
    """Trading symbols (base assets) mentioned in a text, in order of first appearance."""
    return list(_symbols_in(text, _PROMPT_SYMBOLS.get()))


@lru_cache(maxsize=8192)
def _symbols_in(text: str, extra: frozenset[str]) -> tuple[str, ...]:
    if text.islower() or not text:
        return ()
    found: dict[str, None] = {}
    if "USD" in text or "PERP" in text:
        for match in _PAIR_RE.finditer(text):
            found.setdefault(match.group(1), None)
    words = _WORD_RE.findall(text)  # one scan for tickers (`BTC`) and coin names (`Bitcoin`)
    if not _TWO_WORD_FIRST.isdisjoint(words) and _TWO_WORD_RE.search(text):  # `Bitcoin Cash` is BCH, not BTC
        text = _TWO_WORD_RE.sub(lambda m: _TWO_WORD_TICKER[" ".join(m.group(0).lower().split())], text)
        words = _WORD_RE.findall(text)
    for word in words:
        if word in KNOWN_SYMBOLS or word in _TWO_WORD_TICKERS or word in extra:
            found.setdefault(word, None)
        elif word.lower() in COIN_NAMES:
            found.setdefault(COIN_NAMES[word.lower()], None)
    return tuple(found)


def _group1(m: re.Match[str]) -> str:
    return m.group(1)


def strip_emphasis(text: str) -> str:
    """The text without markdown bold/italic markers (the words stay)."""
    if "*" in text:
        text = _BOLD_RE.sub(_group1, text)
        if "*" in text:
            text = _ITALIC_RE.sub(_group1, text)
    if "__" in text:
        text = _UBOLD_RE.sub(_group1, text)
    return text


def strip_emoji(text: str) -> str:
    """The text without decorative pictographs; spacing around them is tidied. An emoji that is a value
    (alone on the line, or all there is after `Label:` or in a table cell) stays."""
    if text.isascii() or not EMOJI_RE.search(text):
        return text

    def drop(m: re.Match[str]) -> str:
        before, after = text[: m.start()].rstrip(), text[m.end() :].lstrip()
        alone = (not before or before[-1] in ":|=") and (not after or after[0] in "|,;")
        return m.group(0) if alone else ""

    out = EMOJI_RE.sub(drop, text)
    return _SPACES.sub(" ", out).strip() if out.strip() else text


def collapse_spaces(text: str) -> str:
    """Runs of spaces and tabs inside a line become one space (numbers never touch across a space)."""
    return _SPACES.sub(" ", text.strip()) if "  " in text or "\t" in text else text.strip()


@lru_cache(maxsize=8192)
def plain(text: str) -> str:
    """Text without decoration: emphasis, emoji, extra spaces. (Memoised per prompt text: the parser,
    the fact rules and the renderer each want the same lines plain; `forget_prompt_text` clears it.)"""
    if "*" in text or "__" in text:
        text = strip_emphasis(text)
    if not text.isascii():
        text = strip_emoji(text)
    return _SPACES.sub(" ", text.strip()) if "  " in text or "\t" in text else text.strip()


_NORM_DROP = re.compile(r"[\s*`]+|</?keep>")


def norm(text: str) -> str:
    """A comparison key that survives every transformation the compressor may apply to kept text
    (emphasis, emoji, spacing, keep markers): used to check that a line was kept."""
    if not text.isascii():
        text = EMOJI_RE.sub("", text)
    if "keep>" in text:
        return _NORM_DROP.sub("", text).lower()
    # (no keep marker: what goes is the blanks, `*` and backquotes; `str.split` splits at the characters
    # `\s` matches, and three C passes cost a quarter of the regex, which tries every position)
    return "".join(text.split()).replace("*", "").replace("`", "").lower()


# (a blank, then a look-behind at the mark before it: the same splits as `(?<=[.!?])\s+`, but the regex
# engine skips to the blanks instead of trying every position)
_SENTENCE_END = re.compile(r"\s(?<=[.!?]\s)\s*(?=[A-Z*\"'(\[`-])")


_ABBREVIATION_END = re.compile(r"\b(?:e\.g|i\.e|vs|etc|approx|no)\.$", re.I)  # `e.g.` ends no sentence


def sentences(text: str) -> list[str]:
    """The sentences of one line of prose (a decimal point or `e.g.` never ends a sentence)."""
    parts = _SENTENCE_END.split(text)
    out: list[str] = []
    for part in parts:
        # (searched from near its end, where any match ends: `\b` still sees the character before `pos`)
        if out and _ABBREVIATION_END.search(out[-1], max(len(out[-1]) - 12, 0)):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def first_sentence(text: str) -> str:
    """The first sentence of a line of prose (the whole line when it has one sentence)."""
    return sentences(text)[0]


def forget_prompt_text() -> None:
    """Drop what was memoised per prompt text, so a benchmark times every prompt as if it were new.

    (Per-key memos, e.g. which key names a stop loss, stay: a live bot's keys repeat every cycle.)
    """
    _symbols_in.cache_clear()
    plain.cache_clear()
