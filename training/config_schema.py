"""One schema check for every training config (spectral and super-resolution).

Configs are YAML files that people edit by hand and override with ``--set key=value``; a typo
or a value of the wrong type must come back as one line naming the file and line, the key, the
type expected and the value given, never as a ``yaml`` or ``TypeError`` traceback from deep in a
trainer. Each config's dataclass is its schema: the fields are the valid keys, their type hints
the types, and :func:`limits` in a field's metadata adds ranges, choices and nested schemas
(for mappings such as ``simulate:``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from marsspec.core.errors import InputError, WrongTypeError

_NUMBER_WORDS = {float: "numbers", int: "integers", str: "strings", bool: "true/false values"}


class ConfigData(dict):
    """A config mapping that remembers where each top-level key was set, so that an error can
    point at it ("c.yaml line 7", "--set lr"). Plain dicts work too (no location then)."""

    def __init__(
        self, data: Mapping[str, Any] | None = None, origins: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(data or {})
        self.origins: dict[str, str] = dict(origins or {})


def limits(
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[Any, ...] | None = None,
    schema: type | None = None,
    help: str | None = None,
) -> dict[str, Any]:
    """Field metadata the schema check enforces: ``low <= value <= high`` (for a list: each
    item), one of ``choices``, a mapping checked against the dataclass ``schema``; ``help``
    says what a required key is for. Use as ``field(default=8, metadata=limits(low=1))``."""
    meta = {"low": low, "high": high, "choices": choices, "schema": schema, "help": help}
    return {k: v for k, v in meta.items() if v is not None}


# ---- reading ----------------------------------------------------------------------------------
def yaml_loader() -> type:
    """PyYAML's SafeLoader reads ``5e-3`` as a string (YAML 1.1 wants ``5.0e-3``); configs and
    ``--set`` values are written the YAML 1.2 / Python way, so resolve those as floats."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return Loader


