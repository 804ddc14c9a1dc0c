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


# -- issue 13 item 16: every bad value is a SettingsError naming the variable at start-up ------------------


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("OXBOT_REDIS_URL", "abc", "not a Redis URL"),
        ("OXBOT_REDIS_URL", "memcached://127.0.0.1:11211", "not a Redis URL"),
        ("OXBOT_REDIS_URL", "redis://u:s3cret@127.0.0.1:notaport/0", "port"),
        ("OXBOT_REDIS_URL", "redis://127.0.0.1:99999/0", "port"),
        ("OXBOT_REDIS_URL", "redis://:s3cret@", "no host"),
        ("OXBOT_BUDGET_REDIS_URL", "abc", "not a Redis URL"),
        ("OXBOT_DATABASE_URL", "abc", "not a database URL"),
        ("OXBOT_DATABASE_URL", "postgresql+psycopg2://u:s3cret@127.0.0.1/db", "not an async driver"),
        ("OXBOT_DATABASE_URL", "mysql://u:s3cret@127.0.0.1/db", "not an async driver"),
        ("OXBOT_DATABASE_URL", "oracle+nope://u:s3cret@h/db", "not an async driver"),
        ("HTTP_CONNECT_TIMEOUT", "inf", "finite"),
        ("HTTP_READ_TIMEOUT", "inf", "finite"),
        ("HTTP_READ_TIMEOUT", "nan", "greater than 0"),
        ("DB_POOL_TIMEOUT", "inf", "finite"),
        ("LLM_DAILY_COST_LIMIT_USD", "inf", "finite"),
        ("LLM_DAILY_COST_LIMIT_USD", "nan", "finite"),
        ("LLM_TEMPERATURE_DEFAULT", "nan", "LLM_TEMPERATURE_DEFAULT"),
        ("LLM_CACHE_TTL_SECONDS", "1e400", "integer"),
        ("OXBOT_BUDGET_ALLOW_EVICTION", "maybe", "boolean"),
        ("OXBOT_LLM_PRICES_FILE", "/nonexistent/prices.json", "no such file"),
    ],
)
def test_a_bad_variable_is_named_at_start_up_and_no_secret_shown(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings(_env_file=None)
    message = str(info.value)
    assert f"{name}=" in message
    assert says in message
    assert "s3cret" not in message


def test_a_bad_price_file_names_the_variable_the_file_and_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{"m": {"input_cost_per_token": "abc", "output_cost_per_token": 1e-7}}')
    monkeypatch.setenv("OXBOT_LLM_PRICES_FILE", str(path))
    with pytest.raises(SettingsError, match=r"OXBOT_LLM_PRICES_FILE=.*model 'm': input_cost_per_token"):
        load_settings(_env_file=None)


def test_the_budget_url_falls_back_to_the_shared_one_and_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OXBOT_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("OXBOT_BUDGET_REDIS_URL", raising=False)
    assert load_settings(_env_file=None).budget_url() == "redis://127.0.0.1:6379/0"
    monkeypatch.setenv("OXBOT_BUDGET_REDIS_URL", "redis://:b5ecret@127.0.0.1:6380/0")
    monkeypatch.setenv("OXBOT_BUDGET_ALLOW_EVICTION", "1")
    s = load_settings(_env_file=None)
    assert s.budget_url() == "redis://:b5ecret@127.0.0.1:6380/0"
    assert s.budget_allow_eviction is True
    assert "b5ecret" not in repr(s)


def test_redis_budget_from_env_reads_the_budget_variables_at_the_edge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_oxbot.llm import RedisBudget

    monkeypatch.setenv("OXBOT_BUDGET_REDIS_URL", "redis://127.0.0.1:6390/0")
    monkeypatch.setenv("OXBOT_BUDGET_ALLOW_EVICTION", "true")
    monkeypatch.setenv("LLM_DAILY_COST_LIMIT_USD", "2.50")
    budget = RedisBudget.from_env(load_settings(_env_file=None))
    assert budget.daily_limit == Decimal("2.50")
    assert budget.allow_evicting_server is True
    assert RedisBudget.from_env(load_settings(_env_file=None), daily_limit=Decimal(1)).daily_limit == 1
    monkeypatch.delenv("OXBOT_BUDGET_REDIS_URL")
    monkeypatch.delenv("OXBOT_REDIS_URL", raising=False)
    with pytest.raises(SettingsError, match="OXBOT_BUDGET_REDIS_URL"):
        RedisBudget.from_env(load_settings(_env_file=None))
