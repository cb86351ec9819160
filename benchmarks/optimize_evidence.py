"""Judging and reporting for ``benchmarks/bench_optimize.py``: which configurations are the same,
the goals (met/missed with their distance), what the GIL probe and the expert seeds saved, and the
Markdown table and SVG plot.  Pure functions of measured figures and report.json; no live runs.

Keys other helpers add to report.json (``seeds``, ``ruled_out``, ``fidelity``, ``space_size``) and
trial tags (``trap``, a seed's name) are read defensively: absent, they are reported as absent.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuner.optimize.objectives import Goal

ORACLE = "grid-oracle"
WITHIN = 0.05  # goal 1: within 5% of the oracle
SHARE = 0.25  # goal 1: with at most 25% of the grid's trials
QUIET_LOAD = 1.5  # a 1-minute load average above this is not a quiet machine
# User attributes a seeded trial may carry its name in (the seeds helper's tag is not fixed yet).
SEED_ATTRS = ("seed", "prior", "expert", "source", "origin", "tag")


# -- comparing configurations -------------------------------------------------------------------


def config_key(config: Mapping[str, Any]) -> tuple[object, ...]:
    """What a worker runs, whatever the spelling: Celery's implicit concurrency made explicit,
    conditional settings dropped where they do not apply, the label ignored."""
    pool = str(config.get("pool") or "prefork")
    pool = "prefork" if pool == "processes" else pool
    concurrency = config.get("concurrency")
    if pool == "solo":
        concurrency = 1
    elif concurrency is None:
        concurrency = os.cpu_count() or 1
    disabled = bool(config.get("disable_prefetch"))
    acks_late = bool(config.get("acks_late"))
    extra = config.get("extra") or {}
    return (
        pool,
        concurrency,
        None if disabled else config.get("prefetch_multiplier", 4),
        disabled,
        config.get("max_tasks_per_child"),
        config.get("max_memory_per_child"),
        acks_late,
        config.get("reject_on_worker_lost") if acks_late else None,
        config.get("optimization"),
        tuple(sorted((str(k), repr(v)) for k, v in dict(extra).items())),
    )


def describe_config(c: Mapping[str, Any]) -> str:
    parts = [str(c.get("pool"))]
    if c.get("concurrency") is not None:
        parts.append(f"c={c['concurrency']}")
    elif c.get("pool") != "solo":
        parts.append(f"c={os.cpu_count() or 1} (default)")
    parts.append(
        "no prefetch" if c.get("disable_prefetch") else f"prefetch={c.get('prefetch_multiplier')}"
    )
    if c.get("max_tasks_per_child") is not None:
        parts.append(f"mtpc={c['max_tasks_per_child']}")
    if c.get("acks_late"):
        parts.append("late acks")
    return "`" + " ".join(parts) + "`"


def objective_values(runs: Sequence[Mapping[str, Any]], metric: str) -> list[float]:
    return [float(r[metric]) for r in runs if isinstance(r.get(metric), (int, float))]


def summarise(runs: Sequence[Mapping[str, Any]], metric: str) -> dict[str, float | None]:
    """Median and relative spread ((max - min) / median) of one metric over the rounds."""
    from tuner.optimize.confirm import spread

    values = objective_values(runs, metric)
    if not values:
        return {"median": None, "spread": None}
    return {"median": statistics.median(values), "spread": spread(values)}


def origin(trial: Mapping[str, Any]) -> str:
    """Where a trial's configuration came from: a baseline, a seed, the trap, or the sampler."""
    attrs = trial.get("user_attrs") or {}
    if attrs.get("baseline"):
        return f"baseline {attrs['baseline']}"
    if attrs.get("trap") not in (None, False, ""):
        return f"trap {label_of(attrs['trap'])}".strip()
    for key in SEED_ATTRS:
        value = attrs.get(key)
        if value not in (None, False, ""):
            return f"seed {label_of(value)}".strip()
    return "seed (enqueued)" if trial.get("enqueued") else "TPE"


def label_of(tag: object) -> str:
    """A tag's name: the string itself, a mapping's ``label``/``name``, else nothing."""
    if isinstance(tag, str):
        return tag
    if isinstance(tag, Mapping):
        return str(tag.get("label") or tag.get("name") or "")
    return ""


