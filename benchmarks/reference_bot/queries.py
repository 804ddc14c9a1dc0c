"""The bot's hot queries as statements, so the repository runs them and `explain` checks the same ones."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, literal_column, select

from .tables import OPEN, DecisionRecord, Position, Trade

# Inline literal on purpose: it must match the partial index predicate (see models.py).
_IS_OPEN = Position.status == literal_column(f"'{OPEN}'")


def open_positions(bot_id: uuid.UUID) -> Select[Position]:
    """Open positions of one bot (served by the partial index `ix_positions_bot_open`)."""
    return select(Position).where(Position.bot_id == bot_id, _IS_OPEN).order_by(Position.opened_at)


def recent_trades(bot_id: uuid.UUID, *, limit: int = 50, since: datetime | None = None) -> Select[Trade]:
    """A bot's newest trades, optionally not older than `since` (index `ix_trades_bot_executed`)."""
    stmt = select(Trade).where(Trade.bot_id == bot_id)
    if since is not None:
        stmt = stmt.where(Trade.executed_at >= since)
    return stmt.order_by(Trade.executed_at.desc()).limit(limit)


def recent_decisions(bot_id: uuid.UUID, *, limit: int = 20) -> Select[DecisionRecord]:
    """A bot's newest decisions (index `ix_decisions_bot_created`)."""
    return (
        select(DecisionRecord)
        .where(DecisionRecord.bot_id == bot_id)
        .order_by(DecisionRecord.created_at.desc())
        .limit(limit)
    )
