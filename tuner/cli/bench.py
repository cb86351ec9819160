"""Click wiring for ``celery-tune bench`` (options only; the work is in tuner.commands.bench)."""

from __future__ import annotations

from typing import Any

import click

from tuner.cli.options import (
    app_options,
    broker_option,
    cpus_option,
    scale_option,
    warmup_option,
    workload_option,
)

CONFIG_OPTIONS = {"--config": "config", "--set": "set", "--baseline": "baseline"}
BASELINE_NAMES = ("celery-default", "docs-long-tasks", "blog-recipe")


def config_order(args: list[str]) -> list[tuple[str, str]]:
    """The configuration options in the order given (click keeps each option's values apart)."""
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        name, eq, value = arg.partition("=")
        if name in CONFIG_OPTIONS:
            if eq:
                found.append((CONFIG_OPTIONS[name], value))
            elif i + 1 < len(args):
                found.append((CONFIG_OPTIONS[name], args[i + 1]))
                i += 1
        i += 1
    return found


class BenchCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["bench.configs"] = config_order(list(args))
        return super().parse_args(ctx, args)


@click.command(cls=BenchCommand, context_settings={"help_option_names": ["-h", "--help"]})
@workload_option()
@app_options()
@scale_option()
@broker_option()
@click.option("--rate", type=float, help="Open loop: tasks per second.")
@click.option("--load", type=float, help="Open loop: fraction of capacity, e.g. 0.7 [default].")
@click.option("--saturate", is_flag=True, help="Closed loop keeping every child busy.")
@click.option(
    "--arrivals", type=click.Choice(["poisson", "constant"]), default="poisson", show_default=True
)
@warmup_option(2.0)
@click.option("--duration", type=float, default=10.0, show_default=True, help="Measured seconds.")
@click.option("--tasks", type=int, help="Measure this many tasks instead of --duration.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--config", "config_files", multiple=True, help="A config file (repeatable).")
@click.option("--set", "set_values", multiple=True, help="key=value[,key=value] (repeatable).")
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    type=click.Choice(BASELINE_NAMES),
    help="A named baseline (repeatable).",
)
@click.option("--repeat", type=int, default=1, show_default=True, help="Interleaved repeats.")
@click.option("--nodes", type=int, default=1, show_default=True, help="Worker nodes per config.")
@cpus_option()
@click.option("--timeout", type=float, help="Give up on a run after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--wide", is_flag=True, help="Every column (the default table fits 80 columns).")
@click.option("--progress/--no-progress", default=None, help="Progress bar [on a terminal].")
@click.pass_context
def bench(ctx: click.Context, /, **options: Any) -> int:
    """Run real Celery workers with each configuration against a live workload and measure
    throughput, latency (from scheduled send time), CPU, memory and lost tasks.

    Configurations come from --config, --set and --baseline, in the order given; none means
    Celery's defaults.  Ratios are against the first.  Exit codes: 0 done, 1 tasks lost,
    2 error, 130 interrupted.
    """
    from tuner.commands.bench import bench as run_bench

    for key in ("config_files", "set_values", "baselines"):
        options.pop(key)
    return run_bench(configs=ctx.meta.get("bench.configs", []), **options)
