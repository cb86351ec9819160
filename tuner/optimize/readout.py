"""The report's first screen as data (``readout`` in report.json): what to change, the measured
gain with its interval (or why the current config is kept), the traps avoided, the environment
and the noise, each with the number of trials or rounds behind it.

Computed from the report dict alone (:func:`tuner.optimize.report.build`'s output), so it reads
every key defensively: keys other steps add (``seeds``, ``ruled_out``, ``fidelity``, per-trial
``trap``) may be absent, and then their part is simply left out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_LABEL = "celery-default"
INPUT_LABEL = "input-config"
PICK_LABEL = "tuned"
HIGHER_IS_BETTER = {"throughput": True, "p99": False, "efficiency": True, "rss": False}
UNITS = {"throughput": " tasks/s", "p99": " s", "efficiency": "", "rss": " MB"}
# A configuration this many times worse than the pick on an objective is "much worse".
MUCH_WORSE = 1.5
# A trap is shown as worse only when it lost by at least this factor.
TRAP_WORSE = 1.1


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def fmt(value: object, digits: int = 3) -> str:
    number = _num(value)
    if number is None:
        return "-" if value is None else str(value)
    return f"{number:.{digits}g}"


def describe_choice(choice: Mapping[str, Any]) -> str:
    """``prefork c=4 pf=1 late-acks``: the same short form as the progress lines."""
    if not choice:
        return "?"
    parts = [str(choice.get("pool", "?"))]
    if choice.get("concurrency") is not None and choice.get("pool") != "solo":
        parts.append(f"c={choice['concurrency']}")
    if choice.get("disable_prefetch"):
        parts.append("no-prefetch")
    elif choice.get("prefetch_multiplier") is not None:
        parts.append(f"pf={choice['prefetch_multiplier']}")
    if choice.get("max_tasks_per_child"):
        parts.append(f"mtpc={choice['max_tasks_per_child']}")
    if choice.get("max_memory_per_child"):
        parts.append(f"mmpc={choice['max_memory_per_child']}")
    if choice.get("acks_late"):
        parts.append("late-acks")
    if choice.get("optimization"):
        parts.append(f"-O {choice['optimization']}")
    return " ".join(parts)


def shown_label(label: str | None, input_path: str | None = None) -> str:
    if label == INPUT_LABEL:
        return f"your config ({input_path})" if input_path else "your config"
    if label == DEFAULT_LABEL:
        return "Celery's defaults"
    if label in (PICK_LABEL, "the search's pick"):
        return "the pick"
    return str(label)


def trial_choice(trial: Mapping[str, Any]) -> dict[str, Any]:
    choice = trial.get("choice") or trial.get("params") or {}
    return dict(choice) if isinstance(choice, Mapping) else {}


def trial_kind(trial: Mapping[str, Any]) -> str:
    """baseline, trap, seed or search."""
    if trial.get("baseline"):
        return "baseline"
    if trial.get("trap"):
        return "trap"
    if trial.get("seed"):
        return "seed"
    return "search"


def objectives(report: Mapping[str, Any]) -> list[str]:
    found = report.get("objectives") or (report.get("study") or {}).get("metric_names")
    return [str(o) for o in found] if isinstance(found, list) and found else ["throughput"]


def current_label(report: Mapping[str, Any]) -> str:
    """What the user runs now: their ``--config``, else Celery's defaults."""
    return INPUT_LABEL if report.get("input_config") else DEFAULT_LABEL


# -- the verdict ----------------------------------------------------------------------------


def _ratio_text(metric: str, ratio: Mapping[str, Any]) -> str:
    """``throughput +42% (x1.42, 98.9% CI 1.21-1.66)``."""
    estimate = _num(ratio.get("estimate"))
    if estimate is None:
        return f"{metric}: no ratio"
    change = (estimate - 1.0) * 100.0
    ci = ratio.get("ci")
    level = _num(ratio.get("confidence"))
    word = "within the noise"
    if isinstance(ci, list) and len(ci) == 2 and _num(ci[0]) is not None:
        level_text = f"{level:.1%} " if level is not None else ""
        interval = f"x{estimate:.2f}, {level_text}CI {ci[0]:.2f}-{ci[1]:.2f}"
        if ci[0] > 1 or ci[1] < 1:
            up = HIGHER_IS_BETTER.get(metric, True) == (ci[0] > 1)
            word = "better" if up else "worse"
    else:
        interval = f"x{estimate:.2f}, one round: no interval"
    return f"{metric} {change:+.0f}% ({word}; {interval})"


