"""pytest wiring for the live monitor: the `oxbot_monitor` fixture, to test an alert configuration.

    async def test_slow_llm_switches_model(oxbot_monitor, oxbot_llm):
        client = oxbot_llm.client()
        oxbot_monitor.reporter.watch_llm(client)
        ...                                   # drive the component
        await oxbot_monitor.tick(advance=60)  # sample on the test's fake clock
        assert client.router.forced_model == "gpt-4.1-nano"
        async with oxbot_monitor.http() as http:   # the app over httpx's ASGI transport
            assert (await http.get("/performance/alerts")).json()["active"]

The configuration is `--oxbot-monitor-config PATH` (your alert file), else the marker
`@pytest.mark.oxbot_monitor(config=...)` (a path or a `MonitorConfig`), else the built-in defaults.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

# The monitor (SQLAlchemy, FastAPI) is imported by the fixture, never by a pytest run that does not use it.
if TYPE_CHECKING:
    import httpx

    from pytest_oxbot.clock import FakeClock
    from pytest_oxbot.monitor.config import MonitorConfig
    from pytest_oxbot.monitor.reporter import MetricsReporter
    from pytest_oxbot.monitor.service import Monitor

MARKER = "oxbot_monitor"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oxbot-monitor", "pytest-oxbot: live monitor")
    group.addoption(
        "--oxbot-monitor-config",
        metavar="PATH",
        help="alert configuration the oxbot_monitor fixture uses (default: built-in defaults)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(config=None): the alert configuration (path or MonitorConfig) of oxbot_monitor"
    )
    path = config.getoption("--oxbot-monitor-config")
    if path and not Path(path).is_file():
        raise pytest.UsageError(f"--oxbot-monitor-config {path}: no such file")


class MonitorHarness:
    """A `Monitor` over one in-process reporter, on the test's fake clock, with SQLite history in memory."""

    def __init__(self, config: MonitorConfig, clock: FakeClock, process: str) -> None:
        from pytest_oxbot.monitor.history import HistoryStore
        from pytest_oxbot.monitor.reporter import MetricsReporter
        from pytest_oxbot.monitor.service import Monitor

        self.clock = clock
        self.token = secrets.token_urlsafe(24)
        self.reporter: MetricsReporter = MetricsReporter(process, clock=clock)
        self.monitor: Monitor = Monitor(
            config,
            reporters=[self.reporter],
            history=HistoryStore.from_url("sqlite+aiosqlite://"),
            clock=clock,
        )
        self._app: Any = None

    @property
    def config(self) -> MonitorConfig:
        return self.monitor.config

    async def tick(self, advance: float = 0.0) -> list[Any]:
        """Move the clock by `advance` seconds, then take one sample (alerts and actions included)."""
        if advance:
            self.clock.advance(advance)
        return await self.monitor.tick()

    @property
    def app(self) -> Any:
        if self._app is None:
            from pytest_oxbot.monitor.app import create_app

            self._app = create_app(self.monitor, token=self.token)
        return self._app

    def http(self, *, authorized: bool = True) -> httpx.AsyncClient:
        """An httpx client on the app (no server, no port); `authorized` sends the bearer token."""
        import httpx

        headers = {"Authorization": f"Bearer {self.token}"} if authorized else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://oxbot-monitor", headers=headers
        )

    def active(self) -> list[str]:
        return sorted(name for name, state in self.monitor.states.items() if state.active)


def _config(request: pytest.FixtureRequest) -> MonitorConfig:
    from pytest_oxbot.monitor.config import MonitorConfig, default_config, load_config
    from pytest_oxbot.monitor.errors import MonitorConfigError

    marker = request.node.get_closest_marker(MARKER)
    given: Any = marker.kwargs.get("config") if marker else None
    given = given or request.config.getoption("--oxbot-monitor-config")
    try:
        if isinstance(given, MonitorConfig):
            return given
        return load_config(given) if given else default_config()
    except MonitorConfigError as exc:
        raise pytest.UsageError(f"oxbot_monitor: {exc}") from None


@pytest_asyncio.fixture
async def oxbot_monitor(
    request: pytest.FixtureRequest, oxbot_clock: FakeClock
) -> AsyncIterator[MonitorHarness]:
    """A live monitor on this test's components (watch them with `oxbot_monitor.reporter.watch_*`)."""
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in request.node.name)[:60] or "test"
    harness = MonitorHarness(_config(request), oxbot_clock, name)
    try:
        yield harness
    finally:
        harness.reporter.close()
        await harness.monitor.aclose()