def first_found(trials: Sequence[Mapping[str, Any]], pick: Mapping[str, Any]) -> dict[str, Any]:
    """The first complete trial that ran the pick's configuration, and where it came from."""
    key = config_key(pick)
    for t in sorted(trials, key=lambda t: int(t["number"])):
        config = (t.get("user_attrs") or {}).get("config")
        complete = t.get("state") == "COMPLETE"
        if complete and isinstance(config, Mapping) and config_key(config) == key:
            return {"trial": t["number"], "origin": origin(t)}
    return {"trial": None, "origin": "not among the trials"}


# -- the goals ----------------------------------------------------------------------------------


def goal_quality(
    metric: str,
    pick_runs: Sequence[Mapping[str, Any]] | None,
    oracle_runs: Sequence[Mapping[str, Any]] | None,
    same: bool,
    trials: int,
    grid_points: int,
    goal: Goal,
) -> dict[str, Any]:
    """Goal 1: within 5% of the oracle on the objective, with at most 25% of its trials."""
    from tuner.optimize.confirm import HIGHER_IS_BETTER, ratio
    from tuner.optimize.feasibility import violations_over

    name = f"within {WITHIN:.0%} of the oracle, with at most {SHARE:.0%} of its trials"
    budget = f"{trials} of {grid_points} trials ({trials / max(1, grid_points):.0%})"
    few = trials <= SHARE * grid_points
    if pick_runs is None:
        return {"goal": name, "met": False, "distance": "no pick", "detail": budget}
    if oracle_runs is None:
        return {"goal": name, "met": False, "distance": "no feasible grid point", "detail": budget}
    broken = violations_over(pick_runs, goal)
    r = 1.0 if same else None
    if r is None:
        found = ratio(pick_runs, oracle_runs, metric)
        r = found.estimate if found is not None else None
    if r is None:
        return {"goal": name, "met": False, "distance": f"no {metric} measured", "detail": budget}
    higher = HIGHER_IS_BETTER.get(metric, True)
    bound = 1.0 - WITHIN if higher else 1.0 + WITHIN
    margin = (r - bound) if higher else (bound - r)
    close = margin >= 0
    detail = [
        budget,
        "the oracle's own configuration" if same else "geometric mean of the paired ratios",
    ]
    if broken:
        detail.append("the pick broke " + ", ".join(broken))
    return {
        "goal": name,
        "met": close and few and not broken,
        "distance": f"x{r:.3f} of the oracle's {metric} (bound x{bound:.2f}, margin "
        f"{margin * 100:+.1f} points)",
        "detail": "; ".join(detail),
        "ratio": r,
    }


def goal_not_worse(
    metric: str,
    pick_runs: Sequence[Mapping[str, Any]] | None,
    default_runs: Sequence[Mapping[str, Any]],
    same: bool,
    goal: Goal,
) -> dict[str, Any]:
    """Goal 2: never worse than Celery's defaults beyond the noise (confirmation's paired t
    interval, at the family level ``optimize`` itself uses, not shared out: the stricter test)."""
    from tuner.optimize.confirm import compare
    from tuner.optimize.feasibility import violations_over

    name = "not worse than Celery's defaults beyond the noise"
    if pick_runs is None:
        return {"goal": name, "met": False, "distance": "no pick", "detail": ""}
    if same:
        return {
            "goal": name,
            "met": True,
            "distance": "x1.000",
            "detail": "the pick is Celery's defaults",
        }
    mine, theirs = violations_over(pick_runs, goal), violations_over(default_runs, goal)
    verdict = compare(pick_runs, default_runs, "celery-default", [metric])
    r = verdict.ratios.get(metric)
    shown = r.describe() if r is not None else "no ratio"
    if mine and not theirs:
        return {
            "goal": name,
            "met": False,
            "distance": shown,
            "detail": "the pick broke " + ", ".join(mine),
        }
    if theirs and not mine:
        return {
            "goal": name,
            "met": True,
            "distance": shown,
            "detail": "Celery's defaults broke "
            + ", ".join(theirs)
            + "; the pick met every constraint",
        }
    return {
        "goal": name,
        "met": verdict.winner != "baseline",
        "distance": shown,
        "detail": verdict.describe(),
    }


RECIPE_MARK = "max_tasks_per_child"  # the blog recipe's own setting (recycle every 100 tasks)


