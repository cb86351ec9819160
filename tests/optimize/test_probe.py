"""The GIL probe: its decision on recorded figures, and live on ``cpu`` against ``native``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tuner.bench.workloads import preset
from tuner.optimize.probe import HOLDS_GIL_PCT, GilProbe, decide, probe, restrict
from tuner.optimize.setup import OptimizeOptions, resolve
from tuner.optimize.space import AFFINITY_POOL, Param, Space, default_space

# gil_wait_pct of `celery-tune profile -P threads -c 2 --duration 10` (docs/profile.md),
# at a load average of 11-16 on 2 CPUs
RECORDED_CPU = 100.0
RECORDED_NATIVE = 49.4


def test_pure_python_work_rules_out_shared_gil_pools() -> None:
    d = decide("cpu", 2, 10, gil_wait_pct=RECORDED_CPU, gil_pct=66.7)
    assert d.holds_gil and set(d.ruled_out) >= {"threads", "gevent", "eventlet"}
    assert "holds the GIL" in d.describe() and "ruled out" in d.describe()
    assert f"{RECORDED_CPU:.0f}%" in d.describe()


def test_native_work_keeps_threads() -> None:
    d = decide("native", 2, 10, gil_wait_pct=RECORDED_NATIVE, native_pct=82.6)
    assert not d.holds_gil and d.ruled_out == ()
    assert "releases the GIL" in d.describe() and "threads stay" in d.describe()


def test_the_bound() -> None:
    assert decide("w", 2, 4, gil_wait_pct=HOLDS_GIL_PCT).holds_gil
    assert not decide("w", 2, 4, gil_wait_pct=HOLDS_GIL_PCT - 0.1).holds_gil


def test_record_is_frozen_and_serialisable() -> None:
    d = decide("cpu", 2, 4, gil_wait_pct=80.0)
    with pytest.raises(AttributeError):
        d.holds_gil = False  # type: ignore[misc]
    data = d.as_dict()
    assert data["gil_wait_pct"] == 80.0 and data["ruled_out"] == list(d.ruled_out)
    assert data["decision"] == d.describe()


def test_restrict_removes_only_what_the_decision_rules_out() -> None:
    space = default_space(2, "io", broker_url=None, leaky=False)
    pool = space.get("pool")
    assert pool is not None and "threads" in pool.choices
    holds = decide("cpu", 2, 4, gil_wait_pct=90.0)
    kept = restrict(space, holds).get("pool")
    assert kept is not None
    assert "threads" not in kept.choices and not set(kept.choices) & {"gevent", "eventlet"}
    assert "prefork" in kept.choices and "solo" in kept.choices
    assert [p.key for p in restrict(space, holds).params] == [p.key for p in space.params]
    releases = decide("native", 2, 4, gil_wait_pct=2.0)
    assert restrict(space, releases) == space


def test_restrict_never_empties_the_pool_choice() -> None:
    only_threads = Space((Param("pool", choices=("threads",)),))
    assert restrict(only_threads, decide("cpu", 2, 4, gil_wait_pct=90.0)) == only_threads
    no_pool = Space((Param("concurrency", low=1, high=4),))
    assert restrict(no_pool, decide("cpu", 2, 4, gil_wait_pct=90.0)) == no_pool
    mine = Space((Param("pool", choices=("prefork", AFFINITY_POOL, "threads")),))
    kept = restrict(mine, decide("cpu", 2, 4, gil_wait_pct=90.0)).get("pool")
    assert kept is not None and kept.choices == ("prefork", AFFINITY_POOL)


HAVE_PYSPY = shutil.which("py-spy") is not None or (Path(sys.executable).parent / "py-spy").exists()


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_PYSPY, reason="py-spy is not installed")
def test_probe_tells_cpu_from_native_work(tmp_path: Path) -> None:
    """A comparison, not a bound: on a loaded machine the figures move, their order does not.

    The ``cpu`` probe runs through optimize's set-up (where it is on by default), which narrows
    the space and records why.
    """
    setup = resolve(OptimizeOptions(workload="cpu", cpus=2, out=str(tmp_path)))
    cpu = setup.probe
    assert isinstance(cpu, GilProbe) and cpu.threads == 2 and cpu.workload == "cpu"
    assert cpu.holds_gil and "threads" in cpu.ruled_out
    pool = setup.space.get("pool")
    assert pool is not None and "threads" not in pool.choices and "prefork" in pool.choices
    assert cpu.describe() in setup.notes
    assert any(r.why == cpu.describe() and "threads" in r.what for r in setup.ruled_out)
    native = probe(preset("native"), 2, seconds=3, warmup=1.0)
    assert native.gil_wait_pct < cpu.gil_wait_pct
    assert native.native_pct > cpu.native_pct