def _noise_pct(ratio: Mapping[str, Any] | None) -> float | None:
    """The half-width of a ratio's interval around 1, in percent: how large a difference the
    confirmation could not tell from noise."""
    if not ratio:
        return None
    ci = ratio.get("ci")
    if isinstance(ci, list) and len(ci) == 2:
        low, high = _num(ci[0]), _num(ci[1])
        if low is not None and high is not None:
            return max(high - 1.0, 1.0 - low, 0.0) * 100.0
    found = [_num(v) for v in ratio.get("values") or []]
    values = [v for v in found if v is not None]
    if len(values) >= 2:
        return (max(values) - min(values)) / 2.0 * 100.0
    return None


def verdict(report: Mapping[str, Any]) -> dict[str, Any]:
    """The headline: ``kind`` change | keep | nothing | unconfirmed, ``text``, and the gains."""
    confirmation = report.get("confirmation") or {}
    pick = report.get("pick") or {}
    names = objectives(report)
    current = current_label(report)
    input_path = report.get("input_config")
    rounds = confirmation.get("rounds")
    if not pick:
        why = (report.get("unconfirmed_pick") or {}).get("why") or confirmation.get("reason")
        if report.get("interrupted"):
            why = "the search was interrupted (rerun the same command to resume it)"
        text = "Nothing is recommended" + (f": {why}" if why else ": no feasible trial")
        return {"kind": "nothing", "text": text, "gains": [], "rounds": rounds}
    if not confirmation or not confirmation.get("confirmed"):
        return {
            "kind": "unconfirmed",
            "text": f"Not confirmed (--confirm 0): {pick.get('source') or 'the best trial'} is "
            "the best single trial of the search; nothing was re-measured against your config",
            "gains": [],
            "rounds": 0,
        }
    chosen = confirmation.get("chosen")
    verdicts = confirmation.get("verdicts") or {}
    is_current = chosen == current or pick.get("baseline") == current
    if is_current:
        against = (confirmation.get("search_verdicts") or {}).get(current) or {}
        ratios = against.get("ratios") or {}
        noise_pct = _noise_pct(ratios.get(names[0]))
        who = "your config" if current == INPUT_LABEL else "Celery's defaults"
        them = "it" if current == INPUT_LABEL else "them"
        reason = confirmation.get("reason")
        if against.get("same_config") or not against:
            spread = noise(report)
            noise_pct = spread["top_cv_pct"] if spread else None
            tried = len(report.get("trials") or [])
            text = f"Keep {who}: none of the {tried} trials beat {them} (the search's best was "
            text += who
            if noise_pct is not None:
                text += f"; re-measured, its rounds varied by ±{noise_pct:.0f}%"
            text += ")"
            ratios, reason = {}, None
        elif noise_pct is not None:
            text = f"Keep {who}: nothing tried beat {them} beyond ±{noise_pct:.0f}% noise"
        else:
            text = f"Keep {who}: nothing tried beat {them} beyond the noise"
        return {
            "kind": "keep",
            "text": text,
            "noise_pct": noise_pct,
            "metric": names[0],
            "why": reason,
            "gains": [_ratio_text(m, r) for m, r in ratios.items() if m in names],
            "against": shown_label(current, input_path),
            "rounds": rounds,
        }
    against = verdicts.get(current) or {}
    if not against and verdicts:
        current = next(iter(verdicts))
        against = verdicts[current]
    ratios = against.get("ratios") or {}
    gains = [_ratio_text(m, r) for m, r in ratios.items() if m in names]
    others = [_ratio_text(m, r) for m, r in ratios.items() if m not in names]
    source = pick.get("source") or "the pick"
    text = f"Change to {source}: " + ("; ".join(gains) if gains else "see the verdicts below")
    text += f" vs {shown_label(current, input_path)}"
    return {
        "kind": "change",
        "text": text,
        "gains": gains,
        "other_metrics": others,
        "winner": against.get("winner"),
        "against": shown_label(current, input_path),
        "rounds": rounds,
        "confidence": next(
            (r.get("confidence") for r in ratios.values() if r.get("confidence")), None
        ),
    }


