"""The KPI catalogue: fixed names, units, direction and 0xBot's targets as defaults.

Components report under these names; anything else must be a free-form wall-clock latency whose name
ends in `_time` or `_latency` (seconds, lower is better, noisy, no default target). Every other name is
a usage error, so a typo cannot silently create an ungated KPI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pytest_oxbot.errors import KpiUsageError

Better = Literal["lower", "higher"]

FREE_FORM_SUFFIXES = ("_time", "_latency")


@dataclass(frozen=True)
class KpiSpec:
    """What a KPI means: its unit, which direction is better, its default target and how noisy it is.

    `tolerance` is the relative change a stable KPI may drift from its baseline before it regresses;
    noisy KPIs are judged statistically instead (see `compare`).
    """

    name: str
    unit: str
    better: Better
    target: float | None
    noisy: bool
    tolerance: float = 1e-6
    description: str = ""

    def within(self, value: float, target: float) -> bool:
        """Whether `value` meets `target` in this KPI's direction."""
        return value <= target if self.better == "lower" else value >= target

    @property
    def comparator(self) -> str:
        """The symbol of a failed target ("2712 > target 2500")."""
        return ">" if self.better == "lower" else "<"


CATALOGUE: dict[str, KpiSpec] = {
    spec.name: spec
    for spec in (
        KpiSpec(
            "cache_hit_rate",
            "ratio",
            "higher",
            0.85,
            False,
            description="hits / lookups over a replayed workload, all tiers",
        ),
        KpiSpec(
            "llm_response_time",
            "s",
            "lower",
            0.6,
            False,
            description="mean modelled LLM latency per decision",
        ),
        KpiSpec(
            "cost_per_decision",
            "USD",
            "lower",
            0.0003,
            False,
            description="cost from usage x price table / decisions",
        ),
        KpiSpec(
            "prompt_tokens",
            "tokens",
            "lower",
            2500.0,
            False,
            description="exact BPE count of the prompt actually sent",
        ),
        KpiSpec(
            "api_calls_per_cycle",
            "calls",
            "lower",
            1.0,
            False,
            description="exchange HTTP calls for one 5-symbol snapshot",
        ),
        KpiSpec(
            "db_query_time",
            "s",
            "lower",
            0.05,
            True,
            description="mean time of the bot's hot queries on a real database",
        ),
        KpiSpec(
            "memory_usage_mb",
            "MB",
            "lower",
            512.0,
            False,
            # Peak RSS of the same run moves by ~6 % between runs on a shared 2-core machine (measured):
            # 15 % keeps the comparison meaningful without failing on the neighbours.
            tolerance=0.15,
            description="peak memory of the measured run (MiB)",
        ),
    )
}


ALIASES: dict[str, str] = {
    "cache_efficiency": "cache_hit_rate",
    "database_query_time": "db_query_time",
}
"""The 0xBot guide's names for catalogue KPIs (its `performance_targets`), accepted wherever a name is."""


def canonical_name(name: str) -> str:
    """The catalogue name of `name` (an alias from the guide, or the name itself)."""
    return ALIASES.get(name, name)


def is_free_form(name: str) -> bool:
    """Free-form wall-clock latencies are named `<what>_time` or `<what>_latency`."""
    return name.isidentifier() and name.islower() and name.endswith(FREE_FORM_SUFFIXES)


def spec_for(name: str) -> KpiSpec:
    """The spec of a catalogue KPI (or its alias) or of a free-form latency; any other name is an error."""
    spec = CATALOGUE.get(canonical_name(name))
    if spec is not None:
        return spec
    if is_free_form(name):
        return KpiSpec(name, "s", "lower", None, True, description="free-form wall-clock latency")
    known = ", ".join(sorted(CATALOGUE))
    raise KpiUsageError(
        f"unknown KPI {name!r}: use one of {known}, or a wall-clock latency named '<what>_time' "
        "or '<what>_latency'"
    )
