"""config.yaml on disk (docs/BEHAVIOUR.md section 10): a user's text read through the schema, with
lines; a broken file reported and left alone; saving with the default file's comments."""

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from app.config.file import DEFAULT_CONFIG_PATH, ConfigLoad, load_config, parse_config, render_config, save_config
from app.config.schema import AgentConfig, Config, WatchdogConfig
from tests.unit.config.strategies import valid_configs


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_default_file_parses_to_exactly_the_defaults():
    config, errors = parse_config(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))

    assert errors == []
    assert config == Config()


def test_the_default_file_is_what_saving_the_defaults_writes():
    assert render_config(Config()) == DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "agent:\n"])
def test_an_empty_file_or_an_empty_section_means_the_defaults(text):
    assert parse_config(text) == (Config(), [])


def test_a_partial_file_keeps_the_defaults_for_everything_else():
    config, errors = parse_config("concurrency_cap: 2\nwatchdog:\n  idle: 0.5\n")

    assert errors == []
    assert config == Config(concurrency_cap=2, watchdog=WatchdogConfig(idle=0.5))


def test_lists_read_from_yaml_become_tuples():
    config, _ = parse_config("agent:\n  extra_args: [--max-turns, '50']\n  env_remove: [ANTHROPIC_API_KEY]\n")

    assert config.agent == AgentConfig(extra_args=("--max-turns", "50"), env_remove=("ANTHROPIC_API_KEY",))


def test_an_empty_value_says_empty():
    config, errors = parse_config("concurrency_cap:\n")

    assert config is None
    assert errors[0].message() == "config.yaml: concurrency_cap is empty; allowed: an integer from 1 to 32 (line 1)"


def test_every_error_in_a_file_is_reported_in_file_order_with_its_line():
    text = (
        "concurrency_cap: 0\n"
        "fire_policy: sometimes\n"
        "watchdog:\n"
        "  idle: -5\n"
        "  kill_after: 30\n"
        "usage:\n"
        "  url: ftp://x\n"
    )

    config, errors = parse_config(text)

    assert config is None
    assert [(e.key, e.line) for e in errors] == [
        ("concurrency_cap", 1),
        ("fire_policy", 2),
        ("watchdog.idle", 4),
        ("usage.url", 7),
    ]
    assert errors[2].message() == "config.yaml: watchdog.idle is -5; allowed: a number of seconds > 0 (line 4)"


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ("agent:\n  modle: opus\n", "agent.modle", "agent.model"),
        ("concurency_cap: 3\n", "concurency_cap", "concurrency_cap"),
        ("idle: 60\n", "idle", "watchdog.idle"),
        ("watchdgo:\n  idle: 5\n", "watchdgo", "watchdog"),
    ],
)
def test_an_unknown_key_is_reported_with_the_setting_it_most_likely_meant(text, key, suggestion):
    config, errors = parse_config(text)

    assert config is None
    assert [(e.key, e.problem, e.suggestion) for e in errors] == [(key, "unknown_key", suggestion)]
    assert errors[0].message().startswith(f"config.yaml: {key} is not a setting; did you mean {suggestion}?")


def test_an_unknown_key_without_a_near_match_lists_the_keys_allowed_there():
    _, errors = parse_config("usage:\n  zzzzzz: 1\n")

    assert errors[0].message() == (
        "config.yaml: usage.zzzzzz is not a setting; allowed: url, poll_seconds, resume_margin, when_unknown (line 2)"
    )


def test_a_dotted_key_written_flat_is_told_how_to_nest_it():
    _, errors = parse_config("agent.model: opus\n")

    assert "agent: with model: indented below it" in errors[0].message()


def test_a_key_set_twice_is_an_error_not_a_silent_last_one_wins():
    config, errors = parse_config("concurrency_cap: 2\nwatchdog:\n  idle: 5\n  idle: 6\nconcurrency_cap: 8\n")

    assert config is None
    assert [(e.key, e.problem, e.line) for e in errors] == [
        ("watchdog.idle", "duplicate_key", 4),
        ("concurrency_cap", "duplicate_key", 5),
    ]


def test_broken_yaml_is_reported_with_its_line():
    config, errors = parse_config("concurrency_cap: 4\nagent:\n  command: [claude\n  model: opus\n")

    assert config is None
    [error] = errors
    assert error.problem == "unreadable"
    assert error.line in (3, 4, 5)
    assert error.message().startswith("config.yaml: the YAML is broken: ")
    assert error.message().endswith(f"(line {error.line})")


def test_a_tab_indented_file_is_broken_yaml_on_the_tab_line():
    _, errors = parse_config("agent:\n\tcommand: claude\n")

    assert errors[0].line == 2


@pytest.mark.parametrize(("text", "shown"), [("- a\n- b\n", "['a', 'b']"), ("just words\n", "'just words'")])
def test_a_top_level_that_is_not_a_mapping_is_reported(text, shown):
    config, errors = parse_config(text)

    assert config is None
    assert errors[0].message() == (
        f"config.yaml: the file is {shown}; allowed: settings as key: value lines, e.g. concurrency_cap: 4"
    )


def test_a_section_that_is_not_a_mapping_is_reported_with_its_keys():
    _, errors = parse_config("watchdog: 30\n")

    assert errors[0].key == "watchdog"
    assert "post_result_grace, kill_after, idle, max_duration" in errors[0].allowed


def test_absurdly_nested_yaml_is_reported_not_a_crash():
    config, errors = parse_config("concurrency_cap: " + "[" * 10_000 + "]" * 10_000 + "\n")

    assert config is None
    assert errors[0].problem == "unreadable"


