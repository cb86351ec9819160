"""``plan`` end to end with real workers: the embedded broker (with --validate) and Redis.

Short on purpose (1 s per point, concurrency 1..3): these check that the pieces run together and
clean up, not the accuracy (that is benchmarks/bench_plan.py).  No timing assertion.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.bench.conftest import redis_url  # noqa: F401  (fixture)
from tuner.commands.plan import plan

pytestmark = pytest.mark.slow

QUICK = {
    "point_seconds": 1.0,
    "max_concurrency": 3,
    "broker_messages": 200,
    "timeout": 120.0,
    "progress": False,
    "as_json": True,
}


def run(tmp_path: Path, **options: object) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    try:
        code = plan(out=out, err=err, out_dir=str(tmp_path / "plan"), **{**QUICK, **options})
    finally:
        left = [
            p for p in psutil.Process().children(recursive=True)
            if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE
        ]  # fmt: skip
    assert not left, f"processes left behind: {left}"
    assert code in (0, 1), err.getvalue()
    return code, json.loads(out.getvalue()), err.getvalue()


def check_model(doc: dict[str, Any]) -> None:
    model = doc["model"]
    assert isinstance(model, dict)
    usl = model["usl"]
    assert usl["lambda"] > 0 and 0 <= usl["sigma"] <= 1 and usl["kappa"] >= 0
    assert sorted(p["n"] for p in usl["points"]) == [1.0, 2.0, 2.0, 3.0]  # 1 node x 1..3, 2 x 1
    assert model["service_time"]["samples"] >= 5
    assert model["broker_ceiling"] > 0
    assert len(model["node_points"]) == 1 and model["node_points"][0]["nodes"] == 2


def test_embedded_broker_with_validation(tmp_path: Path) -> None:
    code, doc, _err = run(tmp_path, rate=2.0, p99_slo=5.0, workload="cpu", validate=True,
                         validate_seconds=2.0)  # fmt: skip
    check_model(doc)
    rec = doc["recommendation"]
    assert isinstance(rec, dict), doc.get("reason")
    checks = doc["validation"]
    assert isinstance(checks, list) and len(checks) == 3
    for c in checks:
        assert c["measured_throughput"] is not None and c["measured_throughput"] > 0
        assert c["predicted_throughput"] > 0
        assert c["predicted_p99"] is None or math.isfinite(c["predicted_p99"])
    verified = all(c["within_accuracy"] for c in checks)
    assert rec["verified"] is verified
    assert code == (0 if verified else 1)  # an unverified recommendation fails the command
    assert Path(doc["files"]["report"]).is_file()


def test_redis(tmp_path: Path, redis_url: str) -> None:  # noqa: F811
    code, doc, err = run(tmp_path, rate=2.0, p99_slo=5.0, workload="io", broker=redis_url)
    assert code == 0, err
    check_model(doc)
    rec = doc["recommendation"]
    assert isinstance(rec, dict)
    # Redis with Celery 5.6+: the planned workers fetch only for an idle child (KEDA sees all).
    assert rec["settings"].get("worker_disable_prefetch") is True
    assert doc["autoscaler"]["kind"] == "redis"
    assert doc["autoscaler"]["hidden_per_replica"] == 0
    text = Path(doc["files"]["keda"]).read_text()
    assert "listName: celery" in text
