"""Write the chosen configuration: a module that layers onto the user's config (plain and Django
``CELERY_`` forms), a ``celery worker`` line, and with ``--config`` a diff against that file.

The module assigns each setting at module level and exports them as ``SETTINGS`` (a dict) and
``__all__``.  Celery's ``config_from_object`` *replaces* the configuration source, so the module
must never be loaded with a second ``config_from_object``: the docstring says to merge it, either
with ``from celeryconfig_tuned import *`` at the end of the user's config module or with
``app.conf.update(celeryconfig_tuned.SETTINGS)`` (see :data:`APPLY_LINES`).

Every file is written to a temporary file in the output directory and renamed into place, so a
reader never sees half a file; ``report.json`` goes last and names the others.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from tuner.optimize.space import GREEN_POOLS, POOL_ALIASES, Choice, is_prefork

MODULE_NAME = "celeryconfig_tuned"
MODULE_FILE = MODULE_NAME + ".py"
DJANGO_MODULE_NAME = "celeryconfig_tuned_django"
DJANGO_MODULE_FILE = DJANGO_MODULE_NAME + ".py"
COMMAND_FILE = "worker-command.txt"
DIFF_FILE = "config.diff"
DJANGO_PREFIX = "CELERY_"

# How to apply the module: said in its docstring, in the docs and in the report, word for word.
APPLY_LINES = (
    "How to apply it: merge it into your configuration, after your own settings.",
    "Put this file where your app can import it (next to your config module; in a package,",
    f"import it as .{MODULE_NAME}).",
    "Either add this line at the end of the config module your app loads:",
    f"    from {MODULE_NAME} import *  # noqa: F401,F403",
    "or, where you create the app, after your own config is loaded:",
    f"    import {MODULE_NAME}",
    f"    app.conf.update({MODULE_NAME}.SETTINGS)",
    f"Do not load it with a second app.config_from_object({MODULE_NAME!r}): Celery replaces",
    "the configuration source instead of merging, and your broker_url, time limits and other",
    "settings are lost.",
)
DJANGO_APPLY_LINES = (
    "For a Django project whose app reads the settings with namespace='CELERY'",
    "(app.config_from_object('django.conf:settings', namespace='CELERY')).",
    "How to apply it: add this line at the end of your settings module:",
    f"    from {DJANGO_MODULE_NAME} import *  # noqa: F401,F403",
    f"Audit it as Django settings: celery-tune audit --namespace CELERY {DJANGO_MODULE_FILE}",
)


def celery_settings(choice: Choice, extra: Mapping[str, object] = {}) -> dict[str, object]:
    """The Celery settings that make a worker run ``choice``, in a stable order.

    Searched settings are written even when they equal Celery's default, so the module overrides
    whatever the project's own config says.  ``None`` means "no limit".  Green pools are left to
    ``-P`` on the command line (Celery's docs: monkey-patching must happen early).
    """
    pool = choice["pool"]
    out: dict[str, object] = {}
    if isinstance(pool, str) and pool not in GREEN_POOLS:
        out["worker_pool"] = pool
    if pool != "solo" and choice.get("concurrency") is not None:
        out["worker_concurrency"] = choice["concurrency"]
    if choice.get("disable_prefetch"):
        out["worker_disable_prefetch"] = True
    else:
        out["worker_prefetch_multiplier"] = choice["prefetch_multiplier"]
    if is_prefork(pool):
        out["worker_max_tasks_per_child"] = choice.get("max_tasks_per_child")
        if choice.get("max_memory_per_child") is not None:
            out["worker_max_memory_per_child"] = choice["max_memory_per_child"]
    out["task_acks_late"] = bool(choice.get("acks_late"))
    if choice.get("acks_late"):
        # Explicit, as measured: None and False both ack a task whose worker was lost.
        out["task_reject_on_worker_lost"] = bool(choice.get("reject_on_worker_lost"))
    out.update(extra)
    return out


# Settings :func:`command_line` carries as worker options (None, "no limit", it cannot).
COMMAND_LINE_SETTINGS = (
    "worker_pool",
    "worker_concurrency",
    "worker_prefetch_multiplier",
    "worker_disable_prefetch",
    "worker_max_tasks_per_child",
    "worker_max_memory_per_child",
)


def not_on_command_line(settings: Mapping[str, object]) -> dict[str, object]:
    """The settings a ``celery worker`` command line from :func:`command_line` does not set."""
    return {k: v for k, v in settings.items() if k not in COMMAND_LINE_SETTINGS or v is None}


def command_line(choice: Choice, app: str = "proj") -> str:
    """The recommended ``celery worker`` invocation for ``choice``."""
    pool = choice["pool"]
    env: list[str] = []
    args = ["celery", "-A", app, "worker"]
    if isinstance(pool, str) and pool in POOL_ALIASES:
        args += ["--pool", pool]
    elif isinstance(pool, str):
        # -P only takes aliases: a class goes through the custom alias.
        env.append(f"CELERY_CUSTOM_WORKER_POOL={pool}")
        args += ["--pool", "custom"]
    if pool != "solo" and choice.get("concurrency") is not None:
        args += ["--concurrency", str(choice["concurrency"])]
    if choice.get("disable_prefetch"):
        args.append("--disable-prefetch")
    else:
        args += ["--prefetch-multiplier", str(choice["prefetch_multiplier"])]
    if is_prefork(pool):
        if choice.get("max_tasks_per_child") is not None:
            args += ["--max-tasks-per-child", str(choice["max_tasks_per_child"])]
        if choice.get("max_memory_per_child") is not None:
            args += ["--max-memory-per-child", str(choice["max_memory_per_child"])]
    if choice.get("optimization"):
        args += ["-O", str(choice["optimization"])]
    args += ["--loglevel", "INFO"]
    return " ".join([*env, *(shlex.quote(a) for a in args)])


def _literal(value: object) -> str:
    return repr(value)


def django_name(setting: str) -> str:
    """The name a Django settings module uses with ``namespace='CELERY'``."""
    return DJANGO_PREFIX + setting.upper()


def render_module(
    settings: Mapping[str, object],
    header: Sequence[str],
    comments: Mapping[str, str] = {},
    suppress: Mapping[str, Sequence[str]] = {},
    *,
    apply: Sequence[str] = APPLY_LINES,
    names: Mapping[str, str] | None = None,
    file_suppress: Mapping[str, str] = {},
    export_dict: bool = True,
) -> str:
    """A Python config module: a docstring with the evidence and how to apply it, one assignment
    per setting, then ``__all__`` and ``SETTINGS`` (the same settings as a dict, by Celery name).

    ``names`` maps a setting to the name assigned (default: the setting itself; the Django form
    passes :func:`django_name`).  ``suppress`` maps a setting to audit codes whose heuristics the
    measurement contradicts; the line gets a ``# celery-tune: ignore[...]`` comment (the evidence
    is in ``comments``).  ``file_suppress`` maps an audit code to why it does not apply to this
    file; it becomes a ``# celery-tune: ignore-file[...]`` line.
    """
    doc = "\n".join(line.replace('"""', "'''") for line in [*header, "", *apply])
    lines = ['"""' + doc + '\n"""', ""]
    for code, why in file_suppress.items():
        lines.append(f"# celery-tune: ignore-file[{code}]  {why}")
    if file_suppress:
        lines.append("")
    assigned: dict[str, str] = {}
    for key, value in settings.items():
        name = names.get(key, key) if names is not None else key
        assigned[key] = name
        comment = comments.get(key, "")
        codes = suppress.get(key, ())
        line = f"{name} = {_literal(value)}"
        tail = []
        if codes:
            tail.append(f"celery-tune: ignore[{','.join(codes)}]")
        if comment:
            tail.append(comment)
        if tail:
            line += "  # " + "  ".join(tail)
        lines.append(line)
    lines += ["", "__all__ = ["]
    lines += [f"    {name!r}," for name in assigned.values()]
    lines.append("]")
    if export_dict:
        lines.append("# The same settings as a dict, for app.conf.update(SETTINGS).")
        lines.append("SETTINGS = {name: globals()[name] for name in __all__}")
    return "\n".join(lines) + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(out_dir: Path, files: Mapping[str, str | bytes]) -> list[Path]:
    """Write each file to a temporary name in ``out_dir``, fsync it, then rename it into place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        target = out_dir / name
        data = content.encode("utf-8") if isinstance(content, str) else content
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
        try:
            os.fchmod(fd, 0o666 & ~_umask())
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
