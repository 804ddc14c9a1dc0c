"""`python -m benchmarks.reference_bot [--naive] [--cycles N] [--database-url URL] [--redis-url URL]`.

Replays the reference bot on a freshly seeded database (100,000 trades, 1,000 positions) in this
process and prints its KPIs as one JSON object. A fresh process is also how the benchmark measures
`memory_usage_mb`: the peak resident memory of a process that does nothing but run the bot, which no
earlier test of a pytest session can inflate. Run it from the repository root.

Every failure is one line on stderr and a non-zero exit: a server that does not answer is never turned
into a zero "measurement".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from pytest_oxbot._urls import redact_url
from pytest_oxbot.connections import probe_database, probe_redis, unique_schema_name
from pytest_oxbot.errors import OxbotError

from .config import CycleConfig
from .database import Database
from .memory import lifetime_peak_bytes
from .naive import use_naive_indexes
from .replay import run_cycle
from .result import CycleResult
from .seed import SeedSpec, seed_volume

EXIT_UNAVAILABLE = 2


class BackendFailed(OxbotError):
    """A backend was unreachable, or failed during the run: the figures would not be measurements."""


async def replay_once(
    config: CycleConfig, *, database_url: str | None, redis_url: str | None, workdir: Path
) -> CycleResult:
    """Seed a throw-away database (SQLite file in `workdir`, or a unique PostgreSQL schema) and replay."""
    problems = []
    if database_url and (problem := await probe_database(database_url)):
        problems.append(f"database {problem}")
    if redis_url and (problem := await probe_redis(redis_url)):
        problems.append(f"Redis {problem}")
    if problems:
        hint = "start it, or leave its URL out to use the embedded default (fakeredis, an SQLite file)"
        raise BackendFailed(f"{'; '.join(problems)} ({hint})")
    if database_url:
        db = Database(database_url, schema=unique_schema_name(f"oxbot_cycle_cli_{config.name}"))
    else:
        db = Database(f"sqlite+aiosqlite:///{workdir / 'cycle.db'}")
    await db.create_tables()
    try:
        seeded = await seed_volume(db, SeedSpec())
        if config.name == "naive":
            await use_naive_indexes(db)
        result = await run_cycle(config, db, seeded.bot_ids[0], redis_url=redis_url)
    finally:
        await db.drop()
        await db.dispose()
    if result.backend_errors:
        raise BackendFailed(
            f"a backend failed during the replay ({result.backend_errors}); no figures reported"
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.reference_bot", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--naive", action="store_true", help="replay the naive bot (default: the optimised one)"
    )
    parser.add_argument("--cycles", type=int, help="cycles to replay (default: the config's, 120)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("OXBOT_DATABASE_URL"),
        help="PostgreSQL URL (default: $OXBOT_DATABASE_URL, else a temporary SQLite file)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("OXBOT_REDIS_URL"),
        help="Redis URL for the cache's L2 (default: $OXBOT_REDIS_URL, else fakeredis)",
    )
    args = parser.parse_args(argv)
    try:
        config = (CycleConfig.naive() if args.naive else CycleConfig.optimised()).with_env()
        if args.cycles is not None:
            if args.cycles < 1:
                parser.error("--cycles must be >= 1")
            config = replace(config, cycles=args.cycles)
        with tempfile.TemporaryDirectory(prefix="oxbot-cycle-") as tmp:
            result = asyncio.run(
                replay_once(
                    config, database_url=args.database_url, redis_url=args.redis_url, workdir=Path(tmp)
                )
            )
    except (OxbotError, ValueError, OSError) as exc:
        message = str(exc)
        for url in (args.database_url, args.redis_url):
            if url:
                message = message.replace(url, redact_url(url) or "")
        print(f"reference bot: {type(exc).__name__}: {message}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    figures = {**result.kpis(), "process_peak_rss_mb": lifetime_peak_bytes() / 2**20}
    json.dump({"variant": result.name, "cycles": result.cycles, "kpis": figures}, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
