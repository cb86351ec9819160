"""An error during confirmation: nothing is claimed as confirmed, nothing is recommended.

One real trial runs (the celery-default baseline); confirmation then fails (a BenchError, as when
a worker cannot start).  The command says so, exits 1, writes no config module, removes the one an
earlier run left behind, and report.json lists the search's pick as unconfirmed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tuner.bench.errors import BenchError
from tuner.commands.optimize import OptimizeOptions, optimize
from tuner.optimize import results

pytestmark = pytest.mark.slow


def test_confirmation_error_recommends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "celeryconfig_tuned.py").write_text("worker_concurrency = 99  # an earlier run's\n")

    def broken(*args: Any, **kw: Any) -> None:
        raise BenchError("worker confirm-1 failed to start")

    monkeypatch.setattr(results, "measure_rounds", broken)
    stdout, stderr = io.StringIO(), io.StringIO()
    options = OptimizeOptions(
        out=str(out),
        trials=1,
        confirm=2,
        trial_seconds=1.0,
        warmup=0.3,
        prune=False,
        probe=False,
    )
    code = optimize(options, out=stdout, err=stderr)
    err = stderr.getvalue()
    assert code == 1, err
    assert "Confirmation failed: worker confirm-1 failed to start" in err
    assert "Nothing is recommended" in err and "Rerun the same command" in err
    assert "Pick:" not in stdout.getvalue()
    assert not (out / "celeryconfig_tuned.py").exists()  # the stale one is gone too
    assert not (out / "worker-command.txt").exists()
    data = json.loads((out / "report.json").read_text())
    assert data["confirmation"]["error"] == "worker confirm-1 failed to start"
    assert data["confirmation"]["confirmed"] is False
    assert data["unconfirmed_pick"]["why"] == "worker confirm-1 failed to start"
    assert "pick" not in data or data["pick"] is None
    page = (out / "report.html").read_text()
    assert "Nothing is recommended: worker confirm-1 failed to start" in page
