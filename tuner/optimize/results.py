"""From a finished search to a recommendation: the pick, its confirmation against the baselines,
and the decision (the pick, or the current config when the pick is not measurably better)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial

from tuner.optimize.baselines import DEFAULT_LABEL, INPUT_LABEL, worker_config
from tuner.optimize.confirm import Runs, Verdict, compare, measure_rounds, medians
from tuner.optimize.measure import Plan
from tuner.optimize.select import pick as best_trial
from tuner.optimize.setup import Setup
from tuner.optimize.space import DEFAULTS, Choice
from tuner.optimize.stats import FAMILY_ALPHA, MIN_EFFECT, comparison_alpha

if TYPE_CHECKING:
    from tuner.bench.config import WorkerConfig

PICK_LABEL = "tuned"
# Sequential confirmation: one interim look halfway (with at least INTERIM_MIN rounds), which may
# stop early once the pick is confirmed; it spends INTERIM_SHARE of the error budget, the final
# look the rest, so the two looks together keep the family's level (Bonferroni over looks).
INTERIM_SHARE = 0.2
INTERIM_MIN = 3


@dataclass
class Pick:
    """What is recommended.  ``trial`` is its trial in the study (None if it has none);
    ``replaced`` is the search's best trial when confirmation showed a baseline beats it."""

    trial: FrozenTrial | None
    config: WorkerConfig
    choice: Choice
    baseline: str | None = None
    replaced: FrozenTrial | None = None
    challenger: bool = False  # the best alternative to the current config (see challenger())

    @property
    def metrics(self) -> dict[str, Any]:
        """The figures of its trial in the search (not confirmed)."""
        found = self.trial.user_attrs.get("metrics") if self.trial is not None else None
        return dict(found) if isinstance(found, dict) else {}

    @property
    def source(self) -> str:
        if self.baseline:
            return f"the {self.baseline} baseline"
        return f"trial {self.trial.number}" if self.trial is not None else "the search"


def choose(setup: Setup, study: optuna.Study) -> Pick | None:
    """The search's best feasible trial (or the Pareto trial nearest the ideal point)."""
    trial = best_trial(study, setup.goal)
    return None if trial is None else _pick_of(setup, study, trial)


def _pick_of(setup: Setup, study: optuna.Study, trial: FrozenTrial) -> Pick:
    """A trial as a Pick: a baseline's trial runs the baseline itself."""
    baseline = trial.user_attrs.get("baseline")
    if isinstance(baseline, str) and baseline in setup.baselines:
        return _baseline_pick(setup, study, baseline)
    choice = _choice_of(trial)
    return Pick(trial, worker_config(choice, PICK_LABEL, setup.trial_extra), choice)


def current_label(setup: Setup) -> str:
    """What the user runs now: their ``--config``, else Celery's defaults."""
    return INPUT_LABEL if INPUT_LABEL in setup.baselines else DEFAULT_LABEL


def challenger(setup: Setup, study: optuna.Study, chosen: Pick) -> Pick | None:
    """When the search's best is the current config itself, the best alternative to confirm.

    Re-measuring the current config against itself can only keep it; the rounds are better spent
    on the best feasible trial that runs something else, so that keeping the config rests on a
    measured comparison ("nothing tried beat it beyond the noise").  None when the pick is not
    the current config, or when no other feasible trial exists.
    """
    current = _effective(setup.baselines[current_label(setup)])
    if _effective(chosen.config) != current:
        return None

    def runs_current(trial: FrozenTrial) -> bool:
        if trial.user_attrs.get("baseline") == current_label(setup):
            return True
        return _effective(_pick_of(setup, study, trial).config) == current

    trial = best_trial(study, setup.goal, skip=runs_current)
    return None if trial is None else replace(_pick_of(setup, study, trial), challenger=True)


def _effective(config: WorkerConfig) -> Choice:
    """What a configuration runs, in the space's terms (Celery's implicit concurrency made
    explicit), whatever its label and extra settings."""
    from tuner.optimize.baselines import choice_of
    from tuner.optimize.space import baseline_choice

    return baseline_choice(choice_of(config), config.effective_concurrency())


def _choice_of(trial: FrozenTrial) -> Choice:
    stored = trial.user_attrs.get("choice") or {}
    return {**DEFAULTS, **{k: v for k, v in stored.items() if k in DEFAULTS}}


def _baseline_pick(
    setup: Setup,
    study: optuna.Study,
    label: str,
    replaced: FrozenTrial | None = None,
    challenger: bool = False,
) -> Pick:
    trials = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.user_attrs.get("baseline") == label and t.values is not None
    ]
    config = replace(setup.baselines[label], label=PICK_LABEL)
    choice = dict(setup.baseline_choices[label])
    return Pick(trials[-1] if trials else None, config, choice, label, replaced, challenger)


def _same(a: WorkerConfig, b: WorkerConfig) -> bool:
    return replace(a, label="") == replace(b, label="")


