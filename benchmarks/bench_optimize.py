"""Evidence for ``celery-tune optimize`` (issue #11): its picks against an exhaustive grid and the
baselines, each re-measured side by side.

Three cases, each a workload with its own objective:

* ``cpu-heavy-tail``: p99 at 60% load (``--objective p99 --load 0.6``: the open-loop rate is 0.6 x
  the capacity of Celery's defaults, see ``open_rate`` in tuner/optimize/search.py);
* ``native``: throughput under a ``--max-rss`` that binds: 75% of the peak RSS of Celery's defaults
  (prefork, one child per CPU) measured in the same run, so threads or fewer children must win;
* ``mixed``: throughput.

For each case, in one run:

1. ``celery-tune optimize`` as a user runs it, once per seed (``--seeds``), with a budget of a
   quarter of the grid's size (its baseline and seed trials included), its own default space, its
   GIL probe and expert seeds on (when this build has them), its confirmation as a user gets it
   (up to 8 rounds, stopping early once decided; ``--confirm`` caps it);
2. an exhaustive grid over a reduced space (Optuna's BruteForceSampler), measured once: the oracle
   (its best feasible point);
3. one interleaved comparison, ``--rounds`` times (order reversed every other round): Celery's
   defaults, the blog recipe, the docs' long-task recipe, the oracle's best and each seed's pick.

Goals, per seed, each printed as met/missed with its distance:

1. the pick is within 5% of the oracle on the objective, with at most 25% of the grid's trials;
2. it is never worse than Celery's defaults beyond the noise (the paired t interval of
   ``optimize``'s confirmation, tuner/optimize/confirm.py and stats.py);
3. it avoids the blog recipe's trap: the pick is not the blog recipe, and report.json says why
   (trials tagged ``trap``, its ``seeds``/``ruled_out``/``fidelity`` keys; read defensively).

It also reports what the GIL probe and the expert seeds saved: the grid points they ruled out and
the trial at which each pick was first found (baseline, seed or TPE).

    python benchmarks/bench_optimize.py                  # <= 57 min on 2 CPUs (estimate printed)
    python benchmarks/bench_optimize.py --quick          # ~10 minutes
    python benchmarks/bench_optimize.py --workloads native --seeds 0 --grid tiny.toml --seconds 2

Writes ``docs/optimize-benchmark.md`` (``-quick.md`` with ``--quick``), ``.json`` (every figure)
and an SVG plot.  Run it on a quiet machine: the table notes every case whose 1-minute load
average exceeded 1.5.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import shlex
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimize_evidence import (  # noqa: E402 (after sys.path)
    ORACLE,
    SHARE,
    config_key,
    describe_config,
    first_found,
    goal_not_worse,
    goal_quality,
    goal_trap,
    markdown,
    origin,
    savings,
    summarise,
    svg_bars,
    trap_explanation,
)

from tuner.optimize.confirm import DEFAULT_ROUNDS  # noqa: E402 (after sys.path)

if TYPE_CHECKING:
    from tuner.bench.broker import Broker
    from tuner.bench.config import WorkerConfig
    from tuner.optimize.objectives import Goal

BASELINES = ("celery-default", "blog-recipe", "docs-long-tasks")
RUN_OVERHEAD = 5.0  # s per run beyond warm-up + measurement (start, drain, stop the workers)
PROBE_COST = 4 + 1.5 + RUN_OVERHEAD  # the GIL probe: tuner/optimize/probe.py's defaults


@dataclass(frozen=True)
class Case:
    """One workload, its objective, its constraint and its reduced grid."""

    workload: str
    objective: str  # "throughput" or "p99"
    grid: str
    quick_grid: str
    load: float | None = None  # p99: offered load, a fraction of Celery defaults' capacity
    rss_share: float | None = None  # --max-rss = this x the defaults' peak RSS (same run)

    def describe(self) -> str:
        if self.objective == "p99":
            return f"p99 at {self.load:.0%} of Celery defaults' capacity"
        if self.rss_share is not None:
            return f"throughput under --max-rss = {self.rss_share:.0%} of Celery defaults' peak RSS"
        return "throughput"


CASES: dict[str, Case] = {
    "cpu-heavy-tail": Case(
        "cpu-heavy-tail",
        "p99",
        load=0.6,
        grid='pool = ["prefork", "threads"]\nconcurrency = [2, 3, 4]\n'
        "prefetch_multiplier = [1, 4]\nacks_late = [false, true]\n",
        quick_grid='pool = ["prefork", "threads"]\nconcurrency = [2, 4]\n'
        "prefetch_multiplier = [1, 4]\nacks_late = false\n",
    ),
    "native": Case(
        "native",
        "throughput",
        rss_share=0.75,
        grid='pool = ["prefork", "threads"]\nconcurrency = [1, 2, 3, 4, 6, 8]\n'
        "prefetch_multiplier = [1, 4]\nacks_late = false\n",
        quick_grid='pool = ["prefork", "threads"]\nconcurrency = [1, 2, 4, 8]\n'
        "prefetch_multiplier = 4\nacks_late = false\n",
    ),
    "mixed": Case(
        "mixed",
        "throughput",
        grid='pool = ["prefork", "threads"]\nconcurrency = [2, 3, 4, 8, 12, 16]\n'
        "prefetch_multiplier = [1, 4]\nacks_late = false\n",
        quick_grid='pool = ["prefork", "threads"]\nconcurrency = [2, 4, 8, 16]\n'
        "prefetch_multiplier = 4\nacks_late = false\n",
    ),
}


@dataclass(frozen=True)
class Settings:
    quick: bool
    seconds: float
    warmup: float
    rounds: int
    confirm: int
    seeds: tuple[int, ...]
    grid_file: str | None = None  # overrides every case's grid (smoke tests)

    def grid_text(self, case: Case) -> str:
        if self.grid_file:
            return Path(self.grid_file).read_text()
        return case.quick_grid if self.quick else case.grid

    def grid_size(self, case: Case) -> int:
        from tuner.optimize.space import grid_size
        from tuner.optimize.spacefile import parse_space

        return int(grid_size(parse_space(self.grid_text(case))))

    def budget(self, case: Case) -> int:
        return max(1, int(self.grid_size(case) * SHARE))

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def estimate(case: Case, s: Settings) -> float:
    """Seconds the case should take on a quiet machine (runs x their length, plus the probe)."""
    from tuner.bench.workloads import preset

    run = s.warmup + s.seconds + RUN_OVERHEAD
    seeds = len(s.seeds)
    runs = s.grid_size(case) + seeds * (s.budget(case) + 2 * s.confirm)
    runs += s.rounds * (len(BASELINES) + 1 + seeds)
    runs += 1 if case.rss_share is not None else 0
    probe = seeds * PROBE_COST if preset(case.workload).kind == "cpu" else 0.0
    return runs * run + probe


# -- the product: optimize, as a user runs it ---------------------------------------------------


class Tee(io.StringIO):
    """Keeps what optimize writes and shows it, indented, as it comes."""

    def write(self, text: str) -> int:
        sys.stderr.write("".join(f"    {line}" for line in text.splitlines(keepends=True)))
        return super().write(text)


def optimize_options(case: Case, s: Settings, seed: int, max_rss: float | None, out: Path) -> Any:
    """OptimizeOptions for one seed; ``probe``/``seeds`` are passed when this build has them."""
    from tuner.commands.optimize import OptimizeOptions

    kwargs: dict[str, Any] = {
        "workload": case.workload,
        "objective": case.objective,
        "load": case.load,
        "max_rss": max_rss,
        "trials": s.budget(case),
        "confirm": s.confirm,
        "trial_seconds": s.seconds,
        "warmup": s.warmup,
        "out": str(out),
        "study_name": f"bench-{case.workload}-seed{seed}",
        "seed": seed,
        "progress": False,
    }
    names = {f.name for f in dataclasses.fields(OptimizeOptions)}
    for flag in ("probe", "seeds"):
        if flag in names:
            kwargs[flag] = True
    return OptimizeOptions(**kwargs)


def study_trials(out: Path, name: str) -> list[dict[str, Any]]:
    """Every trial of the seed's study, from its storage, with user attributes (tags)."""
    import optuna

    from tuner.optimize.storages import default_url

    try:
        study = optuna.load_study(study_name=name, storage=default_url(out))
    except Exception as exc:  # the report still says a lot; the tags are a bonus
        log(f"  could not read the study back ({exc}); trial origins unknown")
        return []
    return [
        {
            "number": t.number,
            "state": t.state.name,
            "values": t.values,
            "user_attrs": {k: v for k, v in t.user_attrs.items() if k not in ("runs",)},
            "enqueued": "fixed_params" in t.system_attrs,
        }
        for t in study.get_trials(deepcopy=False)
    ]


