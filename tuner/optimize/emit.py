"""Write the chosen configuration: an importable module, TOML (tomli-w), a ``celery worker`` line.

Every file is written to a temporary file in the output directory and renamed into place, so a
reader never sees half a file; ``report.json`` goes last and names the others.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import tomli_w

from tuner.optimize.space import GREEN_POOLS, POOL_ALIASES, Choice, is_prefork

MODULE_NAME = "celeryconfig_tuned"
MODULE_FILE = MODULE_NAME + ".py"
TOML_FILE = "celery_tuned.toml"
COMMAND_FILE = "worker-command.txt"


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


def render_module(
    settings: Mapping[str, object],
    header: Sequence[str],
    comments: Mapping[str, str] = {},
    suppress: Mapping[str, Sequence[str]] = {},
) -> str:
    """A Python config module: a docstring with the evidence, then one assignment per setting.

    ``suppress`` maps a setting to audit codes whose heuristics the measurement contradicts; the
    line gets a ``# celery-tune: ignore[...]`` comment (the evidence is in ``comments``).
    """
    doc = "\n".join(line.replace('"""', "'''") for line in header)
    lines = ['"""' + doc + '\n"""', "", "from __future__ import annotations", ""]
    for key, value in settings.items():
        comment = comments.get(key, "")
        codes = suppress.get(key, ())
        line = f"{key} = {_literal(value)}"
        tail = []
        if codes:
            tail.append(f"celery-tune: ignore[{','.join(codes)}]")
        if comment:
            tail.append(comment)
        if tail:
            line += "  # " + "  ".join(tail)
        lines.append(line)
    return "\n".join(lines) + "\n"


def render_toml(settings: Mapping[str, object], header: Sequence[str]) -> str:
    """The same settings as TOML (``None``, "no limit", cannot be written and is left out)."""
    data = {k: v for k, v in settings.items() if v is not None}
    skipped = [k for k, v in settings.items() if v is None]
    lines = [f"# {h}".rstrip() for h in header]
    if skipped:
        lines.append(f"# Not set here (no limit, Celery's default): {', '.join(skipped)}")
    return "\n".join(lines) + "\n\n" + tomli_w.dumps(data)


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
