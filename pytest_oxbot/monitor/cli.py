"""`python -m pytest_oxbot.monitor`: the dashboard, the alert file, the benchmark suite, a self-test.

The only part of the monitor that reads the environment: OXBOT_MONITOR_TOKEN (the POST endpoints'
token), OXBOT_REDIS_URL (where the bots report) and OXBOT_DATABASE_URL (where history is kept) are the
defaults of the options below. Every error is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_oxbot.errors import OxbotError
from pytest_oxbot.monitor.config import DEFAULT_CONFIG_PATH

__all__ = ["main"]

DEFAULT_HISTORY_URL = "sqlite+aiosqlite:///oxbot-monitor.sqlite3"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m pytest_oxbot.monitor",
        description="The live performance monitor of LLM trading bots (one mode per run).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--dashboard", action="store_true", help="serve the dashboard, the JSON API and /metrics"
    )
    mode.add_argument(
        "--setup-alerts",
        nargs="?",
        const=str(DEFAULT_CONFIG_PATH),
        metavar="PATH",
        help=f"write the default alert configuration (.yaml or .toml; default {DEFAULT_CONFIG_PATH})",
    )
    mode.add_argument(
        "--benchmark",
        action="store_true",
        help="run `pytest --benchmark` in the working directory and print its KPI table",
    )
    mode.add_argument(
        "--test",
        action="store_true",
        help="self-test: the monitor on a free port, a replay on the fakes, every endpoint",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (a non-loopback one needs a token)"
    )
    p.add_argument("--port", type=int, default=8080, help="port to listen on")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"alert configuration file (default: {DEFAULT_CONFIG_PATH} if it exists, else built-in)",
    )
    p.add_argument(
        "--redis-url",
        default=os.environ.get("OXBOT_REDIS_URL"),
        help="Redis the bots report into (default: $OXBOT_REDIS_URL)",
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("OXBOT_DATABASE_URL") or DEFAULT_HISTORY_URL,
        help="SQL database for the 24 h history (default: $OXBOT_DATABASE_URL, else a SQLite file)",
    )
    p.add_argument(
        "--prefix", default="oxbot:monitor", help="Redis key prefix shared with the bots' reporters"
    )
    p.add_argument("--refresh", type=float, default=5.0, help="dashboard refresh interval in seconds")
    p.add_argument("--force", action="store_true", help="with --setup-alerts: overwrite an existing file")
    p.add_argument("-v", "--verbose", action="store_true", help="log every PERF_METRIC line")
    token_set = "yes" if os.environ.get("OXBOT_MONITOR_TOKEN") else "no"
    p.epilog = f"Token for POST endpoints: $OXBOT_MONITOR_TOKEN (set: {token_set})."
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not args.benchmark:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    try:
        if args.setup_alerts is not None:
            return _setup_alerts(Path(args.setup_alerts), force=args.force)
        if args.benchmark:
            return _benchmark(extra)
        if args.test:
            return _selftest()
        return _dashboard(args)
    except OxbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _setup_alerts(path: Path, *, force: bool) -> int:
    from pytest_oxbot.monitor.config import load_config, write_default_config

    written = write_default_config(path, overwrite=force)
    config = load_config(written)  # what we wrote must load: proves the file to the operator
    print(f"wrote {written} ({len(config.alerts)} alerts: {', '.join(a.name for a in config.alerts)})")
    return 0


def _benchmark(extra: Sequence[str]) -> int:
    command = [sys.executable, "-m", "pytest", "--benchmark", "-p", "no:cacheprovider", *extra]
    print("running: " + " ".join(command[2:]), flush=True)
    status = subprocess.call(command, cwd=Path.cwd())  # noqa: S603 (this interpreter, fixed arguments)
    if status == 5:
        print(
            "error: no performance test collected in this directory (see [tool.pytest_oxbot] "
            "performance_paths)",
            file=sys.stderr,
        )
    return status


def _selftest() -> int:
    from pytest_oxbot.errors import require

    for module in ("fastapi", "uvicorn", "prometheus_client"):
        require(module, feature="the monitor self-test", extra="monitor")
    from pytest_oxbot.monitor.selftest import run_selftest

    logging.getLogger("pytest_oxbot").setLevel(logging.ERROR)  # the demo bot's HOLD notes are noise here
    logging.getLogger("pytest_oxbot.monitor").setLevel(logging.WARNING)

    return 0 if asyncio.run(run_selftest()) else 1


def _dashboard(args: argparse.Namespace) -> int:
    from pytest_oxbot.connections import check_database_url, check_redis_url, make_redis_client
    from pytest_oxbot.monitor.app import TOKEN_ENV, check_bind, serve
    from pytest_oxbot.monitor.config import default_config, load_config
    from pytest_oxbot.monitor.fleet import RedisFleet
    from pytest_oxbot.monitor.history import HistoryStore
    from pytest_oxbot.monitor.service import Monitor

    if not 0 <= args.port <= 65535:
        raise _usage(f"--port {args.port} is not a port number")
    token = os.environ.get(TOKEN_ENV) or None
    check_bind(args.host, token)
    path = (
        args.config
        if args.config is not None
        else (DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None)
    )
    config = load_config(path) if path is not None else default_config()
    check_database_url(args.database_url, name="--database-url")
    fleet = None
    if args.redis_url:
        check_redis_url(args.redis_url, name="--redis-url")
        fleet = RedisFleet(make_redis_client(args.redis_url), prefix=args.prefix)
    else:
        print(
            "warning: no --redis-url / OXBOT_REDIS_URL: no bot process can report to this monitor",
            file=sys.stderr,
        )
    monitor = Monitor(config, fleet=fleet, history=HistoryStore.from_url(args.database_url))

    def ready(port: int) -> None:
        print(
            f"PERFORMANCE dashboard: http://{args.host}:{port}/performance "
            f"(config: {path or 'built-in defaults'}; "
            f"POST endpoints {'enabled' if token else 'disabled: no token'})",
            flush=True,
        )

    async def run() -> None:
        try:
            await serve(
                monitor, host=args.host, port=args.port, token=token, refresh_s=args.refresh, on_ready=ready
            )
        finally:
            await monitor.aclose()
            if fleet is not None:
                with contextlib.suppress(Exception):
                    await fleet.redis.aclose()

    asyncio.run(run())
    return 0


def _usage(message: str) -> OxbotError:
    from pytest_oxbot.errors import SettingsError

    return SettingsError(message)
