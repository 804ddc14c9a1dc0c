"""The reference decision cycle: the naive and the optimised trading bot, replayed on recorded candles."""

from pytest_oxbot.cycle.config import CYCLE_SECONDS, DEFAULT_CYCLES, SWITCHES, SYMBOLS, CycleConfig
from pytest_oxbot.cycle.result import CycleResult
from pytest_oxbot.cycle.runner import DecisionCycle, run_cycle

__all__ = [
    "CYCLE_SECONDS",
    "DEFAULT_CYCLES",
    "SWITCHES",
    "SYMBOLS",
    "CycleConfig",
    "CycleResult",
    "DecisionCycle",
    "run_cycle",
]
