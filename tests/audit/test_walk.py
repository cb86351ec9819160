"""``celery-tune audit`` on a folder (or no path): the walk finds what starts or configures Celery,
skips what ``ruff check .`` would skip, and reads ``-`` from stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_cli
from tuner.audit import walk

WORKER = "celery -A proj worker -P threads --max-tasks-per-child 10\n"

# path -> content; True in RELEVANT means the walk must return it.
TREE: dict[str, str] = {
    "celeryconfig.py": "worker_send_task_event = True\n",
    "proj/celery.py": "from celery import Celery\napp = Celery('proj')\n",
    "proj/settings.py": "DEBUG = True\nCELERY_BROKER_URL = 'redis://localhost'\n",
    "proj/views.py": "def index():\n    return 'no task queue here'\n",
    "proj/tasks.py": "from celery import shared_task\n",
    "Procfile": f"web: gunicorn proj.wsgi\nworker: {WORKER}",
    "Procfile.dev": "web: python manage.py runserver\n",
    "Dockerfile": 'FROM python:3.12\nCMD ["celery", "-A", "proj", "worker"]\n',
    "docker/web.Dockerfile": "FROM python:3.12\nCMD gunicorn proj.wsgi\n",
    "docker-compose.yml": f"services:\n  worker:\n    command: {WORKER}",
    "k8s/worker.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: w\n          command: [celery, -A, proj, worker]\n"
    ),
    "k8s/web.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
    "chart/templates/worker.yaml": "command: [celery, -A, {{ .Values.app }}, worker]\n",
    "deploy/celery-worker.service": f"[Service]\nExecStart=/usr/bin/{WORKER}",
    "deploy/nginx.service": "[Service]\nExecStart=/usr/sbin/nginx\n",
    "scripts/start-worker.sh": f"#!/bin/sh\nexec {WORKER}",
    "scripts/migrate.sh": "#!/bin/sh\npython manage.py migrate\n",
    "README.md": f"Run `{WORKER.strip()}`\n",
    "notes.txt": WORKER,
    # Skipped folders, whatever they hold.
    "venv/lib/celeryconfig.py": "worker_concurrency = 99\n",
    "env/pyvenv.cfg": "home = /usr/bin\n",
    "env/lib/python3.12/site-packages/celery/app/defaults.py": "CELERY = 1\n",
    "node_modules/pkg/celeryconfig.py": "worker_concurrency = 99\n",
    ".tox/py312/celeryconfig.py": "worker_concurrency = 99\n",
    ".github/workflows/ci.yml": f"jobs:\n  t:\n    steps:\n      - run: {WORKER}",
    ".hidden-celeryconfig.py": "worker_concurrency = 99\n",
    # .gitignore, nested .gitignore with a negation, a directory pattern.
    ".gitignore": "build/\n*_local.py\n",
    "build/celeryconfig.py": "worker_concurrency = 99\n",
    "celery_local.py": "worker_concurrency = 99\n",
    "services/.gitignore": "generated_*.py\n!generated_keep.py\n",
    "services/generated_celery.py": "worker_concurrency = 99\n",
    "services/generated_keep.py": "from celery import Celery\n",
    "services/api/celeryconfig.py": "task_time_limit = 60\n",
}
RELEVANT = {
    "celeryconfig.py",
    "proj/celery.py",
    "proj/settings.py",
    "proj/tasks.py",
    "Procfile",
    "Dockerfile",
    "docker-compose.yml",
    "k8s/worker.yaml",
    "deploy/celery-worker.service",
    "scripts/start-worker.sh",
    "services/generated_keep.py",
    "services/api/celeryconfig.py",
}


def _make(root: Path, tree: dict[str, str] = TREE) -> Path:
    for rel, text in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _paths(root: Path, *paths: str, **kwargs: object) -> set[str]:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        found = walk.discover(list(paths), walk.Rules(**kwargs))  # type: ignore[arg-type]
    finally:
        os.chdir(cwd)
    return {f.path for f in found.files}


def test_walk_finds_what_starts_or_configures_celery_and_skips_the_rest(tmp_path: Path) -> None:
    root = _make(tmp_path)
    assert _paths(root, ".") == RELEVANT
    # No path at all means the current folder, and paths are shown relative to it.
    assert _paths(root) == RELEVANT


def test_walk_of_a_subfolder_keeps_its_prefix_and_the_gitignores_above_it(tmp_path: Path) -> None:
    root = _make(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "services" / "build").mkdir()
    (root / "services" / "build" / "celeryconfig.py").write_text("x = 1\n")
    # build/ in the root .gitignore applies below services/ too; so does services/.gitignore.
    assert _paths(root, "services") == {
        "services/generated_keep.py",
        "services/api/celeryconfig.py",
    }


def test_gitignore_outside_a_repository_counts_only_below_the_walked_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / ".gitignore").write_text("*\n")
    root = _make(tmp_path / "project", {"celeryconfig.py": "x = 1\n"})
    assert _paths(root, ".") == {"celeryconfig.py"}


def test_exclude_and_extend_exclude(tmp_path: Path) -> None:
    root = _make(tmp_path)
    assert _paths(root, ".", extend_exclude=["k8s/", "*.service"]) == RELEVANT - {
        "k8s/worker.yaml",
        "deploy/celery-worker.service",
    }
    # `exclude` replaces the default folder names: node_modules is walked again; virtualenvs
    # and hidden folders never are.
    assert _paths(root, ".", exclude=["proj/"]) == (RELEVANT - {
        "proj/celery.py", "proj/settings.py", "proj/tasks.py"
    }) | {"node_modules/pkg/celeryconfig.py", "venv/lib/celeryconfig.py"}  # fmt: skip


def test_explicit_files_are_always_audited_unless_force_exclude(tmp_path: Path) -> None:
    root = _make(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    named = ["build/celeryconfig.py", "proj/views.py", "notes.txt", "celeryconfig.py"]
    assert _paths(root, *named) == set(named)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        found = walk.discover(named, walk.Rules(), force_exclude=True)
    finally:
        os.chdir(cwd)
    assert [f.path for f in found.files] == ["celeryconfig.py"]


def test_cli_walks_the_folder_and_audits_across_its_files(tmp_path: Path) -> None:
    root = _make(tmp_path)
    (root / "pyproject.toml").write_text('[tool.celery-tune]\nextend-exclude = ["k8s/"]\n')
    proc = run_cli("audit", "--workload", "cpu", "--cpus", "2", "--format", "json", cwd=root)
    assert proc.returncode in (1, 2), proc.stderr
    report = json.loads(proc.stdout)
    paths = {f["path"] for f in report["findings"]}
    assert paths <= RELEVANT - {"k8s/worker.yaml"}, paths
    assert report["summary"]["files"] == len(RELEVANT) - 1
    codes = {(f["path"], f["code"]) for f in report["findings"]}
    assert ("celeryconfig.py", "CT101") in codes  # worker_send_task_event: a typo
    assert ("Procfile", "CT202") in codes  # the threads pool


def test_cli_bad_exclude_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.celery-tune]\nexclude = "build"\n')
    proc = run_cli("audit", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "pyproject.toml:2" in proc.stderr, proc.stderr
    assert "list of gitignore-style patterns" in proc.stderr


def test_cli_folder_with_nothing_to_audit(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print('hello')\n")
    proc = run_cli("audit", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and "no Celery config" in proc.stderr
    assert "0 files" in proc.stdout


def _stdin(args: list[str], data: bytes, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "tuner", "audit", *args],
        input=data,
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


def test_stdin_filename_decides_the_reader_and_the_path(tmp_path: Path) -> None:
    procfile = b"worker: celery worker -A proj\n"
    proc = _stdin(["-", "--stdin-filename", "deploy/Procfile"], procfile, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("deploy/Procfile:1:23: CT107 [error] "), proc.stdout
    # The same bytes as Python are a syntax error, reported against the given name.
    proc = _stdin(["-", "--stdin-filename", "celeryconfig.py"], procfile, tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.startswith("celeryconfig.py:1:"), proc.stdout
    assert "CT001" in proc.stdout and "Traceback" not in proc.stderr
    # --stdin-filename alone reads stdin, as ruff does.
    config = b"worker_send_task_event = True\n"
    proc = _stdin(["--stdin-filename", "celeryconfig.py"], config, tmp_path)
    assert proc.stdout.startswith("celeryconfig.py:1:1: CT101 [error] "), proc.stdout
    # stdin next to a file: both are audited.
    (tmp_path / "Procfile").write_bytes(procfile)
    proc = _stdin(["Procfile", "-", "--stdin-filename", "x/celeryconfig.py"], config, tmp_path)
    assert "Procfile:1:23: CT107" in proc.stdout and "x/celeryconfig.py:1:1: CT101" in proc.stdout


def test_stdin_bad_bytes_is_one_line(tmp_path: Path) -> None:
    proc = _stdin(["-", "--stdin-filename", "celeryconfig.py"], b"x\xff = 1\n", tmp_path)
    assert proc.returncode == 2
    lines = [line for line in proc.stdout.splitlines() if line.startswith("celeryconfig.py:")]
    assert len(lines) == 1 and "not valid utf-8" in lines[0], proc.stdout
    assert "Traceback" not in proc.stderr
