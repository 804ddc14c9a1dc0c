"""The reference decision cycle: the naive and the optimised trading bot, replayed on recorded candles.

`TradingBot` is the bot (copy it); `run_cycle` replays it on the fakes and measures it.
"""

from pytest_oxbot.cycle.bot import CycleOutcome, DecisionOutcome, LLMCall, TradingBot
from pytest_oxbot.cycle.config import CYCLE_SECONDS, DEFAULT_CYCLES, SWITCHES, SYMBOLS, CycleConfig
from pytest_oxbot.cycle.replay import run_cycle
from pytest_oxbot.cycle.result import CycleResult

__all__ = [
    "CYCLE_SECONDS",
    "DEFAULT_CYCLES",
    "SWITCHES",
    "SYMBOLS",
    "CycleConfig",
    "CycleOutcome",
    "CycleResult",
    "DecisionOutcome",
    "LLMCall",
    "TradingBot",
    "run_cycle",
]
