"""CT201/CT206 compare against the *target's* CPUs: `--cpus`, `cpus` in `[tool.celery-tune]`, or a
CPU limit written next to the command. The machine running the audit (a CI runner) is never used:
its CPU count says nothing about production."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tuner.audit import engine
from tuner.audit.options import AuditOptions
from tuner.finding import Finding

RUN_SH = """\
celery -A proj worker -c 64
celery -A proj worker --autoscale 64,2
celery -A proj worker -c $(expr 2 \\* $(nproc) + 1)
celery -A proj worker -c $(( $(nproc) * 2 ))
celery -A proj worker -c $(nproc)
celery -A proj worker -c $(( $(nproc) / 2 ))
celery -A proj worker -c $(( $(nproc) - 1 ))
celery -A proj worker -c $(( $(nproc) + 1 ))
"""


def run(tmp_path: Path, files: dict[str, str], cpus: float | None = None) -> list[Finding]:
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        paths.append(str(path))
    return engine.run(paths, AuditOptions(workload="cpu", cpus=cpus)).findings


def lines(findings: list[Finding], *codes: str) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in findings if f.code in codes]


def test_without_a_target_count_the_auditing_machine_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were the audit to use this machine's CPUs, one CPU would make lines 1 and 2 fire.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    found = run(tmp_path, {"run.sh": RUN_SH})
    # Only what is above the CPU count on every machine: 2N+1, 2N and N+1 for N = nproc CPUs.
    assert lines(found, "CT201", "CT206") == [("CT201", 3), ("CT201", 4), ("CT201", 8)]
    assert all("this machine" not in f.message for f in found)
    assert "than `nproc` counts CPUs, on any machine" in found[0].message


def test_with_cpus_the_count_is_the_stated_one(tmp_path: Path) -> None:
    found = run(tmp_path, {"run.sh": RUN_SH}, cpus=4)
    assert lines(found, "CT201", "CT206") == [
        ("CT201", 1),
        ("CT206", 2),
        ("CT201", 3),
        ("CT201", 4),
        ("CT201", 8),  # N + 1 = 5 for 4 CPUs
    ]
    assert "for 4 CPUs (from --cpus" in found[0].message


def test_pyproject_cpus_is_a_target_count(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.celery-tune]\ncpus = 8\nworkload = "cpu"\n')
    (tmp_path / "Procfile").write_text("worker: celery -A proj worker -c 16\n")
    (tmp_path / "Procfile.small").write_text("worker: celery -A proj worker -c 8\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tuner", "audit", "Procfile", "Procfile.small"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Procfile:1:" in proc.stdout and "CT201" in proc.stdout, proc.stdout + proc.stderr
    assert "for 8 CPUs" in proc.stdout
    assert "Procfile.small" not in proc.stdout
    # No count anywhere: silent.
    (tmp_path / "pyproject.toml").write_text('[tool.celery-tune]\nworkload = "cpu"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "tuner", "audit", "Procfile"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "CT201" not in proc.stdout, proc.stdout


def test_a_container_cpu_limit_is_a_target_count(tmp_path: Path) -> None:
    compose = """
    services:
      worker:
        command: celery -A proj worker -c 4 --autoscale 3,1
        cpus: 1.5
      other:
        command: celery -A proj worker -c 2
        cpus: 2
    """
    found = run(tmp_path, {"docker-compose.yml": compose})
    assert lines(found, "CT201", "CT206") == [("CT201", 3), ("CT206", 3)]
    assert "for 1.5 CPUs (the container's CPU limit)" in found[0].message
    # The limit next to the command wins over --cpus.
    found = run(tmp_path / "b", {"docker-compose.yml": compose}, cpus=64)
    assert lines(found, "CT201", "CT206") == [("CT201", 3), ("CT206", 3)]


def test_an_unreadable_limit_leaves_the_count_unknown(tmp_path: Path) -> None:
    # --cpus is for the machine; the container's own limit is not known, so neither is the
    # worker's CPU count.
    compose = """
    services:
      worker:
        command: celery -A proj worker -c 4
        cpus: ${WORKER_CPUS}
    """
    assert lines(run(tmp_path, {"docker-compose.yml": compose}, cpus=2), "CT201") == []


POD = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  template:
    spec:
      containers:
        - name: celery
          command: ["sh", "-c", "celery -A proj worker {args}"]
          resources:
            limits:
              cpu: {cpu}
"""


def test_nproc_in_a_container_counts_the_node(tmp_path: Path) -> None:
    # nproc sees the node's CPUs, never fewer than the limit: N is not judged against the limit,
    # but 2N is too many whatever the node.
    doubled = POD.format(args="-c $(( $(nproc) * 2 ))", cpu="2")
    plain = POD.format(args="-c $(nproc)", cpu="2")
    assert lines(run(tmp_path / "a", {"w.yaml": doubled}, cpus=64), "CT201") == [("CT201", 10)]
    assert lines(run(tmp_path / "b", {"w.yaml": plain}, cpus=64), "CT201") == []


def test_unconfigured_pod_with_an_unreadable_limit_names_no_count(tmp_path: Path) -> None:
    pod = POD.format(args="", cpu='"{{ .Values.cpu }}"')
    found = [f for f in run(tmp_path, {"w.yaml": pod}) if f.code == "CT209"]
    assert len(found) == 1
    assert "None" not in found[0].message and "container's limit;" in found[0].message


def test_a_suppression_of_a_cpu_rule_is_not_unused_without_a_target_count(tmp_path: Path) -> None:
    # What `celery-tune optimize` writes when a measurement beat the heuristic; audited in CI
    # without --cpus, CT201 cannot be judged, so its suppression is not reported as unused.
    text = "worker_concurrency = 4  # celery-tune: ignore[CT201]  measured: 2.1x\n"
    assert run(tmp_path, {"celeryconfig.py": text}) == []
    found = run(tmp_path / "b", {"celeryconfig.py": text}, cpus=8)
    assert [(f.code, f.line) for f in found] == [("CT002", 1)]
    assert run(tmp_path / "c", {"celeryconfig.py": text}, cpus=2) == []
