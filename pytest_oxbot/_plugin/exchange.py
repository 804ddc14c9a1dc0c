"""pytest wiring for the exchange component: the fake exchange, a client wired to it, a batcher factory.

Fixtures
- `oxbot_exchange`: a mounted `FakeExchange` on its own FakeClock (the replay clock). At teardown it
  reports `api_calls_per_cycle` (mean of `calls_per_cycle()`, samples per cycle) only if the test
  marked cycles with `with oxbot_exchange.cycle():`, and fails the test if an injected fault never fired.
- `oxbot_market`: a `MarketDataClient` on that fake: same clock, sleeps that move the replay clock
  (instant, deterministic backoff), seeded jitter, candles cached in `HierarchicalCache.in_memory`.
- `oxbot_batcher`: a factory `oxbot_batcher(batch_fn, **kwargs)`; every batcher made is closed at teardown.

Marker `oxbot_exchange(start=..., base_url=..., strict_faults=True)` and ini option `oxbot_replay_start`
(epoch seconds or ISO-8601 UTC) configure the replay start.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from pytest_oxbot._plugin import usage
from pytest_oxbot._plugin.kpi_sink import report

# The fake exchange (httpx, respx), the market client, the cache and the batcher are imported by the
# fixtures that use them, not by every pytest run.
if TYPE_CHECKING:
    from pytest_oxbot.batcher import IntelligentBatcher
    from pytest_oxbot.fakes.exchange import FakeExchange
    from pytest_oxbot.market.client import MarketDataClient

MARKER = "oxbot_exchange"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "oxbot_replay_start",
        "replay start of the fake exchange (epoch seconds or ISO-8601 UTC); default 2026-01-25T00:00:00Z",
        default=None,
    )


MARKER_ARGS = ("start", "base_url", "strict_faults")
REPLAY_START = pytest.StashKey["float | None"]()


def pytest_configure(config: pytest.Config) -> None:
    usage.add_marker(
        config,
        MARKER,
        "(start=None, base_url=None, strict_faults=True): configure the oxbot_exchange fixture "
        "(replay start in epoch seconds or ISO-8601 UTC, Binance-compatible base URL, whether an injected "
        "fault that never fired fails the test)",
        _parse_marker,
    )
    raw = config.getini("oxbot_replay_start")
    with usage.naming("ini oxbot_replay_start"):
        config.stash[REPLAY_START] = parse_replay_start(raw) if raw else None


def _parse_marker(mark: pytest.Mark) -> dict[str, Any]:
    options = usage.keywords(mark, MARKER_ARGS)
    if options.get("start") is not None:
        options["start"] = parse_replay_start(options["start"])
    base_url = options.get("base_url")
    if base_url is not None and (not isinstance(base_url, str) or "://" not in base_url):
        raise ValueError(f"base_url must be an http(s) URL string, not {base_url!r}")
    options["strict_faults"] = usage.flag(options.get("strict_faults", True), "strict_faults")
    return options


def describe(config: pytest.Config) -> str:
    """The exchange's fragment of the header: only a replay start the ini moved from the default."""
    start = config.stash.get(REPLAY_START, None)
    if start is None:
        return ""
    return f"exchange replay from {datetime.fromtimestamp(start, tz=UTC).isoformat().replace('+00:00', 'Z')}"


def parse_replay_start(value: object) -> float:
    """Epoch seconds from a number or an ISO-8601 string (naive means UTC); a clear error otherwise."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"replay start {value!r} is neither epoch seconds nor ISO-8601") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise ValueError(f"replay start must be a number or an ISO-8601 string, got {value!r}")


@pytest.fixture
def oxbot_exchange(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    """The respx-mounted fake Binance exchange on real recorded candles, at a replay time you control."""
    options: dict[str, Any] = usage.marker_value(request.node, MARKER) or {}
    from pytest_oxbot.clock import FakeClock
    from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START, FakeExchange

    start = options.get("start") or request.config.stash.get(REPLAY_START, None) or DEFAULT_REPLAY_START
    strict = options.get("strict_faults", True)
    base_url = options.get("base_url")
    exchange = FakeExchange(FakeClock(start), **({"base_url": base_url} if base_url else {}))
    with exchange:
        yield exchange
    if exchange.cycles:
        per_cycle = exchange.calls_per_cycle(exchange.kpi_endpoint)
        mean = sum(per_cycle) / len(per_cycle)
        report(request.node, "api_calls_per_cycle", mean, samples=per_cycle, source="exchange")
    unfired = exchange.pending_faults()
    if strict and unfired:
        pytest.fail(f"oxbot_exchange: injected fault(s) never fired: {unfired}", pytrace=False)


@pytest_asyncio.fixture
async def oxbot_market(oxbot_exchange: FakeExchange) -> AsyncIterator[MarketDataClient]:
    """A MarketDataClient wired to `oxbot_exchange`: shared replay clock, instant deterministic backoff,
    candles cached in an embedded HierarchicalCache (memory + fakeredis) on the same clock."""
    import random

    from pytest_oxbot.cache import HierarchicalCache
    from pytest_oxbot.market.client import MarketDataClient

    async with (
        HierarchicalCache.in_memory(clock=oxbot_exchange.clock) as cache,
        MarketDataClient(
            base_url=oxbot_exchange.base_url,
            cache=cache,
            clock=oxbot_exchange.clock,
            sleep=oxbot_exchange.sleep,
            rng=random.Random(0),
        ) as client,
    ):
        yield client


BatcherFactory = Callable[..., "IntelligentBatcher[Any, Any]"]


@pytest_asyncio.fixture
async def oxbot_batcher() -> AsyncIterator[BatcherFactory]:
    """`oxbot_batcher(batch_fn, window=..., max_batch_size=..., key=..., group=...)`; closed at teardown."""
    from pytest_oxbot.batcher import IntelligentBatcher

    made: list[IntelligentBatcher[Any, Any]] = []

    def factory(
        batch_fn: Callable[[list[Any]], Awaitable[Any]], **kwargs: Any
    ) -> IntelligentBatcher[Any, Any]:
        batcher: IntelligentBatcher[Any, Any] = IntelligentBatcher(batch_fn, **kwargs)
        made.append(batcher)
        return batcher

    yield factory
    async with contextlib.AsyncExitStack() as stack:  # every batcher is closed even if one close raises
        for batcher in made:
            stack.push_async_callback(batcher.aclose)
