"""An independent check of required facts: plain string and regex work, not the compressor's parser."""

from __future__ import annotations

from pytest_oxbot.compressor.text import numbers_in


def segment(text: str, heading: str, later_headings: list[str]) -> str | None:
    """The text from `heading` to the first of `later_headings` after it (None: heading gone)."""
    lines = text.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == heading.strip())
    except StopIteration:
        return None
    end = len(lines)
    for j in range(start + 1, len(lines)):
        if lines[j].strip() in {h.strip() for h in later_headings}:
            end = j
            break
    return "\n".join(lines[start:end])


def has_number(text: str, number: str) -> bool:
    return number in numbers_in(text)


def position_line_present(text: str, symbol: str, sl: str, tp: str) -> bool:
    """Some line names the symbol and carries both its stop-loss and take-profit, verbatim."""
    return any(symbol in line and has_number(line, sl) and has_number(line, tp) for line in text.splitlines())
