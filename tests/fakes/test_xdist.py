"""The fakes' loopback servers under pytest-xdist: every worker gets its own free ports, no clash, and the
KPI verdicts equal a serial run's."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("xdist")

SUITE = """
import json, os
import openai
import pytest
import requests

FIVE = '["BTCUSDT","ETHUSDT","SOLUSDT","BNBUSDT","XRPUSDT"]'
PROMPT = "Decide for BTC ETH SOL BNB XRP. " + "{pad}"


def _port_log(*urls):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "serial")
    with open(f"ports-{{worker}}-{{os.getpid()}}.jsonl", "a") as fh:
        fh.write(json.dumps(list(urls)) + "\\n")


@pytest.mark.oxbot_kpi
@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o", "deepseek-chat", "gpt-4.1-nano"])
@pytest.mark.parametrize("symbols", [1, 5])
def test_cycle(oxbot_exchange, oxbot_llm, model, symbols):
    _port_log(oxbot_exchange.base_url, oxbot_llm.base_url)
    sdk = openai.OpenAI(base_url=oxbot_llm.base_url, api_key="sk-test", max_retries=0)
    with oxbot_exchange.cycle():
        for _ in range(1 if symbols == 5 else 5):  # batched, or one call per symbol
            answer = requests.get(oxbot_exchange.base_url + "/api/v3/ticker/24hr",
                                  params={{"symbols": FIVE}}, timeout=10)
            assert answer.status_code == 200
        sdk.chat.completions.create(model=model, messages=[{{"role": "user", "content": PROMPT}}],
                                    max_tokens=20)
"""

ARGS = ("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest")


def _verdicts(pytester: pytest.Pytester, name: str) -> list[tuple[str, str, float, str]]:
    data = json.loads((pytester.path / name).read_text())
    return sorted((r["test_id"], r["name"], r["value"], r["verdict"]) for r in data["results"])


def test_servers_under_xdist_no_port_clash_same_verdicts(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n')
    pytester.makepyfile(test_suite=SUITE.format(pad="price 64000.5 rsi 55 " * 40))
    serial = pytester.runpytest_subprocess(*ARGS, "--oxbot-json=serial.json")
    parallel = pytester.runpytest_subprocess(*ARGS, "-n", "2", "--oxbot-json=parallel.json")
    for result in (serial, parallel):
        # one call per symbol misses api_calls_per_cycle; gpt-4o misses the cost, deepseek-chat the latency
        result.assert_outcomes(passed=8, errors=6)  # the gate fails a KPI at teardown
        result.stdout.fnmatch_lines(["*api_calls_per_cycle 5 > target 1 calls*"])
    assert _verdicts(pytester, "serial.json") == _verdicts(pytester, "parallel.json")
    assert len(_verdicts(pytester, "parallel.json")) == 8 * 4  # 4 KPIs per test, all measured

    logs = {
        p.name: [json.loads(line) for line in p.read_text().splitlines()]
        for p in pytester.path.glob("ports-gw*")
    }
    workers = {name.split("-")[1] for name in logs}
    assert workers == {"gw0", "gw1"}  # both workers served their own fakes
    urls = [url for rows in logs.values() for row in rows for url in row]
    assert all(url.startswith("http://127.0.0.1:") for url in urls)
    assert len(set(urls)) == len(urls)  # every fake of every test had its own port
