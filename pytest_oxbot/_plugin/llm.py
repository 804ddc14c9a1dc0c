"""pytest wiring for the LLM component: the fake provider fixture, the price table, options.

Fixtures
- `oxbot_llm`: a started `FakeLLMProvider` on its own `FakeClock` (modelled latency advances it; nothing
  sleeps unless `--oxbot-llm-sleep`). Any client can use it: `oxbot_llm.base_url` is a real loopback
  server (`http://127.0.0.1:<port>/v1`, started on first use) for the `openai` SDK, `requests`, aiohttp;
  httpx clients aimed at the marker's `base_url` (default `https://llm.oxbot.test/v1`) are answered
  in-process by respx; `oxbot_llm.client(...)` builds the toolkit's own client.
  At teardown it reports, from what happened:
  `cost_per_decision` = spend / decisions and `llm_response_time` = modelled latency / decisions, where
  decisions are those counted by hand (`record_decision(result)`, `record_usage(model, usage)`) plus the
  calls of clients from `oxbot_llm.client()`; when nothing was counted by hand, each answered call is a
  decision priced from its own usage (so a bot on its own client is gated too). `prompt_tokens` = the
  largest prompt the fake received (unless the test uses `oxbot_compressor`, which reports it).
  The test fails if an injected fault never fired or the fake could not answer a request.
- `oxbot_price_table`: the shipped table + litellm's map (if installed) + `--oxbot-prices FILE`.

Options: see `pytest --help` (group "oxbot-llm"). Marker: `oxbot_llm(answers=..., base_url=...,
mode=..., latency_models=..., strict_faults=True)`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING, Any

import pytest

from pytest_oxbot._plugin import usage
from pytest_oxbot._plugin.exchange import FAKES_MODES, fakes_mode
from pytest_oxbot._plugin.kpi_sink import report

# The fake provider, the LLM client (httpx, pydantic settings) and the price table are imported by the
# fixtures, or by `pytest_configure` only when an option that needs them is given.
if TYPE_CHECKING:
    from pytest_oxbot.fakes.llm import FakeLLMProvider
    from pytest_oxbot.pricing import PriceTable

MARKER = "oxbot_llm"
MARKER_ARGS = ("answers", "base_url", "mode", "latency_models", "strict_faults")
DEFAULT_UPSTREAM = "https://api.openai.com/v1"


class OxbotLatencyWarning(pytest.PytestWarning):
    """A model has no published latency figures: `llm_response_time` was not measured for the test."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oxbot-llm", "pytest-oxbot: fake LLM provider and prices")
    group.addoption(
        "--oxbot-llm-sleep",
        action="store_true",
        help="really wait each answer's modelled latency (default: off, the latency is only recorded "
        "and advances the fake's clock, so tests stay fast and deterministic)",
    )
    group.addoption(
        "--oxbot-llm-cassette",
        metavar="PATH",
        help="answer from the real answers recorded in this cassette (JSON) instead of scripted ones; "
        "with --oxbot-llm-record, record into it (default: none, scripted answers)",
    )
    group.addoption(
        "--oxbot-llm-record",
        action="store_true",
        help="send calls to the real provider (--oxbot-llm-upstream) and record them into "
        "--oxbot-llm-cassette; needs OXBOT_LLM_API_KEY or OPENAI_API_KEY (default: off)",
    )
    group.addoption(
        "--oxbot-llm-upstream",
        metavar="URL",
        default=DEFAULT_UPSTREAM,
        help="the real OpenAI-compatible base URL used when recording (default: %(default)s)",
    )
    group.addoption(
        "--oxbot-prices",
        metavar="PATH",
        help="a price file in litellm's JSON format, merged over the shipped table and litellm's map; "
        "every cost KPI uses it (default: $OXBOT_LLM_PRICES_FILE, else none)",
    )


def pytest_configure(config: pytest.Config) -> None:
    usage.add_marker(
        config,
        MARKER,
        "(answers=None, base_url=None, mode=None, latency_models=None, strict_faults=True): "
        "configure the oxbot_llm fake: scripted answers (a string, a mapping, a sequence or a function of "
        "the request), the provider URL it impersonates for httpx clients (default "
        "https://llm.oxbot.test/v1; oxbot_llm.base_url is always a loopback URL with the same path), "
        f"the fakes' mode ({' or '.join(FAKES_MODES)}; default --oxbot-fakes), latency figures "
        "({model: LatencyModel}) for models without published ones, and whether an unfired fault fails "
        "the test",
        _parse_marker,
    )
    if config.getoption("--oxbot-llm-record"):
        if not config.getoption("--oxbot-llm-cassette"):
            raise usage.usage_error("--oxbot-llm-record", "needs --oxbot-llm-cassette PATH to record into")
        if _api_key() is None:
            raise usage.usage_error(
                "--oxbot-llm-record", "needs an API key in OXBOT_LLM_API_KEY or OPENAI_API_KEY"
            )
    cassette = config.getoption("--oxbot-llm-cassette")
    if cassette and not config.getoption("--oxbot-llm-record") and not Path(cassette).is_file():
        raise usage.usage_error("--oxbot-llm-cassette", f"{cassette}: no such file (record it first)")
    if cassette and Path(cassette).is_file():
        from pytest_oxbot.fakes.cassette import Cassette

        with usage.naming("--oxbot-llm-cassette"):
            Cassette(cassette)  # a tampered file is a usage error now, not a fixture error later
    prices = config.getoption("--oxbot-prices")
    if prices:
        from pytest_oxbot.pricing import PriceTable

        with usage.naming("--oxbot-prices"):
            PriceTable.from_file(prices)


