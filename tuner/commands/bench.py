"""``celery-tune bench``: measure worker configurations side by side on a live workload.

Exit codes: 0 done, 1 tasks were lost (and the workload does not fail on purpose), 2 bad input or
a run that could not go on (broker unreachable, worker failed to start, timeout), 130 Ctrl-C,
143 SIGTERM.  Every worker is stopped on every path.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, TextIO, cast

from tuner.bench.errors import BenchError, Terminated
from tuner.commands import error_line

Progress = Callable[[str, float], None]
ConfigSource = tuple[str, str]  # ("config", path) | ("set", "k=v,...") | ("baseline", name)


def build_configs(sources: Sequence[ConfigSource], err: TextIO) -> list[Any]:
    """WorkerConfigs in command-line order; none given means Celery's defaults."""
    from tuner.bench.config import (
        baseline,
        config_from_file,
        parse_set,
        physical_cores,
        unique_labels,
    )

    configs = []
    cores: int | None = None
    for kind, value in sources:
        if kind == "config":
            cfg, skipped = config_from_file(value)
            if skipped:
                err.write(f"note: {value}: not used by the bench: {', '.join(sorted(skipped))}\n")
            configs.append(cfg)
        elif kind == "set":
            configs.append(parse_set(value))
        elif kind == "baseline":
            cores = cores if cores is not None else physical_cores()
            configs.append(baseline(value, cores))
        else:  # pragma: no cover - the CLI only produces the three kinds
            raise BenchError(f"unknown configuration source {kind!r}")
    if not configs:
        configs.append(baseline("celery-default", 1))
    return unique_labels(configs)


