"""Click wiring for ``celery-tune optimize``."""

from __future__ import annotations

import click

from tuner.cli.options import (
    app_options,
    broker_option,
    cpus_option,
    warmup_option,
    workload_option,
)
from tuner.commands.optimize import OptimizeOptions
from tuner.commands.optimize import optimize as run_optimize
from tuner.optimize.confirm import DEFAULT_ROUNDS
from tuner.optimize.setup import DEFAULT_OUT, DEFAULT_TRIAL_SECONDS, DEFAULT_WARMUP


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@workload_option()
@app_options()
@broker_option("redis:// or amqp:// URL (default: an embedded broker).")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="Your current config (module, settings or command line), read statically: a baseline.",
)
@click.option("--space", type=click.Path(dir_okay=False), help="A TOML search space (replaces).")
@click.option("--fixed", multiple=True, metavar="KEY=VALUE", help="Pin a setting (repeatable).")
@click.option(
    "--objective",
    type=click.Choice(["throughput", "p99", "efficiency"]),
    help="One objective [throughput, within --p99-slo when given].",
)
@click.option(
    "--objectives", help="Several objectives, e.g. throughput,p99 or throughput,rss (Pareto front)."
)
@click.option("--p99-slo", type=float, metavar="SECONDS", help="Constraint: p99 at most this.")
@click.option("--max-rss", type=float, metavar="MB", help="Constraint: workers' peak RSS at most.")
@click.option("--load", type=float, help="Latency runs: offered load, x defaults' capacity [0.7].")
@click.option("--rate", type=float, help="...or an absolute offered rate, tasks/s.")
@click.option("--trials", type=int, help="Trials for this run [10 unless --timeout].")
@click.option("--timeout", type=float, metavar="SECONDS", help="Stop starting trials after this.")
@click.option(
    "--trial-seconds", type=float, default=DEFAULT_TRIAL_SECONDS, show_default=True,
    help="Measured seconds per run.",
)  # fmt: skip
@warmup_option(DEFAULT_WARMUP)
@click.option(
    "--confirm",
    type=int,
    default=DEFAULT_ROUNDS,
    show_default=True,
    help="Most confirmation rounds (paired t test; stops halfway once clear; fewer rounds "
    "detect only large gains).",
)
@click.option("--storage", help="Optuna RDB URL, e.g. postgresql://... [SQLite in --out].")
@click.option("--study-name", help="Resume or share this study [workload-objectives].")
@click.option("--out", default=DEFAULT_OUT, show_default=True, type=click.Path(file_okay=False))
@click.option("--seed", type=int, help="Sampler seed (reproducible single-process runs).")
@click.option("--no-prune", is_flag=True, help="Never stop a trial early.")
@click.option(
    "--probe/--no-probe",
    default=True,
    show_default=True,
    help="CPU work, default space: profile the task on threads first (about 6 s); rule threads "
    "out if it holds the GIL.",
)
@click.option(
    "--seeds/--no-seeds",
    default=True,
    show_default=True,
    help="Enqueue expert seeds after the baselines (prefork c=CPUs, prefetch 1 + late acks, ...).",
)
@cpus_option("CPUs of the target (default: detected here: affinity and cgroup quota).")
@click.option("--worker-app", help="-A value in the emitted command line [proj].")
def optimize(
    workload: str,
    app: str | None,
    task: str | None,
    args_file: str | None,
    kind: str,
    broker: str | None,
    config: str | None,
    space: str | None,
    fixed: tuple[str, ...],
    objective: str | None,
    objectives: str | None,
    p99_slo: float | None,
    max_rss: float | None,
    load: float | None,
    rate: float | None,
    trials: int | None,
    timeout: float | None,
    trial_seconds: float,
    warmup: float,
    confirm: int,
    storage: str | None,
    study_name: str | None,
    out: str,
    seed: int | None,
    no_prune: bool,
    probe: bool,
    seeds: bool,
    cpus: float | None,
    worker_app: str | None,
) -> int:
    """Search for a better worker configuration with live trials, and write it with evidence.

    Exit codes: 0 written, 1 nothing recommended (no feasible or confirmed config), 2 bad input,
    130 interrupted (rerun to resume).
    """
    options = OptimizeOptions(
        workload=workload,
        app=app,
        task=task,
        args_file=args_file,
        kind=kind,
        broker=broker,
        config=config,
        space=space,
        fixed=fixed,
        objective=objective,
        objectives=objectives,
        p99_slo=p99_slo,
        max_rss=max_rss,
        load=load,
        rate=rate,
        trials=trials,
        timeout=timeout,
        trial_seconds=trial_seconds,
        warmup=warmup,
        confirm=confirm,
        storage=storage,
        study_name=study_name,
        out=out,
        seed=seed,
        prune=not no_prune,
        probe=probe,
        seeds=seeds,
        cpus=cpus,
        command_app=worker_app,
    )
    return run_optimize(options)
