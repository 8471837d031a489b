"""config.yaml on disk (docs/BEHAVIOUR.md section 10): read it, never raising; write it atomically.

An invalid file is never overwritten: `load_config` keeps the previous good settings (or the
defaults) and says why, leaving the file byte for byte as the user wrote it.

The commented default file is `resources/config.default.yaml` (see `app.paths.resource`).
It is also the template `save_config` fills in, so the comments live in one place.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import yaml

from app.config.schema import CONFIG_FILE_NAME, Config, ConfigError, config_from_mapping, config_to_mapping
from app.core.bounded_yaml import YamlProblem, read_yaml
from app.paths import open_private, read_regular_file, resource, write_private_atomically

MAX_CONFIG_BYTES = 256 * 1024
DEFAULT_CONFIG_PATH = resource("config.default.yaml")


@dataclass(frozen=True)
class ConfigLoad:
    """The settings in force after reading config.yaml, and why."""

    config: Config
    errors: list[ConfigError]
    source: Literal["file", "previous", "default"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One line per problem under a headline; empty when the file was read without problems."""
        if self.ok:
            return ""
        count = f"{len(self.errors)} problem{'s' if len(self.errors) > 1 else ''}"
        kept = "keeping the previous settings" if self.source == "previous" else "using the default settings"
        details = "".join(f"\n  {error.describe()}" for error in self.errors)
        return f"{CONFIG_FILE_NAME} has {count}; {kept}:{details}"


def parse_config(text: str) -> tuple[Config | None, list[ConfigError]]:
    """Read config.yaml's text: a Config, or every problem found (with its line). Empty text = defaults."""
    try:
        document = read_yaml(text)
    except YamlProblem as problem:
        return None, [ConfigError("", f"the YAML is broken: {problem.problem}", "valid YAML, e.g. key: value",
                                  problem.line, "unreadable")]
    lines, duplicates = _key_lines(document.node)
    config, errors = config_from_mapping(document.data)
    located = [replace(error, line=lines.get(error.key)) for error in errors]
    problems = sorted(located + duplicates, key=lambda error: error.line or 0)
    return (None, problems) if problems else (config, [])


def _key_lines(root: yaml.Node | None) -> tuple[dict[str, int], list[ConfigError]]:
    """The line of each dotted key, and the keys set more than once (YAML would keep the last silently)."""
    lines: dict[str, int] = {}
    duplicates: list[ConfigError] = []

    def walk(node: yaml.Node | None, prefix: str) -> None:
        if not isinstance(node, yaml.MappingNode):
            return
        for key_node, value_node in node.value:
            dotted = prefix + str(key_node.value)
            line = key_node.start_mark.line + 1
            if dotted in lines:
                duplicates.append(ConfigError(dotted, None, "each setting once", line, "duplicate_key"))
            lines[dotted] = line
            if not prefix:
                walk(value_node, dotted + ".")

    walk(root, "")
    return lines, duplicates


_KEY_LINE = re.compile(r"(?P<indent> *)(?P<key>[a-z_]+):")


def render_config(config: Config) -> str:
    """config.yaml's text for `config`: the default file's comments with these values filled in."""
    values = _flatten(config_to_mapping(config))
    section = ""
    rendered = []
    for line in default_config_text().splitlines(keepends=True):
        match = _KEY_LINE.match(line)
        if match is None:
            rendered.append(line)
            continue
        indent, key = match["indent"], match["key"]
        section = section if indent else key
        dotted = f"{section}.{key}" if indent else key
        rendered.append(f"{indent}{key}: {_yaml_value(values[dotted])}\n" if dotted in values else line)
    return "".join(rendered)


def _flatten(mapping: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _yaml_value(value: object) -> str:
    """One YAML line for a value; ~ for None, as in the default file."""
    if value is None:
        return "~"
    plain = _dump(value)
    # Double quotes escape line breaks (also \x85 and \u2028), so the value stays on its key's line.
    return plain if plain.splitlines() == [plain] else _dump(value, default_style='"')


def _dump(value: object, default_style: str | None = None) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=math.inf,
                               default_style=default_style)
    return text.removesuffix("\n...\n").removesuffix("\n")


def default_config_text() -> str:
    return DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")


def load_config(path: Path, previous: Config | None = None) -> ConfigLoad:
    """Read config.yaml; create it from the default file when missing. Never rewrites a file it
    read, and never raises: whatever is wrong with the file is a ConfigError."""
    read = read_regular_file(path, MAX_CONFIG_BYTES)
    if read.data is None and read.unreadable is None:
        return _create_default(path, previous)
    if read.unreadable is not None:
        problem = read.unreadable.problem
        reason = f"the file {problem}" if problem.startswith("cannot") else f"the file cannot be read: it {problem}"
        allowed = "a UTF-8 text file Overnight can read and write"
        return _fallback([ConfigError("", reason, allowed, problem="unreadable")], previous)
    assert read.data is not None
    if len(read.data) > MAX_CONFIG_BYTES:
        return _fallback([ConfigError("", f"the file is larger than {MAX_CONFIG_BYTES // 1024} KB",
                                      "a config.yaml of settings", problem="unreadable")], previous)
    try:
        config, errors = parse_config(read.data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        return _fallback([_unreadable(error, "read")], previous)
    except Exception as error:
        broken = f"the file cannot be read ({type(error).__name__}: {error})"
        return _fallback([ConfigError("", broken, "valid YAML, e.g. key: value", problem="unreadable")], previous)
    return ConfigLoad(config, [], "file") if config is not None else _fallback(errors, previous)


def _create_default(path: Path, previous: Config | None) -> ConfigLoad:
    try:
        with open_private(path, "x", encoding="utf-8") as file:
            file.write(default_config_text())
    except OSError as error:
        # Created by someone else since it was looked for, a broken link, a full disk: the
        # defaults apply, and the reason is shown.
        return _fallback([_unreadable(error, "created")], previous)
    return ConfigLoad(Config(), [], "file")


def _unreadable(error: OSError | UnicodeDecodeError, action: str) -> ConfigError:
    if isinstance(error, UnicodeDecodeError):
        reason = f"the file is not UTF-8 text (byte {error.start + 1} is not valid)"
    else:
        reason = f"the file cannot be {action}: {error.strerror or error}"
    return ConfigError("", reason, "a UTF-8 text file Overnight can read and write", problem="unreadable")


def _fallback(errors: list[ConfigError], previous: Config | None) -> ConfigLoad:
    if previous is None:
        return ConfigLoad(Config(), errors, "default")
    return ConfigLoad(previous, errors, "previous")


def save_config(path: Path, config: Config) -> None:
    """Write config.yaml atomically (0600) with the default file's comments; refuses an invalid config."""
    _, errors = config_from_mapping(config_to_mapping(config))
    if errors:
        raise ValueError("; ".join(error.message() for error in errors))
    write_private_atomically(path, render_config(config).encode("utf-8"))
