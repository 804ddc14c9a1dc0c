"""The `oxbot_compressor` fixture: a ready compressor that reports `prompt_tokens` at teardown."""

from __future__ import annotations

import pytest

INNER = """
import pytest
from pytest_oxbot._plugin.kpi_sink import reported

SEEN = {}

@pytest.fixture
def kpis(request):
    yield
    SEEN[request.node.name] = [(k.name, k.value, k.samples, k.source) for k in reported(request.node)]

def test_compresses(kpis, oxbot_compressor):
    prompt = "### ALL BTC DATA\\n\\ncurrent_price = 100.5, current_rsi = 55.1\\n\\nMid prices: [" + ", ".join(
        str(i) for i in range(1, 60)) + "]\\n"
    small = oxbot_compressor.compress_by_context(prompt, "emergency")
    big = oxbot_compressor.compress_by_context(prompt, "analysis")
    assert small.compressed_tokens < big.compressed_tokens
    pytest.sizes = (small.compressed_tokens, big.compressed_tokens)

def test_no_compression_reports_nothing(kpis, oxbot_compressor):
    assert oxbot_compressor.model == "{model}"

def test_zz_check():
    small, big = pytest.sizes
    expected = ("prompt_tokens", float(big), (float(small), float(big)), "compressor")
    assert SEEN["test_compresses"] == [expected]
    assert SEEN["test_no_compression_reports_nothing"] == []
"""


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_fixture_reports_the_largest_compressed_prompt(pytester: pytest.Pytester, model: str) -> None:
    pytester.makepyfile(INNER.replace("{model}", model))
    args = ["-p", "no:randomly", "-p", "no:cacheprovider"]
    if model != "gpt-4o":
        args += ["--oxbot-compressor-model", model]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=3)


def test_unknown_model_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(oxbot_compressor):\n    pass\n")
    result = pytester.runpytest_subprocess("--oxbot-compressor-model", "no-such-model")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*no tokenizer known for model 'no-such-model'*"])
