"""pytest wiring for the exchange component: the fake exchange, a client wired to it, a batcher factory.

Fixtures
- `oxbot_exchange`: a `FakeExchange` on its own FakeClock (the replay clock), for any client:
  `oxbot_exchange.base_url` is a real loopback server (`http://127.0.0.1:<port>`, started on first use)
  for ccxt (`oxbot_exchange.ccxt_urls(...)`), `requests`, aiohttp; httpx clients aimed at the public URL
  (default `https://api.binance.com`) are answered in-process by respx. At teardown it reports
  `api_calls_per_cycle` (mean of `calls_per_cycle()`, samples per cycle) only if the test marked cycles
  with `with oxbot_exchange.cycle():`, and fails the test if an injected fault never fired or the fake
  could not answer a request.
- `oxbot_market`: a `MarketDataClient` on that fake: same clock, sleeps that move the replay clock
  (instant, deterministic backoff), seeded jitter, candles cached in `HierarchicalCache.in_memory`.
- `oxbot_batcher`: a factory `oxbot_batcher(batch_fn, **kwargs)`; every batcher made is closed at teardown.

Marker `oxbot_exchange(start=..., base_url=..., mode=..., strict_faults=True)`, ini `oxbot_replay_start`
(epoch seconds or ISO-8601 UTC) and `--oxbot-fakes` (shared with `oxbot_llm`) configure it.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from statistics import fmean
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
MARKER_ARGS = ("start", "base_url", "mode", "strict_faults")
FAKES_MODES = ("respx", "loopback")
REPLAY_START = pytest.StashKey["float | None"]()
FAKES_MODE = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "oxbot_replay_start",
        "replay start of the fake exchange (epoch seconds or ISO-8601 UTC); default 2026-01-25T00:00:00Z "
        "(recorded 15m and 1h candles; 2021-04-25T12:00:00Z .. 2021-05-13T12:00:00Z has 5m, 15m, 1h, 4h)",
        default=None,
    )
    group = parser.getgroup("oxbot-fakes", "pytest-oxbot: fake exchange and LLM provider")
    group.addoption(
        "--oxbot-fakes",
        choices=FAKES_MODES,
        default=None,
        help="how the fakes are reached. respx: httpx clients aimed at the impersonated URL are answered "
        "in-process, every other client uses the fixture's base_url (a loopback server started on first "
        "use); loopback: nothing is mocked, every client, the toolkit's own included, goes over real "
        "sockets to 127.0.0.1 (default: ini oxbot_fakes, else respx)",
    )
    parser.addini("oxbot_fakes", "default of --oxbot-fakes (respx or loopback)", default=None)


def pytest_configure(config: pytest.Config) -> None:
    usage.add_marker(
        config,
        MARKER,
        "(start=None, base_url=None, mode=None, strict_faults=True): configure the oxbot_exchange fixture "
        "(replay start in epoch seconds or ISO-8601 UTC, the Binance-compatible URL it impersonates for "
        "httpx clients, the fakes' mode (respx or loopback; default --oxbot-fakes), whether an injected "
        "fault that never fired fails the test)",
        _parse_marker,
    )
    raw = config.getini("oxbot_replay_start")
    with usage.naming("ini oxbot_replay_start"):
        config.stash[REPLAY_START] = parse_replay_start(raw) if raw else None
    mode = config.getoption("--oxbot-fakes") or config.getini("oxbot_fakes") or "respx"
    with usage.naming("ini oxbot_fakes"):
        config.stash[FAKES_MODE] = _mode(mode)


def _mode(value: object) -> str:
    if value not in FAKES_MODES:
        raise ValueError(f"mode must be one of {', '.join(FAKES_MODES)}, not {value!r}")
    return str(value)


def fakes_mode(config: pytest.Config, marker_value: object) -> str:
    """The fakes' mode for one test: its marker's `mode`, else --oxbot-fakes, else ini, else respx."""
    return str(marker_value) if marker_value else config.stash.get(FAKES_MODE, "respx")


def _parse_marker(mark: pytest.Mark) -> dict[str, Any]:
    options = usage.keywords(mark, MARKER_ARGS)
    if options.get("start") is not None:
        options["start"] = parse_replay_start(options["start"])
    base_url = options.get("base_url")
    if base_url is not None and (not isinstance(base_url, str) or "://" not in base_url):
        raise ValueError(f"base_url must be an http(s) URL string, not {base_url!r}")
    if options.get("mode") is not None:
        options["mode"] = _mode(options["mode"])
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
    """The fake Binance exchange on real recorded candles, at a replay time you control, for any client."""
    options: dict[str, Any] = usage.marker_value(request.node, MARKER) or {}
    from pytest_oxbot.clock import FakeClock
    from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START, FakeExchange

    start = options.get("start") or request.config.stash.get(REPLAY_START, None) or DEFAULT_REPLAY_START
    strict = options.get("strict_faults", True)
    base_url = options.get("base_url")
    mode = fakes_mode(request.config, options.get("mode"))
    exchange = FakeExchange(
        FakeClock(start),
        mount=mode == "respx",
        serve=True,
        **({"base_url": base_url} if base_url else {}),
    )
    with exchange:
        yield exchange
    if exchange.cycles:
        per_cycle = exchange.calls_per_cycle(exchange.kpi_endpoint)
        report(request.node, "api_calls_per_cycle", fmean(per_cycle), samples=per_cycle, source="exchange")
    problems = exchange.server_errors
    if problems:
        pytest.fail(f"oxbot_exchange: the fake could not answer: {'; '.join(problems)}", pytrace=False)
    unfired = exchange.pending_faults()
    if strict and unfired:
        pytest.fail(f"oxbot_exchange: injected fault(s) never fired: {unfired}", pytrace=False)


@pytest_asyncio.fixture
async def oxbot_market(oxbot_exchange: FakeExchange) -> AsyncIterator[MarketDataClient]:
    """A MarketDataClient wired to `oxbot_exchange`: shared replay clock, instant deterministic backoff,
    candles cached in an embedded HierarchicalCache (memory + fakeredis) on the same clock."""
    from pytest_oxbot.cache import HierarchicalCache
    from pytest_oxbot.market.client import MarketDataClient

    async with (
        HierarchicalCache.in_memory(clock=oxbot_exchange.clock) as cache,
        MarketDataClient(
            base_url=oxbot_exchange.httpx_url,
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
    """`oxbot_batcher(batch_fn, window=..., max_batch_size=..., key=..., group=...)`; closed at teardown.

    `max_batch_size` defaults to LLM_BATCH_SIZE (5) read at this edge; an explicit argument wins.
    """
    from pytest_oxbot.batcher import IntelligentBatcher
    from pytest_oxbot.settings import Settings

    made: list[IntelligentBatcher[Any, Any]] = []
    default_size = Settings.from_env().llm_batch_size

    def factory(
        batch_fn: Callable[[list[Any]], Awaitable[Any]], **kwargs: Any
    ) -> IntelligentBatcher[Any, Any]:
        kwargs.setdefault("max_batch_size", default_size)
        batcher: IntelligentBatcher[Any, Any] = IntelligentBatcher(batch_fn, **kwargs)
        made.append(batcher)
        return batcher

    yield factory
    async with contextlib.AsyncExitStack() as stack:  # every batcher is closed even if one close raises
        for batcher in made:
            stack.push_async_callback(batcher.aclose)