def _yaml_problem(exc: Exception, lines: int | None = None) -> str:
    """``line N: what is wrong`` from a PyYAML error (its own message spans several lines);
    ``lines``: the text's line count, to say "end of file" rather than a line past it."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    start = getattr(exc, "context_mark", None)
    if context and start is not None and mark is not None and start.line != mark.line:
        problem += f" ({context} that began on line {start.line + 1})"
    elif context:
        problem += f" ({context})"
    if mark is None:
        return problem
    if lines is not None and mark.line >= lines:
        return f"at the end of the file: {problem}"
    return f"line {mark.line + 1}: {problem}"


def read_config_file(path: str | Path) -> ConfigData:
    """The top-level mapping of a YAML config, with the line of every key; duplicate keys (YAML
    silently keeps the last) and malformed lines are errors naming the file and line."""
    import yaml

    file = Path(path)
    if file.is_dir():
        raise InputError(f"Config {str(path)!r} is a folder; give a YAML file (training/configs/).")
    if not file.is_file():
        raise InputError(
            f"Config file {str(path)!r} does not exist; give a YAML file such as "
            "training/configs/evc-regression.yaml."
        )
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"Config file {str(path)!r} is not UTF-8 text (byte {exc.start}); save it as YAML."
        ) from exc
    except OSError as exc:
        raise InputError(
            f"Config file {str(path)!r} cannot be read ({exc.strerror or exc}); check it."
        ) from exc
    loader = yaml_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return ConfigData()
        if not isinstance(node, yaml.MappingNode):
            raise InputError(
                f"{path} line {node.start_mark.line + 1}: a config is a mapping of "
                "`key: value` lines, not a list or a single value."
            )
        lines: dict[str, int] = {}
        for key_node, _value in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in lines:
                raise InputError(
                    f"{path} line {line}: key {key!r} is given twice (first on line "
                    f"{lines[key]}); keep one."
                )
            lines[key] = line
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        problem = _yaml_problem(exc, len(text.splitlines()))
        raise InputError(f"{path} {problem}; fix the YAML there.") from exc
    finally:
        loader.dispose()
    origins = {key: f"{path} line {line}" for key, line in lines.items()}
    return ConfigData({str(k): v for k, v in data.items()}, origins)


def apply_overrides(data: ConfigData, overrides: Sequence[str]) -> ConfigData:
    """``--set key=value`` (a YAML value; ``a.b=value`` sets a key inside the mapping ``a``)."""
    import yaml

    loader = yaml_loader()
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set {item!r}: write KEY=VALUE, e.g. --set max_minutes=5.")
        try:
            value = yaml.load(text, Loader=loader)
        except yaml.YAMLError as exc:
            raise InputError(
                f"--set {item}: the value is not valid YAML ({_yaml_problem(exc)}); quote it, "
                f"e.g. --set {key}='{text}'."
            ) from exc
        top, dot, inner = key.partition(".")
        if dot:
            parent = data.get(top)
            if parent is None:
                parent = {}
            if not isinstance(parent, Mapping):
                raise InputError(f"--set {item}: {top!r} is not a mapping; set {top}= instead.")
            data[top] = {**parent, inner: value}
        else:
            data[key] = value
        data.origins[top] = f"--set {key}"
    return data


def read_config(path: str | Path, overrides: Sequence[str] = ()) -> ConfigData:
    """A config file with its ``--set`` overrides applied (not yet checked: the ``task`` key
    picks the schema)."""
    return apply_overrides(read_config_file(path), overrides)


# ---- checking ---------------------------------------------------------------------------------
def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def describe(hint: Any) -> str:
    """What a user should write for a type hint: "a number", "a list of strings or null"."""
    if hint is Any:
        return "any value"
    if _is_union(hint):
        parts = [describe(a) for a in typing.get_args(hint) if a is not type(None)]
        none = type(None) in typing.get_args(hint)
        return " or ".join(parts) + (" or null" if none else "")
    origin = typing.get_origin(hint) or hint
    if origin is list:
        args = typing.get_args(hint)
        return f"a list of {_NUMBER_WORDS.get(args[0], 'values')}" if args else "a list"
    if origin is dict:
        return "a mapping (key: value)"
    return {float: "a number", int: "an integer", bool: "true or false", str: "a string"}.get(
        origin, getattr(origin, "__name__", str(origin))
    )


class _Checker:
    """Checks values against type hints; every message starts with where the key was set."""

    def __init__(self, where: str) -> None:
        self.where = where

    def _prefixed(self, text: str) -> str:
        if self.where.startswith("--set ") and text.startswith(f"{self.where[6:]}:"):
            return f"--set {text}"  # "--set lr: expected a number, got 'fast'."
        return f"{self.where}: {text}" if self.where else text

    def fail(self, text: str) -> InputError:
        return InputError(self._prefixed(text))

    def wrong(self, label: str, hint: Any, value: Any) -> InputError:
        return WrongTypeError(
            self._prefixed(f"{label}: expected {describe(hint)}, got {_shown(value)}."), label
        )

    def value(self, label: str, value: Any, hint: Any, meta: Mapping[str, Any]) -> Any:
        checked = self._typed(label, value, hint, meta)
        if checked is not None:
            self._limits(label, checked, meta)
        return checked

    def _typed(self, label: str, value: Any, hint: Any, meta: Mapping[str, Any]) -> Any:
        if hint is Any:
            return value
        if _is_union(hint):
            args = typing.get_args(hint)
            if value is None and type(None) in args:
                return None
            inner = [a for a in args if a is not type(None)]
            for candidate in inner:
                try:
                    return self._typed(label, value, candidate, meta)
                except WrongTypeError as exc:
                    if exc.label != label:  # an item inside is wrong: say which
                        raise
            raise self.wrong(label, hint, value)
        origin = typing.get_origin(hint) or hint
        if origin is bool:
            if isinstance(value, bool):
                return value
        elif origin is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
        elif origin is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if not math.isfinite(value):
                    raise self.fail(f"{label}: expected a finite number, got {_shown(value)}.")
                return float(value)
        elif origin is str:
            if isinstance(value, str):
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                raise self.fail(
                    f"{label}: expected a string, got {_shown(value)}; quote it: '{value}'."
                )
        elif origin is list:
            if isinstance(value, (list, tuple)):
                args = typing.get_args(hint)
                if not args:
                    return list(value)
                return [self.value(f"{label}[{i}]", v, args[0], {}) for i, v in enumerate(value)]
        elif origin is dict:
            if isinstance(value, Mapping):
                schema = meta.get("schema")
                return self.mapping(schema, value, label) if schema else dict(value)
        else:  # pragma: no cover - a field type this module does not know yet
            raise TypeError(f"config_schema cannot check {label} of type {hint!r}")
        raise self.wrong(label, hint, value)

    def _limits(self, label: str, value: Any, meta: Mapping[str, Any]) -> None:
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            listed = ", ".join(str(c) for c in choices)
            raise self.fail(f"{label}: expected one of {listed}, got {_shown(value)}.")
        low, high = meta.get("low"), meta.get("high")
        numbers = value if isinstance(value, list) else [value]
        for number in numbers:
            if not isinstance(number, (int, float)) or isinstance(number, bool):
                continue
            if low is not None and number < low:
                raise self.fail(f"{label}: must be at least {low:g}, got {_shown(value)}.")
            if high is not None and number > high:
                raise self.fail(f"{label}: must be at most {high:g}, got {_shown(value)}.")

    def mapping(self, schema: type, data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        """The given keys of a nested mapping, checked against ``schema`` (defaults are not
        filled in: the code reading it keeps its own defaults)."""
        checked = check_fields(schema, data, kind="key", prefix=f"{prefix}.", where=self.where)
        schema(**checked)  # its __post_init__ checks relations between keys
        return checked


def _unknown_key(key: str, valid: list[str], kind: str, label: str) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"Unknown {kind} {label!r}{hint}; valid keys: {', '.join(valid)}."


def check_fields(
    schema: type,
    data: Mapping[str, Any],
    *,
    kind: str = "config key",
    prefix: str = "",
    where: str = "",
) -> dict[str, Any]:
    """Keyword arguments for the dataclass ``schema`` from ``data``: every key known, every
    required key present, every value of its field's type (integers widened to floats) and
    within its :func:`limits`. ``kind`` names keys in messages ("superres config key")."""
    if not isinstance(data, Mapping):
        label = prefix.rstrip(".") or "The config"
        raise _Checker(where).fail(
            f"{label}: expected a mapping of `key: value` lines, got {_shown(data)}."
        )
    origins: Mapping[str, str] = getattr(data, "origins", {})
    fields = {f.name: f for f in dataclasses.fields(schema)}
    hints = typing.get_type_hints(schema)
    valid = list(fields)
    for key in data:
        if key not in fields:
            checker = _Checker(origins.get(str(key), where))
            raise checker.fail(_unknown_key(str(key), valid, kind, prefix + str(key)))
    for name, spec in fields.items():
        required = (
            spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        )
        if required and name not in data:
            help_text = spec.metadata.get("help")
            about = f" ({help_text})" if help_text else ""
            raise _Checker(where).fail(
                f"Missing required {kind} {prefix + name!r}{about}; add `{name}: ...`."
            )
    return {
        key: _Checker(origins.get(key, where)).value(
            prefix + key, value, hints[key], fields[key].metadata
        )
        for key, value in data.items()
    }
