"""Live optimize runs: real workers on the embedded broker, tiny budgets, short trials."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import psutil
import pytest

from tests.conftest import ROOT
from tuner.commands.optimize import OptimizeOptions, optimize
from tuner.optimize.storages import delete_study, open_storage

pytestmark = pytest.mark.slow
FAST: dict[str, Any] = {"trial_seconds": 1.5, "warmup": 0.5}
FAST_ARGS = ["--trial-seconds", "1.5", "--warmup", "0.5"]
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
INPUT = """\
# the user's current config, read statically
import os

worker_concurrency = 1
worker_prefetch_multiplier = int(os.environ.get("PREFETCH", "1"))
task_time_limit = 30
"""


def run(out: Path, **kw: Any) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    # The GIL probe has its own tests (test_probe.py); it would add a worker start per run here.
    kw.setdefault("probe", False)
    code = optimize(OptimizeOptions(out=str(out), **kw), out=stdout, err=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def report(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "report.json").read_text())
    return data


def spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        # Neither the probe nor the seeds are tested here (test_probe.py, test_seeds.py); the
        # seeds would make wait_mid_trial wait for the last enqueued one.
        [sys.executable, "-m", "tuner", "optimize", "--no-probe", "--no-seeds", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def states(db: Path) -> list[str]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return [row[0] for row in conn.execute("SELECT state FROM trials ORDER BY number")]
    except sqlite3.Error:
        return []


def wait_mid_trial(proc: subprocess.Popen[str], db: Path, timeout: float = 90) -> list[int]:
    """Wait until one trial is complete and the next one's workers are running; their PIDs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        found = states(db)
        if "COMPLETE" in found and found[-1] == "RUNNING":
            workers = psutil.Process(proc.pid).children(recursive=True)
            if workers:
                time.sleep(0.5)  # into the measurement
                return [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        time.sleep(0.2)
    raise AssertionError(f"no trial in progress after {timeout} s: {states(db)}")


def wait_gone(pids: list[int], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and _running(p)]
        if not alive:
            return
        time.sleep(0.2)
    raise AssertionError(f"worker processes left behind: {alive}")


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


# -- one full run, inspected by several tests ----------------------------------------------------


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, str, str]]:
    base = tmp_path_factory.mktemp("optimize")
    config = base / "celeryconfig.py"
    config.write_text(INPUT)
    out = base / "out"
    code, stdout, stderr = run(out, config=str(config), trials=4, confirm=2, seed=1, **FAST)
    yield out, code, stdout, stderr


def test_full_run_writes_every_output(full_run: tuple[Path, int, str, str]) -> None:
    out, code, stdout, stderr = full_run
    assert code == 0, stderr
    names = {p.name for p in out.iterdir()}
    assert {
        "celeryconfig_tuned.py",
        "celeryconfig_tuned_django.py",
        "config.diff",
        "worker-command.txt",
        "report.json",
        "report.html",
        "study.db",
    } <= names
    assert not [n for n in names if n.endswith(".tmp")]
    assert "Pick: " in stdout and "Wrote " in stdout


def test_report_json_holds_the_evidence(full_run: tuple[Path, int, str, str]) -> None:
    out = full_run[0]
    data = report(out)
    trials = data["trials"]
    assert len(trials) == 4
    assert [t["baseline"] for t in trials[:2]] == ["celery-default", "input-config"]
    for t in trials:
        assert t["state"] in ("COMPLETE", "PRUNED", "FAIL")
        if t["state"] == "COMPLETE":
            assert t["params"] and t["metrics"]["throughput"] > 0
            assert t["metrics"]["tasks_lost"] == 0
    assert trials[1]["config"]["concurrency"] == 1  # the input config, read statically
    assert trials[1]["config"]["extra"]["task_time_limit"] == 30
    confirmation = data["confirmation"]
    assert confirmation["rounds"] == 2 and confirmation["interleaved"]
    for config in confirmation["configs"]:
        assert len(config["runs"]) == 2
    improvement = data["improvement"]
    assert set(improvement["by_baseline"]) >= {"celery-default", "input-config"} - {
        confirmation["chosen"]
    }
    main = improvement["by_baseline"].get("celery-default")
    if main is not None and not main["same_config"]:
        assert improvement["throughput_ratio"] > 0 and improvement["p99_ratio"] > 0
        low, high = improvement["throughput_ratio_ci"]  # a confidence interval, 2 rounds
        assert low <= improvement["throughput_ratio"] <= high
        assert confirmation["family_alpha"] <= 0.05 and confirmation["alpha"] > 0
    env = data["environment"]
    assert env["cpus"] >= 1 and env["celery"] and env["optuna"]
    assert data["pick"]["settings"] and data["pick"]["command"].startswith(("celery", "CELERY"))


