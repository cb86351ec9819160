"""When the search's best is the current config, confirmation measures the best alternative
against it (issue 11: "it ended by recommending Celery's defaults, after comparing them three
times with themselves")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from tuner.optimize.baselines import DEFAULT_LABEL, INPUT_LABEL
from tuner.optimize.results import challenger, choose, current_label
from tuner.optimize.setup import OptimizeOptions, Setup, resolve

CPUS = 2
DISTS = {
    "pool": CategoricalDistribution(["prefork", "threads"]),
    "concurrency": IntDistribution(1, 8),
    "prefetch_multiplier": IntDistribution(1, 16),
}


def _setup(**kw: Any) -> Setup:
    return resolve(OptimizeOptions(workload="cpu", probe=False, cpus=CPUS, **kw))


def _study(rows: list[tuple[str, int, int, float, str | None, bool]]) -> optuna.Study:
    """rows: pool, concurrency, prefetch, throughput, baseline label, feasible."""
    study = optuna.create_study(direction="maximize")
    for pool, conc, prefetch, tput, baseline, ok in rows:
        choice = {"pool": pool, "concurrency": conc, "prefetch_multiplier": prefetch}
        attrs: dict[str, Any] = {"choice": choice, "metrics": {"throughput": tput}}
        if baseline:
            attrs["baseline"] = baseline
        study.add_trial(
            create_trial(
                state=TrialState.COMPLETE,
                params=choice,
                distributions=DISTS,
                value=tput,
                user_attrs=attrs,
                system_attrs={"constraints": [0.0 if ok else 1.0]},
            )
        )
    return study


def test_the_best_alternative_is_confirmed_when_the_defaults_win_the_search() -> None:
    setup = _setup()
    study = _study(
        [
            ("prefork", CPUS, 4, 40.0, DEFAULT_LABEL, True),  # Celery's defaults: the best
            ("prefork", CPUS, 4, 39.0, None, True),  # a tuned trial that runs the same thing
            ("prefork", CPUS + 1, 1, 38.0, None, True),  # the best alternative
            ("threads", CPUS, 4, 45.0, None, False),  # better, but infeasible
            ("prefork", CPUS * 2, 8, 30.0, None, True),
        ]
    )
    chosen = choose(setup, study)
    assert chosen is not None and chosen.baseline == DEFAULT_LABEL
    alternative = challenger(setup, study, chosen)
    assert alternative is not None and alternative.challenger
    assert alternative.trial is not None and alternative.trial.number == 2
    assert alternative.choice["concurrency"] == CPUS + 1


def test_no_challenger_when_the_search_found_something_else_or_nothing_else() -> None:
    setup = _setup()
    better = _study(
        [
            ("prefork", CPUS, 4, 40.0, DEFAULT_LABEL, True),
            ("prefork", CPUS + 1, 1, 44.0, None, True),
        ]
    )
    chosen = choose(setup, better)
    assert chosen is not None and chosen.baseline is None
    assert challenger(setup, better, chosen) is None
    alone = _study([("prefork", CPUS, 4, 40.0, DEFAULT_LABEL, True)])
    only = choose(setup, alone)
    assert only is not None and challenger(setup, alone, only) is None


def test_with_a_config_the_current_one_is_the_input(tmp_path: Path) -> None:
    config = tmp_path / "celeryconfig.py"
    config.write_text("worker_concurrency = 3\nworker_prefetch_multiplier = 1\n")
    setup = _setup(config=str(config))
    assert current_label(setup) == INPUT_LABEL
    study = _study(
        [
            ("prefork", CPUS, 4, 30.0, DEFAULT_LABEL, True),
            ("prefork", 3, 1, 40.0, INPUT_LABEL, True),  # the user's config wins the search
        ]
    )
    chosen = choose(setup, study)
    assert chosen is not None and chosen.baseline == INPUT_LABEL
    alternative = challenger(setup, study, chosen)
    # The other baseline is the best alternative: it is confirmed against the user's config.
    assert alternative is not None and alternative.baseline == DEFAULT_LABEL
