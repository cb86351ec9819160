"""``--space FILE.toml`` and ``--fixed key=value``: a search space and pins from text.

Bad input raises :class:`~tuner.optimize.space.SpaceError` with one line naming the file, the line
and the problem.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from tuner.hints import did_you_mean
from tuner.optimize.space import (
    BOOL_KEYS,
    INT_KEYS,
    NULLABLE,
    POOL_ALIASES,
    SETTINGS,
    Param,
    Scalar,
    Space,
    SpaceError,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ALIASES = {setting: key for key, setting in SETTINGS.items() if setting}


def canonical_key(name: str) -> str | None:
    """A space key from a key or its Celery setting name (``worker_concurrency``)."""
    if name in SETTINGS:
        return name
    return ALIASES.get(name.lower())


def check_value(key: str, value: object) -> str | None:
    """Why ``value`` is not valid for ``key``, or None."""
    if value is None:
        return None if key in NULLABLE else "cannot be none"
    if key == "pool":
        if not isinstance(value, str):
            return "must be a string (a pool alias or 'module:Class')"
        if value not in POOL_ALIASES and not re.fullmatch(r"[\w.]+:\w+", value):
            return f"unknown pool {value!r} (use {', '.join(POOL_ALIASES[:-1])} or 'module:Class')"
        return None
    if key == "optimization":
        return None if value in ("fair", "default") else "must be 'fair' or 'default'"
    if key in BOOL_KEYS:
        return None if isinstance(value, bool) else "must be true or false"
    if not isinstance(value, int) or isinstance(value, bool):
        return "must be an integer"
    minimum = INT_KEYS[key]
    return None if value >= minimum else f"must be >= {minimum}"


def parse_value(text: str) -> Scalar:
    """A ``--fixed`` value: none, true/false, an integer, else a (possibly quoted) string."""
    stripped = text.strip()
    if stripped.lower() in ("none", "null"):
        return None
    try:
        value = tomllib.loads(f"v = {stripped}")["v"]
    except tomllib.TOMLDecodeError:
        return stripped
    if isinstance(value, (str, int, bool)):
        return value
    return stripped


def parse_fixed(
    items: Iterable[str],
    settings_known: Callable[[str], bool] | None = None,
    settings: Iterable[str] = (),
) -> tuple[dict[str, Scalar], dict[str, object]]:
    """``--fixed key=value`` pins: (space keys, extra Celery settings).

    A key that is not a space key is accepted as an extra Celery setting when ``settings_known``
    says Celery has it.  ``settings`` (Celery's setting names) feed the did-you-mean of an unknown
    key.
    """
    fixed: dict[str, Scalar] = {}
    extra: dict[str, object] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise SpaceError(f"--fixed {item!r}: expected key=value")
        key = canonical_key(name)
        value = parse_value(text)
        if key is None:
            if settings_known is not None and settings_known(name.lower()):
                extra[name.lower()] = value
                continue
            known = ", ".join(k for k in SETTINGS)
            hint = did_you_mean(name, [*SETTINGS, *ALIASES, *settings])
            raise SpaceError(
                f"--fixed {item!r}: unknown setting {name!r}{hint} (space keys: {known}, "
                "or any Celery setting)"
            )
        problem = check_value(key, value)
        if problem:
            raise SpaceError(f"--fixed {item!r}: {key} {problem}")
        fixed[key] = value
    return fixed, extra


def _line_of(text: str, key: str) -> int:
    pattern = re.compile(rf"^[ \t]*(\[[ \t]*)?[\"']?{re.escape(key)}[\"']?[ \t]*[=\]]", re.M)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _param(key: str, spec: object) -> Param | str:
    """A Param from a TOML value (list = choices, table = range or choices), or a problem."""
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, dict):
        return "expected a value, a list of choices or a table"
    unknown = set(spec) - {"choices", "low", "high", "log", "none"}
    if unknown:
        return f"unknown field {sorted(unknown)[0]!r} (use choices, low, high, log, none)"
    none = spec.get("none", False)
    if not isinstance(none, bool):
        return "none must be true or false"
    if none and key not in NULLABLE:
        return "cannot be none"
    if "choices" in spec:
        if {"low", "high", "log"} & set(spec):
            return "give either choices or low/high, not both"
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            return "choices must be a non-empty list"
        for c in choices:
            problem = check_value(key, c)
            if problem:
                return f"choice {c!r}: {problem}"
        return Param(key, choices=tuple(choices), none=none)
    if key in BOOL_KEYS or key in ("pool", "optimization"):
        return "takes choices = [...], not a low/high range"
    if "low" not in spec or "high" not in spec:
        return "a range needs both low and high"
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    for name, bound in (("low", low), ("high", high)):
        problem = check_value(key, bound)
        if problem or bound is None:
            return f"{name} {problem or 'cannot be none'}"
    if not isinstance(log, bool):
        return "log must be true or false"
    assert isinstance(low, int) and isinstance(high, int)
    if low > high:
        return f"low ({low}) must be <= high ({high})"
    if log and low < 1:
        return "a log range needs low >= 1"
    return Param(key, low=low, high=high, log=log, none=none)


def toml_error(path: str, text: str, exc: Exception) -> str:
    """``path:line:column: invalid TOML: what`` from tomllib's message."""
    message = str(exc)
    at = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if at:
        what = message[: at.start()]
        return f"{path}:{at.group(1)}:{at.group(2)}: invalid TOML: {what}"
    if message.endswith("(at end of document)"):
        line = text.count("\n") + (0 if text.endswith("\n") else 1)
        what = message.removesuffix("(at end of document)").strip()
        return f"{path}:{max(line, 1)}: invalid TOML: {what} at the end of the file"
    return f"{path}: invalid TOML: {message}"


def parse_space(text: str, path: str = "<space>") -> Space:
    """A space from TOML text: ``key = [choices]``, ``key = {low, high, log, none}``, or a pin."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpaceError(toml_error(path, text, exc)) from None
    params: list[Param] = []
    fixed: dict[str, Scalar] = {}
    for name, spec in data.items():
        line = _line_of(text, name)
        key = canonical_key(name)
        if key is None:
            known = ", ".join(SETTINGS)
            raise SpaceError(f"{path}:{line}: unknown key {name!r} (known: {known})")
        if isinstance(spec, (list, dict)):
            param = _param(key, spec)
            if isinstance(param, str):
                raise SpaceError(f"{path}:{line}: {name}: {param}")
            params.append(param)
            continue
        value: Scalar = spec if isinstance(spec, (str, int, bool)) else None
        problem = check_value(key, spec) if value is not None or spec is None else "bad value"
        if problem:
            raise SpaceError(f"{path}:{line}: {name}: {problem}")
        fixed[key] = value
    if not params and not fixed:
        raise SpaceError(f"{path}: the space is empty")
    return Space(tuple(params), fixed)


def load_space(path: str) -> Space:
    """Read ``--space FILE.toml``; bad input raises :class:`SpaceError` with one clear line."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SpaceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpaceError(f"{path}:{line}: not valid UTF-8") from None
    return parse_space(text, path)
