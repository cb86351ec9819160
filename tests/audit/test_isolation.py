"""The audit never executes what it reads, and stays light: no celery, kombu, optuna, psutil or
plotly is imported on its path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, SAMPLES

HEAVY = ("celery", "kombu", "optuna", "psutil", "plotly", "billiard")


def test_audit_path_imports_nothing_heavy() -> None:
    script = (
        "import sys, json\n"
        "from tuner.main import main\n"
        "code = main(['audit', '--format', 'json', *sys.argv[1:]])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & set(%r))\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n".replace(
            "%r", repr(HEAVY)
        )
    )
    files = [str(p) for p in sorted(SAMPLES.iterdir()) if p.is_file()]
    proc = subprocess.run(
        [sys.executable, "-c", script, *files],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] in (1, 2)
    assert report["heavy"] == [], f"the audit imported {report['heavy']}"
    # The check itself works: importing celery does show up.
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, celery; print('celery' in sys.modules)"],
        capture_output=True,
        text=True,
    )
    assert proc.stdout.strip() == "True"


def test_config_that_writes_a_file_when_executed_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    config = tmp_path / "celeryconfig.py"
    config.write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('executed')\n"
        f"open({str(marker)!r}, 'w').write('executed')\n"
        "worker_concurrency = __import__('os').system('touch " + str(marker) + "')\n"
        "broker_connection_retry_on_startup = True\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tuner", "audit", "--format", "json", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert not marker.exists()
    # The unresolvable value was read, reported as unknown and not judged.
    findings = json.loads(proc.stdout)["findings"]
    assert not [f for f in findings if f["setting"] == "worker_concurrency"]
    # Control: executing the same file does write the marker.
    subprocess.run([sys.executable, str(config)], check=True, cwd=tmp_path)
    assert marker.exists()