@dataclass
class Confirmation:
    """Interleaved re-measurement of the search's pick and the baselines.

    ``search_verdicts``: the search's pick against each baseline.  ``verdicts``: the final
    recommendation against each baseline (the same, unless a baseline beat the pick).
    """

    rounds: int
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    search_verdicts: dict[str, Verdict] = field(default_factory=dict)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    chosen: str | None = PICK_LABEL  # None: nothing met every constraint when re-measured
    same: dict[str, str] = field(default_factory=dict)  # label -> label of the runs it shares
    reason: str = ""  # why a baseline (or nothing) is recommended instead of the search's pick
    error: str | None = None
    broken: dict[str, list[str]] = field(default_factory=dict)  # label -> constraints it broke
    alpha: float = FAMILY_ALPHA  # two-sided level of each comparison (Bonferroni over them all)
    max_rounds: int = 0  # rounds allowed; ``rounds`` is how many ran
    stopped_early: bool = False  # the interim look confirmed the pick

    @property
    def chosen_runs(self) -> list[dict[str, Any]]:
        if self.chosen is None:
            return []
        return self.runs.get(self.same.get(self.chosen, self.chosen), [])

    @property
    def confirmed(self) -> bool:
        """Whether the recommendation stands on completed re-measurement."""
        return self.error is None and self.chosen is not None and bool(self.runs)

    def as_dict(self) -> dict[str, object]:
        return {
            "rounds": self.rounds,
            "max_rounds": self.max_rounds or self.rounds,
            "stopped_early": self.stopped_early,
            "interleaved": True,
            "test": "paired t on log-ratios, Bonferroni over pairs, objectives and looks",
            "family_alpha": FAMILY_ALPHA,
            "alpha": self.alpha,
            "min_effect": MIN_EFFECT,
            "error": self.error,
            "confirmed": self.confirmed,
            "chosen": self.chosen,
            "constraints": {
                label: {
                    "feasible": not self.broken.get(label),
                    "broken": self.broken.get(label, []),
                }
                for label in self.same
            },
            "reason": self.reason or None,
            "configs": [
                {"label": label, "median": medians(runs), "runs": runs}
                for label, runs in self.runs.items()
            ],
            "search_verdicts": {k: v.as_dict() for k, v in self.search_verdicts.items()},
            "verdicts": {label: v.as_dict() for label, v in self.verdicts.items()},
        }


def _verdicts(
    result: Confirmation,
    mine: str,
    others: Sequence[str],
    same: Mapping[str, str],
    objectives: Sequence[str],
    alpha: float,
) -> dict[str, Verdict]:
    """``mine`` against each of ``others``; ``same`` maps a label to the runs it shares."""
    out = {}
    for label in others:
        if label == mine:
            continue
        shared = same[label] == same[mine]
        shown = "the search's pick" if label == PICK_LABEL else label
        out[label] = compare(
            result.runs[same[mine]], result.runs[same[label]], shown, objectives,
            same_config=shared, alpha=alpha,
        )  # fmt: skip
    return out


def decide(
    candidates: Sequence[str],
    beats: Callable[[str, str], bool],
    score: Callable[[str], float],
    current: str,
) -> tuple[str, str]:
    """What to recommend after confirmation, and why when it is not the search's pick.

    ``candidates``: the pick (PICK_LABEL) and the baselines; ``beats(a, b)``: a is better than b
    beyond the noise; ``score``: median of the first objective, higher is better; ``current``:
    what the user runs now (their config, else Celery's defaults).  A candidate another one beats
    is out.  The pick wins only if it beats the current config; otherwise the current config is
    kept, unless it is out too, and then the best candidate left is recommended.
    """
    left = [c for c in candidates if not any(beats(o, c) for o in candidates if o != c)]
    left = left or list(candidates)
    if PICK_LABEL in left and (
        current == PICK_LABEL or current not in candidates or beats(PICK_LABEL, current)
    ):
        return PICK_LABEL, ""  # (when the pick is the current config itself, it is kept)
    if current in left:
        if PICK_LABEL in left:
            return current, f"it was not measurably better than {current}, which is kept"
        return current, f"{current} beat it beyond the noise"
    best = max(left, key=score)
    if best == PICK_LABEL:
        return best, ""
    if current == PICK_LABEL:
        return best, f"{best} beat it beyond the noise"
    return best, f"{best} beat it and {current} beyond the noise"


