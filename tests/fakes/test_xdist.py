"""The fakes' loopback servers under pytest-xdist: every worker gets its own free ports, no clash, and the
KPI verdicts equal a serial run's.

"No clash" means no two servers alive at the same time share a port: the OS may hand a port out again once
its server has closed, so a later test reusing an earlier test's port is correct, not a clash.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("xdist")

SUITE = """
import json, os, time
import openai
import pytest
import requests

FIVE = '["BTCUSDT","ETHUSDT","SOLUSDT","BNBUSDT","XRPUSDT"]'
PROMPT = "Decide for BTC ETH SOL BNB XRP. " + "{pad}"


def _port_log(started, *urls):
    # CLOCK_MONOTONIC is system-wide on Linux, so the workers' intervals compare
    worker = os.environ.get("PYTEST_XDIST_WORKER", "serial")
    with open(f"ports-{{worker}}-{{os.getpid()}}.jsonl", "a") as fh:
        fh.write(json.dumps([started, time.monotonic(), list(urls)]) + "\\n")


@pytest.mark.oxbot_kpi
@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o", "deepseek-chat", "gpt-4.1-nano"])
@pytest.mark.parametrize("symbols", [1, 5])
def test_cycle(oxbot_exchange, oxbot_llm, model, symbols):
    started = time.monotonic()  # both fakes are up before the test body starts
    sdk = openai.OpenAI(base_url=oxbot_llm.base_url, api_key="sk-test", max_retries=0)
    with oxbot_exchange.cycle():
        for _ in range(1 if symbols == 5 else 5):  # batched, or one call per symbol
            answer = requests.get(oxbot_exchange.base_url + "/api/v3/ticker/24hr",
                                  params={{"symbols": FIVE}}, timeout=10)
            assert answer.status_code == 200
        sdk.chat.completions.create(model=model, messages=[{{"role": "user", "content": PROMPT}}],
                                    max_tokens=20)
    _port_log(started, oxbot_exchange.base_url, oxbot_llm.base_url)
"""

ARGS = ("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest")


def _verdicts(pytester: pytest.Pytester, name: str) -> list[tuple[str, str, float, str]]:
    data = json.loads((pytester.path / name).read_text())
    return sorted((r["test_id"], r["name"], r["value"], r["verdict"]) for r in data["results"])


def test_servers_under_xdist_no_port_clash_same_verdicts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # under an outer `-n`, the serial run would inherit this worker's name and log as a worker
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
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
    rows = [row for per_worker in logs.values() for row in per_worker]
    assert len(rows) == 8
    ports = [(start, end, url.split("/")[2]) for start, end, urls in rows for url in urls]
    assert all(host.startswith("127.0.0.1:") for _, _, host in ports)
    for _, _, urls in rows:
        assert len({url.split("/")[2] for url in urls}) == len(urls)  # one test's fakes: own ports
    clashes = [
        (a, b)
        for i, a in enumerate(ports)
        for b in ports[i + 1 :]
        if a[2] == b[2] and a[0] < b[1] and b[0] < a[1]  # same port, both alive at once
    ]
    assert clashes == []
