"""Column types and table shapes: exact decimals, UTC times, constraints, the indexes as created."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError

from benchmarks.reference_bot import Database, TradingRepository
from benchmarks.reference_bot.tables import Position, Trade

T0 = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


def _position(**overrides: object) -> Position:
    values: dict[str, object] = {
        "bot_id": uuid.uuid4(),
        "symbol": "XRP/USDT",
        "side": "long",
        "quantity": Decimal("1234.56789012"),
        "entry_price": Decimal("0.5123456789"),
        "current_price": Decimal("0.5123456789"),
        "status": "open",
        "opened_at": T0,
    }
    values.update(overrides)
    return Position(**values)


async def test_decimals_round_trip_digit_for_digit(db: Database) -> None:
    repo = TradingRepository(db)
    pos = _position(stop_loss=Decimal("0.4969753085"), take_profit=Decimal("97123.4567891234"))
    await repo.add_all([pos])
    async with db.sessions() as session:
        got = await session.get(Position, pos.id)
    assert got is not None
    assert str(got.entry_price) == "0.5123456789"
    assert str(got.quantity) == "1234.5678901200"
    assert str(got.stop_loss) == "0.4969753085"
    assert str(got.take_profit) == "97123.4567891234"


async def test_decimal_that_does_not_fit_is_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="does not fit"):
        await TradingRepository(db).add_all([_position(entry_price=Decimal("1e15"))])


async def test_times_come_back_utc_aware_and_naive_times_are_refused(db: Database) -> None:
    repo = TradingRepository(db)
    paris = timezone(timedelta(hours=1))
    pos = _position(opened_at=datetime(2026, 2, 1, 11, 0, tzinfo=paris))
    await repo.add_all([pos])
    async with db.sessions() as session:
        got = await session.get(Position, pos.id)
    assert got is not None
    assert got.opened_at == T0
    assert got.opened_at.tzinfo == UTC
    with pytest.raises(StatementError, match="timezone-aware"):
        await repo.add_all([_position(opened_at=datetime(2026, 2, 1, 10, 0))])


async def test_check_constraints_refuse_unknown_status_and_side(db: Database) -> None:
    repo = TradingRepository(db)
    with pytest.raises(IntegrityError):
        await repo.add_all([_position(status="pending")])
    with pytest.raises(IntegrityError):
        await repo.add_all([_position(side="up")])


async def test_partial_and_composite_indexes_exist_as_written(db: Database) -> None:
    async with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            rows = await conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
        else:
            rows = await conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
            )
        defs = {name: sql for name, sql in rows.all()}
    open_def = defs["ix_positions_bot_open"].lower()
    assert "where" in open_def
    assert "'open'" in open_def
    recent_def = defs["ix_trades_bot_executed"].lower()
    assert "bot_id" in recent_def
    assert "executed_at desc" in recent_def
    assert "where" not in recent_def
    assert "ix_decisions_bot_created" in defs


async def test_trade_foreign_key_nulls_out_when_position_deleted(db: Database) -> None:
    repo = TradingRepository(db)
    pos = await repo.open_position(uuid.uuid4(), "BTC/USDT", "long", Decimal("0.01"), Decimal("78279.73"), T0)
    async with db.sessions.begin() as session:
        await session.delete(await session.get(Position, pos.id))
    async with db.sessions() as session:
        fills = (await session.scalars(select(Trade).where(Trade.bot_id == pos.bot_id))).all()
    assert len(fills) == 1
    assert fills[0].position_id is None


def test_urls_get_the_async_driver_and_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="PostgreSQL only"):
        Database("sqlite+aiosqlite://", schema="abc")
    with pytest.raises(ValueError, match="must match"):
        Database("postgresql+asyncpg://h/db", schema='x"; DROP TABLE trades; --')
    with pytest.raises(ValueError, match="unsupported"):
        Database("mysql+aiomysql://h/db")
    assert "p@" not in repr(Database("postgresql+asyncpg://u:secret@h/db"))
