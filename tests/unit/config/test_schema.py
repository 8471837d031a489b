"""The settings, their defaults and the rules of each value (docs/BEHAVIOUR.md section 10)."""

import math

import pytest
from hypothesis import given

from app.config.schema import (
    Config,
    ConfigError,
    concurrency_env_problem,
    config_from_mapping,
    config_to_mapping,
    effective_concurrency_cap,
)
from tests.unit.config.strategies import valid_configs

# The defaults docs/BEHAVIOUR.md section 10 lists.
DOCUMENTED_DEFAULTS = {
    "default_cwd": None,
    "concurrency_cap": 4,
    "fire_policy": "when-available",
    "utilization_threshold": 90,
    "weekly_threshold": 98,
    "offset_minutes": 15,
    "keep_finished_days": 7,
    "retry_interrupted": 1,
    "agent": {"command": "claude", "model": "sonnet", "extra_args": [], "env_remove": [], "resume": True},
    "investigation": {"enabled": True, "model": "opus", "max_concurrent": 1, "max_duration": 1800, "auto_run": True},
    "usage": {
        "url": "https://api.anthropic.com/api/oauth/usage",
        "poll_seconds": 120,
        "resume_margin": 60,
        "when_unknown": "fire",
    },
    "watchdog": {"post_result_grace": 90, "kill_after": 30, "idle": 1200, "max_duration": 14400},
    "workspace": {"mode": "shared", "branch": "overnight/queue", "verify": [], "verify_timeout": 900},
    "notify": {"url": "", "format": "ntfy"},
    "spend": {"allow_api_billing": False, "max_usd_per_day": 0},
}


def nested(dotted: str, value: object) -> dict:
    section, _, key = dotted.rpartition(".")
    return {section: {key: value}} if section else {key: value}


def only_error(mapping: dict) -> ConfigError:
    config, errors = config_from_mapping(mapping)
    assert config is None
    assert len(errors) == 1, errors
    return errors[0]


def test_defaults_are_the_ones_in_the_spec():
    assert config_to_mapping(Config()) == DOCUMENTED_DEFAULTS


def test_default_cwd_null_means_the_users_home_and_tilde_paths_expand(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))

    assert Config().resolved_default_cwd() == str(tmp_path)
    assert Config(default_cwd="~/code").resolved_default_cwd() == str(tmp_path / "code")
    assert Config(default_cwd="/srv/x").resolved_default_cwd() == "/srv/x"


INVALID = [
    # (dotted key, value, words that must be in `allowed`)
    ("concurrency_cap", 0, "from 1 to 32"),
    ("concurrency_cap", 33, "from 1 to 32"),
    ("concurrency_cap", True, "integer"),
    ("concurrency_cap", 2.5, "integer"),
    ("concurrency_cap", "4", "integer"),
    ("concurrency_cap", None, "integer"),
    ("utilization_threshold", -1, "0 to 100"),
    ("utilization_threshold", 100.5, "0 to 100"),
    ("utilization_threshold", math.nan, "0 to 100"),
    ("weekly_threshold", 101, "0 to 100"),
    ("weekly_threshold", False, "0 to 100"),
    ("offset_minutes", -1, ">= 0"),
    ("offset_minutes", 1.5, "whole number of minutes"),
    ("keep_finished_days", -1, ">= 0"),
    ("retry_interrupted", -1, ">= 0"),
    ("agent.resume", "yes", "true or false"),
    ("spend.allow_api_billing", 1, "true or false"),
    ("spend.max_usd_per_day", -5, ">= 0"),
    ("spend.max_usd_per_day", math.inf, "US dollars"),
    ("fire_policy", "sometimes", "when-available, on-reset, manual"),
    ("fire_policy", None, "when-available"),
    ("default_cwd", "relative/dir", "starting with / or ~"),
    ("default_cwd", 5, "starting with / or ~"),
    ("agent.command", "", "not empty"),
    ("agent.command", "   ", "not empty"),
    ("agent.command", ["claude"], "program name"),
    ("agent.model", "", "model"),
    ("agent.extra_args", "--max-turns 50", "list of strings"),
    ("agent.extra_args", ["--max-turns", 50], "list of strings"),
    ("agent.extra_args", [None], "list of strings"),
    ("agent.env_remove", "ANTHROPIC_API_KEY", "environment variable names"),
    ("agent.env_remove", ["A=B"], "environment variable names"),
    ("agent.env_remove", [""], "environment variable names"),
    ("investigation.enabled", "yes", "true or false"),
    ("investigation.enabled", 1, "true or false"),
    ("investigation.model", None, "model"),
    ("investigation.max_concurrent", 0, ">= 1"),
    ("investigation.max_duration", 0, "> 0"),
    ("investigation.auto_run", "no", "true or false"),
    ("usage.url", "ftp://example.com/usage", "http:// or https://"),
    ("usage.url", "api.anthropic.com/api/oauth/usage", "http:// or https://"),
    ("usage.url", "https://", "http:// or https://"),
    ("usage.poll_seconds", 59, ">= 60"),
    ("usage.poll_seconds", 30.5, ">= 60"),
    ("usage.resume_margin", -1, ">= 0"),
    ("usage.when_unknown", "maybe", "fire, hold"),
    ("watchdog.post_result_grace", 0, "> 0"),
    ("watchdog.kill_after", -1, "> 0"),
    ("watchdog.idle", -5, "seconds > 0"),
    ("watchdog.max_duration", math.inf, "> 0"),
    ("watchdog.idle", "20m", "seconds"),
    ("workspace.mode", "branch", "shared, worktree"),
    ("workspace.branch", "has space", "branch name"),
    ("workspace.branch", "overnight/..queue", "branch name"),
    ("workspace.branch", "", "branch name"),
    ("workspace.branch", "main", "under overnight/"),
    ("notify.format", "slack", "ntfy, json"),
    ("notify.format", None, "ntfy, json"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), INVALID)
