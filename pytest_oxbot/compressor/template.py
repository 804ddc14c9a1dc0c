"""Lines alike but for a few words, written once as a template with one row of values per line.

A bot writes the same sentence per symbol (`Ethereum ... trades near $3,049.39. Momentum is weak, with the
RSI at 47.7 ...`); the sentence's words cost tokens on every line. Written as::

    Lines of "{} extended its move overnight and now trades near {}. Momentum is {}, with the RSI at {}.":
    Ethereum|$3,049.39|weak|47.7
    Solana|$128.45|weak|47.4
    (end of lines)

every value is a word of its line as written (a bracket or a trailing period common to a column may move
into the template), so no number can change, and `expand` gives the lines back exactly: the parser expands
before it reads, so every check reads the text it read before. The rows end with an end line (a count in
the header would be a number the prompt never had): a template never takes in the line after it, whatever
that line looks like (a pipe table, an answer example with `buy|sell|hold`, a line a later level brought
next to it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

HEAD = 'Lines of "'
END = "(end of lines)"
_HEAD_LINE = re.compile(r'Lines of "(.+)":')
_SLOT = "{}"
MAX_TEMPLATE = 400  # characters of a template: past it, the lines are not written so, nor read so
MAX_ROWS = 200  # rows of one template, for the same reason (a hostile prompt's expansion stays bounded)
_MAX_SLOTS = 8
_SPACES = re.compile(r"(\s+)")
# what a value may shed into the template when every value of its column has it: brackets and the
# punctuation after a word, never a sign, currency or unit (a number stays written as it was)
# (not parentheses: `(1,234.50)` is an accounting negative, its parentheses are its sign)
_SHED_BEFORE = "[\"'"
_SHED_AFTER = "]\"'.,;:!?"


def expand(text: str) -> str:
    """The text with each template written by `write` given back as the lines it stands for."""
    if HEAD not in text:
        return text
    lines = text.splitlines()
    out: list[str] = []
    i, changed = 0, False
    while i < len(lines):
        rows = _rows_at(lines, i)
        if rows is None:
            out.append(lines[i])
            i += 1
            continue
        literal, cells = rows
        out.extend(_fill(literal, row) for row in cells)
        i += 2 + len(cells)  # the header, the rows, the end line
        changed = True
    return "\n".join(out) if changed else text


def _rows_at(lines: list[str], i: int) -> tuple[list[str], list[list[str]]] | None:
    line = lines[i].strip()
    if not line.startswith(HEAD) or len(line) > MAX_TEMPLATE + 12:
        return None
    m = _HEAD_LINE.fullmatch(line)
    if m is None:
        return None
    literal = m.group(1).split(_SLOT)
    slots = len(literal) - 1
    if not 2 <= slots <= _MAX_SLOTS:
        return None
    rows: list[list[str]] = []
    for j in range(i + 1, min(len(lines), i + 2 + MAX_ROWS)):
        row = lines[j].strip()
        if row == END:
            return (literal, rows) if len(rows) >= 2 else None
        cells = row.split("|")
        if len(cells) != slots or not all(c.strip() == c and c for c in cells):
            return None  # a line that is not a row before the end line: not a template, read as written
        rows.append(cells)
    return None


def _fill(literal: list[str], cells: Sequence[str]) -> str:
    return literal[0] + "".join(c + rest for c, rest in zip(cells, literal[1:], strict=True))


def write(lines: Sequence[str], count: Callable[[str], int], min_saved: int = 8) -> str | None:
    """The lines as one template and its rows, or None: not alike (the same words and spaces but for at
    most a few words, each its own value), not shorter by `min_saved` tokens, or not read back exactly."""
    if len(lines) < 2:
        return None
    head, second = lines[0].split(), lines[1].split()  # a cheap first test: as many words, 2/3 the same
    if len(head) != len(second) or 3 * sum(map(str.__eq__, head, second)) < 2 * len(head):
        return None
    if any("{" in s or "}" in s or "|" in s or "\n" in s for s in lines):
        return None
    # words and the spaces between them, alternating (`str.split` when every space is one space)
    plain_spaces = not any("  " in s or "\t" in s or s[:1] == " " or s[-1:] == " " for s in lines)
    parts = [s.replace(" ", "\x00 \x00").split("\x00") if plain_spaces else _SPACES.split(s) for s in lines]
    first = parts[0]
    if any(len(p) != len(first) or p[1::2] != first[1::2] for p in parts[1:]):
        return None  # other words or other spaces between them
    differs = [len(set(column)) > 1 for column in zip(*parts, strict=True)]
    slots = sum(differs)
    literal_words = (len(first) + 1) // 2 - slots
    if not 2 <= slots <= _MAX_SLOTS or literal_words < 2 * slots:
        return None
    spans = [(k, k + 1) for k, d in enumerate(differs) if d]  # a slot per differing word
    pieces: list[str] = []  # the template's text between its slots
    cells: list[list[str]] = [[] for _ in lines]
    at, after = 0, ""
    for start, end in spans:
        values = ["".join(p[start:end]) for p in parts]
        before, shed = "".join(first[at:start]), ""
        while all(len(v) > 1 and v[0] == values[0][0] and v[0] in _SHED_BEFORE for v in values):
            before += values[0][0]
            values = [v[1:] for v in values]
        while all(len(v) > 1 and v[-1] == values[0][-1] and v[-1] in _SHED_AFTER for v in values):
            shed = values[0][-1] + shed
            values = [v[:-1] for v in values]
        pieces.append(after + before)
        after = shed
        for row, v in zip(cells, values, strict=True):
            row.append(v)
        at = end
    pieces.append(after + "".join(first[at:]))
    template = _SLOT.join(pieces)
    if len(template) > MAX_TEMPLATE or len(lines) > MAX_ROWS:
        return None
    text = "\n".join([f'{HEAD}{template}":', *("|".join(row) for row in cells), END])
    if expand(text) != "\n".join(lines):
        return None  # not read back as these lines (a value with a pipe, a space at an edge)
    if count(text) + min_saved > count("\n".join(lines)):
        return None
    return text
