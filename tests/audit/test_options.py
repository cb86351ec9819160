from __future__ import annotations

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
    cpu = {f.code for f in engine.run([str(path)], AuditOptions(cpus=2)).findings}
    io_ = {f.code for f in engine.run([str(path)], AuditOptions(cpus=2, workload="io")).findings}
    assert "CT202" in cpu and "CT202" not in io_
