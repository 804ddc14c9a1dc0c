"""pytest wiring for the LLM component: the fake provider fixture, the price table, options.

Fixtures
- `oxbot_llm`: a started `FakeLLMProvider` on its own `FakeClock` (modelled latency advances it; nothing
  sleeps unless `--oxbot-llm-sleep`). Build clients with `oxbot_llm.client(...)`. At teardown it reports
  `llm_response_time` = sum of modelled latencies / decisions (a cache hit adds a decision and ~0 s)
  and `cost_per_decision` = spend / decisions, where decisions are the requests made through clients
  from `oxbot_llm.client()` plus any `oxbot_llm.record_decision(result)`; with no decision counted but
  calls made, `llm_response_time` is the mean modelled latency per call. An injected fault that never
  fired fails the test.
- `oxbot_price_table`: the shipped table + litellm's map (if installed) + `--oxbot-prices FILE`.

Options: `--oxbot-llm-sleep`, `--oxbot-llm-cassette PATH` (replay recorded answers offline),
`--oxbot-llm-record` with `--oxbot-llm-upstream URL` (record real calls into the cassette; needs
OXBOT_LLM_API_KEY or OPENAI_API_KEY), `--oxbot-prices PATH`.
Marker `oxbot_llm(answers=..., strict_faults=True)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_oxbot._plugin import usage
from pytest_oxbot._plugin.kpi_sink import report

# The fake provider, the LLM client (httpx, pydantic settings) and the price table are imported by the
# fixtures, or by `pytest_configure` only when an option that needs them is given.
if TYPE_CHECKING:
    from pytest_oxbot.fakes.llm import FakeLLMProvider
    from pytest_oxbot.pricing import PriceTable

MARKER = "oxbot_llm"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oxbot-llm", "pytest-oxbot: fake LLM provider and prices")
    group.addoption("--oxbot-llm-sleep", action="store_true", help="really sleep the modelled LLM latency")
    group.addoption("--oxbot-llm-cassette", metavar="PATH", help="replay (or record into) this LLM cassette")
    group.addoption(
        "--oxbot-llm-record",
        action="store_true",
        help="record real LLM calls into --oxbot-llm-cassette (needs an API key in the environment)",
    )
    group.addoption(
        "--oxbot-llm-upstream",
        metavar="URL",
        default="https://api.openai.com/v1",
        help="the real OpenAI-compatible base URL used when recording (default: %(default)s)",
    )
    group.addoption("--oxbot-prices", metavar="PATH", help="a price file in litellm's JSON format")


def pytest_configure(config: pytest.Config) -> None:
    usage.add_marker(
        config,
        MARKER,
        "(answers=None, strict_faults=True): scripted answers of the oxbot_llm fake (a string, a "
        "mapping, a sequence or a function of the request) and whether an unfired fault fails the test",
        _parse_marker,
    )
    if config.getoption("--oxbot-llm-record"):
        from pytest_oxbot.llm.client import API_KEY_ENV_VARS, api_key_from_env

        if not config.getoption("--oxbot-llm-cassette"):
            raise usage.usage_error("--oxbot-llm-record", "needs --oxbot-llm-cassette PATH to record into")
        if api_key_from_env() is None:
            raise usage.usage_error(
                "--oxbot-llm-record", f"needs an API key in {' or '.join(API_KEY_ENV_VARS)}"
            )
    cassette = config.getoption("--oxbot-llm-cassette")
    if cassette and not config.getoption("--oxbot-llm-record") and not Path(cassette).is_file():
        raise usage.usage_error("--oxbot-llm-cassette", f"{cassette}: no such file (record it first)")
    prices = config.getoption("--oxbot-prices")
    if prices:
        from pytest_oxbot.pricing import PriceTable

        with usage.naming("--oxbot-prices"):
            PriceTable.from_file(prices)


def _parse_marker(mark: pytest.Mark) -> dict[str, Any]:
    options = usage.keywords(mark, ("answers", "strict_faults"))
    options["strict_faults"] = usage.flag(options.get("strict_faults", True), "strict_faults")
    return options


def describe(config: pytest.Config) -> str:
    """The LLM fake's fragment of the plugin's one header line."""
    cassette = config.getoption("--oxbot-llm-cassette")
    if config.getoption("--oxbot-llm-record"):
        mode = f"recording real calls to {config.getoption('--oxbot-llm-upstream')} into {cassette}"
    elif cassette:
        mode = f"replaying {cassette}"
    else:
        mode = "fake provider, latency " + ("slept" if config.getoption("--oxbot-llm-sleep") else "modelled")
    prices = config.getoption("--oxbot-prices") or "shipped table (+ litellm's map if installed)"
    return f"llm: {mode}, prices: {prices}"


@pytest.fixture(scope="session")
def oxbot_price_table(pytestconfig: pytest.Config) -> PriceTable:
    """Prices for cost KPIs: shipped table < litellm's map (if installed) < --oxbot-prices file."""
    from pytest_oxbot.pricing import default_price_table

    return default_price_table(pytestconfig.getoption("--oxbot-prices"))


@pytest.fixture
def oxbot_llm(request: pytest.FixtureRequest, oxbot_price_table: PriceTable) -> Iterator[FakeLLMProvider]:
    """The respx fake LLM provider (or replay/record of a cassette); reports LLM KPIs at teardown."""
    from pytest_oxbot.clock import FakeClock
    from pytest_oxbot.fakes.cassette import Cassette
    from pytest_oxbot.fakes.llm import FakeLLMProvider
    from pytest_oxbot.llm.client import api_key_from_env

    options: dict[str, Any] = usage.marker_value(request.node, MARKER) or {}
    strict = options.get("strict_faults", True)
    answers = options.get("answers")
    config = request.config
    cassette_path = config.getoption("--oxbot-llm-cassette")
    recording = bool(config.getoption("--oxbot-llm-record"))
    key = api_key_from_env()
    cassette = Cassette(cassette_path, secrets=[key] if key else []) if cassette_path else None
    fake = FakeLLMProvider(
        answers=answers,
        clock=FakeClock(),
        sleep=bool(config.getoption("--oxbot-llm-sleep")),
        cassette=cassette,
        record_upstream=config.getoption("--oxbot-llm-upstream") if recording else None,
        client_defaults={"price_table": oxbot_price_table},
    )
    with fake:
        yield fake
    _report_kpis(request.node, fake)
    unfired = fake.pending_faults()
    if strict and unfired:
        pytest.fail(f"oxbot_llm: injected fault(s) never fired: {unfired}", pytrace=False)


def _report_kpis(node: pytest.Item, fake: FakeLLMProvider) -> None:
    from decimal import Decimal

    latencies = list(fake.modelled_latencies)  # measured ones when recording
    decisions = len(fake.decisions)
    spend = sum((r.cost for r in fake.decisions), Decimal(0))
    for client in fake.clients:
        records = client.ledger.records
        decisions += sum(1 for r in records if not r.estimated)
        spend += sum((r.cost for r in records), Decimal(0))
    if decisions:
        report(node, "llm_response_time", sum(latencies) / decisions, samples=latencies, source="llm")
        report(node, "cost_per_decision", float(spend / decisions), source="llm")
    elif latencies:
        report(node, "llm_response_time", sum(latencies) / len(latencies), samples=latencies, source="llm")