def run_optimize(
    case: Case, s: Settings, seed: int, max_rss: float | None, work: Path
) -> dict[str, Any]:
    """One seed of the product; its report, its pick (None if nothing was recommended)."""
    from tuner.commands.optimize import optimize

    out = work / case.workload / f"seed{seed}"
    options = optimize_options(case, s, seed, max_rss, out)
    stdout, stderr = io.StringIO(), Tee()
    started = time.monotonic()
    code = optimize(options, out=stdout, err=stderr)
    seconds = time.monotonic() - started
    if code not in (0, 1):
        raise SystemExit(f"optimize failed on {case.workload} (exit {code}):\n{stderr.getvalue()}")
    report_path = out / "report.json"
    report: dict[str, Any] = json.loads(report_path.read_text()) if report_path.exists() else {}
    trials = study_trials(out, options.study_name)
    pick = report.get("pick") or None
    config = None
    found: dict[str, Any] = {"trial": None, "origin": "nothing recommended"}
    if pick:
        from tuner.optimize.baselines import worker_config

        config = worker_config(pick["choice"], f"pick seed {seed}").as_dict()
        found = first_found(trials, config)
    return {
        "seed": seed,
        "exit": code,
        "seconds": seconds,
        "stdout": stdout.getvalue(),
        "report": report,
        "trials": trials,
        "pick": config,
        "first_found": found,
    }


