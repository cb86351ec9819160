"""Options of ``celery-tune optimize`` and everything resolved from them before any trial runs.

Every input problem is found here and raised as :class:`UsageError` (one line, exit code 2):
an unknown workload, a bad space file, an unreadable ``--config``, an unreachable broker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tuner.optimize.baselines import DEFAULT_LABEL, INPUT_LABEL, InputConfig
from tuner.optimize.confirm import DEFAULT_ROUNDS
from tuner.optimize.objectives import Goal
from tuner.optimize.space import Choice, Space

if TYPE_CHECKING:
    from tuner.bench.broker import Broker
    from tuner.bench.config import WorkerConfig
    from tuner.bench.workloads import Workload
    from tuner.optimize.priors import RuledOut
    from tuner.optimize.probe import GilProbe
    from tuner.optimize.seeds import Seed

DEFAULT_TRIALS = 10
DEFAULT_TRIAL_SECONDS = 5.0
DEFAULT_WARMUP = 2.0
DEFAULT_LOAD = 0.7
DEFAULT_OUT = "celery-tune-out"


class UsageError(Exception):
    """Bad input: one line, exit code 2."""


@dataclass(frozen=True)
class OptimizeOptions:
    workload: str = "cpu"
    app: str | None = None  # module:app of the user's tasks (with --task or a workload TOML)
    task: str | None = None
    args_file: str | None = None
    kind: str = "cpu"
    broker: str | None = None  # None: the embedded broker
    config: str | None = None  # the user's current config, read statically
    space: str | None = None
    fixed: tuple[str, ...] = ()
    objective: str | None = None
    objectives: str | None = None
    p99_slo: float | None = None
    max_rss: float | None = None  # MB: a trial whose workers' peak RSS is above is infeasible
    load: float | None = None  # offered load for latency runs, fraction of defaults' capacity
    rate: float | None = None  # ...or an absolute rate, tasks/s
    trials: int | None = None
    timeout: float | None = None
    trial_seconds: float = DEFAULT_TRIAL_SECONDS
    warmup: float = DEFAULT_WARMUP
    confirm: int = DEFAULT_ROUNDS  # confirmation rounds
    storage: str | None = None
    study_name: str | None = None
    out: str = DEFAULT_OUT
    seed: int | None = None
    prune: bool = True
    cpus: float | None = None  # CPUs of the target (a cgroup quota may be fractional)
    command_app: str | None = None  # -A in the emitted command line
    progress: bool | None = None  # None: when stderr is a terminal
    audit_output: bool = True
    probe: bool = True  # CPU work: profile the task on threads first; rule them out if it holds
    seeds: bool = True  # enqueue expert seeds after the baselines (tuner/optimize/seeds.py)


@dataclass
class Setup:
    """Resolved inputs."""

    options: OptimizeOptions
    workload: Workload
    broker: Broker
    goal: Goal
    space: Space
    cpus: int
    baselines: dict[str, WorkerConfig]
    baseline_choices: dict[str, Choice]
    trial_extra: dict[str, object]
    input: InputConfig | None = None
    notes: list[str] = field(default_factory=list)
    probe: GilProbe | None = None  # the GIL probe's figure and decision, when it ran
    ruled_out: list[RuledOut] = field(default_factory=list)  # the priors' narrowing, with reasons
    seeds: list[Seed] = field(default_factory=list)  # expert seeds, enqueued after the baselines
    space_size: dict[str, float] = field(default_factory=dict)  # grid sizes: default, searched

    @property
    def out_dir(self) -> Path:
        return Path(self.options.out)

    @property
    def study_name(self) -> str:
        if self.options.study_name:
            return self.options.study_name
        parts = [self.workload.name, *self.goal.objectives]
        if self.goal.p99_slo is not None:
            parts.append(f"slo{self.goal.p99_slo:g}")
        if self.goal.max_rss is not None:
            parts.append(f"rss{self.goal.max_rss:g}")
        return "-".join(parts)


def _check_numbers(o: OptimizeOptions) -> None:
    def positive(name: str, value: float | None) -> None:
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise UsageError(f"{name} must be a positive number, got {value}")

    positive("--trial-seconds", o.trial_seconds)
    positive("--timeout", o.timeout)
    positive("--rate", o.rate)
    positive("--load", o.load)
    if o.warmup < 0:
        raise UsageError(f"--warmup must be >= 0, got {o.warmup}")
    if o.trials is not None and o.trials < 1:
        raise UsageError(f"--trials must be >= 1, got {o.trials}")
    if o.confirm < 0:
        raise UsageError(f"--confirm must be >= 0, got {o.confirm}")
    positive("--cpus", o.cpus)
    if o.rate is not None and o.load is not None:
        raise UsageError("give --rate or --load, not both")


def resolve(o: OptimizeOptions) -> Setup:
    """Validate and resolve the options; raises UsageError."""
    from tuner.audit.cpus import detect
    from tuner.bench.broker import Broker, check_reachable
    from tuner.bench.config import known_settings
    from tuner.bench.errors import BenchError
    from tuner.bench.workloads import resolve as resolve_workload
    from tuner.optimize.baselines import ConfigError, celery_default, choice_of, read_config
    from tuner.optimize.objectives import GoalError, parse_goal
    from tuner.optimize.priors import narrow
    from tuner.optimize.probe import restrict
    from tuner.optimize.seeds import plan as plan_seeds
    from tuner.optimize.space import SpaceError, baseline_choice, default_space, grid_size
    from tuner.optimize.spacefile import load_space, parse_fixed

    _check_numbers(o)
    try:
        goal = parse_goal(o.objective, o.objectives, o.p99_slo, o.max_rss)
    except GoalError as exc:
        raise UsageError(str(exc)) from None
    if o.kind not in ("cpu", "io", "mixed"):
        raise UsageError(f"--kind must be cpu, io or mixed, got {o.kind!r}")
    try:
        workload = resolve_workload(
            o.workload,
            app=o.app,
            task=o.task,
            args_file=o.args_file,
            kind=o.kind,  # type: ignore[arg-type]
        )
        broker = Broker(o.broker).validate()
        check_reachable(broker)
        if workload.app:
            from tuner.bench.appcheck import check_app

            check_app(workload.app, "--app" if o.app else f"{o.workload}: app")
    except BenchError as exc:
        raise UsageError(str(exc)) from None
    if "efficiency" in goal.objectives and workload.kind != "cpu":
        raise UsageError("--objective efficiency needs a CPU workload (efficiency is CPU use)")
    cpus = max(1, int(o.cpus if o.cpus is not None else detect().count))
    notes: list[str] = []
    input_config = None
    if o.config:
        try:
            input_config = read_config(o.config, cpus)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        notes += input_config.notes
        if not input_config.carried:
            notes.append(
                f"{o.config}: no task time limit (`celery-tune audit --extend-select CT303` "
                "reports it); optimize does not invent one: set task_time_limit for your tasks"
            )
    try:
        known = known_settings()
        fixed, extra = parse_fixed(o.fixed, settings_known=lambda k: k in known, settings=known)
        if o.space:
            space = load_space(o.space)
        else:
            space = default_space(
                cpus, workload.kind, broker_url=broker.url, leaky=_is_leaky(workload)
            )
    except SpaceError as exc:
        raise UsageError(str(exc)) from None
    default_size = grid_size(space)
    gil_probe = None
    if o.probe and not o.space and workload.kind == "cpu":
        gil_probe = _probe(workload, cpus, broker.url, notes)
    ruled_out: list[RuledOut] = []
    user_space = space  # the space as the user shaped it (without the priors): for the trap
    if not o.space:
        user_space = space if gil_probe is None else restrict(space, gil_probe)
        space, ruled_out = narrow(
            space, cpus=cpus, kind=workload.kind, leaky=_is_leaky(workload), probe=gil_probe
        )
    trial_extra = {**(input_config.extra if input_config else {}), **extra}
    space = space.pin(fixed, extra)
    user_space = user_space.pin(fixed, extra)
    # --fixed settings apply to the baselines too, so every configuration measured runs them.
    baselines = {DEFAULT_LABEL: with_extra(celery_default(cpus), extra)}
    if input_config is not None:
        baselines[INPUT_LABEL] = with_extra(input_config.config, extra)
    # A baseline's choice (its trial params and what is emitted for it) holds the concurrency
    # it really runs with: Celery's None is os.cpu_count() here, whatever --cpus says.
    choices = {
        label: baseline_choice(choice_of(config), config.effective_concurrency())
        for label, config in baselines.items()
    }
    for choice in choices.values():
        space = space.widened(choice)
        user_space = user_space.widened(choice)
    seeds: list[Seed] = []
    if o.seeds:
        planned = plan_seeds(
            space,
            cpus=cpus,
            kind=workload.kind,
            broker_url=broker.url,
            probe=gil_probe,
            baselines=choices,
            trials=o.trials if o.trials is not None else DEFAULT_TRIALS,
            trap_space=user_space,
            memory=goal.max_rss is not None or "rss" in goal.objectives,
        )
        seeds = list(planned.seeds)
        notes += planned.notes
    return Setup(
        options=o,
        workload=workload,
        broker=broker,
        goal=goal,
        space=space,
        cpus=cpus,
        baselines=baselines,
        baseline_choices=choices,
        trial_extra=trial_extra,
        input=input_config,
        notes=notes,
        probe=gil_probe,
        ruled_out=ruled_out,
        seeds=seeds,
        space_size={"default": default_size, "searched": grid_size(space)},
    )


def with_extra(config: WorkerConfig, extra: Mapping[str, object]) -> WorkerConfig:
    """``config`` with ``extra`` settings added (they win over its own)."""
    from dataclasses import replace

    return replace(config, extra={**config.extra, **extra}) if extra else config


def _probe(workload: Workload, cpus: int, broker: str | None, notes: list[str]) -> GilProbe | None:
    """Run the GIL probe (:mod:`tuner.optimize.probe`); None, with a note, if it cannot measure.

    Its decision narrows the default space through :func:`tuner.optimize.priors.narrow`.
    """
    from tuner.optimize.probe import ProbeError, probe

    try:
        decision = probe(workload, cpus, broker=broker)
    except ProbeError as exc:
        notes.append(f"GIL probe skipped ({exc}); threads stay in the search")
        return None
    notes.append(decision.describe())
    return decision


def _is_leaky(workload: Workload) -> bool:
    from tuner.bench import tasks

    return workload.name == "leaky" or any(s.name == tasks.LEAK for s in workload.specs)
