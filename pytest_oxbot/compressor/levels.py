"""The compression ladder: what each level keeps, from lossless clean-up to the emergency minimum.

One ordered ladder serves both entry points: `compress_by_context` picks a fixed rung per context,
`compress(max_tokens=...)` climbs until the budget is met. Each rung only removes more than the one
below it, so the lowest-priority parts (long series tails, narrative prose, position bookkeeping)
always go before the facts a trading decision needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Level:
    """How much of each block kind one rung keeps."""

    name: str
    series: int | None  # values kept per numeric series (None: all, 0: drop)
    table_rows: int | None  # rows kept per time-series table / nested numeric array
    prose: Literal["all", "first_sentence", "none"]
    dedupe: bool  # drop prose repeated per symbol (same text with another symbol name)
    positions: Literal["raw", "compact", "standard", "essential"]
    kv: Literal["all", "symbol_required", "required"]
    bullets: bool
    code: bool
    prune_json: bool
    static_first: bool
    prune_headings: bool


LEVELS: tuple[Level, ...] = (
    Level("lossless", None, None, "all", False, "raw", "all", True, True, False, False, False),
    Level("analysis", 10, 10, "all", True, "compact", "all", True, True, False, True, True),
    Level("moderate", 5, 3, "first_sentence", True, "compact", "all", True, True, False, True, True),
    Level("standard", 3, 1, "first_sentence", True, "standard", "all", True, True, False, True, True),
    Level("lean", 1, 1, "none", True, "standard", "all", True, True, False, True, True),
    Level("minimal", 0, 0, "none", True, "essential", "symbol_required", True, True, False, True, True),
    Level("emergency", 0, 0, "none", True, "essential", "required", False, False, True, True, True),
)

LEVEL_BY_NAME = {level.name: i for i, level in enumerate(LEVELS)}
EMERGENCY = LEVEL_BY_NAME["emergency"]
STANDARD = LEVEL_BY_NAME["standard"]
ANALYSIS = LEVEL_BY_NAME["analysis"]
