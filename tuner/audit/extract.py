"""Read a config file statically into plain settings, for ``bench --config`` and ``optimize``.

Uses the audit's readers, so a config is never imported or executed.  Environment reads take their
defaults; values that cannot be resolved statically are left out (and named by ``unresolved``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tuner.audit.engine import namespace_for
from tuner.audit.settings import read_settings
from tuner.audit.sources import read_source


class ConfigError(Exception):
    """A config that cannot be read: one line naming the file, line and problem."""


@dataclass
class Extracted:
    settings: dict[str, object] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)


def extract(path: str) -> Extracted:
    source = read_source(path)
    if source.error is not None:
        e = source.error
        raise ConfigError(f"{path}:{e.line}:{e.column}: {e.message}")
    result = Extracted()
    if source.kind == "python":
        namespace = namespace_for(source, source.namespaces, None)
        ordered = sorted(read_settings(source, namespace), key=lambda s: s.occ.origin != "module")
        for s in ordered:
            if s.name is None or s.status != "valid":
                continue
            if s.occ.value.judgeable:
                result.settings[s.name] = s.occ.value.value
            else:
                result.unresolved.append(s.name)
        return result
    commands = [c for c in source.commands if c.subcommand in ("worker", "multi")]
    if not commands:
        raise ConfigError(f"{path}:1:1: no `celery worker` command line found")
    for opt in commands[0].options:
        if opt.setting:
            if opt.value.judgeable:
                result.settings[opt.setting] = opt.value.value
            else:
                result.unresolved.append(opt.setting)
    return result


def worker_settings(path: str) -> dict[str, object]:
    """New-style setting name -> value, as statically known.  Raises ConfigError."""
    return extract(path).settings