def trap_explanation(seed: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """What report.json (and the study's tags) say: (about the blog recipe, everything else).

    About the recipe: each trap trial as the report's readout words it (how it fared, and why an
    expert would try it), and any prior that rules out its ``max_tasks_per_child``.  Keys other
    helpers add (``seeds``, ``ruled_out``, ``fidelity``) are read defensively."""
    report = seed.get("report") or {}
    about: list[str] = []
    other: list[str] = []
    ruled: list[str] = []
    try:  # report.json as the report's own readout words it
        from tuner.optimize import readout
    except ImportError:  # an older build: the study's tags and the raw keys
        readout = None  # type: ignore[assignment]
    if readout is not None:
        for trap in readout.traps(report):
            why = f" (why an expert would try it: {trap['why']})" if trap.get("why") else ""
            about.append(f"{trap.get('text')}{why}")
        ruled = [f"ruled out {r['what']}: {r['why']}" for r in readout.ruled_out(report)]
    if not about:
        about = _tagged_traps(seed.get("trials") or [])
    if not ruled and report.get("ruled_out") not in (None, [], {}):
        ruled = [f"ruled_out: {brief(report['ruled_out'])}"]
    about += [r for r in ruled if RECIPE_MARK in r]
    other += [r for r in ruled if RECIPE_MARK not in r]
    if report.get("seeds") not in (None, [], {}) and not about:
        other.append(f"seeds: {brief(report['seeds'])}")
    return about, other


def _tagged_traps(trials: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for t in trials:
        attrs = t.get("user_attrs") or {}
        if attrs.get("trap") in (None, False, ""):
            continue
        broken = [k for k, v in (attrs.get("constraints") or {}).items() if v > 0]
        values = t.get("values")
        shown = f"{values[0]:.4g}" if values else t.get("state", "?")
        text = f"trial {t['number']} tagged trap {label_of(attrs['trap'])}: objective {shown}"
        if broken:
            text += f", broke {', '.join(broken)}"
        out.append(text)
    return out


def brief(value: object, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def goal_trap(
    pick: Mapping[str, Any] | None,
    blog: Mapping[str, Any],
    why: tuple[Sequence[str], Sequence[str]],
) -> dict[str, Any]:
    """Goal 3: the pick is not the blog recipe, and report.json says why (a trap trial, or a
    prior against the recipe's max_tasks_per_child)."""
    name = "avoids the blog recipe's trap, and report.json says why"
    about, other = why
    lines = [*about, *other]
    detail = "; ".join(lines) if lines else "report.json has no trap trial and no ruled_out"
    if pick is None:
        return {"goal": name, "met": False, "distance": "no pick", "detail": detail}
    avoided = config_key(pick) != config_key(blog)
    said = bool(about)
    distance = ("not the blog recipe" if avoided else "the pick IS the blog recipe") + (
        "; explained" if said else "; report.json does not say why"
    )
    return {"goal": name, "met": avoided and said, "distance": distance, "detail": detail}


# -- what the probe and the seeds saved ---------------------------------------------------------


def _rule_matches(rule: object, choice: Mapping[str, Any]) -> bool | None:
    """Whether a ``ruled_out`` entry covers a grid point; None when its shape is unknown."""
    if isinstance(rule, Mapping) and isinstance(rule.get("what"), str):
        return _what_matches(rule["what"], choice)
    if isinstance(rule, Mapping):
        key = rule.get("param") or rule.get("key") or rule.get("setting")
        values = rule.get("values", rule.get("value"))
        if isinstance(key, str) and values is not None:
            allowed = values if isinstance(values, list) else [values]
            return choice.get(key) in allowed
        from tuner.optimize.space import DEFAULTS

        if rule and set(rule) <= set(DEFAULTS):
            return all(
                choice.get(k) in (v if isinstance(v, list) else [v]) for k, v in rule.items()
            )
    return None


def _what_matches(what: str, choice: Mapping[str, Any]) -> bool | None:
    """The priors' wording (tuner/optimize/priors.py): ``pool threads, gevent``, ``concurrency
    outside 2..4``; None for any other (e.g. limits kept at none, which no grid here varies)."""
    pools = re.fullmatch(r"pool (.+)", what.strip())
    if pools:
        return choice.get("pool") in [p.strip() for p in pools.group(1).split(",")]
    outside = re.fullmatch(r"concurrency outside (\d+)\.\.(\d+)", what.strip())
    if outside:
        n = choice.get("concurrency")
        n = os.cpu_count() or 1 if n is None else n
        return not int(outside.group(1)) <= int(n) <= int(outside.group(2))
    return None


def ruled_out_points(ruled: object, points: Sequence[Mapping[str, Any]]) -> int | None:
    """How many grid points the entries of report.json's ``ruled_out`` cover (None: unknown)."""
    from tuner.optimize.space import DEFAULTS

    rules: list[object]
    if isinstance(ruled, list):
        rules = list(ruled)
    elif isinstance(ruled, Mapping):
        one = {"param", "key", "setting"} & set(ruled) or set(ruled) <= set(DEFAULTS)
        values = [v for v in ruled.values() if isinstance(v, (list, Mapping))]
        rules = [ruled] if one else [r for v in values for r in (v if isinstance(v, list) else [v])]
    else:
        return None
    understood = False
    count = 0
    for point in points:
        choice = point.get("choice") or point.get("params") or {}
        hits = [_rule_matches(rule, choice) for rule in rules]
        understood = understood or any(h is not None for h in hits)
        count += any(h is True for h in hits)
    return count if understood else None


def savings(seed: Mapping[str, Any], points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the GIL probe and the priors ruled out (in grid points) and where the pick came from."""
    report = seed.get("report") or {}
    out: dict[str, Any] = {"first_found": seed.get("first_found")}
    probe = report.get("gil_probe")
    if isinstance(probe, Mapping):
        pools = list(probe.get("ruled_out") or [])
        out["probe"] = {
            "decision": probe.get("decision"),
            "ruled_out": pools,
            "grid_points": sum(
                1 for p in points if (p.get("choice") or p.get("params") or {}).get("pool") in pools
            ),
        }
    else:
        notes = [n for n in report.get("notes") or [] if "GIL probe" in str(n)]
        out["probe"] = {
            "decision": notes[0] if notes else "not run (it runs for CPU workloads, when enabled)",
            "ruled_out": [],
            "grid_points": 0,
        }
    size = report.get("space_size")
    if isinstance(size, Mapping):
        out["space_size"] = dict(size)
    ruled = report.get("ruled_out")
    if ruled not in (None, [], {}):
        out["ruled_out"] = ruled
        out["ruled_out_grid_points"] = ruled_out_points(ruled, points)
    left = [str(n) for n in report.get("notes") or [] if "left out" in str(n)]
    if left:
        out["seeds_left_out"] = left  # e.g. no room in the budget, or a baseline's twin
    fidelity = report.get("fidelity")
    if isinstance(fidelity, Mapping):
        out["fidelity"] = {
            k: fidelity.get(k) for k in ("screened_out", "seconds_saved") if k in fidelity
        }
    confirmation = report.get("confirmation") or {}
    out["confirmation"] = {
        "chosen": confirmation.get("chosen"),
        "rounds": confirmation.get("rounds"),
        "reason": confirmation.get("reason"),
    }
    out["search_best_trial"] = (report.get("pick") or {}).get("replaced_trial")
    if out["search_best_trial"] is None:
        out["search_best_trial"] = (report.get("pick") or {}).get("trial")
    return out


# -- output -------------------------------------------------------------------------------------


def _num(value: object, digits: int = 3) -> str:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return f"{value:.{digits}g}"
    return "-"


def _pct(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, (int, float)) and math.isfinite(value) else "-"


def markdown(
    results: Sequence[Mapping[str, Any]], s: Mapping[str, Any], meta: Mapping[str, Any]
) -> str:
    env = meta["env"]
    lines = [
        "# `celery-tune optimize`: benchmark (issue #11, evidence)",
        "",
        "Regenerate with:",
        "",
        f"    {meta['command']}",
        "",
        f"Run on {meta['date']}; {meta['minutes']:.0f} minutes (estimated {meta['estimate']:.0f}). "
        f"Machine: {env['cpus']:g} CPUs, Python {env['python']}, Celery {env['celery']}; "
        f"{env['broker']} broker.  Every run: {s['warmup']:g} s of warm-up, then "
        f"{s['seconds']:g} s measured.  optimize: seeds {', '.join(map(str, s['seeds']))}, "
        "a budget of "
        f"{SHARE:.0%} of the grid (baseline and seed trials included), its default space, the GIL "
        f"probe and expert seeds on when this build has them, confirmation capped at "
        f"{s['confirm']} rounds.  Oracle: every point of a reduced grid, measured once, its best "
        f"feasible point.  Side by side: {s['rounds']} interleaved rounds (order reversed every "
        "other round); a configuration listed twice (a pick that is a baseline, or the oracle) "
        "is measured once.",
        "",
        "Goals, per seed: (1) within 5% of the oracle on the objective (geometric mean of the "
        "paired per-round ratios), with at most 25% of the grid's trials; (2) not worse than "
        "Celery's defaults beyond the noise: `optimize`'s own test (paired t interval of the "
        "log-ratios at 96%, a difference of at least 5%; docs/optimize.md), and a pick that meets "
        "a constraint the defaults break counts as not worse; (3) the pick is not the blog recipe "
        "and report.json says why (trials tagged `trap`, its `ruled_out`/`seeds`/`fidelity`).",
    ]
    for res in results:
        lines += _case_lines(res)
    lines += ["", "## Goals", "", "| workload | seed | goal | met | distance | detail |"]
    lines += ["|---|---:|---|---|---|---|"]
    for res in results:
        for g in res["goals"]:
            met = "met" if g["met"] else "**missed**"
            lines.append(
                f"| {res['workload']} | {g['seed']} | {g['goal']} | {met} | {g['distance']} "
                f"| {_cell(g['detail'])} |"
            )
    lines += ["", "## What the GIL probe and the expert seeds saved", ""]
    for res in results:
        lines += _savings_lines(res)
    lines += ["", "![objective](optimize-benchmark-objective.svg)", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _case_lines(res: Mapping[str, Any]) -> list[str]:
    metric = res["objective"]
    unit = "tasks/s" if metric == "throughput" else "s"
    before, after = res["load_average"]["before"], res["load_average"]["after"]
    lines = ["", f"## {res['workload']}: {res['case']}", ""]
    facts = [
        f"Grid: {res['grid_size']} points (`{' '.join(res['grid_space'].split())}`)",
        f"budget {res['budget']} trials per seed",
    ]
    if res.get("open_rate"):
        facts.append(f"open-loop rate {res['open_rate']:.1f} tasks/s for every run")
    if res.get("max_rss") is not None:
        ref = res["rss_reference"]
        facts.append(
            f"--max-rss {res['max_rss']:g} MB: {res['max_rss'] / ref['rss_peak_mb']:.0%} of "
            f"the peak RSS of {ref['config']}, {ref['rss_peak_mb']:.0f} MB, measured in this run"
        )
    facts.append(f"load average (1 min) {before:.2f} before, {after:.2f} after")
    lines.append("; ".join(facts) + ".")
    if max(before, after) > QUIET_LOAD:
        lines += [
            "",
            f"**Load average {max(before, after):.2f}** (above {QUIET_LOAD}): it counts this "
            "benchmark's own workers too (the previous case's, and a grid point with 16 children "
            "is 16 processes), so it flags possible, not certain, interference from other jobs; "
            "check that nothing else ran.",
        ]
    base = res["rows"]["celery-default"][metric]["median"]
    other, other_unit = ("p99", "s") if metric == "throughput" else ("throughput", "tasks/s")
    lines += [
        "",
        f"| config | {metric} {unit} (median) | spread | x defaults | {other} {other_unit} "
        "| peak RSS MB | broke |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for label, row in res["rows"].items():
        value = row[metric]["median"]
        x = value / base if isinstance(value, (int, float)) and base else None
        shared = f" (= {row['shares_runs_of']})" if row.get("shares_runs_of") else ""
        lines.append(
            f"| {label}{shared} {describe_config(row['config'])} | {_num(value)} "
            f"| {_pct(row[metric]['spread'])} | {_num(x)} | {_num(row[other]['median'])} "
            f"| {_num(row['rss_peak_mb']['median'])} "
            f"| {_cell(', '.join(row['broken'])) or '-'} |"
        )
    return lines


def _savings_lines(res: Mapping[str, Any]) -> list[str]:
    lines = []
    for seed in res["seeds"]:
        sv = seed["savings"]
        probe = sv.get("probe") or {}
        parts = []
        if probe.get("ruled_out"):
            parts.append(
                f"the GIL probe ruled out {', '.join(probe['ruled_out'])}: "
                f"{probe['grid_points']} of the grid's {res['grid_size']} points"
            )
        else:
            decision = str(probe.get("decision") or "not run")
            parts.append(decision if decision.startswith("GIL probe") else f"GIL probe: {decision}")
        if "space_size" in sv:
            size = sv["space_size"]

            def points(n: object) -> str:
                return f"{n:g}" if isinstance(n, (int, float)) else "unbounded"

            parts.append(
                f"search space {points(size.get('searched'))} points "
                f"(default space {points(size.get('default'))})"
            )
        if "ruled_out" in sv:
            n = sv.get("ruled_out_grid_points")
            covered = f" ({n} of the grid's {res['grid_size']} points)" if n is not None else ""
            ruled = sv["ruled_out"]
            items = (
                [r.get("what") for r in ruled if isinstance(r, Mapping)]
                if isinstance(ruled, list)
                else []
            )
            shown = "; ".join(str(i) for i in items if i) or brief(ruled, 200)
            parts.append(f"the priors ruled out{covered}: {shown}")
        else:
            parts.append("report.json has no `ruled_out`")
        parts += sv.get("seeds_left_out") or []
        screening = sv.get("fidelity") or {}
        if screening.get("screened_out"):
            saved = screening.get("seconds_saved")
            secs = (
                f", {saved:.0f} s of measurement saved" if isinstance(saved, (int, float)) else ""
            )
            parts.append(f"{screening['screened_out']} trial(s) screened out early{secs}")
        found = sv.get("first_found") or {}
        if found.get("trial") is None:
            parts.append(f"the pick: {found.get('origin')}")
        else:
            parts.append(
                f"the pick was first run at trial {found['trial']} ({found.get('origin')}); "
                f"the search's best was trial {sv.get('search_best_trial')}"
            )
        confirmation = sv.get("confirmation") or {}
        if confirmation.get("reason") and confirmation.get("chosen") != "tuned":
            parts.append(
                f"confirmation ({confirmation.get('rounds')} rounds): {confirmation['reason']}"
            )
        lines.append(f"- **{res['workload']}**, seed {seed['seed']}: " + "; ".join(parts) + ".")
    return lines


COLOURS = ("#888888", "#c9a227", "#7a9cc6", "#b03a2e", "#2a7d2a", "#3f9f3f", "#5cbf5c")


def svg_bars(results: Sequence[Mapping[str, Any]]) -> str:
    """Objective ratio to Celery's defaults per case, oriented so that higher is better."""
    width, height, left, bottom, top = 760, 300, 50, 40, 40
    groups = [list(res["rows"].items()) for res in results]
    most = max((len(g) for g in groups), default=1)
    group_w = (width - left - 20) / max(1, len(results))
    bar_w = group_w / (most + 1)
    ratios: list[list[tuple[str, float]]] = []
    for res, rows in zip(results, groups, strict=True):
        metric = res["objective"]
        base = res["rows"]["celery-default"][metric]["median"] or math.nan
        row = []
        for label, r in rows:
            value = r[metric]["median"] or math.nan
            row.append((label, base / value if metric == "p99" else value / base))
        ratios.append(row)
    finite = [v for row in ratios for _, v in row if math.isfinite(v)]
    scale = (height - bottom - top) / (max([1.2, *finite]) * 1.1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">Objective vs Celery\'s '
        "defaults (higher is better; p99 shown as defaults / config)</text>",
    ]
    y1 = height - bottom - scale
    out.append(
        f'<line x1="{left}" x2="{width - 10}" y1="{y1:.1f}" y2="{y1:.1f}" stroke="#444" '
        'stroke-dasharray="4 3"/>'
    )
    for g, (res, row) in enumerate(zip(results, ratios, strict=True)):
        x0 = left + g * group_w
        for i, (label, value) in enumerate(row):
            if not math.isfinite(value):
                continue
            h, x = value * scale, x0 + (i + 0.5) * bar_w
            colour = COLOURS[min(i, len(COLOURS) - 1)]
            out.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar_w * 0.9:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{label}: {value:.2f}</title></rect>'
            )
        out.append(
            f'<text x="{x0 + group_w / 2:.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle">{res["workload"]}</text>'
        )
    labels = [label for label, _ in groups[0]] if groups else []
    for i, label in enumerate(labels):
        x = left + i * 100
        colour = COLOURS[min(i, len(COLOURS) - 1)]
        out.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14}" y="{height - 5}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