def test_no_baseline_beats_the_recommendation(full_run: tuple[Path, int, str, str]) -> None:
    """The pick is confirmed against both baselines; one that beats it would replace it."""
    data = report(full_run[0])
    confirmation = data["confirmation"]
    assert set(confirmation["search_verdicts"]) == {"celery-default", "input-config"}
    assert all(v["winner"] != "baseline" for v in confirmation["verdicts"].values())
    if confirmation["chosen"] != "tuned":
        assert confirmation["reason"] and data["pick"]["baseline"] == confirmation["chosen"]


def test_emitted_config_is_what_was_picked(full_run: tuple[Path, int, str, str]) -> None:
    from celery import Celery

    out = full_run[0]
    data = report(out)
    settings = data["pick"]["settings"]
    spec = importlib.util.spec_from_file_location(
        "celeryconfig_tuned", out / "celeryconfig_tuned.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for key, value in settings.items():
        assert getattr(module, key) == value
    picked = next(t for t in data["trials"] if t["number"] == data["pick"]["trial"])
    if picked["baseline"] == "celery-default":
        # Celery's defaults ran without the input config's settings: nothing of it is emitted
        # (the user's own config keeps its limit, since the module is layered onto it).
        assert not hasattr(module, "task_time_limit")
    else:
        assert module.task_time_limit == 30  # carried from the input config
    app = Celery(set_as_current=False)
    app.config_from_object(module)
    assert app.conf.task_acks_late == settings["task_acks_late"]
    assert settings == module.SETTINGS  # what app.conf.update(SETTINGS) applies
    command = (out / "worker-command.txt").read_text()
    assert command.startswith(data["pick"]["command"])
    text = (out / "celeryconfig_tuned.py").read_text()
    assert "Confirmed over 2 interleaved rounds" in text


def test_emitted_config_passes_the_audit(full_run: tuple[Path, int, str, str]) -> None:
    from tuner.audit.options import AuditOptions
    from tuner.commands.audit import audit

    out = full_run[0]
    options = AuditOptions(workload="cpu", cpus=2, fail_on="info")
    for name in ("celeryconfig_tuned.py", "worker-command.txt"):  # alternatives: each alone
        stdout = io.StringIO()
        code = audit([str(out / name)], options, out=stdout, err=io.StringIO())
        assert code == 0, stdout.getvalue()
    django = AuditOptions(workload="cpu", cpus=2, fail_on="info", namespace="CELERY")
    stdout = io.StringIO()
    code = audit([str(out / "celeryconfig_tuned_django.py")], django, out=stdout, err=io.StringIO())
    assert code == 0, stdout.getvalue()
    assert report(out)["audit"]["clean"] is True


def test_html_report_is_offline(full_run: tuple[Path, int, str, str]) -> None:
    page = (full_run[0] / "report.html").read_text()
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    assert not re.search(r"<script[^>]+src=", page)
    for title in ("id=history", "The pick against each baseline", "What to change"):
        assert title in page


def test_storage_is_readable_by_optuna_dashboard(full_run: tuple[Path, int, str, str]) -> None:
    from optuna_dashboard import wsgi  # type: ignore[import-untyped]

    app = wsgi(f"sqlite:///{full_run[0] / 'study.db'}")
    captured: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        captured["status"] = status
        return lambda data: None

    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/studies"}
    environ["QUERY_STRING"] = ""
    environ.update({"SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.url_scheme": "http"})
    environ.update({"wsgi.input": io.BytesIO(), "SERVER_PROTOCOL": "HTTP/1.1"})
    body = b"".join(app(environ, start_response))
    assert captured["status"].startswith("200")
    studies = json.loads(body)["study_summaries"]
    assert [s["study_name"] for s in studies] == ["cpu-throughput"]


# -- resuming ------------------------------------------------------------------------------------


def test_rerun_with_the_same_study_name_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = run(out, trials=2, confirm=0, study_name="resume-me", **FAST)
    assert code == 0, err
    code, _, err = run(out, trials=2, confirm=0, study_name="resume-me", **FAST)
    assert code == 0, err
    assert "Resuming study 'resume-me'" in err and "(2 trials so far)" in err
    data = report(out)
    assert len(data["trials"]) == 4
    assert [t["baseline"] for t in data["trials"]].count("celery-default") == 1


def test_sigkill_mid_study_resumes_without_losing_trials(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--trials", "6", "--trial-seconds", "3", "--warmup", "0.5", "--confirm", "0"]
    proc = spawn(*args, "--no-prune", "--out", str(out))
    try:
        workers = wait_mid_trial(proc, out / "study.db")
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        stop(proc)
    wait_gone(workers)  # the workers notice their parent died and stop their group
    before = states(out / "study.db")
    killed = len(before) - 1
    assert before[-1] == "RUNNING" and before.count("COMPLETE") >= 1
    code, _, err = run(out, trials=1, confirm=0, prune=False, trial_seconds=3, warmup=0.5)
    assert code == 0, err
    assert f"trial {killed} was left running by a process that died: FAIL" in err
    after = report(out)["trials"]
    assert after[killed]["state"] == "FAIL" and "died" in after[killed]["error"]
    assert [t["state"] for t in after[:killed]] == before[:killed]  # finished trials kept
    assert len(after) == len(before) + 1


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_stops_cleanly_and_says_rerun_resumes(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    out = tmp_path / "out"
    args = ["--trials", "6", "--trial-seconds", "3", "--warmup", "0.5", "--no-prune"]
    proc = spawn(*args, "--out", str(out))
    try:
        workers = wait_mid_trial(proc, out / "study.db")
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        stop(proc)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "Interrupted" in stderr
    assert "rerun the same command to resume it" in stderr
    assert "No feasible trial" not in stderr
    wait_gone(workers)
    data = report(out)
    assert data["interrupted"] is True
    assert data["trials"][-1]["state"] == "FAIL"
    assert data["confirmation"] is None  # no confirmation after an interrupt
    assert not (out / "celeryconfig_tuned.py").exists()  # nothing unconfirmed is recommended


def test_failed_trials_are_recorded_and_the_study_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = run(out, trials=3, confirm=0, fixed=("pool=tuner.nosuch:Pool",), **FAST)
    assert code == 0, err
    trials = report(out)["trials"]
    assert trials[0]["baseline"] == "celery-default" and trials[0]["state"] == "COMPLETE"
    assert [t["state"] for t in trials[1:]] == ["FAIL", "FAIL"]
    assert all(t["error"] for t in trials[1:])
    assert "FAILED" in err and "Traceback" not in err


# -- multi-objective -----------------------------------------------------------------------------


def test_multi_objective_reports_a_pareto_front(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # A low fixed rate: an overloaded run is infeasible for latency goals, and on a loaded machine
    # 0.7 x a capacity measured a minute earlier can be more than the workers serve now.
    code, _, err = run(out, trials=3, confirm=0, objectives="throughput,p99", rate=2.0, **FAST)
    assert code == 0, err
    data = report(out)
    assert data["study"]["directions"] == ["maximize", "minimize"]
    assert data["pareto_front"]
    assert data["plan"]["phases"] == ["saturate", "open"] and data["plan"]["open_rate"] == 2.0
    for t in data["trials"]:
        assert t["intermediate_values"] == {}  # Optuna cannot prune multi-objective studies
        if t["state"] == "COMPLETE":
            assert len(t["values"]) == 2
    assert "Pareto front" in (out / "report.html").read_text()


# -- several processes, one PostgreSQL study -----------------------------------------------------


def _postgres_or_skip() -> None:
    try:
        import psycopg2  # type: ignore[import-untyped]

        psycopg2.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")


def test_two_processes_share_one_postgresql_study(tmp_path: Path) -> None:
    _postgres_or_skip()
    name = f"celery-tune-test-{uuid.uuid4().hex[:10]}"
    storage = open_storage(PG_URL)
    args = ["--storage", PG_URL, "--study-name", name, "--trials", "2", "--confirm", "0"]
    procs = [spawn(*args, *FAST_ARGS, "--out", str(tmp_path / f"p{i}")) for i in range(2)]
    try:
        outputs = [p.communicate(timeout=180) for p in procs]
        for p, (_, stderr) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, stderr
        study = optuna.load_study(study_name=name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        assert len(trials) == 4
        assert len({t.user_attrs.get("pid") for t in trials}) == 2  # both processes measured
        assert [t.user_attrs.get("baseline") for t in trials].count("celery-default") == 1
        assert all(t.state.is_finished() for t in trials)
    finally:
        for p in procs:
            stop(p)
        delete_study(storage, name)
    assert name not in optuna.get_all_study_names(storage)
