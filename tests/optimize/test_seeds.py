"""Expert seeds: what is proposed, fitted to the space, capped, enqueued once; and a live run."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from tuner.bench.broker import Broker
from tuner.bench.config import BASELINES
from tuner.bench.workloads import preset
from tuner.optimize.baselines import DEFAULT_LABEL, choice_of, worker_config
from tuner.optimize.measure import Plan
from tuner.optimize.objectives import Goal, TrialObjective
from tuner.optimize.probe import decide
from tuner.optimize.search import enqueue_baselines, enqueue_seeds
from tuner.optimize.seeds import (
    DOCS_PREFETCH,
    Seed,
    candidates,
    canonical,
    limit,
    plan,
)
from tuner.optimize.setup import DEFAULT_TRIALS, OptimizeOptions, Setup, resolve
from tuner.optimize.space import (
    AFFINITY_POOL,
    DEFAULTS,
    Param,
    affinity_pool_available,
    baseline_choice,
    celery_version,
    default_space,
    installed,
    suggest,
)

REDIS = "redis://127.0.0.1:6379/0"
AMQP = "amqp://guest:guest@127.0.0.1:5672//"
CPUS = os.cpu_count() or 1  # Celery's default concurrency here: the celery-default baseline's


def labels(seeds: list[Seed] | tuple[Seed, ...]) -> list[str]:
    return [s.label for s in seeds]


def by_label(seeds: list[Seed] | tuple[Seed, ...]) -> dict[str, Seed]:
    return {s.label: s for s in seeds}


# -- the candidates -----------------------------------------------------------------------------


def test_cpu_work_on_redis_in_priority_order() -> None:
    found = candidates(2, "cpu", broker_url=REDIS)
    expected = ["prefork-cpus", "docs-long-tasks"]
    if celery_version() >= (5, 6):
        expected.append("disable-prefetch")
    expected.append("prefork-cpus+1")
    if affinity_pool_available():
        expected.append("affinity")
    assert labels(found) == [*expected, "blog-recipe"]
    seeds = by_label(found)
    docs = seeds["docs-long-tasks"].choice
    assert (docs["pool"], docs["concurrency"], docs["prefetch_multiplier"]) == ("prefork", 2, 1)
    assert docs["acks_late"] is True
    assert DOCS_PREFETCH in seeds["docs-long-tasks"].why  # the Optimizing guide, cited
    assert seeds["prefork-cpus+1"].choice["concurrency"] == 3
    assert not any(s.trap for s in found[:-1])


def test_the_trap_is_the_bench_blog_recipe() -> None:
    trap = candidates(4, "cpu", broker_url=None)[-1]
    assert trap.trap and trap.label == "blog-recipe"
    recipe = choice_of(BASELINES["blog-recipe"](4))
    assert trap.choice == recipe
    assert (trap.choice["prefetch_multiplier"], trap.choice["max_tasks_per_child"]) == (2, 100)


def test_disable_prefetch_only_where_celery_honours_it() -> None:
    assert "disable-prefetch" not in labels(candidates(2, "cpu", broker_url=AMQP))
    assert "disable-prefetch" not in labels(candidates(2, "cpu", broker_url=None))
    on_redis = "disable-prefetch" in labels(candidates(2, "cpu", broker_url=REDIS))
    assert on_redis == (celery_version() >= (5, 6))


def test_threads_follow_the_probe_and_io() -> None:
    holds = decide("cpu", 2, 4, gil_wait_pct=99.0)
    releases = decide("native", 2, 4, gil_wait_pct=40.0)
    assert not any("threads" in x for x in labels(candidates(2, "cpu", broker_url=None)))
    assert not any("threads" in x for x in labels(candidates(2, "cpu", broker_url=None,
                                                            probe=holds)))  # fmt: skip
    native = by_label(candidates(2, "cpu", broker_url=None, probe=releases))
    assert native["threads-cpus"].choice["concurrency"] == 2
    assert "releases the GIL" in native["threads-cpus"].why
    io_seeds = by_label(candidates(2, "io", broker_url=None, max_concurrency=8))
    assert io_seeds["threads-many"].choice["concurrency"] == 8  # 8 x CPUs = 16, clipped to 8
    assert ("gevent-many" in io_seeds) == installed("gevent")
    assert (
        by_label(candidates(2, "io", broker_url=None))["threads-many"].choice["concurrency"] == 16
    )


def test_shared_process_pools_come_first_when_memory_matters() -> None:
    """On `native` under --max-rss, three prefork seeds ran over the limit before any thread
    did (bench_optimize, 2026-11-29): with memory in the goal, one-process pools go first."""
    releases = decide("native", 2, 4, gil_wait_pct=9.0)
    plain = labels(candidates(2, "cpu", broker_url=None, probe=releases))
    assert plain[:3] == ["prefork-cpus", "docs-long-tasks", "threads-cpus"]
    assert plain[-1] == "blog-recipe"
    lean = labels(candidates(2, "cpu", broker_url=None, probe=releases, memory=True))
    assert lean[0] == "threads-cpus" and lean[-1] == "blog-recipe"
    assert sorted(lean) == sorted(plain)
    io = labels(candidates(2, "io", broker_url=None))
    assert io[0] == "threads-many"
    held = decide("cpu", 2, 4, gil_wait_pct=99.0)
    assert labels(candidates(2, "cpu", broker_url=None, probe=held, memory=True)) == labels(
        candidates(2, "cpu", broker_url=None, probe=held)
    )


# -- fitting to the space -----------------------------------------------------------------------


def _default_setup(**kw: Any) -> Setup:
    return resolve(OptimizeOptions(workload="cpu", probe=False, **kw))


def test_a_seed_that_runs_a_baseline_is_not_enqueued_twice() -> None:
    setup = _default_setup(cpus=CPUS)
    assert "prefork-cpus" not in labels(setup.seeds)  # it is Celery's default here
    assert any("prefork-cpus left out" in n and DEFAULT_LABEL in n for n in setup.notes)
    other = _default_setup(cpus=CPUS + 1)  # --cpus says more CPUs than Celery's default uses
    assert labels(other.seeds)[0] == "prefork-cpus"


def test_input_config_and_earlier_seeds_dedupe(tmp_path: Path) -> None:
    config = tmp_path / "celeryconfig.py"
    config.write_text(
        f"worker_concurrency = {CPUS}\nworker_prefetch_multiplier = 1\ntask_acks_late = True\n"
    )
    setup = _default_setup(cpus=CPUS, config=str(config))
    assert "docs-long-tasks" not in labels(setup.seeds)
    assert any("runs the same configuration as input-config" in n for n in setup.notes)
    pinned = _default_setup(cpus=CPUS, fixed=("concurrency=3", "pool=prefork"))
    # c=CPUs+1 and the AffinityPool collapse onto other configurations once c and pool are pinned
    assert "affinity" not in labels(pinned.seeds)
    assert all(s.choice["concurrency"] == 3 and s.choice["pool"] == "prefork" for s in pinned.seeds)
    seen = [canonical(s.choice, CPUS) for s in pinned.seeds]
    assert len(seen) == len({json.dumps(c, sort_keys=True) for c in seen})


def test_seeds_are_clipped_to_a_users_space(tmp_path: Path) -> None:
    mine = tmp_path / "space.toml"
    mine.write_text(
        "pool = ['prefork']\nconcurrency = {low = 1, high = 2}\n"
        "prefetch_multiplier = {low = 2, high = 8}\nacks_late = [false, true]\n"
    )
    setup = _default_setup(cpus=2, space=str(mine), trials=20)
    found = labels(setup.seeds)
    assert "docs-long-tasks" not in found  # prefetch 1 is outside 2..8
    assert "prefork-cpus+1" not in found  # 3 children are outside 1..2
    assert "blog-recipe" not in found  # max_tasks_per_child is not in this space: never widened
    notes = " ".join(setup.notes)
    assert "prefetch_multiplier 1 is outside 2..8" in notes
    assert "concurrency 3 is outside 1..2" in notes
    assert "max_tasks_per_child 100 is not searched (it stays none)" in notes
    if affinity_pool_available():
        assert f"pool {AFFINITY_POOL.lower()} is outside" in notes
    for seed in setup.seeds:
        conc = setup.space.get("concurrency")
        assert conc is not None and conc.contains(seed.choice["concurrency"])


def test_pins_apply_to_seeds_and_a_pinned_trap_is_dropped() -> None:
    setup = _default_setup(cpus=2, fixed=("acks_late=true",), trials=20)
    assert all(s.choice["acks_late"] is True for s in setup.seeds)
    assert "blog-recipe" not in labels(setup.seeds)
    assert any("blog-recipe left out: the pinned acks_late" in n for n in setup.notes)


def test_the_trap_survives_the_priors() -> None:
    """The priors keep max_tasks_per_child at none; the trap runs as itself all the same."""
    setup = _default_setup(cpus=2, trials=20)
    trap = by_label(setup.seeds)["blog-recipe"]
    assert trap.trap and trap.choice["max_tasks_per_child"] == 100
    assert setup.space.get("max_tasks_per_child") == Param("max_tasks_per_child", choices=(None,))


def test_the_cap_leaves_two_trials_to_the_sampler() -> None:
    assert limit(10, 1) == 7 and limit(4, 1) == 1 and limit(3, 1) == 0 and limit(2, 2) == 0
    space = default_space(2, "cpu", broker_url=None, leaky=False)
    base = {DEFAULT_LABEL: baseline_choice(dict(DEFAULTS), 2)}
    kw: dict[str, Any] = {"cpus": 2, "kind": "cpu", "broker_url": None, "probe": None}
    full = plan(space, baselines=base, trials=50, **kw)
    few = plan(space, baselines=base, trials=5, **kw)
    assert len(full.seeds) > 2 and labels(few.seeds) == labels(full.seeds)[:2]
    assert any("left out: 5 trials leave room for 2 seeds" in n for n in few.notes)
    assert plan(space, baselines=base, trials=3, **kw).seeds == ()
    timed = _default_setup(cpus=2, timeout=60.0)  # no --trials: the default count caps them
    assert len(timed.seeds) <= limit(DEFAULT_TRIALS, len(timed.baselines))


def test_no_seeds_option() -> None:
    assert _default_setup(cpus=2, seeds=False).seeds == []


# -- enqueued once ------------------------------------------------------------------------------


def _enqueue(setup: Setup, study: optuna.Study, created: bool) -> list[str]:
    return [*enqueue_baselines(setup, study, created), *enqueue_seeds(setup, study, created)]


def test_enqueued_after_the_baselines_with_their_attributes() -> None:
    setup = _default_setup(cpus=2, trials=20)
    study = optuna.create_study(direction="maximize")
    assert _enqueue(setup, study, True) == [DEFAULT_LABEL, *labels(setup.seeds)]
    waiting = study.get_trials(deepcopy=False)
    assert waiting[0].user_attrs == {"baseline": DEFAULT_LABEL}
    for trial, seed in zip(waiting[1:], setup.seeds, strict=True):
        assert trial.user_attrs["seed"] == seed.label and trial.user_attrs["why"] == seed.why
        assert trial.user_attrs.get("trap") == (seed.label if seed.trap else None)
    objective = TrialObjective(
        space=setup.space,
        goal=Goal(),
        workload=preset("cpu"),
        plan=Plan(Goal(), 1.0, 0.0),
        broker=Broker(),
        baselines=setup.baselines,
        make_config=lambda choice, label: worker_config(choice, label, setup.trial_extra),
        references={s.label: s.choice for s in setup.seeds if s.trap},
    )
    study.ask()  # the baseline
    for seed in setup.seeds:
        asked = study.ask()  # Optuna hands out the enqueued trials in order
        config, ran = objective.config_for(asked)
        assert ran == seed.choice  # what the trial runs, and what a pick would emit
        if seed.trap:
            assert config.max_tasks_per_child == 100
            # its params are the nearest point of the searched space: the sampler stays inside
            assert suggest(asked, setup.space)["max_tasks_per_child"] is None
        else:
            assert suggest(asked, setup.space) == seed.choice


def test_a_resumed_study_enqueues_only_seeds_that_failed(tmp_path: Path) -> None:
    setup = _default_setup(cpus=2, trials=20)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=url, study_name="s", direction="maximize")
    _enqueue(setup, study, True)
    assert _enqueue(setup, study, True) == []  # twice by the creator: still once
    failing = setup.seeds[0].label

    def objective(trial: optuna.Trial) -> float:
        if trial.user_attrs.get("seed") == failing:
            raise ValueError("worker failed to start")
        return 1.0

    study.optimize(objective, n_trials=1 + len(setup.seeds), catch=(ValueError,))
    states = {t.user_attrs.get("seed"): t.state for t in study.trials}
    assert states[failing] == TrialState.FAIL
    resumed = optuna.load_study(study_name="s", storage=url)
    assert _enqueue(setup, resumed, False) == [failing]
    assert _enqueue(setup, resumed, False) == []  # now waiting: not again
    waiting = resumed.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    assert [t.user_attrs["seed"] for t in waiting] == [failing]


# -- live -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_seeds_run_as_trials_and_the_report_lists_them(tmp_path: Path) -> None:
    from tuner.commands.optimize import optimize

    out = tmp_path / "out"
    options = OptimizeOptions(
        workload="cpu", cpus=2, trials=4, trial_seconds=2.0, warmup=0.5, confirm=0, seed=1,
        probe=False, out=str(out),
    )  # fmt: skip
    expected = resolve(options).seeds
    assert len(expected) == 1  # 4 trials: 1 baseline, 1 seed, 2 sampled
    stderr = io.StringIO()
    code = optimize(options, out=io.StringIO(), err=stderr)
    assert code == 0, stderr.getvalue()
    assert f"[seed: {expected[0].label}]" in stderr.getvalue()
    data = json.loads((out / "report.json").read_text())
    assert [s["label"] for s in data["seeds"]] == labels(expected)
    assert data["seeds"][0]["why"] == expected[0].why and data["seeds"][0]["trap"] is False
    assert data["seeds"][0]["choice"] == expected[0].choice
    whats = [r["what"] for r in data["ruled_out"]]
    assert "pool solo" in whats and all(r["why"] for r in data["ruled_out"])
    assert data["space_size"]["default"] is None  # not enumerable (JSON has no infinity)
    assert data["space_size"]["searched"] > 0
    trials = data["trials"]
    assert trials[0]["baseline"] == DEFAULT_LABEL and trials[0]["seed"] is None
    seeded = trials[1]
    assert seeded["seed"] == expected[0].label and seeded["trap"] is None
    assert seeded["state"] in ("COMPLETE", "PRUNED")
    ran = {k: seeded["config"][k] for k in ("pool", "concurrency", "prefetch_multiplier")}
    choice = expected[0].choice
    assert ran == {k: choice[k] for k in ("pool", "concurrency", "prefetch_multiplier")}
    assert seeded["config"]["acks_late"] == choice["acks_late"]
    assert all(t["seed"] is None for t in trials[2:])  # the sampler's
