"""What the workers run: built-in presets costed in CPU seconds, or the user's own tasks.

A :class:`Workload` is a weighted mix of :class:`TaskSpec` entries.  The presets' CPU work is
``burn``: pure Python until the task's thread has used its CPU seconds, as counted by the kernel
in the worker, so a "50 ms" task costs 50 ms of CPU on the machine at hand whatever its speed at
the moment.  ``spin`` (a fixed iteration count, sized by :func:`spin_rate`) is there for fixed work.
The ``native`` presets' work is ``crunch``: C code that releases the GIL (zlib, SHA-256), costed
in CPU seconds the same way.
"""

from __future__ import annotations

import functools
import json
import random
import re
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from tuner.bench import tasks
from tuner.bench.errors import BenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

Kind = Literal["cpu", "io", "mixed"]
KINDS: tuple[Kind, ...] = ("cpu", "io", "mixed")

PRESETS: dict[str, str] = {
    "cpu": "uniform pure-Python CPU work, 50 ms of CPU per task",
    "cpu-heavy-tail": "95% of tasks 20 ms of CPU, 5% 400 ms (mean 39 ms)",
    "io": "sleep-bound, 50 ms per task",
    "mixed": "20 ms of CPU, then a 30 ms sleep, per task",
    "leaky": "10 ms of CPU per task; each task keeps 1 MiB more in its child process",
    "native": "50 ms of CPU per task in C (zlib + SHA-256) that releases the GIL",
    "native-mixed": "35 ms of CPU in C releasing the GIL, then 15 ms of pure Python, per task",
}


@dataclass(frozen=True)
class ArgSet:
    args: tuple[object, ...] = ()
    kwargs: Mapping[str, object] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class TaskSpec:
    """One entry of the mix: a task name, its weight, argument sets used in turn, nominal cost."""

    name: str
    weight: float = 1.0
    argsets: tuple[ArgSet, ...] = (ArgSet(),)
    cpu_seconds: float | None = None  # nominal CPU seconds per call, when known
    label: str = ""


@dataclass(frozen=True)
class Planned:
    """One task to send."""

    name: str
    args: tuple[object, ...]
    kwargs: Mapping[str, object]
    cpu_seconds: float | None


@dataclass(frozen=True)
class Workload:
    name: str
    kind: Kind
    specs: tuple[TaskSpec, ...]
    app: str | None = None  # "module:app" of the user's app; None = the bench's own
    expect_failures: bool = False
    description: str = ""

    @property
    def mean_cpu_seconds(self) -> float | None:
        """Weighted mean nominal CPU seconds per task (calibrated), or None when unknown."""
        if any(s.cpu_seconds is None for s in self.specs):
            return None
        total = sum(s.weight for s in self.specs)
        return sum(s.weight * cast(float, s.cpu_seconds) for s in self.specs) / total

    def plan(self, seed: int = 0) -> Iterator[Planned]:
        """An endless, reproducible sequence of tasks: weighted picks, argument sets in turn
        (seeded apart from the arrivals, see :func:`tuner.bench.load.arrivals`)."""
        rng = random.Random(f"tasks:{seed}")
        weights = [s.weight for s in self.specs]
        turn = [0] * len(self.specs)
        indices = list(range(len(self.specs)))
        while True:
            i = indices[0] if len(indices) == 1 else rng.choices(indices, weights)[0]
            spec = self.specs[i]
            argset = spec.argsets[turn[i] % len(spec.argsets)]
            turn[i] += 1
            yield Planned(spec.name, argset.args, argset.kwargs, spec.cpu_seconds)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "app": self.app,
            "mean_cpu_seconds": self.mean_cpu_seconds,
            "tasks": [
                {"name": s.name, "weight": s.weight, "cpu_seconds": s.cpu_seconds, "label": s.label}
                for s in self.specs
            ],
        }


@functools.lru_cache(maxsize=1)
def spin_rate() -> float:
    """``spin`` iterations per CPU-second in this interpreter.

    A warm-up of about 0.25 s of CPU first (the first calls run measurably slower, as the CPU
    clock ramps up), then the median of 5 trials of about 40 ms each.
    """
    n = 20_000
    start = time.thread_time()
    while time.thread_time() - start < 0.25:
        t = time.thread_time()
        tasks.spin(n)
        if time.thread_time() - t < 0.02:
            n *= 2
    rates = []
    for _ in range(7):
        t = time.thread_time()
        tasks.spin(n)
        rates.append(n / max(time.thread_time() - t, 1e-6))
    return max(rates)


def iterations(cpu_seconds: float) -> int:
    return max(1, round(cpu_seconds * spin_rate()))


def _burn(cpu_s: float, weight: float = 1.0, label: str = "") -> TaskSpec:
    return TaskSpec(tasks.BURN, weight, (ArgSet((cpu_s,)),), cpu_s, label)


