"""Click wiring for ``celery-tune profile`` (options only; work is in tuner.commands.profile)."""

from __future__ import annotations

from pathlib import Path

import click

from tuner.cli.options import (
    PRESET_NAMES,
    broker_option,
    scale_option,
    warmup_option,
    workload_option,
)
from tuner.commands.profile import MAX_DURATION, MAX_RATE, Options
from tuner.commands.profile import profile as run_profile


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--pid", type=int, help="Main process of a running worker (children found too).")
@workload_option(
    default=None, help=f"Launch a worker on this workload ({', '.join(PRESET_NAMES)})."
)
@click.option("--pool", "-P", default="prefork", show_default=True, help="With --workload.")
@click.option("--concurrency", "-c", type=int, help="With --workload [default: CPUs].")
@click.option("--set", "set_values", multiple=True, help="key=value[,key=value] (repeatable).")
@broker_option("With --workload: redis://... or amqp://... (default: embedded).")
@scale_option()
@click.option(
    "--duration",
    type=click.IntRange(1, MAX_DURATION),
    default=10,
    show_default=True,
    help="Seconds to sample.",
)
@click.option(
    "--rate",
    type=click.IntRange(1, MAX_RATE),
    default=50,
    show_default=True,
    help="Samples per second, per process.",
)
@warmup_option(2.0)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
@click.option(
    "--speedscope",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a flamegraph for https://www.speedscope.app.",
)
def profile(
    pid: int | None,
    workload: str | None,
    pool: str,
    concurrency: int | None,
    set_values: tuple[str, ...],
    broker: str | None,
    scale: float,
    duration: int,
    rate: int,
    warmup: float,
    as_json: bool,
    speedscope: Path | None,
) -> int:
    """Sample a Celery worker with py-spy: GIL held, GIL wait and idle time per process.

    Exit codes: 0 done, 2 bad input or py-spy cannot attach (the message names the fix).
    """
    options = Options(
        pid=pid,
        workload=workload,
        pool=pool,
        concurrency=concurrency,
        sets=set_values,
        broker=broker,
        scale=scale,
        duration=duration,
        rate=rate,
        warmup=warmup,
        as_json=as_json,
        speedscope=speedscope,
    )
    return run_profile(options)
