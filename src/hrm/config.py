"""The only YAML reader: build typed dataclass configs from a file plus `key=value` overrides.

Every config is a `@dataclass(kw_only=True)`; a field's docstring-like comment says its unit and
paper symbol. Unknown keys fail with their dotted path and close matches; values are converted to
the annotated type (never guessed); cross-field checks live in each class's `validate()`.
A dataclass may define `resolve(tree) -> type` to pick a subclass from the tree (used by the
model section, whose fields depend on `model.name`).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from hrm.errors import ConfigError

T = TypeVar("T")

CONFIG_DIR = Path(__file__).parent / "configs"


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(name_or_path: str) -> Path:
    """A bundled config name (`tiny`, `trm_sudoku`) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file '{name_or_path}' not found")
        return path
    bundled = CONFIG_DIR / f"{name_or_path}.yaml"
    if not bundled.is_file():
        near = difflib.get_close_matches(name_or_path, available_configs())
        raise ConfigError(
            f"unknown config '{name_or_path}'"
            + (f" (did you mean {near}?)" if near else "")
            + f"; bundled configs: {available_configs()}"
        )
    return bundled


def read_yaml(path: Path) -> dict:
    try:
        tree = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"config '{path}' is not valid YAML: {err}".splitlines()[0]) from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ConfigError(f"config '{path}' must be a mapping at the top level")
    return tree


def apply_override(tree: dict, item: str) -> None:
    """Apply one `a.b.c=value` override to a nested dict (value parsed as YAML scalar)."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key=value")
    dotted, text = item.split("=", 1)
    keys = dotted.strip().split(".")
    if not all(keys):
        raise ConfigError(f"override '{item}' has an empty key")
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override '{item}': '{key}' is not a section")
        node = child
    try:
        node[keys[-1]] = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        node[keys[-1]] = text


def load_config(cls: type[T], source: str | Path | dict, overrides: list[str] = ()) -> T:
    """Build `cls` from a bundled name, a YAML path or a dict, then apply overrides."""
    if isinstance(source, dict):
        tree = to_plain(source)
    else:
        tree = read_yaml(resolve_config_path(str(source)))
    for item in overrides:
        apply_override(tree, item)
    return build(cls, tree)


def to_plain(obj: Any) -> Any:
    """Deep copy a config (dataclass, dict, list) into plain YAML-able values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_plain(cfg), sort_keys=False)


def build(cls: type[T], tree: Any, prefix: str = "") -> T:
    if not isinstance(tree, dict):
        raise ConfigError(f"'{prefix.rstrip('.') or 'config'}' must be a mapping, got {tree!r}")
    if hasattr(cls, "resolve"):
        cls = cls.resolve(tree, prefix)  # type: ignore[attr-defined]
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in tree:
        if key not in fields:
            near = difflib.get_close_matches(str(key), list(fields))
            raise ConfigError(
                f"unknown config key '{prefix}{key}'"
                + (f" (did you mean '{prefix}{near[0]}'?)" if near else "")
                + f"; valid keys: {sorted(fields)}"
            )
    values = {}
    for name, value in tree.items():
        values[name] = coerce(value, hints[name], f"{prefix}{name}")
    missing = [
        name for name, f in fields.items()
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    # Nested sections may be omitted entirely: build them from their defaults.
    for name in list(missing):
        if dataclasses.is_dataclass(hints[name]):
            values[name] = build(hints[name], {}, f"{prefix}{name}.")
            missing.remove(name)
    if missing:
        raise ConfigError(f"missing config key(s): {[prefix + m for m in missing]}")
    cfg = cls(**values)
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return cfg


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert `value` to `annotation`, or raise ConfigError naming `where`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if dataclasses.is_dataclass(annotation):
        return build(annotation, value if value is not None else {}, where + ".")
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"'{where}': cannot be {value!r}")
    if origin is Literal:
        if isinstance(value, bool) and str(value).lower() in args:  # YAML reads `compile=false` as a bool
            return str(value).lower()
        if value not in args:
            raise ConfigError(f"'{where}' must be one of {list(args)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{where}' must be a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"'{where}' must have {len(args)} items, got {len(value)}")
            return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item_type = args[0] if args else Any
        out = [coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"'{where}' must be a mapping, got {value!r}")
        return dict(value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"'{where}' must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, (int, str, float)):
            raise ConfigError(f"'{where}' must be an integer, got {value!r}")
        try:
            as_float = float(value)
        except ValueError:
            raise ConfigError(f"'{where}' must be an integer, got {value!r}") from None
        if not as_float.is_integer():
            raise ConfigError(f"'{where}' must be an integer, got {value!r}")
        return int(as_float)
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"'{where}' must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"'{where}' must be a number, got {value!r}") from None
    if annotation is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"'{where}' must be a string, got {value!r}")
        return "" if value is None else str(value)
    raise ConfigError(f"'{where}': unsupported config type {annotation!r}")
