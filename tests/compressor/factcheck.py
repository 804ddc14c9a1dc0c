"""Independent checks of a compression: plain string and regex work, not the compressor's parser.

The number scanner here is written differently from `pytest_oxbot.compressor.text.NUMBER_RE` (a greedy
digit-and-comma scan, then a split of comma groups that are not thousands groups) so a bug in one is not
hidden by the same bug in the other.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from pytest_oxbot.compressor import AdaptivePromptCompressor, check_fidelity
from pytest_oxbot.compressor.text import numbers_in

EVERY_MODE = ("lossless", "analysis", "moderate", "standard", "lean", "minimal", "emergency")

_SCAN = re.compile(r"[~$+\-−]*\d[\d,]*(?:\.\d+)?%?")


def scan_numbers(text: str) -> list[str]:
    """Numbers as a reader takes them: `$17,500` is one number, `$17, 500` two, `1,2,3` three."""
    out: list[str] = []
    for match in _SCAN.finditer(text):
        token = match.group(0).rstrip(",")
        head, _, tail = token.partition(".")
        groups = head.split(",")
        digits0 = re.sub(r"\D", "", groups[0])
        if len(groups) == 1 or (len(digits0) <= 3 and all(len(g) == 3 and g.isdigit() for g in groups[1:])):
            out.append(token)
            continue
        last = len(groups) - 1
        for i, group in enumerate(groups):
            if group:
                out.append(group + ("." + tail if i == last and tail else ""))
    return out


def numbers_kept_as_written(original: str, compressed: str) -> list[str]:
    """Numbers of `compressed` that `original` does not hold written the same way (as often)."""
    extra = Counter(scan_numbers(compressed)) - Counter(scan_numbers(original))
    return sorted(extra.elements())


def squash(text: str) -> str:
    """Text without whitespace and emphasis stars: what must survive of a kept line."""
    return re.sub(r"[\s*]+", "", text)


def line_kept(compressed: str, line: str) -> bool:
    return squash(line) in squash(compressed)


def has_number(text: str, number: str) -> bool:
    return number in numbers_in(text) or number in scan_numbers(text)


def _mentions(line: str, symbols: Iterable[str]) -> list[tuple[int, str]]:
    found = []
    for sym in symbols:
        for m in re.finditer(rf"(?<![A-Za-z]){re.escape(sym)}(?![a-z])", line):
            found.append((m.start(), sym))
    return sorted(found)


def owned_by(text: str, symbols: Iterable[str], value: str) -> set[str]:
    """The symbols a value is written under: the last symbol named before it on its line, or else
    the last symbol named on an earlier line."""
    syms = list(symbols)
    owners: set[str] = set()
    last: str | None = None
    is_word = not re.search(r"\d", value)
    for line in text.splitlines():
        mentions = _mentions(line, syms)
        if is_word:
            hits = [m.start() for m in re.finditer(rf"(?<![\w-]){re.escape(value)}(?![\w-])", line)]
        else:
            hits = [
                m.start()
                for m in re.finditer(r"[~$+\-−]*\d[\d,]*(?:\.\d+)?%?", line)
                if value in scan_numbers(m.group(0))
            ]
        for pos in hits:
            before = [s for p, s in mentions if p < pos]
            owner = before[-1] if before else last
            if owner:
                owners.add(owner)
        if mentions:
            last = mentions[-1][1]
    return owners


def position_kept(text: str, symbols: Iterable[str], fields: dict[str, str | None]) -> list[str]:
    """Fields of one position (side, qty, entry, sl, tp, pnl) not found under its symbol."""
    sym = fields["symbol"]
    assert sym is not None
    missing = []
    for name, value in fields.items():
        if name == "symbol" or value is None:
            continue
        if sym not in owned_by(text, symbols, value):
            missing.append(f"{sym} {name}={value}")
    return missing


def segment(text: str, heading: str, later_headings: list[str]) -> str | None:
    """The text from `heading` to the first of `later_headings` after it (None: heading gone)."""
    lines = text.splitlines()
    wanted = squash(heading)
    try:
        start = next(i for i, ln in enumerate(lines) if squash(ln) == wanted)
    except StopIteration:
        return None
    later = {squash(h) for h in later_headings}
    end = next((j for j in range(start + 1, len(lines)) if squash(lines[j]) in later), len(lines))
    return "\n".join(lines[start:end])


def position_line_present(text: str, symbol: str, sl: str, tp: str) -> bool:
    """Some line names the symbol and carries both its stop-loss and take-profit, verbatim."""
    return any(symbol in line and has_number(line, sl) and has_number(line, tp) for line in text.splitlines())


def in_order(text: str, markers: Iterable[str]) -> bool:
    """The markers that are present appear in the given order."""
    flat = squash(text)
    positions = [flat.find(squash(m)) for m in markers]
    present = [p for p in positions if p >= 0]
    return present == sorted(present)


def compress_checked(prompt: str, mode: str) -> str:
    """`prompt` compressed at `mode` (gpt-4o tokens), once the exported check has passed on the result:
    what a test of a shape then asserts by string work is on top of that check."""
    result = AdaptivePromptCompressor(model="gpt-4o").compress_by_context(prompt, mode)
    assert check_fidelity(prompt, result, result.level).ok
    return str(result)
