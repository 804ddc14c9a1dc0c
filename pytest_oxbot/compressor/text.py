"""Lexical helpers shared by the parser, the fact checker and the tests: numbers and symbols.

Numbers are always handled as the exact substrings of the prompt (never parsed to float and printed
back), which is what makes "every number kept appears verbatim" hold by construction.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

# A number as a reader sees it: optional sign, digits, optional fraction and exponent; not glued to
# a word on either side ("rsi7" holds no number, "1.25e-05" is one number, "2025-10-28" is three).
NUMBER_RE = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")

# Common crypto base assets; anything written as a pair (BTC/USDT, ETHUSDT, SOL-PERP) is found too.
KNOWN_SYMBOLS = frozenset(
    {
        "BTC",
        "ETH",
        "SOL",
        "BNB",
        "XRP",
        "DOGE",
        "ADA",
        "AVAX",
        "DOT",
        "LINK",
        "MATIC",
        "POL",
        "LTC",
        "TRX",
        "TON",
        "SHIB",
        "ARB",
        "OP",
        "SUI",
        "APT",
        "PEPE",
        "NEAR",
        "ATOM",
        "UNI",
        "BCH",
        "ETC",
        "FIL",
        "HYPE",
        "XLM",
        "WIF",
        "INJ",
        "SEI",
        "TIA",
        "RNDR",
        "RENDER",
        "AAVE",
        "MKR",
        "ICP",
        "HBAR",
        "VET",
        "ALGO",
    }
)
_PAIR_RE = re.compile(r"\b([A-Z][A-Z0-9]{1,9}?)[/_-]?(?:USDT|USDC|BUSD|USD|PERP)\b")
_WORD_RE = re.compile(r"\b[A-Z][A-Z0-9]{1,9}\b")


def numbers_in(text: str) -> list[str]:
    """Every number of a text, as written."""
    return NUMBER_RE.findall(text)


def changed_numbers(original: str, compressed: str) -> list[str]:
    """Numbers of `compressed` that do not occur verbatim (and often enough) in `original`."""
    available = Counter(numbers_in(original))
    changed: list[str] = []
    for number, count in sorted(Counter(numbers_in(compressed)).items()):
        if count > available[number]:
            changed.extend([number] * (count - available[number]))
    return changed


def symbols_in(text: str) -> list[str]:
    """Trading symbols (base assets) mentioned in a text, in order of first appearance."""
    return list(_symbols_in(text))


@lru_cache(maxsize=8192)
def _symbols_in(text: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for match in _PAIR_RE.finditer(text):
        found.setdefault(match.group(1), None)
    for match in _WORD_RE.finditer(text):
        if match.group(0) in KNOWN_SYMBOLS:
            found.setdefault(match.group(0), None)
    return tuple(found)


def first_sentence(text: str) -> str:
    """The first sentence of a line of prose (the whole line when it has one sentence)."""
    match = re.search(r"[.!?](?=\s+[A-Z*\"'(])", text)
    return text[: match.end()] if match else text


def forget_prompt_text() -> None:
    """Drop what was memoised per prompt text, so a benchmark times every prompt as if it were new.

    (Per-key memos, e.g. which key names a stop loss, stay: a live bot's keys repeat every cycle.)
    """
    _symbols_in.cache_clear()