def test_a_bad_value_is_reported_with_its_key_value_and_what_is_allowed(key, value, allowed):
    error = only_error(nested(key, value))

    assert error.key == key
    assert error.value is value or error.value == value
    assert allowed in error.allowed
    assert error.message().startswith(f"config.yaml: {key} is ")


def test_the_message_names_file_key_value_and_allowed():
    error = only_error({"watchdog": {"idle": -5}})

    assert error.message() == "config.yaml: watchdog.idle is -5; allowed: a number of seconds > 0"


@pytest.mark.parametrize("url", ["ftp://example.com/topic", "ntfy.sh/my-topic", "https://", "https://ntfy.sh/a b",
                                 None, 5])
def test_a_bad_notify_url_is_refused_without_repeating_it(url):
    error = only_error({"notify": {"url": url}})

    assert error.message() == ("config.yaml: notify.url is a value not shown here (it may hold a secret); allowed: "
                               "empty (no notifications), or an http:// or https:// URL, e.g. https://ntfy.sh/your-topic")


def test_a_bool_is_shown_the_way_yaml_writes_it():
    error = only_error({"concurrency_cap": True})

    assert error.message() == "config.yaml: concurrency_cap is true; allowed: an integer from 1 to 32"


@pytest.mark.parametrize(
    "mapping",
    [
        {"watchdog": {"idle": 0.2, "post_result_grace": 0.05, "kill_after": 0.1, "max_duration": 2.5}},
        {"investigation": {"max_duration": 0.5}},
        {"usage": {"poll_seconds": 60, "resume_margin": 0}},
        {"concurrency_cap": 1, "utilization_threshold": 0, "weekly_threshold": 100.0},
        {"concurrency_cap": 32, "offset_minutes": 0, "keep_finished_days": 0, "retry_interrupted": 0},
        {"default_cwd": "~"},
        {"usage": {"url": "http://127.0.0.1:8080/api/oauth/usage"}},
        {"notify": {"url": "", "format": "json"}},
        {"notify": {"url": "https://ntfy.sh/overnight-a1b2", "format": "ntfy"}},
    ],
)
def test_boundary_and_fractional_values_are_accepted(mapping):
    config, errors = config_from_mapping(mapping)

    assert errors == []
    saved = config_to_mapping(config)
    for key, value in mapping.items():
        assert saved[key] == (saved[key] | value if isinstance(value, dict) else value)


def test_every_error_in_an_edited_mapping_is_reported_by_dotted_key():
    _, errors = config_from_mapping({"concurrency_cap": 99, "agent": {"command": "", "extra_args": "x"}})

    assert [e.key for e in errors] == ["concurrency_cap", "agent.command", "agent.extra_args"]


@given(config=valid_configs)
def test_a_config_survives_the_round_trip_through_a_mapping(config):
    assert config_from_mapping(config_to_mapping(config)) == (config, [])


@pytest.mark.parametrize(
    ("raw", "cap"),
    [("8", 8), (" 16 ", 16), ("0", 1), ("-3", 1), ("100", 32), ("32", 32), ("1", 1)],
)
def test_the_environment_overrides_the_concurrency_cap_clamped_to_1_to_32(raw, cap):
    assert effective_concurrency_cap(Config(concurrency_cap=4), {"OVERNIGHT_MAX_CONCURRENCY": raw}) == cap


@pytest.mark.parametrize("environ", [{}, {"OVERNIGHT_MAX_CONCURRENCY": ""}, {"OVERNIGHT_MAX_CONCURRENCY": "four"}])
def test_without_a_usable_environment_value_the_config_cap_applies(environ):
    assert effective_concurrency_cap(Config(concurrency_cap=5), environ) == 5


def test_a_non_integer_environment_value_is_reported_as_ignored():
    problem = concurrency_env_problem({"OVERNIGHT_MAX_CONCURRENCY": "2.5"})

    assert problem == (
        "OVERNIGHT_MAX_CONCURRENCY is '2.5', not an integer: ignored, concurrency_cap from config.yaml applies"
    )


def test_a_clamped_environment_value_is_reported():
    assert concurrency_env_problem({"OVERNIGHT_MAX_CONCURRENCY": "100"}) == (
        "OVERNIGHT_MAX_CONCURRENCY is 100: clamped to 32 (allowed: 1-32)"
    )


@pytest.mark.parametrize("environ", [{}, {"OVERNIGHT_MAX_CONCURRENCY": ""}, {"OVERNIGHT_MAX_CONCURRENCY": "12"}])
def test_a_usable_or_absent_environment_value_has_no_problem(environ):
    assert concurrency_env_problem(environ) is None
