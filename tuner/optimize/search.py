"""The search: open or resume the study, seed it with the baselines, run trials until the budget
is spent or the user stops it.  Failed trials are recorded (FAIL) and the study goes on."""

from __future__ import annotations

import signal
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from tuner.optimize.baselines import worker_config
from tuner.optimize.measure import Plan, phases
from tuner.optimize.objectives import TrialObjective, make_pruner
from tuner.optimize.setup import DEFAULT_LOAD, DEFAULT_TRIALS, Setup
from tuner.optimize.space import project
from tuner.optimize.storages import open_study

OPEN_RATE_KEY = "open_rate"


@dataclass
class SearchOutcome:
    study: optuna.Study
    plan: Plan
    created: bool
    dead: list[int] = field(default_factory=list)
    ran: int = 0
    interrupted: bool = False


def make_sampler(seed: int | None, parallel: bool) -> optuna.samplers.BaseSampler:
    """TPE over the conditional space (multivariate, grouped), with a short random start since
    budgets are small; ``constant_liar`` keeps parallel processes from sampling the same point."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=4,
            multivariate=True,
            group=True,
            constant_liar=parallel,
        )


def study_meta(setup: Setup) -> dict[str, object]:
    o = setup.options
    return {
        "workload": setup.workload.name,
        "objectives": list(setup.goal.objectives),
        "p99_slo": setup.goal.p99_slo,
        "max_rss": setup.goal.max_rss,
        "space": setup.space.as_dict(),
        "load": {
            "phases": list(phases(setup.goal)),
            "seconds": o.trial_seconds,
            "warmup": o.warmup,
            "load": o.load if o.rate is None else None,
            "rate": o.rate,
        },
    }


def open_rate(setup: Setup, study: optuna.Study) -> float | None:
    """The open-loop rate of latency runs: stored with the study, else measured and stored."""
    if "open" not in phases(setup.goal):
        return None
    stored = study.user_attrs.get(OPEN_RATE_KEY)
    if isinstance(stored, (int, float)) and stored > 0:
        return float(stored)
    o = setup.options
    if o.rate is not None:
        rate = o.rate
    else:
        from tuner.bench.runner import measure_capacity
        from tuner.optimize.baselines import DEFAULT_LABEL

        capacity = measure_capacity(
            setup.baselines[DEFAULT_LABEL], setup.workload, setup.broker, cpus=setup.cpus
        )
        rate = (o.load or DEFAULT_LOAD) * capacity.rate
        study.set_user_attr("open_rate_source", capacity.source)
    study.set_user_attr(OPEN_RATE_KEY, rate)
    return rate


def enqueue_baselines(setup: Setup, study: optuna.Study, created: bool) -> list[str]:
    """Enqueue the baselines; returns their labels.

    Only the process that created the study enqueues them all: creation is atomic in the
    storage, while "look, then enqueue" is not, and two processes starting one study together
    would both enqueue every baseline.  A process resuming a study re-enqueues only a baseline
    whose every trial failed.
    """
    trials = study.get_trials(deepcopy=False)
    present = {t.user_attrs.get("baseline") for t in trials if t.state != TrialState.FAIL}
    failed = {t.user_attrs.get("baseline") for t in trials if t.state == TrialState.FAIL}
    added = []
    for label, choice in setup.baseline_choices.items():
        if label in present or not (created or label in failed):
            continue
        params = project(setup.space, choice, setup.cpus)
        study.enqueue_trial(dict(params), user_attrs={"baseline": label})
        added.append(label)
    return added


def enqueue_seeds(setup: Setup, study: optuna.Study, created: bool) -> list[str]:
    """Enqueue the expert seeds (:mod:`tuner.optimize.seeds`) after the baselines; their labels.

    The same rule as :func:`enqueue_baselines`: the process that created the study enqueues
    them; a process resuming it re-enqueues only a seed whose every trial failed.  A trap runs
    as itself (see ``TrialObjective.references``); its params are its nearest point in the space.
    """
    from tuner.optimize.seeds import nearest

    trials = study.get_trials(deepcopy=False)
    present = {t.user_attrs.get("seed") for t in trials if t.state != TrialState.FAIL}
    failed = {t.user_attrs.get("seed") for t in trials if t.state == TrialState.FAIL}
    added = []
    for seed in setup.seeds:
        if seed.label in present or not (created or seed.label in failed):
            continue
        choice = nearest(setup.space, seed.choice) if seed.trap else seed.choice
        attrs: dict[str, object] = {"seed": seed.label, "why": seed.why}
        if seed.trap:
            attrs["trap"] = seed.label
        study.enqueue_trial(dict(project(setup.space, choice, setup.cpus)), user_attrs=attrs)
        added.append(seed.label)
    return added


@dataclass
class Signals:
    terminated: bool = False


@contextmanager
def sigterm_as_interrupt() -> Iterator[Signals]:
    """SIGTERM stops the study like Ctrl-C: the trial is failed and its workers are stopped."""
    seen = Signals()

    def handler(signum: int, frame: FrameType | None) -> None:
        seen.terminated = True
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield seen
        return
    try:
        yield seen
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_search(
    setup: Setup,
    storage: Any,
    *,
    parallel: bool,
    on_start: Callable[[int, str], None] | None = None,
    on_interval: Callable[[int, float, Any], None] | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    before_trials: Callable[[optuna.Study, bool], list[int]] | None = None,
) -> SearchOutcome:
    """Open/resume the study and run this process' share of trials."""
    from tuner.bench.errors import BenchError

    o = setup.options
    study, created = open_study(
        storage,
        setup.study_name,
        setup.goal.directions,
        study_meta(setup),
        sampler=make_sampler(o.seed, parallel),
        pruner=make_pruner(o.trial_seconds) if o.prune else optuna.pruners.NopPruner(),
    )
    outcome = SearchOutcome(study, Plan(setup.goal, o.trial_seconds, o.warmup), created)
    if before_trials is not None:
        outcome.dead = before_trials(study, created)
    finished = {"n": 0}

    def count(study: optuna.Study, trial: FrozenTrial) -> None:
        finished["n"] += 1
        if on_trial is not None:
            on_trial(study, trial)

    trials = o.trials
    if trials is None and o.timeout is None:
        trials = DEFAULT_TRIALS
    try:  # Ctrl-C (and SIGTERM, see sigterm_as_interrupt) end the search, not the command
        outcome.plan = Plan(
            setup.goal, o.trial_seconds, o.warmup, open_rate(setup, study), seed=o.seed or 0
        )
        enqueue_baselines(setup, study, outcome.created)
        enqueue_seeds(setup, study, outcome.created)
        objective = TrialObjective(
            space=setup.space,
            goal=setup.goal,
            workload=setup.workload,
            plan=outcome.plan,
            broker=setup.broker,
            baselines=setup.baselines,
            make_config=lambda choice, label: worker_config(choice, label, setup.trial_extra),
            references={s.label: s.choice for s in setup.seeds if s.trap},
            prune=o.prune and not setup.goal.multi,
            on_interval=on_interval,
            on_start=on_start,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            study.optimize(
                objective,
                n_trials=trials,
                timeout=o.timeout,
                catch=(BenchError, ValueError, OSError),
                callbacks=[count],
            )
    except KeyboardInterrupt:
        outcome.interrupted = True
    outcome.ran = finished["n"]
    return outcome