def _parse_marker(mark: pytest.Mark) -> dict[str, Any]:
    options = usage.keywords(mark, MARKER_ARGS)
    base_url = options.get("base_url")
    if base_url is not None and (not isinstance(base_url, str) or "://" not in base_url):
        raise ValueError(f"base_url must be an http(s) URL string, not {base_url!r}")
    if options.get("mode") is not None and options["mode"] not in FAKES_MODES:
        raise ValueError(f"mode must be one of {', '.join(FAKES_MODES)}, not {options['mode']!r}")
    options["latency_models"] = _latency_models(options.get("latency_models"))
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
    from pytest_oxbot.settings import Settings

    path = pytestconfig.getoption("--oxbot-prices") or Settings.from_env().llm_prices_file
    return default_price_table(path)


@pytest.fixture
def oxbot_llm(request: pytest.FixtureRequest, oxbot_price_table: PriceTable) -> Iterator[FakeLLMProvider]:
    """The fake LLM provider for any client (respx in-process + a loopback server); LLM KPIs at teardown."""
    from pytest_oxbot.clock import FakeClock
    from pytest_oxbot.errors import FakeError
    from pytest_oxbot.fakes.cassette import Cassette
    from pytest_oxbot.fakes.llm import DEFAULT_BASE_URL, FakeLLMProvider

    options: dict[str, Any] = usage.marker_value(request.node, MARKER) or {}
    strict = bool(options.get("strict_faults", True))
    mode = fakes_mode(request.config, options.get("mode"))
    config = request.config
    cassette_path = config.getoption("--oxbot-llm-cassette")
    recording = bool(config.getoption("--oxbot-llm-record"))
    key = _api_key()
    cassette = Cassette(cassette_path, secrets=[key] if key else []) if cassette_path else None
    try:
        fake = FakeLLMProvider(
            options.get("base_url") or DEFAULT_BASE_URL,
            answers=options.get("answers"),
            clock=FakeClock(),
            sleep=bool(config.getoption("--oxbot-llm-sleep")),
            latency_models=options.get("latency_models"),
            cassette=cassette,
            record_upstream=config.getoption("--oxbot-llm-upstream") if recording else None,
            client_defaults={
                "price_table": oxbot_price_table,
                **({"api_key": key} if recording and key else {}),
            },
            price_table=oxbot_price_table,
            mount=mode == "respx",
            serve=True,
        )
    except (FakeError, ValueError) as exc:
        raise pytest.UsageError(f"@pytest.mark.{MARKER}: {exc}") from None
    with fake:
        yield fake
    _report_kpis(request.node, fake, prompt_tokens="oxbot_compressor" not in request.fixturenames)
    problems = [*fake.errors, *fake.server_errors]
    if problems:
        pytest.fail(f"oxbot_llm: the fake could not answer: {'; '.join(problems)}", pytrace=False)
    unfired = fake.pending_faults()
    if strict and unfired:
        pytest.fail(f"oxbot_llm: injected fault(s) never fired: {unfired}", pytrace=False)


def _latency_models(value: object) -> dict[str, Any] | None:
    from pytest_oxbot.fakes.latency import LatencyModel

    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, LatencyModel) for k, v in value.items()
    ):
        raise TypeError(
            f"latency_models takes {{model: LatencyModel(ttft_s, tokens_per_s, source)}}, not {value!r}"
        )
    return dict(value)


def _report_kpis(node: pytest.Item, fake: FakeLLMProvider, *, prompt_tokens: bool = True) -> None:
    latencies = list(fake.modelled_latencies)  # measured ones when recording
    decisions = len(fake.decisions)
    spend = sum((r.cost for r in fake.decisions), Decimal(0))
    for client in fake.clients:
        records = client.ledger.records
        decisions += sum(1 for r in records if not r.estimated)
        spend += sum((r.cost for r in records), Decimal(0))
    answered = fake.successful_calls
    timed = not fake.unknown_latency
    if not timed:
        warnings.warn(
            OxbotLatencyWarning(
                f"oxbot_llm: no published latency figures for {sorted(fake.unknown_latency)}: "
                f"llm_response_time not measured; pass @pytest.mark.{MARKER}(latency_models={{...}})"
            ),
            stacklevel=1,
        )
    if decisions:
        if timed:
            report(node, "llm_response_time", sum(latencies) / decisions, samples=latencies, source="llm")
        report(node, "cost_per_decision", float(spend / decisions), source="llm")
    elif answered:
        # Nothing counted by hand: each answered call is one decision, priced from its own usage.
        costs = [c.cost for c in answered if c.cost is not None]
        if timed and latencies:
            report(node, "llm_response_time", fmean(latencies), samples=latencies, source="llm calls")
        if len(costs) == len(answered):
            total = sum(costs, Decimal(0))
            report(
                node,
                "cost_per_decision",
                float(total / len(costs)),
                samples=[float(c) for c in costs],
                source="llm calls",
            )
    elif latencies and timed:
        report(node, "llm_response_time", fmean(latencies), samples=latencies, source="llm")
    if prompt_tokens and answered:
        counts = [c.prompt_tokens for c in answered]
        report(node, "prompt_tokens", max(counts), samples=counts, source="llm calls")


def _api_key() -> str | None:
    """The real provider's key, read at this edge only (OXBOT_LLM_API_KEY, else OPENAI_API_KEY)."""
    from pytest_oxbot.settings import Settings

    with usage.naming("settings"):
        return Settings.from_env().api_key()
    return None  # unreachable: naming() raises