def preset(name: str, scale: float = 1.0) -> Workload:
    """A built-in workload; ``scale`` multiplies every task's CPU and sleep time."""
    if scale <= 0:
        raise BenchError(f"task scale must be > 0, got {scale}")
    s = scale
    desc = PRESETS.get(name)
    if name == "cpu":
        return Workload(name, "cpu", (_burn(0.050 * s),), description=desc or "")
    if name == "cpu-heavy-tail":
        specs = (_burn(0.020 * s, 95, "short"), _burn(0.400 * s, 5, "long"))
        return Workload(name, "cpu", specs, description=desc or "")
    if name == "io":
        spec = TaskSpec(tasks.NAP, 1.0, (ArgSet((0.050 * s,)),), 0.0)
        return Workload(name, "io", (spec,), description=desc or "")
    if name == "mixed":
        spec = TaskSpec(tasks.WORK, 1.0, (ArgSet((0.020 * s, 0.030 * s)),), 0.020 * s)
        return Workload(name, "mixed", (spec,), description=desc or "")
    if name == "leaky":
        spec = TaskSpec(tasks.LEAK, 1.0, (ArgSet((0.010 * s, 1024)),), 0.010 * s)
        return Workload(name, "cpu", (spec,), description=desc or "")
    if name == "native":
        spec = TaskSpec(tasks.CRUNCH, 1.0, (ArgSet((0.050 * s,)),), 0.050 * s, "native")
        return Workload(name, "cpu", (spec,), description=desc or "")
    if name == "native-mixed":
        args = ArgSet((0.035 * s, 0.015 * s))
        spec = TaskSpec(tasks.BLEND, 1.0, (args,), 0.050 * s, "native+python")
        return Workload(name, "cpu", (spec,), description=desc or "")
    from tuner.hints import did_you_mean

    hint = did_you_mean(name, PRESETS)
    raise BenchError(
        f"unknown workload {name!r}{hint} (presets: {', '.join(PRESETS)}; or a .toml file)"
    )


# --- the user's own tasks --------------------------------------------------------------------


def read_args_file(path: str | Path) -> tuple[ArgSet, ...]:
    """JSONL: each line a JSON array (positional args) or ``{"args": [...], "kwargs": {...}}``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"{p}: cannot read ({exc.strerror})") from None
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BenchError(f"{p}:{lineno}: not valid JSON ({exc.msg})") from None
        out.append(_argset(item, f"{p}:{lineno}"))
    if not out:
        raise BenchError(f"{p}:1: no argument lines")
    return tuple(out)


def _argset(item: object, where: str) -> ArgSet:
    if isinstance(item, list):
        return ArgSet(tuple(item))
    if isinstance(item, dict) and set(item) <= {"args", "kwargs"}:
        args = item.get("args", [])
        kwargs = item.get("kwargs", {})
        if isinstance(args, list) and isinstance(kwargs, dict):
            return ArgSet(tuple(args), kwargs)
    raise BenchError(f"{where}: expected a JSON array or an object with args/kwargs")


def user_task(app: str, task: str, args_file: str | None = None, kind: Kind = "cpu") -> Workload:
    """One task of the user's app, with arguments from a JSONL file (or none)."""
    _check_app(app, "--app")
    argsets = read_args_file(args_file) if args_file else (ArgSet(),)
    return Workload(task, kind, (TaskSpec(task, 1.0, argsets),), app=app)


def _check_app(app: str, where: str) -> None:
    if not re.fullmatch(r"[\w.]+(:[\w.]+)?", app):
        raise BenchError(f"{where}: expected module or module:app, got {app!r}")


BUILTIN_KEYS = {"burn": tasks.BURN, "spin": tasks.SPIN, "nap": tasks.NAP, "work": tasks.WORK}
BUILTIN_KEYS |= {"leak": tasks.LEAK, "fail": tasks.FAIL, "crunch": tasks.CRUNCH}


