"""The reference bot: a naive and an optimised 0xBot-like trading bot, built on the toolkit's public API.

Example code to copy, not part of the installed package: `TradingBot` is the bot, `run_cycle` replays it
on the fakes over recorded candles and measures it, `Database`/`TradingRepository`/`seed_volume` are its
tables at a realistic volume. `python -m benchmarks.reference_bot` replays it alone in a fresh process.
"""

from .bot import CycleOutcome, DecisionOutcome, LLMCall, TradingBot
from .config import CYCLE_SECONDS, DEFAULT_CYCLES, SWITCHES, SYMBOLS, CycleConfig
from .database import Database
from .replay import run_cycle
from .repository import PositionAlreadyClosed, TradingRepository
from .result import CycleResult
from .seed import SeedResult, SeedSpec, seed_volume

__all__ = [
    "CYCLE_SECONDS",
    "DEFAULT_CYCLES",
    "SWITCHES",
    "SYMBOLS",
    "CycleConfig",
    "CycleOutcome",
    "CycleResult",
    "Database",
    "DecisionOutcome",
    "LLMCall",
    "PositionAlreadyClosed",
    "SeedResult",
    "SeedSpec",
    "TradingBot",
    "TradingRepository",
    "run_cycle",
    "seed_volume",
]
