"""The trading bot's database layer: 0xBot-shaped tables, hot-query indexes, repository, seeder, EXPLAIN."""

from pytest_oxbot.db.database import Database, async_url, probe, unique_schema_name
from pytest_oxbot.db.explain import QueryPlan, explain
from pytest_oxbot.db.models import CLOSED, OPEN, Base, Decision, Position, Trade
from pytest_oxbot.db.repository import PositionAlreadyClosed, TradingRepository
from pytest_oxbot.db.seed import SeedResult, SeedSpec, seed_volume

__all__ = [
    "CLOSED",
    "OPEN",
    "Base",
    "Database",
    "Decision",
    "Position",
    "PositionAlreadyClosed",
    "QueryPlan",
    "SeedResult",
    "SeedSpec",
    "Trade",
    "TradingRepository",
    "async_url",
    "explain",
    "probe",
    "seed_volume",
    "unique_schema_name",
]