def load_workload(path: str, app: str | None = None) -> Workload:
    """A workload TOML file: ``[[task]]`` entries mixing the user's tasks and built-in ones.

    Top level: ``name``, ``kind`` (cpu/io/mixed), ``app`` (module:app), ``expect_failures``.
    Each ``[[task]]``: ``name`` (a task of the app) or ``builtin``
    (burn/spin/nap/work/leak/fail/crunch; crunch is native work that releases the GIL),
    ``weight``, ``args`` (a list of argument lists, used in turn), ``kwargs``, ``args_file``
    (JSONL, relative to the TOML file), ``cpu_seconds`` (nominal cost; built-ins: their CPU time,
    for ``spin`` converted to iterations with :func:`spin_rate`), ``sleep_seconds`` (nap/work),
    ``leak_kib`` (leak).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"{p}: {exc}") from None
    text_lines = text.splitlines()
    lines = [i for i, line in enumerate(text_lines, 1) if line.strip() == "[[task]]"]
    unknown = set(data) - {"name", "kind", "app", "expect_failures", "task"}
    if unknown:
        raise BenchError(f"{p}:1: unknown key {sorted(unknown)[0]!r}")
    entries = data.get("task")
    if not isinstance(entries, list) or not entries:
        raise BenchError(f"{p}:1: no [[task]] entries")
    kind = data.get("kind", "cpu")
    if kind not in KINDS:
        raise BenchError(f"{p}:1: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    user_app = app or data.get("app")
    if user_app is not None:
        if not isinstance(user_app, str):
            raise BenchError(f"{p}:1: app must be a string like 'proj.celery:app'")
        _check_app(user_app, str(p))
    specs = []
    for i, entry in enumerate(entries):
        at = Where(p, text_lines, lines[i] if i < len(lines) else 1)
        if not isinstance(entry, dict):
            raise BenchError(f"{at()}: a [[task]] entry must be a table")
        specs.append(_task_entry(entry, at, p.parent, user_app))
    expect = data.get("expect_failures", False)
    if not isinstance(expect, bool):
        raise BenchError(f"{p}:1: expect_failures must be true or false")
    name = data.get("name", p.stem)
    return Workload(str(name), kind, tuple(specs), app=user_app, expect_failures=expect)


TASK_KEYS = {"name", "builtin", "weight", "args", "kwargs", "args_file", "cpu_seconds"}
TASK_KEYS |= {"sleep_seconds", "leak_kib"}


class Where:
    """``path:line`` of a key inside the n-th ``[[task]]`` table (the header line if not found)."""

    def __init__(self, path: Path, lines: list[str], header: int) -> None:
        self.path = path
        self.header = header
        self.keys: dict[str, int] = {}
        for lineno in range(header + 1, len(lines) + 1):
            line = lines[lineno - 1].strip()
            if line.startswith("["):
                break
            key = line.partition("=")[0].strip().strip('"')
            if key and "=" in line:
                self.keys.setdefault(key, lineno)

    def __call__(self, key: str | None = None) -> str:
        return f"{self.path}:{self.keys.get(key or '', self.header)}"


def _number(entry: Mapping[str, object], key: str, at: Where, default: float | None) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise BenchError(f"{at(key)}: {key} must be a number >= 0, got {value!r}")
    return float(value)


def _task_entry(entry: Mapping[str, object], at: Where, base: Path, app: str | None) -> TaskSpec:
    unknown = set(entry) - TASK_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise BenchError(f"{at(key)}: unknown key {key!r} in [[task]]")
    weight = _number(entry, "weight", at, 1.0)
    if weight <= 0:
        raise BenchError(f"{at('weight')}: weight must be > 0")
    builtin = entry.get("builtin")
    if builtin is not None:
        if builtin not in BUILTIN_KEYS:
            raise BenchError(f"{at('builtin')}: builtin must be one of {', '.join(BUILTIN_KEYS)}")
        if app is not None:
            raise BenchError(f"{at('builtin')}: built-in tasks cannot be mixed with an app's tasks")
        cpu = _number(entry, "cpu_seconds", at, 0.0 if builtin == "nap" else 0.05)
        sleep = _number(entry, "sleep_seconds", at, 0.05 if builtin == "nap" else 0.0)
        kib = int(_number(entry, "leak_kib", at, 1024))
        args: tuple[object, ...]
        if builtin == "spin":
            args = (iterations(cpu),)  # fixed work, sized by calibration
        else:
            by_kind = {"burn": (cpu,), "nap": (sleep,), "work": (cpu, sleep), "leak": (cpu, kib)}
            args = by_kind.get(builtin, (cpu,))  # fail: (cpu,)
        return TaskSpec(BUILTIN_KEYS[builtin], weight, (ArgSet(args),), cpu, builtin)
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise BenchError(f"{at('name')}: a [[task]] needs a name (a task of the app) or builtin")
    if app is None:
        raise BenchError(f"{at('name')}: task {name!r} needs an app (app = 'module:app' or --app)")
    argsets: tuple[ArgSet, ...]
    kwargs = entry.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise BenchError(f"{at('kwargs')}: kwargs must be a table")
    if "args_file" in entry:
        if not isinstance(entry["args_file"], str):
            raise BenchError(f"{at('args_file')}: args_file must be a path")
        argsets = read_args_file(base / entry["args_file"])
    elif "args" in entry:
        raw = entry["args"]
        if not isinstance(raw, list) or not raw or not all(isinstance(a, list) for a in raw):
            raise BenchError(f"{at('args')}: args must be a list of argument lists, e.g. [[1, 2]]")
        argsets = tuple(ArgSet(tuple(a), kwargs) for a in raw)
    else:
        argsets = (ArgSet((), kwargs),)
    cpu_s = entry.get("cpu_seconds")
    nominal = None if cpu_s is None else _number(entry, "cpu_seconds", at, None)
    return TaskSpec(name, weight, argsets, nominal, name)


def resolve(
    workload: str,
    *,
    app: str | None = None,
    task: str | None = None,
    args_file: str | None = None,
    kind: Kind = "cpu",
    scale: float = 1.0,
) -> Workload:
    """The workload the command line asks for: a preset, a TOML file, or ``--app``/``--task``."""
    if task is not None:
        if app is None:
            raise BenchError("--task needs --app module:app")
        return user_task(app, task, args_file, kind)
    if args_file is not None:
        raise BenchError("--args-file needs --task (or use args_file in a workload TOML file)")
    if workload.endswith(".toml") or Path(workload).is_file():
        return load_workload(workload, app)
    if app is not None:
        raise BenchError("--app needs --task NAME, or a workload TOML file naming the tasks")
    return preset(workload, scale)