# -- what to change -----------------------------------------------------------------------


def _celery_defaults(keys: Sequence[str]) -> dict[str, object]:
    from celery.app.defaults import DEFAULTS

    return {k: DEFAULTS.get(k) for k in keys}


def defaults_diff(settings: Mapping[str, Any]) -> str:
    """The chosen settings as diff lines against Celery's defaults (only those that differ)."""
    defaults = _celery_defaults(list(settings))
    lines = []
    for key, value in settings.items():
        old = defaults.get(key)
        if old == value:
            continue
        note = "  # os.cpu_count()" if key == "worker_concurrency" and old is None else ""
        lines.append(f"-{key} = {old!r}{note}")
        lines.append(f"+{key} = {value!r}")
    return "\n".join(lines) + ("\n" if lines else "")


def change(report: Mapping[str, Any]) -> dict[str, Any]:
    """The diff to apply (against ``--config``, else against Celery's defaults) and the command
    line; empty when the current config is kept or nothing is recommended."""
    pick = report.get("pick") or {}
    input_path = report.get("input_config")
    against = str(input_path) if input_path else "Celery's defaults"
    if not pick:
        return {"against": against, "diff": None, "command": None, "changed": 0}
    settings = pick.get("settings") or {}
    if verdict(report)["kind"] == "keep":
        return {"against": against, "diff": None, "command": pick.get("command"), "changed": 0,
                "keep": True}  # fmt: skip
    if input_path:
        diff = report.get("config_diff")
        diff_text = str(diff) if diff else None
        changed = sum(
            1
            for line in (diff_text or "").splitlines()
            if line.startswith("+") and not line.startswith("+++")
        )
        source = "config.diff"
    else:
        diff_text = defaults_diff(settings) if isinstance(settings, Mapping) else None
        changed = sum(1 for line in (diff_text or "").splitlines() if line.startswith("+"))
        diff_text = diff_text or None
        source = "celeryconfig_tuned.py"
    return {
        "against": against,
        "diff": diff_text,
        "changed": changed,
        "file": source,
        "command": pick.get("command"),
    }


# -- traps and much worse configurations --------------------------------------------------


