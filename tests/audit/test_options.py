from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tuner.audit.options import AuditOptions, OptionsError, merge_pyproject


def _pyproject(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text("[project]\nname = 'x'\n\n[tool.celery-tune]\n" + body)
    return path


def test_pyproject_values_apply_unless_given_on_the_command_line(tmp_path: Path) -> None:
    path = _pyproject(tmp_path, 'cpus = 4\nworkload = "io"\nignore = ["CT303"]\n')
    merged = merge_pyproject(AuditOptions(), path, explicit=set())
    assert (merged.cpus, merged.workload, merged.ignore) == (4.0, "io", ("CT303",))
    merged = merge_pyproject(AuditOptions(workload="mixed"), path, explicit={"workload"})
    assert merged.workload == "mixed"


def test_unknown_pyproject_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _pyproject(tmp_path, "cpus = 2\nworker_num_processes = 4\n")
    with pytest.raises(OptionsError, match=r"pyproject.toml:6: .*no key 'worker_num_processes'"):
        merge_pyproject(AuditOptions(), path, explicit=set())


@pytest.mark.parametrize(
    "body",
    ['cpus = "two"\n', 'workload = "gpu"\n', 'select = ["CT999"]\n', "fail-on = 3\n"],
)
def test_bad_pyproject_values(tmp_path: Path, body: str) -> None:
    with pytest.raises(OptionsError, match=r"pyproject.toml:\d+: "):
        merge_pyproject(AuditOptions(), _pyproject(tmp_path, body), explicit=set())


def test_cli_reads_the_nearest_pyproject(tmp_path: Path, samples: Path) -> None:
    _pyproject(tmp_path, "worker_num_processes = 4\n")
    proc = run_cli("audit", str(samples / "tuned_celeryconfig.py"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no key 'worker_num_processes'" in proc.stderr


def test_workload_io_turns_cpu_rules_off(tmp_path: Path) -> None:
    from tuner.audit import engine

    path = tmp_path / "celeryconfig.py"
    path.write_text("worker_pool = 'threads'\nworker_concurrency = 32\n")
    cpu = {f.code for f in engine.run([str(path)], AuditOptions(workload="cpu", cpus=2)).findings}
    io_ = {f.code for f in engine.run([str(path)], AuditOptions(cpus=2, workload="io")).findings}
    assert "CT202" in cpu and "CT202" not in io_


def test_cpu_rules_stay_silent_until_the_workload_is_stated(tmp_path: Path) -> None:
    """Whether tasks are CPU-bound is context no file shows: the CPU-bound rules need it said,
    on the command line or in [tool.celery-tune]; the other rules run either way."""
    (tmp_path / "Procfile").write_text("worker: celery -A proj worker -P threads -c 32\n")
    (tmp_path / "celeryconfig.py").write_text("worker_num_processes = 4\n")
    files = ["Procfile", "celeryconfig.py"]

    def codes(*args: str) -> set[str]:
        proc = run_cli("audit", "--format", "json", "--cpus", "2", *args, *files, cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        return {f["code"] for f in json.loads(proc.stdout)["findings"]}

    unstated = codes()
    assert "CT202" not in unstated and "CT101" in unstated
    assert "CT202" in codes("--workload", "cpu")
    (tmp_path / "pyproject.toml").write_text('[tool.celery-tune]\nworkload = "cpu"\n')
    assert "CT202" in codes()
    assert "CT202" not in codes("--workload", "io")  # the command line wins


# CT101 (default), CT207 (opt-in); the time limit keeps opt-in CT303 quiet under ALL.
CONFIG = "worker_num_processes = 4\nworker_max_tasks_per_child = 1\ntask_time_limit = 60\n"


def _found(tmp_path: Path, **kw: object) -> set[str]:
    from tuner.audit import engine

    path = tmp_path / "celeryconfig.py"
    path.write_text(CONFIG)
    options = AuditOptions(workload="cpu", cpus=2, **kw)  # type: ignore[arg-type]
    return {f.code for f in engine.run([str(path)], options).findings}


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, {"CT101"}),  # the default set: opt-in CT207 is off
        ({"extend_select": ("CT207",)}, {"CT101", "CT207"}),
        ({"extend_select": ("fork-per-task",)}, {"CT101", "CT207"}),
        ({"select": ("CT2",)}, {"CT207"}),  # select replaces the default set, opt-in included
        ({"select": ("ALL",)}, {"CT101", "CT207"}),
        ({"select": ("ALL",), "ignore": ("CT1",)}, {"CT207"}),
        ({"select": ("CT207",), "ignore": ("CT2",)}, {"CT207"}),  # the more specific wins
        ({"select": ("CT2",), "ignore": ("CT207",)}, set()),
        ({"ignore": ("ALL",)}, set()),
        ({"extend_select": ("ALL",), "ignore": ("CT101",)}, {"CT207"}),
    ],
)
def test_ruff_style_selection(tmp_path: Path, kw: dict[str, object], expected: set[str]) -> None:
    assert _found(tmp_path, **kw) == expected


def test_extend_select_from_pyproject_and_the_cli(tmp_path: Path) -> None:
    path = _pyproject(tmp_path, 'extend-select = ["CT207"]\ncpus = 2\n')
    merged = merge_pyproject(AuditOptions(), path, explicit=set())
    assert merged.extend_select == ("CT207",)
    config = tmp_path / "celeryconfig.py"
    config.write_text(CONFIG)
    proc = run_cli("audit", str(config), cwd=tmp_path)
    assert proc.returncode == 1 and "CT207" in proc.stdout and "CT101" in proc.stdout
    proc = run_cli("audit", "--ignore", "CT101", str(config), cwd=tmp_path)
    assert "CT101" not in proc.stdout and "CT207" in proc.stdout
    proc = run_cli("audit", "--select", "CT1", "--extend-select", "CT9", str(config), cwd=tmp_path)
    assert proc.returncode == 2 and "unknown rule code or prefix 'CT9'" in proc.stderr


def test_rules_lists_the_set(tmp_path: Path) -> None:
    proc = run_cli("rules", cwd=tmp_path)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("CT303"))
    assert "opt-in" in line
    proc = run_cli("rules", "--json", cwd=tmp_path)
    import json

    assert {r["code"]: r["set"] for r in json.loads(proc.stdout)}["CT101"] == "default"
