"""The replayed schedule is the one a real bench run sends (the validation's like-with-like)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import tuner.bench.runner as runner
from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.driver import Driver
from tuner.bench.load import LoadSpec
from tuner.bench.workloads import preset
from tuner.plan.validate import schedule

pytestmark = pytest.mark.slow


def test_schedule_matches_what_a_real_run_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same arrival offsets (to the driver's clock) and same task types, warm-up included."""
    seen: dict[str, object] = {}
    original = runner._services

    def keep(run: Driver) -> object:
        seen["run"] = run
        return original(run)

    monkeypatch.setattr(runner, "_services", keep)
    work = preset("cpu-heavy-tail", scale=0.05)  # 1 ms and 20 ms tasks, two types
    load = LoadSpec(mode="open", rate=40.0, warmup=0.5, duration=1.5, seed=3)
    res = runner.run_config(
        WorkerConfig(label="s", concurrency=1, prefetch_multiplier=1, acks_late=True),
        work, load, Broker(), cpus=2.0, timeout=120.0,
    )  # fmt: skip
    run = seen["run"]
    assert isinstance(run, Driver)
    sent = list(run.sent.values())
    times, kinds = schedule(work, load)
    assert len(times) == len(sent)
    offsets = [s.scheduled - sent[0].scheduled for s in sent]
    assert offsets == pytest.approx(times.tolist(), abs=1e-6)
    assert kinds == [s.cpu_seconds for s in sent]
    assert Counter(k for k in kinds)[work.specs[1].cpu_seconds] >= 1  # both types were sent
    measured = [t for t in times if t >= load.warmup]
    assert len(measured) == res.metrics.tasks_measured