@contextmanager
def sigterm_as_exception() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while running, so ``finally`` blocks stop workers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def progress_bar(err: TextIO, enabled: bool | None) -> Iterator[Progress | None]:
    """A rich progress bar on ``err`` (only on a terminal unless ``enabled`` is True)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=err)
    if enabled is False or (enabled is None and not console.is_terminal):
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with bar:
        task = bar.add_task("starting", total=1.0)

        def update(description: str, fraction: float) -> None:
            bar.update(task, description=description, completed=fraction)

        yield update


@dataclass(frozen=True)
class BenchOptions:
    """What the command line asked for (see :func:`bench`)."""

    workload: str = "cpu"
    app: str | None = None
    task: str | None = None
    args_file: str | None = None
    kind: str = "cpu"
    scale: float = 1.0
    broker: str | None = None
    rate: float | None = None
    load: float | None = None
    saturate: bool = False
    arrivals: str = "poisson"
    warmup: float = 2.0
    duration: float | None = 10.0
    tasks: int | None = None
    seed: int = 0
    configs: Sequence[ConfigSource] = ()
    repeat: int = 1
    nodes: int = 1
    cpus: float | None = None
    timeout: float | None = None
    as_json: bool = False
    wide: bool = False
    progress: bool | None = None


def bench(*, out: TextIO | None = None, err: TextIO | None = None, **options: Any) -> int:
    """Run the benchmark; ``options`` are the fields of :class:`BenchOptions`."""
    out = out or sys.stdout
    err = err or sys.stderr
    opts = BenchOptions(**options)
    return run_live(lambda: _bench(opts, out, err), err)


def run_live(body: Callable[[], int], err: TextIO) -> int:
    """Run a command that starts workers: a :class:`BenchError` is one error line (exit 2), and
    Ctrl-C or SIGTERM say the workers were stopped (130, 143); the body's ``finally`` blocks stop
    them."""
    try:
        with sigterm_as_exception():
            return body()
    except BenchError as exc:
        err.write(error_line(exc))
        return 2
    except KeyboardInterrupt:
        err.write("interrupted; all workers stopped\n")
        return 130
    except Terminated:
        err.write("terminated; all workers stopped\n")
        return 143


def _check(o: BenchOptions) -> None:
    from tuner.bench.workloads import KINDS

    if o.kind not in KINDS:
        raise BenchError(f"--kind must be one of {', '.join(KINDS)}")
    if o.nodes < 1:
        raise BenchError(f"--nodes must be >= 1, got {o.nodes}")
    if o.repeat < 1:
        raise BenchError(f"--repeat must be >= 1, got {o.repeat}")
    if o.cpus is not None and o.cpus <= 0:
        raise BenchError(f"--cpus must be > 0, got {o.cpus}")


def _bench(o: BenchOptions, out: TextIO, err: TextIO) -> int:
    from tuner.bench import report
    from tuner.bench.broker import Broker, check_reachable
    from tuner.bench.load import LoadSpec
    from tuner.bench.runner import available_cpus, describe_env, measure_capacity, run_many
    from tuner.bench.workloads import resolve

    _check(o)
    configs = build_configs(o.configs, err)
    spec = LoadSpec(
        mode="saturate" if o.saturate else "open",
        rate=o.rate,
        load=o.load,
        arrivals=cast(Any, o.arrivals),
        warmup=o.warmup,
        duration=o.duration,
        tasks=o.tasks,
        seed=o.seed,
    ).validate()
    broker = Broker(o.broker).validate()
    check_reachable(broker)
    work = resolve(
        o.workload,
        app=o.app,
        task=o.task,
        args_file=o.args_file,
        kind=cast(Any, o.kind),
        scale=o.scale,
    )
    if work.app:
        from tuner.bench.appcheck import check_app

        check_app(work.app, "--app" if o.app else f"{o.workload}: app")
    cpus = o.cpus if o.cpus is not None else available_cpus()
    with progress_bar(err, o.progress) as update:
        capacity = None
        if spec.needs_capacity:
            capacity = measure_capacity(
                configs[0], work, broker, nodes=o.nodes, cpus=cpus, timeout=o.timeout,
                progress=_prefixed(update, "measuring capacity"),
            )  # fmt: skip
        results = run_many(
            configs,
            work,
            spec,
            broker,
            repeat=o.repeat,
            nodes=o.nodes,
            cpus=cpus,
            progress=update,
            capacity=capacity,
            timeout=o.timeout,
        )
    load_info = results[0].load.describe()
    if capacity is not None:
        load_info.update(capacity=capacity.rate, capacity_source=capacity.source)
    env = describe_env(broker, cpus)
    summary = report.summarize(results)
    if o.as_json:
        doc = report.document(results, env, workload=work.describe(), load=load_info)
        out.write(json.dumps(doc, indent=2) + "\n")
    else:
        from rich.console import Console

        console = Console(file=out)
        if not console.is_terminal:
            console = Console(file=out, width=160)
        title = _title(work.name, load_info, o.nodes, env)
        report.render(summary, console, title=title, wide=o.wide)
        if o.repeat > 1:
            console.print(
                f"medians of {o.repeat} interleaved runs; "
                + (
                    "min-max in brackets; ratios against the first config"
                    if o.wide
                    else "--wide: spreads, ratios and the other columns"
                )
            )
    lost = sum(r.metrics.tasks_lost for r in results)
    if lost and not work.expect_failures:
        err.write(error_line(f"{lost} task(s) lost (sent but never finished)"))
        return 1
    return 0


def _prefixed(
    update: Callable[[str, float], None] | None, prefix: str
) -> Callable[[str, float], None] | None:
    if update is None:
        return None
    report = update

    def prefixed(phase: str, fraction: float) -> None:
        report(f"{prefix}: {phase}", 0.0)

    return prefixed


def _title(workload: str, load: dict[str, object], nodes: int, env: dict[str, object]) -> str:
    if load["mode"] == "saturate":
        how = "saturating"
    else:
        rate = load.get("rate")
        how = f"open loop {load['arrivals']} {rate:.1f} tasks/s" if isinstance(rate, float) else ""
        if load.get("load") is not None:
            how += f" ({float(str(load['load'])):.0%} of capacity)"
    window = f"{load['tasks']} tasks" if load.get("tasks") else f"{load['duration']:g} s"
    return (
        f"{workload}, {how}, {window} after {load['warmup']:g} s warm-up, {nodes} node(s), "
        f"{env['cpus']:g} CPUs, broker {env['broker']}"
    )
