from decimal import Decimal

import pytest

from pytest_oxbot.errors import SettingsError
from pytest_oxbot.settings import load_settings, redact_url


def test_defaults_are_the_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLM_CACHE_TTL_SECONDS", "LLM_DAILY_COST_LIMIT_USD", "OXBOT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings(_env_file=None)
    assert s.llm_enable_cache is True
    assert s.llm_cache_ttl_seconds == 300
    assert s.llm_max_tokens_per_call == 300
    assert s.llm_temperature_default == 0.2
    assert s.llm_batch_size == 5
    assert (s.db_pool_size, s.db_max_overflow, s.db_pool_timeout) == (20, 30, 30)
    assert (s.http_connect_timeout, s.http_read_timeout, s.http_max_connections) == (5, 10, 100)


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_CACHE_TTL_SECONDS", "abc")
    with pytest.raises(SettingsError, match=r"LLM_CACHE_TTL_SECONDS='abc'.*integer"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LLM_ENABLE_CACHE", "maybe"),
        ("LLM_TEMPERATURE_DEFAULT", "3"),
        ("LLM_BATCH_SIZE", "0"),
        ("LLM_DAILY_COST_LIMIT_USD", "-1"),
        ("HTTP_READ_TIMEOUT", "soon"),
    ],
)
def test_each_bad_value_is_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(_env_file=None)


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_DAILY_COST_LIMIT_USD", raising=False)
    env = tmp_path / ".env"
    env.write_text("LLM_DAILY_COST_LIMIT_USD=1.50\nLLM_BATCH_SIZE=7\n")
    s = load_settings(_env_file=str(env))
    assert s.llm_daily_cost_limit_usd == Decimal("1.50")
    assert s.llm_batch_size == 7


def test_urls_are_redacted_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OXBOT_REDIS_URL", "redis://user:s3cret@127.0.0.1:6379/0")
    s = load_settings(_env_file=None)
    assert "s3cret" not in repr(s)
    assert redact_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert redact_url("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379"
