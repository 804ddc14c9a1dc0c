"""The reference bot's tables in 0xBot's shapes (positions, trades, LLM decisions), plus hot-query indexes.

Differences from 0xBot, each on purpose: prices carry 10 decimal places (0xBot's NUMERIC(20, 2) rounds
an XRP price of 0.5123 to 0.51); statuses and sides are checked strings rather than PostgreSQL ENUM types,
so the partial index predicate `status = 'open'` reads the same on SQLite and PostgreSQL; times are UTC-aware.

Indexes, one per hot query:
- `ix_positions_bot_open`: open positions of a bot, a partial index `(bot_id) WHERE status = 'open'`
  (closed positions pile up forever; the open ones stay a handful).
- `ix_trades_bot_executed`: a bot's recent trades, `(bot_id, executed_at DESC)`. 0xBot's guide wanted a
  partial index `WHERE executed_at > NOW() - INTERVAL '7 days'`; PostgreSQL refuses it (functions in an
  index predicate must be IMMUTABLE, and a predicate fixed at creation time would go stale anyway). The
  composite index serves "recent" as a range scan: `bot_id = ? AND executed_at >= ?` with the cut-off
  computed by the caller, newest first, stopping at LIMIT.
- `ix_decisions_bot_created`: a bot's recent decisions, `(bot_id, created_at DESC)`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .column_types import ExactDecimal, UTCDateTime

OPEN: Final = "open"
CLOSED: Final = "closed"

# Precision: integer part up to 10^14 (BTC notional), 10 decimals (XRP, and sub-cent coins).
PRICE = ExactDecimal(24, 10)
QUANTITY = ExactDecimal(28, 10)
MONEY = ExactDecimal(24, 10)
COST = ExactDecimal(18, 10)  # one LLM call costs fractions of a cent

# The partial-index predicate, written as a literal: a bound parameter (`status = $1`) would not let
# PostgreSQL's generic plans or SQLite's planner prove that the index applies.
_OPEN_PREDICATE = text("status = 'open'")


class Base(DeclarativeBase):
    """Declarative base of the trading tables (its `metadata` creates them)."""


class Position(Base):
    """A position a bot holds or held (0xBot `positions`)."""

    __tablename__ = "positions"
    __table_args__ = (
        CheckConstraint("side IN ('long', 'short')", name="ck_positions_side"),
        CheckConstraint("status IN ('open', 'closed')", name="ck_positions_status"),
        Index(
            "ix_positions_bot_open", "bot_id", sqlite_where=_OPEN_PREDICATE, postgresql_where=_OPEN_PREDICATE
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    bot_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    side: Mapped[str] = mapped_column(String(5), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY, nullable=False)
    leverage: Mapped[Decimal] = mapped_column(ExactDecimal(10, 2), nullable=False, default=Decimal(1))
    entry_price: Mapped[Decimal] = mapped_column(PRICE, nullable=False)
    current_price: Mapped[Decimal] = mapped_column(PRICE, nullable=False)
    stop_loss: Mapped[Decimal | None] = mapped_column(PRICE, nullable=True)
    take_profit: Mapped[Decimal | None] = mapped_column(PRICE, nullable=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default=OPEN)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    invalidation: Mapped[str | None] = mapped_column(Text, nullable=True)

    def pnl_at(self, price: Decimal) -> Decimal:
        """Unrealised profit of the whole quantity if it were closed at `price` (before fees)."""
        sign = 1 if self.side == "long" else -1
        return (price - self.entry_price) * self.quantity * sign


class Trade(Base):
    """One executed fill (0xBot `trades`)."""

    __tablename__ = "trades"
    __table_args__ = (
        CheckConstraint("side IN ('buy', 'sell')", name="ck_trades_side"),
        Index("ix_trades_bot_executed", "bot_id", literal_column("executed_at").desc()),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    bot_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    position_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("positions.id", ondelete="SET NULL"), nullable=True
    )
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    side: Mapped[str] = mapped_column(String(4), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY, nullable=False)
    price: Mapped[Decimal] = mapped_column(PRICE, nullable=False)
    fees: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal(0))
    realized_pnl: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal(0))
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DecisionRecord(Base):
    """One stored trading decision with what it cost (0xBot `llm_decisions`, one row per symbol decided)."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_bot_created", "bot_id", literal_column("created_at").desc()),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    bot_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    model: Mapped[str] = mapped_column(String(100), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    confidence: Mapped[Decimal | None] = mapped_column(ExactDecimal(5, 4), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(COST, nullable=False, default=Decimal(0))
    latency_s: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    cache_hit: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
