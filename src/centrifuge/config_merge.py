"""YAML mappings and ``key=value`` overrides merged into the configuration dataclasses
(:mod:`centrifuge.config`), every value checked against the type of its field."""

from __future__ import annotations

import dataclasses

from centrifuge.errors import ConfigError

_INT_OR_STR = {"trainer.devices"}  # Lightning takes 2 or "auto"
_NUMBER_OR_RANGE = {"data.alpha"}  # 0.5 or [0.25, 0.75]


def _check_type(path: str, default, value):
    """Return ``value`` if it fits the type of the field's default, else raise."""
    if default is None or value is None:
        return value
    if path in _INT_OR_STR and isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    if path in _NUMBER_OR_RANGE and isinstance(value, list):
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"{path} must be of type {type(default).__name__}, got {value!r}")
    return value


def merge(obj, data: dict, prefix: str = "") -> None:
    """Set the fields of the dataclass ``obj`` from the mapping ``data``, recursively, each
    value checked against the type of the field's default (one line naming the key)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'} must be a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"unknown config key {path!r}; valid: {', '.join(fields)}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            merge(current, value, path + ".")
        elif isinstance(current, dict) and isinstance(value, dict):
            current.update(value)
        else:
            setattr(obj, key, _check_type(path, current, value))


def set_dotted(data: dict, dotted: str, value) -> None:
    """``data["a"]["b"] = value`` for ``dotted`` ``"a.b"`` (a ``key=value`` override)."""
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {k} is not a section")
    node[keys[-1]] = value
