"""The compression ladder: what each level keeps, from lossless clean-up to the emergency minimum.

One ordered ladder serves both entry points: `compress_by_context` picks a fixed rung per context,
`compress(max_tokens=...)` climbs until the budget is met. Each rung only removes more than the one
below it, so the lowest-priority parts (long series tails, narrative prose, position bookkeeping) always
go before the facts a trading decision needs. Instruction lines and the answer-format section are kept
whole up to `lean`; `minimal` and `emergency` keep the answer contract only (keys, allowed values,
"do not copy" and "JSON only" lines), with example values replaced by their types.
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
    # all: every sentence; trim: the first sentence of a prose line and every later sentence with a
    # number, a symbol or an instruction; none: instructions (and, in emergency, market facts) only
    prose: Literal["all", "trim", "none"]
    instructions: Literal["all", "contract"]  # contract: the answer contract only
    decorate: bool  # drop emphasis, emoji, padding; shorten repeated source tags
    pivot: bool  # repeated per-entity `label: value` lines become one table
    dedupe: bool  # identical instruction lines once; per-symbol boilerplate collapsed
    positions: Literal["raw", "compact", "standard", "essential"]
    kv: Literal["all", "symbol_required", "required"]
    code: bool
    prune_json: bool
    prune_headings: bool
    # lines alike but for a few values (one sentence per symbol) written once as a template with rows
    template: bool = False


LEVELS: tuple[Level, ...] = (
    Level("lossless", None, None, "all", "all", False, False, False, "raw", "all", True, False, False),
    Level("analysis", 10, 10, "all", "all", True, True, True, "compact", "all", True, False, True),
    Level(
        "moderate", 5, 3, "trim", "all", True, True, True, "compact", "all", True, False, True, template=True
    ),
    Level(
        "standard", 3, 1, "trim", "all", True, True, True, "standard", "all", True, False, True, template=True
    ),
    Level("lean", 1, 1, "none", "all", True, True, True, "standard", "all", True, False, True, template=True),
    Level(
        "minimal",
        0,
        0,
        "none",
        "contract",
        True,
        True,
        True,
        "essential",
        "symbol_required",
        True,
        False,
        True,
        template=True,
    ),
    Level(
        "emergency",
        0,
        0,
        "none",
        "contract",
        True,
        True,
        True,
        "essential",
        "required",
        False,
        True,
        True,
        template=True,
    ),
)

LEVEL_BY_NAME = {level.name: i for i, level in enumerate(LEVELS)}
EMERGENCY = LEVEL_BY_NAME["emergency"]
STANDARD = LEVEL_BY_NAME["standard"]
ANALYSIS = LEVEL_BY_NAME["analysis"]


def level_for_context(context: str) -> int:
    """The rung a context string picks, as the seed's substring tests do: a level name picks itself;
    "emergency" anywhere (`emergency_exit`) picks emergency, "analysis" (`market_analysis`) analysis;
    anything else is standard."""
    ctx = context.strip().lower()
    if ctx in LEVEL_BY_NAME:
        return LEVEL_BY_NAME[ctx]
    if "emergency" in ctx:
        return EMERGENCY
    if "analysis" in ctx or "analyze" in ctx or "analyse" in ctx:
        return ANALYSIS
    return STANDARD
