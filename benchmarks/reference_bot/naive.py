"""The "before" index set: what 0xBot's models create (one single-column index per filtered column).

Benchmarks swap the hot-query indexes for these to measure what the hot indexes buy, on the same rows.
"""

from __future__ import annotations

from sqlalchemy import text

from .database import Database

HOT_INDEXES = ("ix_positions_bot_open", "ix_trades_bot_executed", "ix_decisions_bot_created")

# 0xBot: `index=True` on positions.bot_id, positions.symbol, trades.bot_id, trades.position_id,
# trades.symbol, trades.executed_at, llm_decisions.bot_id, llm_decisions.timestamp.
NAIVE_INDEXES = {
    "ix_naive_positions_bot_id": "positions (bot_id)",
    "ix_naive_positions_symbol": "positions (symbol)",
    "ix_naive_trades_bot_id": "trades (bot_id)",
    "ix_naive_trades_position_id": "trades (position_id)",
    "ix_naive_trades_symbol": "trades (symbol)",
    "ix_naive_trades_executed_at": "trades (executed_at)",
    "ix_naive_decisions_bot_id": "decisions (bot_id)",
    "ix_naive_decisions_created_at": "decisions (created_at)",
}


async def use_naive_indexes(db: Database) -> None:
    """Drop the hot-query indexes and create 0xBot's single-column ones, then refresh statistics."""
    async with db.engine.begin() as conn:
        for name in HOT_INDEXES:
            await conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        for name, target in NAIVE_INDEXES.items():
            await conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {target}"))
    await db.analyze()
