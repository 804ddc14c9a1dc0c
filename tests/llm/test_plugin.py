"""The `oxbot_llm` fixture and options, run in a pytester sandbox like a user's suite."""

from __future__ import annotations

import json

import pytest

CONFTEST = """
import json
import pytest
from pytest_oxbot._plugin.kpi_sink import reported

@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    with open("kpis.jsonl", "a") as fh:
        fh.write(json.dumps({"test": item.name, "kpis": {k.name: k.value for k in reported(item)}}) + "\\n")
    return result
"""


@pytest.fixture(autouse=True)
def _ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def _kpis(pytester: pytest.Pytester) -> dict[str, dict[str, float]]:
    lines = (pytester.path / "kpis.jsonl").read_text().splitlines()
    return {row["test"]: row["kpis"] for row in map(json.loads, lines)}


def test_fixture_reports_latency_and_cost_per_decision(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import pytest
        from pytest_oxbot.fakes.latency import latency_model_for

        ANSWER = {"BTC": {"signal": "hold", "confidence": 0.5}}

        @pytest.mark.asyncio  # strict mode, as users may run it
        @pytest.mark.oxbot_llm(answers=ANSWER)
        async def test_cycle(oxbot_llm):
            client = oxbot_llm.client()
            async with client:
                a = await client.decide("BTC now", ["BTC"], model="gpt-4o-mini")
                b = await client.decide("BTC now", ["BTC"], model="gpt-4o-mini")  # cache miss: no cache given
                c = await client.decide("BTC later", ["BTC"], model="gpt-4o-mini")
            assert len(oxbot_llm.calls) == 3
            with open("expected.txt", "w") as fh:
                fh.write(repr((sum(oxbot_llm.modelled_latencies) / 3, float((a.cost + b.cost + c.cost) / 3))))

        @pytest.mark.asyncio
        async def test_no_decisions(oxbot_llm):
            import httpx
            async with httpx.AsyncClient() as http:
                body = {"model": "gpt-4o-mini", "messages": []}
                await http.post(oxbot_llm.base_url + "/chat/completions", json=body)
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    latency, cost = eval((pytester.path / "expected.txt").read_text())
    kpis = _kpis(pytester)
    assert kpis["test_cycle"]["llm_response_time"] == pytest.approx(latency)
    assert kpis["test_cycle"]["cost_per_decision"] == pytest.approx(cost)
    # A raw client of its own: each answered call is a decision priced from its usage.
    assert set(kpis["test_no_decisions"]) == {"llm_response_time", "cost_per_decision", "prompt_tokens"}


def test_an_injected_fault_that_never_fired_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_forgot(oxbot_llm):
            oxbot_llm.inject("429")
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*injected fault(s) never fired*rate_limit*"])


def test_record_without_cassette_or_key_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--oxbot-llm-record")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--oxbot-llm-record: needs --oxbot-llm-cassette*"])
    monkeypatch.delenv("OXBOT_LLM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = pytester.runpytest("--oxbot-llm-record", "--oxbot-llm-cassette", "c.json")
    result.stderr.fnmatch_lines(["*needs an API key in OXBOT_LLM_API_KEY or OPENAI_API_KEY*"])


def test_bad_price_file_and_missing_cassette_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    (pytester.path / "prices.json").write_text("{oops")
    result = pytester.runpytest("--oxbot-prices", "prices.json")
    result.stderr.fnmatch_lines(["*--oxbot-prices*invalid JSON*"])
    result = pytester.runpytest("--oxbot-llm-cassette", "nope.json")
    result.stderr.fnmatch_lines(["*nope.json: no such file*"])


def test_price_file_option_reaches_the_fixture(pytester: pytest.Pytester) -> None:
    (pytester.path / "prices.json").write_text(
        json.dumps({"house-llama-70b": {"input_cost_per_token": 1e-07, "output_cost_per_token": 2e-07}})
    )
    pytester.makepyfile(
        """
        from decimal import Decimal
        def test_price(oxbot_price_table):
            assert oxbot_price_table.get("house-llama-70b").output_cost_per_token == Decimal("2e-07")
        """
    )
    pytester.runpytest("--oxbot-prices", "prices.json").assert_outcomes(passed=1)


def test_record_then_replay_through_the_options(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Record against a real HTTP server (a local stand-in for the provider), then replay offline."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from pytest_oxbot.fakes.llm import load_reference_response

    secret = "sk-recording-secret-123"
    body = json.dumps(load_reference_response()).encode()
    seen_auth: list[str] = []

    class Provider(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            seen_auth.append(self.headers.get("authorization", ""))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        pytester.makepyfile(
            """
            import pytest

            @pytest.mark.asyncio
            async def test_call(oxbot_llm):
                async with oxbot_llm.client() as client:
                    out = await client.complete([{"role": "user", "content": "who are you"}], model="gpt-4o")
                assert out.content == "I am a language model based on GPT-3"
            """
        )
        monkeypatch.setenv("OXBOT_LLM_API_KEY", secret)
        upstream = f"http://127.0.0.1:{server.server_address[1]}/v1"
        recorded = pytester.runpytest(
            "--oxbot-llm-record", "--oxbot-llm-cassette", "llm.json", "--oxbot-llm-upstream", upstream
        )
        recorded.assert_outcomes(passed=1)
    finally:
        server.shutdown()
        thread.join()
    assert seen_auth == [f"Bearer {secret}"]
    cassette_text = (pytester.path / "llm.json").read_text()
    assert secret not in cassette_text
    monkeypatch.delenv("OXBOT_LLM_API_KEY")
    replayed = pytester.runpytest("--oxbot-llm-cassette", "llm.json")
    replayed.assert_outcomes(passed=1)


async def test_recorded_decisions_count_and_cache_hits_lower_the_mean_latency() -> None:
    from types import SimpleNamespace

    from pytest_oxbot._plugin.kpi_sink import reported
    from pytest_oxbot._plugin.llm import _report_kpis
    from pytest_oxbot.clock import FakeClock
    from pytest_oxbot.fakes.llm import FakeLLMProvider
    from pytest_oxbot.llm import CostAwareLLMClient
    from pytest_oxbot.pricing import PriceTable

    from .conftest import DictCache

    with FakeLLMProvider(answers={"BTC": {"signal": "hold", "confidence": 0.4}}, clock=FakeClock()) as fake:
        async with CostAwareLLMClient(
            **fake.client_kwargs(),
            cache=DictCache(),
            price_table=PriceTable.shipped(),
        ) as client:
            results = [await client.decide("BTC", ["BTC"], model="gpt-4o-mini") for _ in range(4)]
    for r in results:
        fake.record_decision(r)
    node = SimpleNamespace(stash=pytest.Stash())
    _report_kpis(node, fake)  # type: ignore[arg-type]
    kpis = {k.name: k.value for k in reported(node)}  # type: ignore[arg-type]
    assert len(fake.calls) == 1
    assert kpis["llm_response_time"] == pytest.approx(fake.modelled_latencies[0] / 4)
    assert kpis["cost_per_decision"] == pytest.approx(float(results[0].cost / 4))
