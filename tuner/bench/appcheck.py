"""Check that the user's app loads before any worker starts, the way a measured worker loads it.

Workers import the app with Celery's ``find_app`` in a fresh interpreter whose ``PYTHONPATH`` is
the tuner's root, the current directory and the inherited ``PYTHONPATH``
(:meth:`tuner.bench.worker.WorkerGroup.environment`).  The check does the same in a short-lived
subprocess, so a typo in ``--app`` is one clear line instead of a worker's traceback, and the
bench process never imports (or runs) the user's code itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tuner.bench.errors import BenchError

CHECK = """
import importlib, sys
name = sys.argv[1]
module, _, attr = name.partition(":")
try:
    found = importlib.import_module(module)
except Exception as exc:
    sys.exit(f"cannot import {module}: {type(exc).__name__}: {exc}")
if attr and not hasattr(found, attr.split(".")[0]):
    sys.exit(f"module {module} has no attribute {attr.split('.')[0]!r}")
from celery.app.utils import find_app
find_app(name)
"""
TIMEOUT = 120.0


def worker_pythonpath(env: dict[str, str]) -> str:
    """The ``PYTHONPATH`` a measured worker gets."""
    import tuner

    root = str(Path(tuner.__file__).resolve().parent.parent)
    paths = [root, os.getcwd(), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return os.pathsep.join(dict.fromkeys(paths))


def check_app(app: str, where: str = "--app") -> None:
    """Raise BenchError (one line) unless ``app`` (``module`` or ``module:attr``) loads."""
    env = dict(os.environ)
    env["PYTHONPATH"] = worker_pythonpath(env)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHECK, app],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{where} {app}: importing it took over {TIMEOUT:g} s") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {proc.returncode}"
        raise BenchError(f"{where} {app}: {reason}")
