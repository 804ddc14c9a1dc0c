"""Token counting: exact per OpenAI family, validated against real `usage` figures; approximations flagged."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.tokens import (
    CL100K,
    O200K,
    UnknownModelError,
    chat_token_count,
    count_chat_tokens,
    count_tokens,
    encoding_for,
    is_exact,
    resolve,
    token_count,
)


def _recorded_completion() -> dict[str, object]:
    ref = resources.files("pytest_oxbot") / "data" / "llm" / "openai_chat_completion_response.json"
    data: dict[str, object] = json.loads(ref.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", O200K),
        ("gpt-4o-2024-08-06", O200K),
        ("gpt-4o-mini", O200K),
        ("gpt-4.1-mini", O200K),
        ("gpt-5", O200K),
        ("o1-preview", O200K),
        ("o3-mini", O200K),
        ("o4-mini", O200K),
        ("openai/gpt-4o", O200K),
        ("azure/gpt-4.1", O200K),
        ("gpt-4", CL100K),
        ("gpt-4-0613", CL100K),
        ("gpt-4-turbo", CL100K),
        ("gpt-3.5-turbo", CL100K),
        ("text-embedding-3-small", CL100K),
    ],
)
def test_openai_models_map_to_their_exact_encoding(model: str, encoding: str) -> None:
    assert encoding_for(model) == encoding
    assert is_exact(model)


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("deepseek-chat-v3.1", "deepseek"),
        ("qwen3-max", "qwen"),
        ("claude-sonnet-4-5", "anthropic"),
        ("anthropic/claude-3-5-haiku", "anthropic"),
        ("gemini-2.5-pro", "google"),
        ("grok-4", "xai"),
    ],
)
def test_other_providers_are_flagged_approximate(model: str, family: str) -> None:
    counted = token_count("BTC current_price = 114207.5", model)
    assert counted.exact is False
    assert counted.family == family
    assert counted.tokens == count_tokens("BTC current_price = 114207.5", "gpt-4o")


def test_unknown_model_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnknownModelError, match="no tokenizer known"):
        count_tokens("hello", "my-private-model-7b")


def test_completion_tokens_match_recorded_openai_usage() -> None:
    """The packaged gpt-4o answer: its content counts exactly as the API billed it (10 tokens).

    Its prompt (prompt_tokens 28) is not in the recording, so only the completion can be checked here.
    """
    data = _recorded_completion()
    choices = data["choices"]
    assert isinstance(choices, list)
    content = choices[0]["message"]["content"]
    usage = data["usage"]
    assert isinstance(usage, dict)
    assert count_tokens(content, str(data["model"])) == usage["completion_tokens"] == 10
    # the same text in the older encoding is a different count: the mapping matters
    assert count_tokens(content, "gpt-4") != usage["completion_tokens"]


# OpenAI cookbook "How to count tokens with tiktoken", section 6: these messages, sent to the API,
# were billed 129 prompt tokens on gpt-3.5-turbo/gpt-4 and 124 on gpt-4o/gpt-4o-mini (published output).
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate jargon "
        "into plain English.",
    },
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities for "
        "increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client deliverable.",
    },
]


@pytest.mark.parametrize(
    ("model", "api_prompt_tokens"),
    [("gpt-3.5-turbo", 129), ("gpt-4-0613", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)],
)
def test_chat_overhead_matches_api_billed_prompt_tokens(model: str, api_prompt_tokens: int) -> None:
    counted = chat_token_count(COOKBOOK_MESSAGES, model)
    assert counted.tokens == api_prompt_tokens
    assert counted.exact


def test_legacy_0301_overhead_rule() -> None:
    messages = [{"role": "user", "name": "bob", "content": "hi"}]
    body = count_tokens("user", "gpt-3.5-turbo") + count_tokens("bob", "gpt-3.5-turbo") + 1
    assert count_chat_tokens(messages, "gpt-3.5-turbo-0301") == body + 4 - 1 + 3
    assert count_chat_tokens(messages, "gpt-3.5-turbo") == body + 3 + 1 + 3


def test_special_token_text_is_counted_as_plain_text() -> None:
    assert count_tokens("<|endoftext|>", "gpt-4o") > 1
    assert count_tokens("", "gpt-4o") == 0


def test_none_content_counts_as_nothing() -> None:
    assert count_chat_tokens([{"role": "assistant", "content": None}], "gpt-4o") == (
        3 + count_tokens("assistant", "gpt-4o") + 3
    )


def test_resolve_is_cached_and_reports_family() -> None:
    assert resolve("gpt-4o") is resolve("gpt-4o")
    assert resolve("gpt-4o").family == "openai"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["system", "user", "assistant"]), "content": st.text()}
        ),
        min_size=1,
        max_size=5,
    )
)
def test_chat_count_is_contents_plus_documented_overhead(messages: list[dict[str, str]]) -> None:
    body = sum(count_tokens(m["role"], "gpt-4o") + count_tokens(m["content"], "gpt-4o") for m in messages)
    assert count_chat_tokens(messages, "gpt-4o") == body + 3 * len(messages) + 3


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_count_is_deterministic_and_bounded_by_bytes(text: str) -> None:
    n = count_tokens(text, "gpt-4o")
    assert n == count_tokens(text, "gpt-4o")
    assert n <= len(text.encode("utf-8", "surrogatepass"))