# -- the oracle ---------------------------------------------------------------------------------


def run_grid(
    case: Case, s: Settings, goal: Goal, rate: float | None, broker: Broker, work: Path
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every point of the reduced space, measured like a trial; returns them and the best
    feasible one's WorkerConfig (as a dict), or None when no point was feasible."""
    import optuna

    from tuner.bench.errors import BenchError
    from tuner.bench.workloads import preset
    from tuner.optimize.baselines import worker_config
    from tuner.optimize.measure import Plan
    from tuner.optimize.objectives import TrialObjective
    from tuner.optimize.select import pick
    from tuner.optimize.spacefile import load_space

    path = work / case.workload / "grid.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(s.grid_text(case))
    size = s.grid_size(case)
    objective = TrialObjective(
        space=load_space(str(path)),
        goal=goal,
        workload=preset(case.workload),
        plan=Plan(goal, s.seconds, s.warmup, rate, seed=s.seeds[0]),
        broker=broker,
        baselines={},
        make_config=lambda choice, label: worker_config(choice, label),
        prune=False,
    )
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.BruteForceSampler(seed=s.seeds[0])
    study = optuna.create_study(direction=goal.directions[0], sampler=sampler)
    metric = case.objective

    def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        shown = f"{metric} {trial.value:.4g}" if trial.value is not None else trial.state.name
        broken = [k for k, v in (trial.user_attrs.get("constraints") or {}).items() if v > 0]
        flag = f" (infeasible: {', '.join(broken)})" if broken else ""
        log(f"  grid {trial.number + 1}/{size} {trial.params}: {shown}{flag}")

    study.optimize(
        objective, n_trials=size + 5, catch=(BenchError, ValueError, OSError), callbacks=[progress]
    )
    best = pick(study, goal)
    points = [
        {
            "number": t.number,
            "params": dict(t.params),
            "choice": t.user_attrs.get("choice"),
            "value": t.value,
            "state": t.state.name,
            "constraints": t.user_attrs.get("constraints"),
            "feasible": t.state.name == "COMPLETE" and all(v <= 0 for v in t.constraints.values()),
            "metrics": t.user_attrs.get("metrics"),
            "best": best is not None and t.number == best.number,
        }
        for t in study.trials
    ]
    if best is None:
        return points, None
    return points, worker_config(best.user_attrs["choice"], ORACLE).as_dict()


# -- the measurements the case needs before the search ------------------------------------------


def rss_reference(s: Settings, broker: Broker, workload: str) -> dict[str, Any]:
    """Peak RSS of Celery's defaults (prefork, one child per CPU) on ``workload``: one run."""
    from tuner.bench.config import baseline
    from tuner.bench.workloads import preset
    from tuner.optimize.measure import Plan, measure, merge
    from tuner.optimize.objectives import Goal

    config = baseline("celery-default")
    metrics = merge(measure(config, preset(workload), Plan(Goal(), s.seconds, s.warmup), broker))
    rss = metrics.get("rss_peak_mb")
    if not isinstance(rss, (int, float)) or not rss > 0:
        raise SystemExit(f"{workload}: the reference run measured no peak RSS")
    return {
        "config": f"prefork c={config.effective_concurrency()} (Celery's defaults)",
        "rss_peak_mb": float(rss),
        "throughput": metrics.get("throughput"),
    }


def open_rate(case: Case, seeds: Sequence[Mapping[str, Any]], broker: Broker) -> float | None:
    """The comparison's open-loop rate: the first seed's study rate (the same rule every seed
    used: ``--load`` x the capacity of Celery's defaults), else measured the same way."""
    if case.objective != "p99":
        return None
    for seed in seeds:
        rate = ((seed.get("report") or {}).get("plan") or {}).get("open_rate")
        if isinstance(rate, (int, float)) and rate > 0:
            return float(rate)
    from tuner.bench.config import baseline
    from tuner.bench.runner import measure_capacity
    from tuner.bench.workloads import preset

    capacity = measure_capacity(baseline("celery-default"), preset(case.workload), broker)
    return (case.load or 0.7) * capacity.rate


# -- the side-by-side comparison ----------------------------------------------------------------


def compare_side_by_side(
    entries: Sequence[tuple[str, Mapping[str, Any]]],
    case: Case,
    s: Settings,
    goal: Goal,
    rate: float | None,
    broker: Broker,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Measure each distinct configuration ``--rounds`` times, interleaved; identical
    configurations (e.g. a pick that is Celery's defaults) share one set of runs.  Returns the
    runs by label and which label's runs each label shares."""
    from tuner.bench.config import WorkerConfig
    from tuner.bench.workloads import preset
    from tuner.optimize.confirm import measure_rounds
    from tuner.optimize.measure import Plan

    shares: dict[str, str] = {}
    distinct: dict[tuple[object, ...], WorkerConfig] = {}
    for label, config in entries:
        key = config_key(config)
        if key not in distinct:
            fields = {f.name for f in dataclasses.fields(WorkerConfig)}
            values = {k: v for k, v in config.items() if k in fields}
            distinct[key] = WorkerConfig(**{**values, "label": label})
        shares[label] = distinct[key].label
    plan = Plan(goal, s.seconds, s.warmup, rate, seed=s.seeds[0])
    metric = case.objective

    def on_run(r: int, label: str, m: Mapping[str, Any]) -> None:
        value = m.get(metric)
        shown = f"{value:.4g}" if isinstance(value, (int, float)) else "-"
        rss = m.get("rss_peak_mb") or 0
        log(f"  round {r + 1} {label}: {metric} {shown}, peak RSS {rss:.0f} MB")

    runs = measure_rounds(
        list(distinct.values()), preset(case.workload), plan, broker, s.rounds, on_run=on_run
    )
    return {label: runs[shares[label]] for label, _ in entries}, shares


# -- one case -----------------------------------------------------------------------------------


def loadavg() -> float:
    return os.getloadavg()[0]


def bench_case(case: Case, s: Settings, work: Path, broker: Broker) -> dict[str, Any]:
    from tuner.bench.config import baseline
    from tuner.optimize.objectives import Goal

    started = time.monotonic()
    load_before = loadavg()
    log(
        f"{case.workload}: {case.describe()} (load average {load_before:.2f}); "
        f"estimate {estimate(case, s) / 60:.0f} min"
    )
    reference = None
    max_rss = None
    if case.rss_share is not None:
        reference = rss_reference(s, broker, case.workload)
        max_rss = round(case.rss_share * reference["rss_peak_mb"], 1)
        log(
            f"{case.workload}: {reference['config']} peak RSS {reference['rss_peak_mb']:.0f} MB: "
            f"--max-rss {max_rss:g}"
        )
    goal = Goal((case.objective,), None, max_rss)
    seeds = []
    for seed in s.seeds:
        log(f"{case.workload}: optimize seed {seed}, {s.budget(case)} trials, confirm {s.confirm}")
        result = run_optimize(case, s, seed, max_rss, work)
        shown = describe_config(result["pick"]) if result["pick"] else "nothing"
        log(
            f"{case.workload}: seed {seed} picked {shown} (exit {result['exit']}, "
            f"first found: {result['first_found']})"
        )
        seeds.append(result)
    rate = open_rate(case, seeds, broker)
    if rate is not None:
        log(f"{case.workload}: open-loop rate {rate:.1f} tasks/s for the grid and the comparison")
    log(f"{case.workload}: grid of {s.grid_size(case)}")
    points, oracle = run_grid(case, s, goal, rate, broker, work)
    entries: list[tuple[str, Mapping[str, Any]]] = [
        (name, baseline(name).as_dict()) for name in BASELINES
    ]
    if oracle is not None:
        entries.append((ORACLE, oracle))
    entries += [(f"seed {r['seed']}", r["pick"]) for r in seeds if r["pick"] is not None]
    log(f"{case.workload}: side by side, {s.rounds} rounds: {', '.join(e[0] for e in entries)}")
    runs, shares = compare_side_by_side(entries, case, s, goal, rate, broker)
    from tuner.optimize.feasibility import violations_over

    rows = {}
    for label, config in entries:
        rows[label] = {
            "config": dict(config),
            "shares_runs_of": shares[label] if shares[label] != label else None,
            case.objective: summarise(runs[label], case.objective),
            "throughput": summarise(runs[label], "throughput"),
            "p99": summarise(runs[label], "p99"),
            "rss_peak_mb": summarise(runs[label], "rss_peak_mb"),
            "broken": violations_over(runs[label], goal),
        }
    goals = []
    for r in seeds:
        label = f"seed {r['seed']}"
        pick_runs = runs.get(label)
        trials = len((r["report"] or {}).get("trials") or r["trials"])
        same_oracle = oracle is not None and label in shares and shares[label] == shares[ORACLE]
        same_default = label in shares and shares[label] == shares["celery-default"]
        quality = goal_quality(
            case.objective, pick_runs, runs.get(ORACLE), same_oracle, trials, len(points), goal
        )
        worse = goal_not_worse(
            case.objective, pick_runs, runs["celery-default"], same_default, goal
        )
        trap = goal_trap(r["pick"], baseline("blog-recipe").as_dict(), trap_explanation(r))
        for g in (quality, worse, trap):
            goals.append({"seed": r["seed"], **g})
    load_after = loadavg()
    return {
        "workload": case.workload,
        "objective": case.objective,
        "case": case.describe(),
        "max_rss": max_rss,
        "rss_reference": reference,
        "open_rate": rate,
        "rows": rows,
        "runs": runs,
        "goals": goals,
        "grid": points,
        "grid_size": s.grid_size(case),
        "grid_space": s.grid_text(case),
        "budget": s.budget(case),
        "seeds": [
            {
                "seed": r["seed"],
                "exit": r["exit"],
                "seconds": r["seconds"],
                "pick": r["pick"],
                "savings": savings(r, points),
                "trials": [
                    {
                        "number": t["number"],
                        "state": t["state"],
                        "values": t["values"],
                        "origin": origin(t),
                        "config": (t.get("user_attrs") or {}).get("config"),
                    }
                    for t in r["trials"]
                ],
                "report": {
                    k: r["report"].get(k)
                    for k in (
                        "pick",
                        "unconfirmed_pick",
                        "improvement",
                        "gil_probe",
                        "notes",
                        "plan",
                        "space_size",
                        "ruled_out",
                        "seeds",
                        "fidelity",
                    )
                    if k in r["report"]
                },
            }
            for r in seeds
        ],
        "seconds": time.monotonic() - started,
        "estimate_seconds": estimate(case, s),
        "load_average": {"before": load_before, "after": load_after},
    }


# -- command line -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="grids of 8, 1 seed, short runs")
    parser.add_argument("--workloads", default=",".join(CASES), help="comma-separated cases")
    parser.add_argument("--seeds", help="comma-separated optimize seeds (default 0,1,2; quick 0)")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (4; quick 2)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per run (1)")
    parser.add_argument("--rounds", type=int, help="side-by-side rounds (3; quick 2)")
    parser.add_argument("--confirm", type=int, help="optimize's confirmation rounds (8; quick 2)")
    parser.add_argument("--grid", metavar="FILE", help="one grid (space TOML) for every case")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="where the table and plot go")
    parser.add_argument("--from-json", metavar="FILE", help="re-render an earlier run's JSON")
    parser.add_argument("--estimate", action="store_true", help="print the estimate and stop")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    quick = bool(args.quick)
    seeds = args.seeds or ("0" if quick else "0,1,2")
    return Settings(
        quick=quick,
        seconds=args.seconds or (2.0 if quick else 4.0),
        warmup=args.warmup if args.warmup is not None else 1.0,
        rounds=args.rounds or (2 if quick else 3),
        confirm=args.confirm if args.confirm is not None else (2 if quick else DEFAULT_ROUNDS),
        seeds=tuple(int(x) for x in seeds.split(",") if x.strip()),
        grid_file=args.grid,
    )


def command_of(args: argparse.Namespace, argv: Sequence[str]) -> str:
    shown = [a for a in argv if not a.startswith("--from-json") and a != args.from_json]
    return "python benchmarks/bench_optimize.py" + "".join(f" {shlex.quote(a)}" for a in shown)


def write_outputs(
    results: Sequence[Mapping[str, Any]], s: Settings, meta: Mapping[str, Any], out: Path
) -> str:
    out.mkdir(parents=True, exist_ok=True)
    stem = "optimize-benchmark" + ("-quick" if s.quick else "")
    text = markdown(results, s.as_dict(), meta)
    if s.quick:
        text = text.replace("optimize-benchmark-", "optimize-benchmark-quick-")
    (out / f"{stem}.md").write_text(text)
    data = {"meta": meta, "settings": s.as_dict(), "results": list(results)}
    (out / f"{stem}.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    (out / f"{stem}-objective.svg").write_text(svg_bars(results))
    for old in ("throughput", "p99"):  # the plots of the earlier, throughput-only benchmark
        (out / f"{stem}-{old}.svg").unlink(missing_ok=True)
    return text


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.from_json:
        data = json.loads(Path(args.from_json).read_text())
        s = Settings(**{**data["settings"], "seeds": tuple(data["settings"]["seeds"])})
        print(write_outputs(data["results"], s, data["meta"], Path(args.out)))
        return 0
    s = settings_from(args)
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown or not s.seeds:
        print(
            f"error: unknown case {unknown[0]!r} (use {', '.join(CASES)})"
            if unknown
            else "error: --seeds names no seed",
            file=sys.stderr,
        )
        return 2
    cases = [CASES[n] for n in names]
    total = sum(estimate(c, s) for c in cases)
    for c in cases:
        log(
            f"{c.workload}: grid {s.grid_size(c)}, budget {s.budget(c)} x {len(s.seeds)} seeds, "
            f"~{estimate(c, s) / 60:.0f} min"
        )
    log(f"estimate: {total / 60:.0f} minutes on a quiet machine (load average now {loadavg():.2f})")
    if args.estimate:
        return 0
    from tuner.bench.broker import Broker
    from tuner.bench.runner import describe_env

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # so every worker and the temporary directory are cleaned up

    signal.signal(signal.SIGTERM, terminate)
    broker = Broker()
    started = time.monotonic()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = []
    with tempfile.TemporaryDirectory(prefix="celery-tune-bench-") as tmp:
        for case in cases:
            results.append(bench_case(case, s, Path(tmp), broker))
    meta = {
        "command": command_of(args, argv),
        "date": date,
        "minutes": (time.monotonic() - started) / 60,
        "estimate": total / 60,
        "env": describe_env(broker),
    }
    print(write_outputs(results, s, meta, Path(args.out)))
    missed = [g for r in results for g in r["goals"] if not g["met"]]
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
