"""The progress display: one bar for the study, with the trial, its live result and the best so far.

On a terminal it is a rich progress bar on stderr; otherwise one plain line per finished trial.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner.optimize.objectives import UNITS, Goal


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    unit = UNITS.get(name, "")
    if name == "p99":
        return f"p99 {value:.3f} s"
    if name == "rss":
        return f"rss {value:.0f} MB"
    return f"{value:.1f} {unit}".strip() if name == "throughput" else f"{name} {value:.3f}"


def describe_choice(choice: Mapping[str, Any]) -> str:
    parts = [str(choice.get("pool", "?"))]
    if choice.get("concurrency") is not None:
        parts.append(f"c={choice['concurrency']}")
    if choice.get("disable_prefetch"):
        parts.append("no-prefetch")
    elif choice.get("prefetch_multiplier") is not None:
        parts.append(f"pf={choice['prefetch_multiplier']}")
    if choice.get("max_tasks_per_child") is not None:
        parts.append(f"mtpc={choice['max_tasks_per_child']}")
    if choice.get("max_memory_per_child") is not None:
        parts.append(f"mmpc={choice['max_memory_per_child']}")
    if choice.get("acks_late"):
        parts.append("late-acks")
    return " ".join(parts)


class Progress:
    """Study progress; ``total`` is the number of trials this process will run (None: timeout)."""

    def __init__(self, goal: Goal, total: int | None, *, stream: TextIO | None = None) -> None:
        self.goal = goal
        self.total = total
        self.stream = stream or sys.stderr
        self.done = 0
        self.best = "-"
        self.current = ""
        self._bar: Any = None
        self._task: Any = None
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]trials"),
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=Console(file=self.stream),
                transient=False,
            )
            self._task = self._bar.add_task("starting", total=total)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _update(self) -> None:
        if self._bar is not None:
            text = f"{self.current}  best: {self.best}"
            self._bar.update(self._task, description=text, completed=self.done)

    def log(self, line: str) -> None:
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def trial_started(self, number: int, label: str) -> None:
        self.current = f"trial {number} ({label}): measuring"
        self._update()

    def interval(self, number: int, elapsed: float, metrics: Any) -> None:
        data = metrics.as_dict()
        shown = ", ".join(_fmt(o, data.get(o)) for o in self.goal.objectives)
        self.current = f"trial {number}: {elapsed:.0f} s, {shown}"
        self._update()

    def trial_finished(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.done += 1
        self.best = best_text(study, self.goal)
        self.log(trial_line(trial, self.goal) + f"   best: {self.best}")
        self.current = ""
        self._update()


def trial_line(trial: FrozenTrial, goal: Goal) -> str:
    choice = trial.user_attrs.get("choice") or {}
    label = trial.user_attrs.get("baseline")
    if not label and trial.user_attrs.get("seed"):
        kind = "trap" if trial.user_attrs.get("trap") else "seed"
        label = f"{kind}: {trial.user_attrs['seed']}"
    what = describe_choice(choice) + (f" [{label}]" if label else "")
    if trial.state == TrialState.COMPLETE and trial.values is not None:
        shown = ", ".join(_fmt(o, v) for o, v in zip(goal.objectives, trial.values, strict=False))
        constraints = trial.user_attrs.get("constraints") or {}
        broken = [k for k, v in constraints.items() if v > 0]
        if broken:
            shown += f" (infeasible: {', '.join(broken)})"
        return f"trial {trial.number:>3} {what}: {shown}"
    if trial.state == TrialState.PRUNED:
        info = trial.user_attrs.get("fidelity")
        why = info.get("text") if isinstance(info, dict) else None
        return f"trial {trial.number:>3} {what}: pruned" + (f" ({why})" if why else "")
    error = trial.user_attrs.get("error") or "failed"
    return f"trial {trial.number:>3} {what}: FAILED: {error}"


def best_text(study: optuna.Study, goal: Goal) -> str:
    from tuner.optimize.select import pick

    best = pick(study, goal)
    if best is None or best.values is None:
        return "-"
    shown = ", ".join(_fmt(o, v) for o, v in zip(goal.objectives, best.values, strict=False))
    return f"{shown} (trial {best.number})"
