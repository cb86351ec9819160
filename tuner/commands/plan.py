"""``celery-tune plan``: how many workers, of what size, for a rate and a p99 goal.

Characterise the workload with live bench runs (or load a saved model), fit the USL, simulate
candidate fleets, recommend the cheapest that meets the SLO with headroom, optionally validate
against live runs, and write the autoscaler manifests, the model and an HTML report.

Exit codes: 0 a recommendation (verified, or not validated), 1 no fleet meets the SLO or the
validation missed its stated accuracy, 2 bad input or a run that could not go on, 130 Ctrl-C,
143 SIGTERM.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO, cast

from tuner.bench.errors import BenchError


@dataclass(frozen=True)
class PlanOptions:
    rate: float
    p99_slo: float
    workload: str = "cpu"
    app: str | None = None
    task: str | None = None
    args_file: str | None = None
    kind: str = "cpu"
    scale: float = 1.0
    config: str | None = None
    broker: str | None = None
    instance_cpus: float | None = None
    instance_price: float | None = None
    nodes_now: int | None = None
    headroom: float = 0.2
    max_nodes: int = 64
    validate: bool = False
    out_dir: str | None = None
    model: str | None = None
    as_json: bool = False
    cpus: float | None = None
    max_concurrency: int | None = None
    point_seconds: float = 3.0
    validate_seconds: float = 8.0
    broker_messages: int = 1000
    min_rate: float = 0.0
    max_rate: float | None = None
    queue_name: str = "celery"
    worker_app: str = "proj"
    seed: int = 0
    timeout: float | None = 180.0
    progress: bool | None = None


def plan(*, out: TextIO | None = None, err: TextIO | None = None, **options: Any) -> int:
    """Run the plan; ``options`` are the fields of :class:`PlanOptions`."""
    from tuner.commands.bench import run_live

    out = out or sys.stdout
    err = err or sys.stderr
    return run_live(lambda: _plan(PlanOptions(**options), out, err), err)


def _check(o: PlanOptions) -> None:
    if not o.rate > 0:
        raise BenchError(f"--rate must be > 0 tasks/s, got {o.rate}")
    if not o.p99_slo > 0:
        raise BenchError(f"--p99-slo must be > 0 seconds, got {o.p99_slo}")
    if o.headroom < 0:
        raise BenchError(f"--headroom must be >= 0, got {o.headroom}")
    if o.instance_cpus is not None and o.instance_cpus <= 0:
        raise BenchError(f"--instance-cpus must be > 0, got {o.instance_cpus}")
    if o.instance_price is not None and o.instance_price < 0:
        raise BenchError(f"--instance-price must be >= 0, got {o.instance_price}")
    if o.nodes_now is not None and (o.nodes_now < 1 or o.config is None):
        raise BenchError("--nodes-now N (>= 1) describes the current fleet together with --config")
    if o.max_nodes < 1:
        raise BenchError(f"--max-nodes must be >= 1, got {o.max_nodes}")
    if o.point_seconds <= 0 or o.validate_seconds <= 0:
        raise BenchError("--point-seconds and --validate-seconds must be > 0")


def base_config(o: PlanOptions, scheme: str, err: TextIO) -> Any:
    """The worker settings planned for: --config's, or prefetch 1 + late acks (and
    --disable-prefetch on Redis with Celery 5.6+), which keep the queue visible to an autoscaler."""
    from tuner.bench.config import WorkerConfig, config_from_file

    if o.config is not None:
        cfg, skipped = config_from_file(o.config)
        if skipped:
            err.write(f"note: {o.config}: not used by the plan: {', '.join(sorted(skipped))}\n")
        return cfg
    return WorkerConfig(
        label="planned",
        prefetch_multiplier=1,
        acks_late=True,
        reject_on_worker_lost=True,
        disable_prefetch=scheme.startswith("redis") and _celery_at_least(5, 6),
    )


def _celery_at_least(major: int, minor: int) -> bool:
    import celery

    parts = celery.__version__.split(".")
    return (int(parts[0]), int(parts[1])) >= (major, minor)


def _plan(o: PlanOptions, out: TextIO, err: TextIO) -> int:
    from tuner.bench.broker import Broker, check_reachable
    from tuner.bench.runner import available_cpus
    from tuner.bench.workloads import resolve
    from tuner.plan import output
    from tuner.plan.characterise import Plan, characterise
    from tuner.plan.predict import Settings, Target, evaluate, recommend

    _check(o)
    broker = Broker(o.broker).validate()
    base = base_config(o, broker.scheme, err)
    settings = Settings.of(base.as_dict())
    target = Target(o.rate, o.p99_slo, o.headroom, o.instance_cpus, o.instance_price)
    note = _note(err, o.progress)
    work = None
    if o.model is not None:
        model = _load_model(o.model)
    else:
        check_reachable(broker)
        work = resolve(
            o.workload, app=o.app, task=o.task, args_file=o.args_file,
            kind=cast(Any, o.kind), scale=o.scale,
        )  # fmt: skip
        cpus = o.cpus if o.cpus is not None else available_cpus()
        top = o.max_concurrency or max(3, round(2 * cpus))
        how = Plan(
            max_concurrency=top,
            seconds=o.point_seconds,
            low_load_seconds=max(o.point_seconds, 2.0),
            broker_messages=o.broker_messages,
            timeout=o.timeout,
        )
        note(f"characterising {work.name}: concurrency 1..{top}, 1-2 nodes, low load, broker")
        model = characterise(base, work, broker, cpus=cpus, plan=how, note=note)
    note("simulating candidate fleets")
    rec = recommend(model, settings, target, max_nodes=o.max_nodes)
    current = None
    if o.nodes_now is not None:
        c_now = base.concurrency or int(o.instance_cpus or model.cpus)
        current = evaluate(model, settings, target, o.nodes_now, c_now)
    planned: dict[str, object] = {}
    if rec.best is not None:
        chosen = replace(base, concurrency=rec.best.concurrency)
        planned = {
            "worker_concurrency": chosen.concurrency,
            "worker_prefetch_multiplier": chosen.prefetch_multiplier,
            "task_acks_late": chosen.acks_late,
            **chosen.settings(),
        }
    outcome = output.Outcome(target, model, rec, planned, current)
    if o.validate:
        outcome = _validate(o, outcome, base, settings, broker, work, note)
    outcome = _write(o, outcome, base)
    if o.as_json:
        out.write(json.dumps(output.document(outcome), indent=2) + "\n")
    else:
        from rich.console import Console

        console = Console(file=out)
        if not console.is_terminal:
            console = Console(file=out, width=140)
        output.render(outcome, console)
    if rec.best is None or outcome.verified is False:
        return 1
    return 0


def _validate(
    o: PlanOptions, outcome: Any, base: Any, settings: Any, broker: Any, work: Any, note: Any
) -> Any:
    from tuner.bench.workloads import resolve
    from tuner.plan import validate

    if work is None:  # --model: the workload still has to run
        work = resolve(
            o.workload, app=o.app, task=o.task, args_file=o.args_file,
            kind=cast(Any, o.kind), scale=o.scale,
        )  # fmt: skip
    model = outcome.model
    pts = validate.points(
        model, settings, outcome.recommendation.best, instance_cpus=o.instance_cpus
    )
    note(f"validating {len(pts)} points with live runs ({o.validate_seconds:g} s each)")
    checks = validate.run(
        model, settings, base, work, broker, pts, cpus=model.cpus, seconds=o.validate_seconds,
        seed=o.seed, timeout=o.timeout, note=note,
    )  # fmt: skip
    return replace(outcome, validation=tuple(checks), validated=True)


def _write(o: PlanOptions, outcome: Any, base: Any) -> Any:
    from tuner.plan import output

    if o.out_dir is None:
        return outcome
    folder = Path(o.out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"--out {folder}: cannot create ({exc.strerror})") from None
    files: dict[str, str] = {}
    (folder / "model.json").write_text(json.dumps(outcome.model.as_dict(), indent=1) + "\n")
    files["model"] = str(folder / "model.json")
    best = outcome.recommendation.best
    if best is not None:
        from tuner.plan import autoscale

        scaler = autoscale.design(
            outcome.model, best, outcome.target, outcome.settings, broker_url=o.broker,
            queue=o.queue_name, worker_app=o.worker_app, min_rate=o.min_rate,
            max_rate=o.max_rate,
        )  # fmt: skip
        run_p99 = float(outcome.model.service_summary()["p99"])
        files.update(autoscale.write(scaler, folder, run_p99))
        outcome = replace(outcome, autoscaler=scaler.as_dict())
    files["plan"] = str(folder / "plan.json")
    files["report"] = str(folder / "report.html")
    outcome = replace(outcome, files=files)
    (folder / "plan.json").write_text(json.dumps(output.document(outcome), indent=2) + "\n")
    from tuner.plan.report import render_html

    (folder / "report.html").write_text(render_html(outcome), encoding="utf-8")
    return outcome


def _load_model(path: str) -> Any:
    from tuner.plan.characterise import Model

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BenchError(f"{p}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{p}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    try:
        return Model.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"{p}:1: not a plan model ({type(exc).__name__}: {exc})") from None


def _note(err: TextIO, enabled: bool | None) -> Any:
    def note(msg: str) -> None:
        if enabled is not False:
            err.write(f"plan: {msg}\n")
            err.flush()

    return note
