"""Typed YAML configs: a nested mapping checked into frozen dataclasses, key by key.

Every job config (configs/train.yaml, configs/code.yaml ...) is a tree of dataclasses. An unknown key
is refused with the closest known ones, a value of the wrong type names its dotted key, and the
resolved config can be written back as plain data (the run's config.yaml).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any

from .errors import InputError


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Set dotted keys (``model.settings.epochs``) in ``data``, creating sections as needed."""
    for dotted, value in overrides.items():
        node = data
        keys = dotted.split(".")
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[keys[-1]] = value


def build(cls: type, data: Any, prefix: str, path: str | Path | None, extra: dict[str, Any] | None = None) -> Any:
    """``cls`` from the mapping ``data``; ``prefix`` is the dotted key of ``data`` in the file ("" at the top,
    where a ``path`` field records the file and cannot be set from it)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(path, f"{prefix.rstrip('.') or 'the config'} must be a mapping, got {data!r}"[:200])
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not (prefix == "" and f.name == "path")}
    kwargs: dict[str, Any] = dict(extra or {})
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=2, cutoff=0.5)
            raise InputError(
                path,
                f"unknown key {prefix}{key}",
                hint=(f"did you mean {' or '.join(prefix + c for c in close)}? " if close else "")
                + f"keys here: {', '.join(fields)}",
            )
        kwargs[key] = convert(hints[key], value, f"{prefix}{key}", path)
    return cls(**kwargs)


def convert(hint: Any, value: Any, key: str, path: str | Path | None) -> Any:
    """``value`` checked against the type ``hint`` of the field at dotted ``key``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return convert(inner[0], value, key, path)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, key + ".", path)

    def bad(expected: str) -> InputError:
        return InputError(path, f"{key} must be {expected}, got {value!r}"[:300], hint="fix the config")

    if hint is Any:
        return value
    if origin is tuple:
        if value is None:
            return ()
        items = value if isinstance(value, (list, tuple)) else [value]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], v, key, path) for v in items)
        if len(items) != len(args):
            raise bad(f"a list of {len(args)} values")
        return tuple(convert(a, v, key, path) for a, v in zip(args, items))
    if origin is dict:
        if not isinstance(value, dict):
            raise bad("a mapping")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise bad("a string")
        return str(value)
    return value


def plain(value: Any) -> Any:
    """Dataclasses, tuples and paths as YAML/JSON-ready dicts, lists and strings."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