def test_yaml_tags_that_build_objects_are_refused():
    config, errors = parse_config("concurrency_cap: !!python/object/apply:os.getcwd []\n")

    assert config is None
    assert errors[0].problem == "unreadable"


def test_a_missing_file_is_created_0600_from_the_default_file_and_yields_the_defaults(tmp_path):
    path = tmp_path / "config.yaml"
    previous_umask = os.umask(0)
    try:
        load = load_config(path)
    finally:
        os.umask(previous_umask)

    assert load == ConfigLoad(Config(), [], "file")
    assert path.read_bytes() == DEFAULT_CONFIG_PATH.read_bytes()
    assert mode(path) == 0o600


def test_a_valid_file_is_read(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("concurrency_cap: 2\n")

    load = load_config(path, previous=Config(concurrency_cap=7))

    assert load == ConfigLoad(Config(concurrency_cap=2), [], "file")
    assert load.ok
    assert load.summary() == ""


def test_an_invalid_file_keeps_the_previous_settings_and_is_left_byte_for_byte_untouched(tmp_path):
    path = tmp_path / "config.yaml"
    original = b"# mine\nconcurrency_cap: 0\nwatchdog:\n  idle: -5\n"
    path.write_bytes(original)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    previous = Config(concurrency_cap=3)

    load = load_config(path, previous)

    assert load.config is previous
    assert load.source == "previous"
    assert [e.key for e in load.errors] == ["concurrency_cap", "watchdog.idle"]
    assert load.summary() == (
        "config.yaml has 2 problems; keeping the previous settings:\n"
        "  concurrency_cap is 0; allowed: an integer from 1 to 32 (line 2)\n"
        "  watchdog.idle is -5; allowed: a number of seconds > 0 (line 4)"
    )
    assert path.read_bytes() == original
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_an_invalid_file_at_first_start_uses_the_defaults_and_says_so(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("fire_policy: sometimes\n")

    load = load_config(path)

    assert load.config == Config()
    assert load.source == "default"
    assert load.summary().startswith(
        "config.yaml has 1 problem; using the default settings:\n  fire_policy is 'sometimes'"
    )
    assert path.read_text() == "fire_policy: sometimes\n"


def test_broken_yaml_is_never_treated_as_an_empty_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("concurrency_cap: [\n")

    load = load_config(path, Config(concurrency_cap=9))

    assert load.config.concurrency_cap == 9
    assert load.errors[0].problem == "unreadable"
    assert path.read_text() == "concurrency_cap: [\n"


def test_a_file_that_is_not_utf8_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"model: \xff\n")

    load = load_config(path, Config(concurrency_cap=9))

    assert load.config.concurrency_cap == 9
    assert "not UTF-8" in load.errors[0].message()
    assert path.read_bytes() == b"model: \xff\n"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xef\xbb\xbfconcurrency_cap: 2\n")

    assert load_config(path).config.concurrency_cap == 2


def test_a_config_path_that_cannot_be_read_keeps_the_previous_settings(tmp_path):
    path = tmp_path / "config.yaml"
    path.mkdir()

    load = load_config(path, Config(concurrency_cap=9))

    assert load.source == "previous"
    assert load.config.concurrency_cap == 9
    assert "cannot be read" in load.summary()


def test_a_missing_file_in_a_missing_folder_is_reported_not_raised(tmp_path):
    load = load_config(tmp_path / "gone" / "config.yaml")

    assert load.source == "default"
    assert load.config == Config()
    assert "cannot be created" in load.errors[0].message()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=valid_configs)
def test_a_saved_config_loads_back_equal(tmp_path, config):
    path = tmp_path / "config.yaml"

    save_config(path, config)

    assert load_config(path) == ConfigLoad(config, [], "file")


@settings(max_examples=300)
@given(config=valid_configs)
def test_the_text_written_for_a_config_parses_back_to_it(config):
    assert parse_config(render_config(config)) == (config, [])


def test_a_saved_file_keeps_the_default_files_comments_and_is_0600(tmp_path):
    path = tmp_path / "config.yaml"
    previous_umask = os.umask(0)
    try:
        save_config(path, Config(concurrency_cap=2, agent=AgentConfig(extra_args=("--max-turns", "50"))))
    finally:
        os.umask(previous_umask)

    saved = path.read_text(encoding="utf-8").splitlines()
    default = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").splitlines()
    assert [line for line in saved if line.lstrip().startswith("#")] == [
        line for line in default if line.lstrip().startswith("#")
    ]
    assert "concurrency_cap: 2" in saved
    assert "  extra_args: [--max-turns, '50']" in saved
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_saving_replaces_the_previous_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("concurrency_cap: 9\n")

    save_config(path, Config(concurrency_cap=3))

    assert load_config(path).config.concurrency_cap == 3


def test_an_invalid_config_is_never_saved(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("concurrency_cap: 9\n")

    with pytest.raises(ValueError, match="concurrency_cap is 0"):
        save_config(path, Config(concurrency_cap=0))

    assert path.read_text() == "concurrency_cap: 9\n"


def test_strings_that_look_like_other_yaml_types_are_saved_quoted(tmp_path):
    path = tmp_path / "config.yaml"
    config = Config(default_cwd="~", agent=AgentConfig(model="yes", extra_args=("null", "1", "a: b", "#x", "")))

    save_config(path, config)

    assert load_config(path).config == config
