"""Reading config.yaml: YAML to a checked `Config`, or a `ConfigError` naming the key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dispatch.config.document import Config


class ConfigError(Exception):
    """config.yaml cannot be used; the message names the key path."""


def parse_config(data: Any, source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        # Errors of model validators carry no location: their message starts with the path.
        path = ".".join(str(part) for part in first["loc"])
        location = f"{path}: " if path else ""
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = " ".join(first["msg"].removeprefix("Value error, ").split())
        raise ConfigError(f"{source}: {location}{message}{more}") from err


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start})") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {_one_line(err)}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, found {type(data).__name__}")
    return parse_config(data, str(path))


def _one_line(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        mark = err.problem_mark
        return f"{err.problem or 'syntax error'} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(err).split())
