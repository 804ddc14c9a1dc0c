"""Fakes on real recorded data: a Binance-shaped exchange and an OpenAI-shaped LLM provider.

Embedded defaults for tests and benchmarks (no network, no keys): the exchange serves recorded candles and
24 h tickers at a replay time, the provider answers with exact `usage` and modelled latency; both answer
httpx clients in-process (respx) and any other client on a real loopback server, and both take the same
`Fault`s. Cassettes replay (or record) real LLM calls.
"""

from pytest_oxbot.fakes.cassette import Cassette, CassetteMiss
from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START, FakeExchange
from pytest_oxbot.fakes.faults import Fault
from pytest_oxbot.fakes.latency import LatencyModel, latency_model_for
from pytest_oxbot.fakes.llm import FakeLLMProvider, FakeRequest, Nof1Answers

__all__ = [
    "DEFAULT_REPLAY_START",
    "Cassette",
    "CassetteMiss",
    "FakeExchange",
    "FakeLLMProvider",
    "FakeRequest",
    "Fault",
    "LatencyModel",
    "Nof1Answers",
    "latency_model_for",
]
