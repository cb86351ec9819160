"""The audit knows celery-tune's AffinityPool as prefork, under its path and under its old alias."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.audit import engine
from tuner.audit.context import pool_kind
from tuner.audit.options import AuditOptions

AFFINITY_PATHS = [
    "tuner.pools.prefork:AffinityPool",  # the path to use
    "tuner.pools:AffinityPool",  # the alias it had before (the same class)
    "tuner.pools.prefork.AffinityPool",  # dotted forms, as symbol_by_name also accepts
    "tuner.pools.AffinityPool",
]


@pytest.mark.parametrize("name", AFFINITY_PATHS)
def test_affinity_pool_paths_are_prefork(name: str) -> None:
    assert pool_kind(name) == "prefork"


@pytest.mark.parametrize("name", ["tuner.pools.prefork:OtherPool", "mypkg.pools:AffinityPool"])
def test_other_classes_stay_custom(name: str) -> None:
    assert pool_kind(name) == "custom"


def _codes(tmp_path: Path, pool: str) -> set[str]:
    path = tmp_path / "celeryconfig.py"
    path.write_text(
        f"worker_pool = {pool!r}\nworker_concurrency = 8\nworker_max_tasks_per_child = 1\n"
    )
    return {f.code for f in engine.run([str(path)], AuditOptions(workload="cpu", cpus=2)).findings}


@pytest.mark.parametrize("name", AFFINITY_PATHS[:2])
def test_prefork_rules_apply_to_the_affinity_pool(tmp_path: Path, name: str) -> None:
    codes = _codes(tmp_path, name)
    # Exactly what plain prefork gets (8 children on 2 CPUs: CT201), nothing about the pool.
    assert codes == _codes(tmp_path, "prefork")
    assert "CT201" in codes
    assert not codes & {"CT102", "CT104", "CT110"}


def test_an_unknown_custom_pool_gets_no_prefork_findings(tmp_path: Path) -> None:
    codes = _codes(tmp_path, "mypkg.pools:PinnedPool")
    assert not codes & {"CT201", "CT102"}