def confirm(
    setup: Setup,
    study: optuna.Study,
    plan: Plan,
    chosen: Pick,
    rounds: int,
    on_run: Callable[[int, str, Mapping[str, Any]], None] | None = None,
) -> tuple[Pick | None, Confirmation]:
    """Re-measure the pick and each baseline side by side, ``rounds`` times, interleaved.

    Every constraint is held against the re-measured rounds (see :mod:`.feasibility`): a
    configuration that broke one is never recommended, baselines included, and
    ``Confirmation.broken`` says what each broke.  Among the rest, the pick is recommended only
    when it is measurably better than what the user has now (their config, else Celery's
    defaults) and no baseline beats it.  When a baseline beats it beyond the noise, the best such
    baseline is recommended; when it is not measurably better than the current config, the
    current config is kept.  When nothing met every constraint, nothing is recommended (None).

    A measurement error is recorded in ``Confirmation.error`` and the pick is returned as it came:
    the caller must not present it as confirmed (see ``Confirmation.confirmed``).
    """
    from tuner.bench.errors import BenchError
    from tuner.optimize.feasibility import violations_over

    result = Confirmation(rounds, max_rounds=rounds)
    configs = [chosen.config]
    same = result.same
    same[PICK_LABEL] = PICK_LABEL
    for label, config in setup.baselines.items():
        twin = next((c.label for c in configs if _same(c, config)), None)
        same[label] = twin or label
        if twin is None:
            configs.append(config)
    if rounds < 1:
        return chosen, result
    objectives = setup.goal.objectives
    labels = list(setup.baselines)
    candidates = [PICK_LABEL, *(b for b in setup.baselines if same[b] != PICK_LABEL)]
    # The error budget is shared over every pair of distinct candidates and every objective,
    # feasible or not (fixed before anything is measured).
    alpha = comparison_alpha(len({same[c] for c in candidates}), len(objectives))
    current = current_label(setup)
    if same[current] == PICK_LABEL:
        current = PICK_LABEL  # the pick is the current config itself
    # No interim look when the pick is the current config: nothing to confirm early.
    interim = rounds // 2 if rounds // 2 >= INTERIM_MIN and current != PICK_LABEL else 0
    first = objectives[0]
    sign = -1.0 if first == "p99" else 1.0

    def judge(runs: Mapping[str, Runs], level: float, among: Sequence[str]) -> tuple[str, str]:
        def beats(a: str, b: str) -> bool:
            if same[a] == same[b]:
                return False
            verdict = compare(runs[same[a]], runs[same[b]], b, objectives, alpha=level)
            return verdict.winner == "tuned"

        def score(label: str) -> float:
            value = medians(runs[same[label]]).get(first)
            return sign * value if value is not None else -math.inf

        return decide(among, beats, score, current)

    def clear(runs: Mapping[str, Runs]) -> bool:
        """At the interim look: is the pick already confirmed (feasible, and chosen at the
        interim's share of the error budget)?"""
        if min(len(v) for v in runs.values()) != interim:
            return False
        ok = [c for c in candidates if not violations_over(runs[same[c]], setup.goal)]
        if PICK_LABEL not in ok:
            return False
        return judge(runs, alpha * INTERIM_SHARE, ok)[0] == PICK_LABEL

    try:
        result.runs = measure_rounds(
            configs, setup.workload, plan, setup.broker, rounds, on_run=on_run,
            stop=clear if interim else None,
        )  # fmt: skip
    except BenchError as exc:
        result.error = str(exc)
        return chosen, result
    result.rounds = min(len(v) for v in result.runs.values())
    result.stopped_early = result.rounds < rounds
    if interim:
        alpha *= INTERIM_SHARE if result.stopped_early else 1.0 - INTERIM_SHARE
    result.alpha = alpha
    for label in same:
        broken = violations_over(result.runs[same[label]], setup.goal)
        if broken:
            result.broken[label] = broken
    result.search_verdicts = _verdicts(result, PICK_LABEL, labels, same, objectives, alpha)
    feasible = [c for c in candidates if c not in result.broken]
    if not feasible:
        result.chosen = None
        result.reason = "re-measured, no configuration met every constraint: " + "; ".join(
            f"{_shown(c)} {', '.join(result.broken[c])}" for c in candidates
        )
        return None, result
    result.chosen, result.reason = judge(result.runs, alpha, feasible)
    if PICK_LABEL in result.broken:
        result.reason = (
            f"re-measured, it broke a constraint ({', '.join(result.broken[PICK_LABEL])}); "
            f"{result.chosen} met every constraint"
        )
        if current in result.broken and current != result.chosen:
            result.reason += f", {current} did not ({', '.join(result.broken[current])})"
    elif current in result.broken and result.chosen != PICK_LABEL:
        result.reason += f" ({current} broke {', '.join(result.broken[current])})"
    final: Pick | None = chosen
    if result.chosen != PICK_LABEL:
        final = _baseline_pick(
            setup, study, result.chosen, replaced=chosen.trial, challenger=chosen.challenger
        )
        labels.append(PICK_LABEL)  # the final choice against the search's pick, for the record
    result.verdicts = _verdicts(result, result.chosen, labels, same, objectives, alpha)
    return final, result


def _shown(label: str) -> str:
    return "the search's pick" if label == PICK_LABEL else label


def improvement(confirmation: Confirmation | None) -> dict[str, object] | None:
    """``improvement``: ratios against Celery's defaults at the top, every baseline below."""
    if confirmation is None or not confirmation.verdicts:
        return None
    by = {label: v.as_dict() for label, v in confirmation.verdicts.items()}
    main = dict(by.get(DEFAULT_LABEL) or next(iter(by.values())))
    if DEFAULT_LABEL not in by and confirmation.chosen == DEFAULT_LABEL:
        main = {"baseline": DEFAULT_LABEL, "winner": "same", "same_config": True}
    main.pop("ratios", None)
    return {**main, "chosen": confirmation.chosen, "by_baseline": by}
