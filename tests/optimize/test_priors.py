"""The priors: the default space narrowed before any trial, each narrowing with its reason."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest

from tuner.optimize.priors import RuledOut, narrow
from tuner.optimize.probe import decide
from tuner.optimize.setup import OptimizeOptions, resolve
from tuner.optimize.space import Param, Space, default_space, grid_size, suggest


def _pools(space: Space) -> tuple[object, ...]:
    pool = space.get("pool")
    assert pool is not None
    return pool.choices


def test_cpu_bound_work_on_two_cpus() -> None:
    space, ruled = narrow(default_space(2, "cpu", broker_url=None, leaky=False), cpus=2,
                          kind="cpu", leaky=False)  # fmt: skip
    assert "solo" not in _pools(space) and "prefork" in _pools(space)
    conc = space.get("concurrency")
    assert conc is not None and (conc.low, conc.high) == (2, 4)
    assert conc.contains(3)  # CPUs + 1 stays inside
    assert space.get("max_tasks_per_child") == Param("max_tasks_per_child", choices=(None,))
    by_what = {r.what.split(" ")[0]: r.why for r in ruled}
    assert "one CPU" in by_what["pool"]
    assert "idle" in by_what["concurrency"] and "CT201" in by_what["concurrency"]
    assert "fork cost" in by_what["max_tasks_per_child,"]
    assert "re-forks a child after every task" in by_what["max_tasks_per_child,"]
    assert grid_size(space) < grid_size(default_space(2, "cpu", broker_url=None, leaky=False))


def test_one_cpu_keeps_solo_and_the_concurrency_range() -> None:
    before = default_space(1, "cpu", broker_url=None, leaky=False)
    space, ruled = narrow(before, cpus=1, kind="cpu", leaky=False)
    assert "solo" in _pools(space) and space.get("concurrency") == before.get("concurrency")
    assert [r.what.split(" ")[0] for r in ruled] == ["max_tasks_per_child,"]


@pytest.mark.parametrize("kind", ["io", "mixed"])
def test_other_kinds_only_lose_the_leak_limits(kind: str) -> None:
    before = default_space(2, kind, broker_url=None, leaky=False)
    space, ruled = narrow(before, cpus=2, kind=kind, leaky=False)
    assert _pools(space) == _pools(before) and space.get("concurrency") == before.get("concurrency")
    assert len(ruled) == 1 and "leak" in ruled[0].why


def test_a_leaky_workload_keeps_the_leak_limits() -> None:
    before = default_space(2, "cpu", broker_url=None, leaky=True)
    space, ruled = narrow(before, cpus=2, kind="cpu", leaky=True)
    for key in ("max_tasks_per_child", "max_memory_per_child"):
        assert space.get(key) == before.get(key)
    assert not any("leak" in r.why for r in ruled)


def test_the_probe_decision_is_a_ruled_out_entry() -> None:
    before = default_space(2, "cpu", broker_url=None, leaky=False)
    holds = decide("cpu", 2, 4, gil_wait_pct=99.0)
    space, ruled = narrow(before, cpus=2, kind="cpu", leaky=False, probe=holds)
    assert "threads" not in _pools(space)
    assert RuledOut("pool threads", holds.describe()) in ruled
    releases = decide("native", 2, 4, gil_wait_pct=40.0)
    space, ruled = narrow(before, cpus=2, kind="cpu", leaky=False, probe=releases)
    assert "threads" in _pools(space) and not any("GIL" in r.why for r in ruled)


def test_ruled_out_is_frozen_and_plain() -> None:
    r = RuledOut("pool solo", "one CPU")
    with pytest.raises(AttributeError):
        r.what = "x"  # type: ignore[misc]
    assert json.loads(json.dumps(r.as_dict())) == {"what": "pool solo", "why": "one CPU"}


def test_sampling_the_narrowed_space_never_reaches_what_was_ruled_out() -> None:
    space, _ = narrow(default_space(2, "cpu", broker_url=None, leaky=False), cpus=2,
                      kind="cpu", leaky=False)  # fmt: skip
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(60):
        choice = suggest(study.ask(), space)
        assert choice["pool"] != "solo"
        assert isinstance(choice["concurrency"], int) and 2 <= choice["concurrency"] <= 4
        assert choice["max_tasks_per_child"] is None


# -- through optimize's set-up ------------------------------------------------------------------


def test_setup_narrows_only_the_default_space(tmp_path: Path) -> None:
    setup = resolve(OptimizeOptions(workload="cpu-heavy-tail", cpus=2, probe=False))
    assert setup.ruled_out and "solo" not in _pools(setup.space)
    assert math.isinf(setup.space_size["default"])  # a range wider than 64: not enumerable
    assert setup.space_size["searched"] == grid_size(setup.space) < math.inf
    mine = tmp_path / "space.toml"
    mine.write_text("pool = ['prefork', 'solo']\nconcurrency = {low = 1, high = 8}\n")
    setup = resolve(OptimizeOptions(workload="cpu", cpus=2, space=str(mine), probe=False))
    assert setup.ruled_out == [] and "solo" in _pools(setup.space)
    conc = setup.space.get("concurrency")
    assert conc is not None and conc.low == 1  # the user's space, as written


def test_baselines_widen_the_narrowed_space(tmp_path: Path) -> None:
    config = tmp_path / "celeryconfig.py"
    config.write_text(
        "worker_concurrency = 1\nworker_max_tasks_per_child = 50\ntask_time_limit = 30\n"
    )
    setup = resolve(OptimizeOptions(workload="cpu", cpus=2, config=str(config), probe=False))
    conc = setup.space.get("concurrency")
    assert conc is not None and conc.contains(1) and conc.high == 4
    mtpc = setup.space.get("max_tasks_per_child")
    assert mtpc is not None and mtpc.contains(50) and mtpc.contains(None)
