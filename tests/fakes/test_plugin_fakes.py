"""The fakes' fixtures in a user's project (pytester): base URLs, modes, pricing any client, clear errors."""

from __future__ import annotations

import pytest

CONFTEST = """
import pytest
from pytest_oxbot._plugin.kpi_sink import reported

@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    for kpi in reported(item):
        print(f"KPI {item.name} {kpi.name}={kpi.value!r} source={kpi.source}")
    return result
"""

INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

USER_TESTS = """
import json
from decimal import Decimal
from types import SimpleNamespace

import httpx
import openai
import pytest
import requests

from pytest_oxbot.fakes.latency import LatencyModel

MESSAGES = [{"role": "user", "content": "BTC at 64,000: decide."}]


@pytest.mark.oxbot_llm(base_url="https://api.deepseek.com/v1", answers={"BTC": {"signal": "hold"}})
async def test_deepseek_url(oxbot_llm):
    async with httpx.AsyncClient(base_url="https://api.deepseek.com/v1") as http:  # in-process, respx
        body = {"model": "deepseek-chat", "messages": MESSAGES}
        assert (await http.post("/chat/completions", json=body)).status_code == 200
    assert oxbot_llm.base_url.startswith("http://127.0.0.1:") and oxbot_llm.base_url.endswith("/v1")
    sdk = openai.OpenAI(base_url=oxbot_llm.base_url, api_key="sk-test", max_retries=0)
    sdk.chat.completions.create(model="deepseek-chat", messages=MESSAGES)
    with open("deepseek.json", "w") as fh:
        json.dump([str(c.cost) for c in oxbot_llm.calls], fh)


def test_record_usage(oxbot_llm):
    sdk = openai.OpenAI(base_url=oxbot_llm.base_url, api_key="sk-test", max_retries=0)
    costs = []
    for _ in range(2):
        reply = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        costs.append(oxbot_llm.record_usage("gpt-4o-mini", reply.usage))
    costs.append(oxbot_llm.record_usage(model="gpt-4o-mini", prompt_tokens=1000, completion_tokens=100,
                                        cached_tokens=512))
    with open("record_usage.txt", "w") as fh:
        fh.write(str(sum(costs) / 3))


def test_float_cost(oxbot_llm):
    oxbot_llm.record_decision(SimpleNamespace(cost=0.00074))


@pytest.mark.oxbot_llm(mode="loopback")
async def test_loopback_mode(oxbot_llm, oxbot_market):
    # nothing mocked for the LLM: the toolkit's own client goes over a real socket too
    async with oxbot_llm.client() as client:
        assert client.base_url == oxbot_llm.base_url
        assert client.base_url.startswith("http://127.0.0.1:")
        await client.decide("BTC", ["BTC"], model="gpt-4o-mini")
    # the exchange keeps its default mode (respx): the market client is answered in-process
    assert oxbot_market.base_url == "https://api.binance.com"
    snapshot = await oxbot_market.fetch_market_data_batch(["BTC/USDT"])
    assert snapshot["BTC/USDT"].last_price > 0


@pytest.mark.oxbot_exchange(mode="loopback")
async def test_exchange_loopback(oxbot_exchange, oxbot_market):
    assert oxbot_market.base_url.startswith("http://127.0.0.1:")
    with oxbot_exchange.cycle():
        await oxbot_market.fetch_market_data_batch(["BTC/USDT", "ETH/USDT"])


def test_unsupported_parameter(oxbot_exchange):
    answer = requests.get(oxbot_exchange.base_url + "/api/v3/klines",
                          params={"symbol": "BTCUSDT", "interval": "1h", "timeZone": "8"}, timeout=5)
    assert answer.status_code == 500  # the test goes on, and fails at teardown with the reason


@pytest.mark.oxbot_llm(
    answers="ok", latency_models={"house-llama-70b": LatencyModel(0.3, 100.0, "our measurement")}
)
def test_house_model(oxbot_llm):
    requests.post(oxbot_llm.base_url + "/chat/completions", json={"model": "house-llama-70b", "messages": []},
                  timeout=5)


def test_house_model_untimed(oxbot_llm):
    requests.post(oxbot_llm.base_url + "/chat/completions", json={"model": "house-llama-70b", "messages": []},
                  timeout=5)

"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    (pytester.path / "prices.json").write_text(
        '{"house-llama-70b": {"input_cost_per_token": "1e-07", "output_cost_per_token": "2e-07"}}'
    )
    pytester.makepyfile(test_user=USER_TESTS)
    return pytester


def test_the_fakes_in_a_user_project(project: pytest.Pytester) -> None:
    import json
    from decimal import Decimal

    result = project.runpytest(
        "-s", "-p", "no:cacheprovider", "-p", "no:randomly", "--oxbot-prices", "prices.json"
    )
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 7, result.stdout.str()
    assert outcomes["failed"] == 1  # test_float_cost, at the call
    assert outcomes["errors"] == 1  # an unsupported parameter, at teardown

    # a DeepSeek-style URL is a base URL, not a usage error; both calls priced from their usage
    costs = [Decimal(c) for c in json.loads((project.path / "deepseek.json").read_text())]
    assert len(costs) == 2
    assert all(c > 0 for c in costs)
    result.stdout.fnmatch_lines(
        [f"*KPI test_deepseek_url cost_per_decision={float(sum(costs) / 2)!r} source=llm calls*"]
    )

    # record_usage: the bot's own client priced by hand; the fake's own calls are not counted twice
    expected = float(Decimal((project.path / "record_usage.txt").read_text()))
    result.stdout.fnmatch_lines([f"*KPI test_record_usage cost_per_decision={expected!r} source=llm*"])

    # a float cost fails the line that passed it, not the teardown
    result.stdout.fnmatch_lines(
        ["*test_float_cost*", "*RecordError: cost must be a Decimal, not float 0.00074*"]
    )
    result.stdout.no_fnmatch_line("*Decimal + float*")
    result.stdout.no_fnmatch_line("*unsupported operand*")

    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unsupported_parameter*",
            "*oxbot_exchange: the fake could not answer*timeZone*",
        ]
    )
    result.stdout.fnmatch_lines(["*KPI test_exchange_loopback api_calls_per_cycle=1.0 source=exchange*"])
    # a model priced only by the user's file: latency from the marker's figures (0.3 s + 1 token / 100)
    result.stdout.fnmatch_lines(["*KPI test_house_model llm_response_time=0.31 source=llm calls*"])
    result.stdout.fnmatch_lines(["*KPI test_house_model cost_per_decision=5e-07 source=llm calls*"])
    result.stdout.no_fnmatch_line("*KPI test_house_model_untimed llm_response_time*")
    result.stdout.fnmatch_lines(
        ["*OxbotLatencyWarning: oxbot_llm: no published latency figures for*house-llama-70b*"]
    )


def test_loopback_mode_for_the_whole_run(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_all_loopback="""
        async def test_everything_over_sockets(oxbot_llm, oxbot_market):
            async with oxbot_llm.client() as client:
                assert client.base_url.startswith("http://127.0.0.1:")
                await client.decide("BTC", ["BTC"], model="gpt-4o-mini")
            assert oxbot_market.base_url.startswith("http://127.0.0.1:")
            await oxbot_market.fetch_candles("ETH/USDT", "1h", 10)
        """
    )
    result = project.runpytest("-p", "no:randomly", "--oxbot-fakes", "loopback", "test_all_loopback.py")
    result.assert_outcomes(passed=1)
    bad = project.runpytest("--oxbot-fakes", "sockets", "test_all_loopback.py")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_help_says_what_each_option_does_and_its_default(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    result = pytester.runpytest("--help")
    text = " ".join(result.stdout.str().split())
    for option, default in (
        ("--oxbot-fakes={respx,loopback}", "(default: ini oxbot_fakes, else respx)"),
        ("--oxbot-llm-sleep", "(default: off"),
        ("--oxbot-llm-cassette=PATH", "(default: none, scripted answers)"),
        ("--oxbot-llm-record", "(default: off)"),
        ("--oxbot-llm-upstream=URL", "(default: https://api.openai.com/v1)"),
        ("--oxbot-prices=PATH", "(default: $OXBOT_LLM_PRICES_FILE, else none)"),
    ):
        assert option in text
        assert default in text.split(option, 1)[1][:400], option
    assert "oxbot_replay_start" in text


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('oxbot_llm(base_url="api.example.test")', "*oxbot_llm*base_url must be an http(s) URL*"),
        ('oxbot_exchange(mode="sockets")', "*oxbot_exchange*mode must be one of respx, loopback*"),
        ('oxbot_llm(latency_models={"m": 1})', "*oxbot_llm*latency_models takes*"),
    ],
)
def test_a_bad_fakes_marker_is_a_usage_error_naming_it(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    fixture = marker.split("(", 1)[0]
    pytester.makepyfile(f"import pytest\n\n@pytest.mark.{marker}\ndef test_x({fixture}):\n    pass\n")
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
