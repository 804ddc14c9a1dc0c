"""Fill the trading tables at a realistic volume, fast and deterministically, for query benchmarks.

Prices are the real recorded 1h closes of the shipped candles at each fill's time, so the data has the
value distribution a bot sees. PostgreSQL gets the rows through asyncpg's binary COPY (the fastest bulk
path it offers); SQLite through one `executemany` per table.
"""

from __future__ import annotations

import bisect
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import Table, insert

from .database import Database
from .tables import CLOSED, OPEN, DecisionRecord, Position, Trade

DEFAULT_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT")


@dataclass(frozen=True)
class SeedSpec:
    """How much to write: defaults are the issue's realistic volume (100,000 trades, 1,000 positions)."""

    bots: int = 10
    trades: int = 100_000
    """Total fills, the positions' entry and exit fills included (more only if those alone exceed it)."""
    positions: int = 1_000
    open_per_bot: int = 5
    decisions: int = 0
    symbols: Sequence[str] = DEFAULT_SYMBOLS
    seed: int = 7


@dataclass(frozen=True)
class SeedResult:
    """What was written, so benchmarks can query real bots."""

    bot_ids: tuple[uuid.UUID, ...]
    positions: int
    open_positions: int
    trades: int
    decisions: int
    first: datetime
    last: datetime
    open_symbols: dict[uuid.UUID, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Closes:
    times: list[datetime]
    prices: list[Decimal]

    def at(self, when: datetime) -> Decimal:
        i = max(0, bisect.bisect_right(self.times, when) - 1)
        return self.prices[i]


@lru_cache(maxsize=16)
def _closes(symbol: str) -> _Closes:
    name = symbol.replace("/", "_") + "-1h.json"
    raw = (resources.files("pytest_oxbot") / "data" / "market" / "candles" / name).read_text("utf-8")
    rows = json.loads(raw)
    return _Closes(
        [datetime.fromtimestamp(r[0] / 1000, UTC) for r in rows], [Decimal(str(r[4])) for r in rows]
    )


class _Rows:
    """Deterministic row factory."""

    def __init__(self, spec: SeedSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        closes = [_closes(s) for s in spec.symbols]
        self.first = max(c.times[0] for c in closes)
        self.last = min(c.times[-1] for c in closes) + timedelta(hours=1)

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def when(self) -> datetime:
        span = (self.last - self.first).total_seconds()
        return self.first + timedelta(seconds=self.rng.uniform(0, span))

    def fill(self, symbol: str, at: datetime) -> tuple[Decimal, Decimal]:
        price = _closes(symbol).at(at)
        notional = Decimal(self.rng.randint(50, 5000))
        return price, (notional / price).quantize(Decimal("0.00000001"))


def build_rows(spec: SeedSpec) -> tuple[SeedResult, dict[str, list[dict[str, Any]]]]:
    """Every row to insert, per table name, as plain dicts of Python values."""
    if spec.positions < spec.bots * spec.open_per_bot:
        raise ValueError("fewer positions than open positions requested")
    rows = _Rows(spec)
    rng = rows.rng
    bots = tuple(rows.uuid() for _ in range(spec.bots))
    positions: list[dict[str, Any]] = []
    trades: list[dict[str, Any]] = []
    open_symbols: dict[uuid.UUID, tuple[str, ...]] = {}
    per_bot = [
        spec.positions // spec.bots + (1 if i < spec.positions % spec.bots else 0) for i in range(spec.bots)
    ]
    for bot, count in zip(bots, per_bot, strict=True):
        opened_syms = [spec.symbols[i % len(spec.symbols)] for i in range(spec.open_per_bot)]
        open_symbols[bot] = tuple(opened_syms)
        for i in range(count):
            is_open = i >= count - spec.open_per_bot
            symbol = opened_syms[i - (count - spec.open_per_bot)] if is_open else rng.choice(spec.symbols)
            side = rng.choice(("long", "short"))
            opened_at = rows.when()
            entry, qty = rows.fill(symbol, opened_at)
            pid = rows.uuid()
            closed_at = None if is_open else min(rows.last, opened_at + timedelta(hours=rng.uniform(0.5, 48)))
            exit_price = entry if closed_at is None else _closes(symbol).at(closed_at)
            positions.append(
                {
                    "id": pid,
                    "bot_id": bot,
                    "symbol": symbol,
                    "side": side,
                    "quantity": qty,
                    "leverage": Decimal(1),
                    "entry_price": entry,
                    "current_price": exit_price,
                    "stop_loss": (entry * Decimal("0.97")).quantize(Decimal("1E-10")),
                    "take_profit": (entry * Decimal("1.05")).quantize(Decimal("1E-10")),
                    "status": OPEN if is_open else CLOSED,
                    "opened_at": opened_at,
                    "closed_at": closed_at,
                    "invalidation": None,
                }
            )
            entry_side = "buy" if side == "long" else "sell"
            exit_side = "sell" if side == "long" else "buy"
            trades.append(_trade(rows, bot, pid, symbol, entry_side, qty, entry, opened_at, Decimal(0)))
            if closed_at is not None:
                sign = 1 if side == "long" else -1
                pnl = (exit_price - entry) * qty * sign
                trades.append(_trade(rows, bot, pid, symbol, exit_side, qty, exit_price, closed_at, pnl))
    while len(trades) < spec.trades:
        bot = bots[len(trades) % len(bots)]
        symbol = rng.choice(spec.symbols)
        at = rows.when()
        price, qty = rows.fill(symbol, at)
        trades.append(
            _trade(rows, bot, None, symbol, rng.choice(("buy", "sell")), qty, price, at, Decimal(0))
        )
    decisions = [_decision(rows, bots[i % len(bots)], spec.symbols) for i in range(spec.decisions)]
    result = SeedResult(
        bots,
        len(positions),
        spec.bots * spec.open_per_bot,
        len(trades),
        len(decisions),
        rows.first,
        rows.last,
        open_symbols,
    )
    return result, {"positions": positions, "trades": trades, "decisions": decisions}


def _trade(
    rows: _Rows,
    bot: uuid.UUID,
    pid: uuid.UUID | None,
    symbol: str,
    side: str,
    qty: Decimal,
    price: Decimal,
    at: datetime,
    pnl: Decimal,
) -> dict[str, Any]:
    fees = (qty * price * Decimal("0.001")).quantize(Decimal("1E-10"))
    return {
        "id": rows.uuid(),
        "bot_id": bot,
        "position_id": pid,
        "symbol": symbol,
        "side": side,
        "quantity": qty,
        "price": price,
        "fees": fees,
        "realized_pnl": pnl.quantize(Decimal("1E-10")),
        "executed_at": at,
    }


def _decision(rows: _Rows, bot: uuid.UUID, symbols: Sequence[str]) -> dict[str, Any]:
    rng = rows.rng
    prompt, completion = rng.randint(800, 2500), rng.randint(60, 300)
    return {
        "id": rows.uuid(),
        "bot_id": bot,
        "symbol": rng.choice(symbols),
        "model": "gpt-4o-mini",
        "action": rng.choice(("hold", "hold", "hold", "buy", "sell")),
        "confidence": Decimal(rng.randint(40, 95)) / 100,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": (Decimal(prompt) * Decimal("0.00000015") + Decimal(completion) * Decimal("0.0000006")),
        "latency_s": rng.uniform(0.3, 2.0),
        "cache_hit": False,
        "error": None,
        "created_at": rows.when(),
    }


_TABLES: dict[str, Table] = {
    "positions": Position.__table__,  # type: ignore[dict-item]
    "trades": Trade.__table__,  # type: ignore[dict-item]
    "decisions": DecisionRecord.__table__,  # type: ignore[dict-item]
}


async def seed_volume(db: Database, spec: SeedSpec | None = None) -> SeedResult:
    """Write the rows of `spec` (tables must exist), then refresh planner statistics."""
    spec = spec or SeedSpec()
    result, tables = build_rows(spec)
    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            for name in ("positions", "trades", "decisions"):
                data = tables[name]
                if not data:
                    continue
                columns = [c.name for c in _TABLES[name].columns]
                records = [tuple(row[c] for c in columns) for row in data]
                await driver.copy_records_to_table(
                    name, records=records, columns=columns, schema_name=db.schema
                )
        else:
            for name in ("positions", "trades", "decisions"):
                if tables[name]:
                    await conn.execute(insert(_TABLES[name]), tables[name])
            await conn.commit()
    await db.analyze()
    return result
