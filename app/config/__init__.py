"""config.yaml (docs/BEHAVIOUR.md section 10): what the rest of Overnight imports.

`schema` holds the settings, their defaults and the rules each value must meet; `file` reads
config.yaml without ever raising and writes it atomically with the default file's comments.
"""

from app.config.file import ConfigLoad, load_config, save_config
from app.config.schema import (
    ALL_KEYS,
    FIRE_POLICIES,
    NOTIFY_FORMATS,
    WHEN_UNKNOWN,
    AgentConfig,
    Config,
    ConfigError,
    InvestigationConfig,
    NotifyConfig,
    UsageConfig,
    WatchdogConfig,
    concurrency_env_problem,
    config_from_mapping,
    config_to_mapping,
    effective_concurrency_cap,
    gate_policy,
)

__all__ = [
    "ALL_KEYS",
    "FIRE_POLICIES",
    "NOTIFY_FORMATS",
    "WHEN_UNKNOWN",
    "AgentConfig",
    "Config",
    "ConfigError",
    "ConfigLoad",
    "InvestigationConfig",
    "NotifyConfig",
    "UsageConfig",
    "WatchdogConfig",
    "concurrency_env_problem",
    "config_from_mapping",
    "config_to_mapping",
    "effective_concurrency_cap",
    "gate_policy",
    "load_config",
    "save_config",
]
