"""The trading bot's data access: the hot reads and the writes one decision cycle makes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import update

from pytest_oxbot.errors import DatabaseError

from . import queries
from .database import Database
from .tables import CLOSED, OPEN, Base, DecisionRecord, Position, Trade


class PositionAlreadyClosed(DatabaseError, RuntimeError):
    """Closing a position that another writer closed first (no second closing trade is written)."""


class TradingRepository:
    """Hot queries and writes over one `Database`; each method is one short transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def open_positions(self, bot_id: uuid.UUID) -> Sequence[Position]:
        async with self.db.sessions() as session:
            return (await session.scalars(queries.open_positions(bot_id))).all()

    async def recent_trades(
        self, bot_id: uuid.UUID, *, limit: int = 50, since: datetime | None = None
    ) -> Sequence[Trade]:
        async with self.db.sessions() as session:
            return (await session.scalars(queries.recent_trades(bot_id, limit=limit, since=since))).all()

    async def recent_decisions(self, bot_id: uuid.UUID, *, limit: int = 20) -> Sequence[DecisionRecord]:
        async with self.db.sessions() as session:
            return (await session.scalars(queries.recent_decisions(bot_id, limit=limit))).all()

    async def add_all(self, rows: Iterable[Base]) -> None:
        """Insert rows (decisions, trades, positions) in one transaction."""
        async with self.db.sessions.begin() as session:
            session.add_all(list(rows))

    async def open_position(
        self,
        bot_id: uuid.UUID,
        symbol: str,
        side: str,
        quantity: Decimal,
        price: Decimal,
        at: datetime,
        *,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        fees: Decimal = Decimal(0),
    ) -> Position:
        """Open a position and record its entry fill, atomically."""
        position = Position(
            id=uuid.uuid4(),
            bot_id=bot_id,
            symbol=symbol,
            side=side,
            quantity=quantity,
            entry_price=price,
            current_price=price,
            stop_loss=stop_loss,
            take_profit=take_profit,
            status=OPEN,
            opened_at=at,
            leverage=Decimal(1),
        )
        fill = Trade(
            bot_id=bot_id,
            position_id=position.id,
            symbol=symbol,
            side="buy" if side == "long" else "sell",
            quantity=quantity,
            price=price,
            fees=fees,
            realized_pnl=Decimal(0),
            executed_at=at,
        )
        async with self.db.sessions.begin() as session:
            session.add(position)
            await session.flush()  # the position row must exist before the fill's foreign key
            session.add(fill)
        return position

    async def close_position(
        self, position: Position, price: Decimal, at: datetime, *, fees: Decimal = Decimal(0)
    ) -> Trade:
        """Close an open position at `price` and record the exit fill with its realised PnL."""
        direction = 1 if position.side == "long" else -1
        pnl = (price - position.entry_price) * position.quantity * direction - fees
        fill = Trade(
            bot_id=position.bot_id,
            position_id=position.id,
            symbol=position.symbol,
            side="sell" if position.side == "long" else "buy",
            quantity=position.quantity,
            price=price,
            fees=fees,
            realized_pnl=pnl,
            executed_at=at,
        )
        async with self.db.sessions.begin() as session:
            # Compare-and-set on status: two closers racing write one exit fill, not two.
            closed = await session.execute(
                update(Position)
                .where(Position.id == position.id, Position.status == OPEN)
                .values(status=CLOSED, closed_at=at, current_price=price)
            )
            if getattr(closed, "rowcount", 0) != 1:
                raise PositionAlreadyClosed(f"position {position.id} is not open")
            session.add(fill)
        position.status, position.closed_at, position.current_price = CLOSED, at, price
        return fill
