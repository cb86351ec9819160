"""Audit options, from the command line and ``[tool.celery-tune]`` in pyproject.toml."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from tuner.audit import rulebook
from tuner.finding import Severity
from tuner.records import dataclass, replace

if TYPE_CHECKING:
    from pathlib import Path

WORKLOADS = ("cpu", "io", "mixed")
FAIL_ON = ("error", "warning", "info")
FORMATS = ("text", "json", "sarif", "github")
PYPROJECT_KEYS = (
    "cpus",
    "workload",
    "select",
    "extend-select",
    "ignore",
    "fail-on",
    "namespace",
    "celery-version",
    "exclude",
    "extend-exclude",
)
CELERY_VERSION = re.compile(r"(\d+)\.(\d+)(\.\d+)?")
PATTERN_KEYS = ("exclude", "extend_exclude")
SELECTOR_KEYS = ("select", "extend_select", "ignore")


class OptionsError(Exception):
    """A usage error: one line, exit code 2."""


@dataclass(frozen=True)
class AuditOptions:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    fail_on: Severity = "warning"
    # What the tasks are bound by.  None (not stated): the CPU-bound rules stay silent, since
    # whether a project's tasks are CPU-bound is context that no config file shows.
    workload: str | None = None
    cpus: float | None = None
    namespace: str | None = None
    output_format: str = "text"
    fix: bool = False
    diff: bool = False
    # The Celery version the project runs ("5.6"), for advice that depends on it.
    celery_version: str | None = None
    # Gitignore-style patterns for directory walks; ``exclude`` (None: the default folder names)
    # replaces the defaults, ``extend_exclude`` adds to them.  Relative to ``exclude_base``.
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    exclude_base: str | None = None

    @property
    def target_version(self) -> tuple[int, int] | None:
        m = CELERY_VERSION.fullmatch(self.celery_version or "")
        return (int(m.group(1)), int(m.group(2))) if m else None

    def enabled(self, code: str, name: str) -> bool:
        """Ruff's rule selection: ``select`` (default: the default set) plus ``extend-select``,
        minus ``ignore``; when a rule matches both, the more specific selector wins (a full code
        or name over a prefix, a longer prefix over a shorter one, ``ALL`` least), and on a tie
        ``ignore`` wins."""
        chosen = _specificity(self.select + self.extend_select, code, name)
        if not self.select:
            rule = rulebook.all_rules().get(code)
            if rule is None or rule.default:
                chosen = max(chosen, 0)
        if chosen < 0:
            return False
        return _specificity(self.ignore, code, name) < chosen


def _specificity(patterns: tuple[str, ...], code: str, name: str) -> int:
    """How specifically ``patterns`` name this rule: -1 not at all, 1 ``ALL``, else the length
    of the matching code prefix (a full code or the name: 100).  The default set counts 0."""
    best = -1
    for p in patterns:
        upper = p.upper()
        if upper == "ALL":
            best = max(best, 1)
        elif upper == code or p.lower() == name:
            best = max(best, 100)
        elif code.startswith(upper):
            best = max(best, len(upper))
    return best


def _check_selector(value: str, origin: str) -> str:
    value = value.strip()
    known = rulebook.all_rules()
    if value.upper() == "ALL" or value.upper() in known or rulebook.lookup(value) is not None:
        return value
    if value.upper().startswith("CT") and any(c.startswith(value.upper()) for c in known):
        return value
    raise OptionsError(f"{origin}: unknown rule code or prefix {value!r} (see `celery-tune rules`)")


def validate(options: AuditOptions, origin: str = "command line") -> AuditOptions:
    if options.workload is not None and options.workload not in WORKLOADS:
        raise OptionsError(f"{origin}: workload must be one of {', '.join(WORKLOADS)}")
    if options.fail_on not in FAIL_ON:
        raise OptionsError(f"{origin}: fail-on must be one of {', '.join(FAIL_ON)}")
    if options.cpus is not None and not options.cpus > 0:
        raise OptionsError(f"{origin}: cpus must be a positive number")
    if options.celery_version is not None and options.target_version is None:
        raise OptionsError(f"{origin}: celery-version must look like 5.6 or 5.6.2")
    for value in options.select + options.extend_select + options.ignore:
        _check_selector(value, origin)
    return options


def find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith((key + " ", key + "=")):
            return number
    return 1


def load_pyproject(path: Path) -> dict[str, object]:
    """The ``[tool.celery-tune]`` table; an unknown key or a bad value is an OptionsError."""
    if sys.version_info >= (3, 11):  # imported only when a pyproject.toml is found
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionsError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise OptionsError(f"{path}: {exc}") from None
    table = data.get("tool", {}).get("celery-tune", {})
    if not isinstance(table, dict):
        raise OptionsError(f"{path}:{_line_of(text, '[tool.celery-tune]')}: must be a table")
    for key in table:
        if key not in PYPROJECT_KEYS:
            raise OptionsError(
                f"{path}:{_line_of(text, key)}: [tool.celery-tune] has no key {key!r} "
                f"(known: {', '.join(PYPROJECT_KEYS)})"
            )
    return {"__text__": text, **table}


def merge_pyproject(options: AuditOptions, path: Path | None, explicit: set[str]) -> AuditOptions:
    """Settings from pyproject.toml, for every option not given explicitly on the command line."""
    if path is None:
        return options
    table = load_pyproject(path)
    text = str(table.pop("__text__"))
    changes: dict[str, object] = {}
    for key, value in table.items():
        attr = key.replace("-", "_")
        if attr in explicit:
            continue
        origin = f"{path}:{_line_of(text, key)}"
        if attr in SELECTOR_KEYS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise OptionsError(f"{origin}: {key} must be a list of rule codes")
            changes[attr] = tuple(value)
        elif attr in PATTERN_KEYS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise OptionsError(f"{origin}: {key} must be a list of gitignore-style patterns")
            changes[attr] = tuple(value)
            changes["exclude_base"] = str(path.resolve().parent)
        elif attr == "cpus":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise OptionsError(f"{origin}: cpus must be a number")
            changes[attr] = float(value)
        elif not isinstance(value, str):
            raise OptionsError(f"{origin}: {key} must be a string")
        else:
            changes[attr] = value
        merged = replace(options, **changes)
        validate(merged, origin)
    result = replace(options, **changes)
    return result