def _pick_metrics(report: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The pick's figures from the search (single trials compare with single trials)."""
    pick = report.get("pick") or {}
    found = pick.get("metrics")
    if isinstance(found, Mapping) and found:
        return dict(found), "its trial in the search"
    confirmed = pick.get("confirmed")
    if isinstance(confirmed, Mapping) and confirmed:
        return dict(confirmed), "its confirmation median"
    return {}, ""


def _worse_by(metric: str, theirs: object, ours: object) -> float | None:
    """How many times worse ``theirs`` is than ``ours`` on ``metric`` (> 1: worse)."""
    a, b = _num(theirs), _num(ours)
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return b / a if HIGHER_IS_BETTER.get(metric, True) else a / b


def _broken(trial: Mapping[str, Any]) -> list[str]:
    constraints = trial.get("constraints") or {}
    if isinstance(constraints, Mapping):
        return [str(k) for k, v in constraints.items() if (_num(v) or 0) > 0]
    return []


def _seed_info(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    seeds = report.get("seeds")
    out: dict[str, Mapping[str, Any]] = {}
    if isinstance(seeds, list):
        for seed in seeds:
            if isinstance(seed, Mapping) and seed.get("label"):
                out[str(seed["label"])] = seed
    return out


def _trap_label(trial: Mapping[str, Any]) -> str:
    for key in ("trap", "seed"):
        value = trial.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, Mapping) and value.get("label"):
            return str(value["label"])
    return f"trial {trial.get('number')}"


def traps(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each trap (a popular recipe tried on purpose) and how it fared against the pick here."""
    ours, basis = _pick_metrics(report)
    seeds = _seed_info(report)
    metrics = [m for m in ("p99", "throughput") if m in HIGHER_IS_BETTER]
    out = []
    seen = set()
    for trial in report.get("trials") or []:
        if not trial.get("trap"):
            continue
        label = _trap_label(trial)
        seen.add(label)
        why = (seeds.get(label) or {}).get("why")
        item: dict[str, Any] = {
            "label": label,
            "trial": trial.get("number"),
            "choice": describe_choice(trial_choice(trial)),
            "why": why,
            "trials": 1,
        }
        state = trial.get("state")
        theirs = trial.get("metrics") or {}
        broken = _broken(trial)
        if state == "FAIL":
            item["text"] = f"{label} failed here: {trial.get('error') or 'the trial failed'}"
        elif state == "PRUNED":
            item["text"] = f"{label} was stopped early here: clearly worse than earlier trials"
        elif broken:
            item["text"] = f"{label} broke {', '.join(broken)} here"
        else:
            worst = None
            for metric in metrics:
                factor = _worse_by(metric, theirs.get(metric), ours.get(metric))
                if factor is not None and (worst is None or factor > worst[1]):
                    worst = (metric, factor)
            if worst is not None and worst[1] >= TRAP_WORSE:
                metric, factor = worst
                unit = UNITS.get(metric, "")
                item.update(metric=metric, factor=factor)
                item["text"] = (
                    f"{label} was {factor:.1f}x worse on {metric} here "
                    f"({fmt(theirs.get(metric))}{unit} against the pick's "
                    f"{fmt(ours.get(metric))}{unit}, {basis}; one trial each)"
                )
            elif worst is not None:
                item["text"] = f"{label} did no better than the pick here (one trial)"
            else:
                item["text"] = f"{label} was tried here (trial {trial.get('number')})"
        out.append(item)
    for label, seed in seeds.items():  # a trap that was planned but has no trial
        if seed.get("trap") and label not in seen:
            out.append(
                {
                    "label": label,
                    "trial": None,
                    "why": seed.get("why"),
                    "trials": 0,
                    "text": f"{label}: not measured in this study",
                }
            )
    return out


def ruled_out(report: Mapping[str, Any]) -> list[dict[str, str]]:
    found = report.get("ruled_out")
    out = []
    if isinstance(found, list):
        for item in found:
            if isinstance(item, Mapping) and item.get("what"):
                out.append({"what": str(item["what"]), "why": str(item.get("why") or "")})
    if not out:
        probe = report.get("gil_probe")
        if isinstance(probe, Mapping) and probe.get("ruled_out"):
            pools = ", ".join(str(p) for p in probe["ruled_out"])
            out.append({"what": pools, "why": str(probe.get("decision") or "the GIL probe")})
    return out


def much_worse(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """Configurations of the study much worse than the pick on the first objective, and those
    that broke a constraint."""
    ours, _ = _pick_metrics(report)
    metric = objectives(report)[0]
    pick_trial = (report.get("pick") or {}).get("trial")
    tried = worse = 0
    worst: tuple[float, Mapping[str, Any]] | None = None
    broken = 0
    for trial in report.get("trials") or []:
        if trial.get("state") != "COMPLETE" or trial.get("number") == pick_trial:
            continue
        tried += 1
        if _broken(trial):
            broken += 1
            continue
        factor = _worse_by(metric, (trial.get("metrics") or {}).get(metric), ours.get(metric))
        if factor is not None and factor >= MUCH_WORSE:
            worse += 1
            if worst is None or factor > worst[0]:
                worst = (factor, trial)
    if not tried or (not worse and not broken):
        return None
    parts = []
    if worse:
        parts.append(f"{worse} of {tried} other configurations tried were {MUCH_WORSE:g}x or more "
                     f"worse than the pick on {metric}")  # fmt: skip
    if worst is not None:
        factor, trial = worst
        parts.append(
            f"the worst, {describe_choice(trial_choice(trial))} (trial {trial.get('number')}), "
            f"{factor:.1f}x {'lower' if HIGHER_IS_BETTER.get(metric, True) else 'higher'} "
            f"{metric}"
        )
    if broken:
        parts.append(f"{broken} broke a constraint (lost or failed tasks, SLO, memory)")
    return {"metric": metric, "tried": tried, "worse": worse, "broken": broken,
            "text": "; ".join(parts)}  # fmt: skip


# -- environment, noise, counts -----------------------------------------------------------


def _load(values: object) -> str | None:
    if isinstance(values, list) and values and _num(values[0]) is not None:
        return "/".join(f"{float(v):.1f}" for v in values[:3])
    return None


def environment(report: Mapping[str, Any]) -> dict[str, Any]:
    env = report.get("environment") or {}
    load = env.get("load_average") or {}
    before = _load(load.get("before")) if isinstance(load, Mapping) else None
    after = _load(load.get("after")) if isinstance(load, Mapping) else None
    parts = []
    if env.get("cpus") is not None:
        parts.append(f"{fmt(env['cpus'])} CPU(s)")
    if before or after:
        parts.append(f"load average (1/5/15 min) {before or '?'} before, {after or '?'} after")
    if env.get("broker"):
        parts.append(f"broker {env['broker']}")
    if env.get("celery"):
        parts.append(f"Celery {env['celery']}")
    if env.get("python"):
        parts.append(f"Python {env['python']}")
    loaded = None
    cpus = _num(env.get("cpus"))
    peaks = [
        _num(v[0]) for v in (load.get("before"), load.get("after")) if isinstance(v, list) and v
    ]
    peak = max((p for p in peaks if p is not None), default=None)
    if cpus and peak is not None and peak > cpus:
        loaded = (
            f"the machine was loaded (load average {peak:.1f} on {fmt(cpus)} CPUs): "
            "figures measure the share of CPU left, compare them only with each other"
        )
    return {"text": "; ".join(parts), "loaded": loaded, "before": before, "after": after}


def _log_cv(values: Sequence[float]) -> float | None:
    logs = [math.log(v) for v in values if v > 0]
    if len(logs) < 2:
        return None
    return statistics.stdev(logs) * 100.0


def noise(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """How much one configuration's rounds varied in the confirmation (the baselines')."""
    configs = (report.get("confirmation") or {}).get("configs") or []
    metric = objectives(report)[0]
    rows = []
    for config in configs:
        label = config.get("label")
        values = [_num(r.get(metric)) for r in config.get("runs") or []]
        found = [v for v in values if v is not None]
        cv = _log_cv(found)
        if cv is None:
            continue
        spread = (max(found) - min(found)) / statistics.median(found) * 100.0
        rows.append({"label": label, "cv_pct": cv, "spread_pct": spread, "rounds": len(found)})
    if not rows:
        return None
    baselines = [r for r in rows if r["label"] != PICK_LABEL] or rows
    top = max(baselines, key=lambda r: r["cv_pct"])
    text = (
        f"round to round, the {metric} of {shown_label(top['label'])} varied by "
        f"{top['cv_pct']:.1f}% (CV; range {top['spread_pct']:.0f}% of the median, "
        f"{top['rounds']} rounds)"
    )
    return {"metric": metric, "by_config": rows, "text": text, "top_cv_pct": top["cv_pct"]}


def counts(report: Mapping[str, Any]) -> dict[str, Any]:
    trial_counts = (report.get("study") or {}).get("trial_counts") or {}
    trials = report.get("trials") or []
    total = len(trials)
    complete = int(trial_counts.get("COMPLETE", 0))
    parts = [f"{total} trials ({complete} complete"]
    for state, word in (("PRUNED", "pruned"), ("FAIL", "failed")):
        if trial_counts.get(state):
            parts.append(f"{trial_counts[state]} {word}")
    text = ", ".join(parts) + ")"
    fidelity = report.get("fidelity")
    screened = None
    if isinstance(fidelity, Mapping) and fidelity.get("screened_out") is not None:
        screened = fidelity.get("screened_out")
        saved = _num(fidelity.get("seconds_saved"))
        text += f", {screened} screened out early"
        if saved:
            text += f" ({saved:.0f} s of measurement saved)"
    confirmation = report.get("confirmation") or {}
    rounds = confirmation.get("rounds")
    if confirmation and rounds:
        configs = len(confirmation.get("configs") or [])
        text += f"; confirmation: {rounds} interleaved rounds of {configs} configurations"
        if confirmation.get("stopped_early"):
            text += f" (stopped early of {confirmation.get('max_rounds')}: already confirmed)"
    seconds = (report.get("budget") or {}).get("trial_seconds")
    if seconds:
        text += f"; {fmt(seconds)} s measured per run"
    return {"trials": total, "complete": complete, "screened_out": screened, "text": text,
            "rounds": rounds}  # fmt: skip


def compute(report: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the first screen states."""
    return {
        "verdict": verdict(report),
        "change": change(report),
        "traps": traps(report),
        "ruled_out": ruled_out(report),
        "much_worse": much_worse(report),
        "environment": environment(report),
        "noise": noise(report),
        "counts": counts(report),
    }
